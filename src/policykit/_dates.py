"""Swedish statutory date arithmetic (Lag 1930:173 om beräkning av lagstadgad tid, 1 §) on dateutil.

A period of years or months ends on the day with the same number in the end month; where the end
month has no such day, on the last day of that month. So 2024-02-29 + 1 year = 2025-02-28, and
2024-12-31 + 2 months = 2025-02-28. A period of years is never a count of days: 2023-03-01 + 1 year
is 2024-03-01, where "365 days" would give 2024-02-29. ``dateutil.relativedelta`` clamps the day to
the end of the month exactly this way. Both are memoised (dates repeat across candidates, and a
nightly job over a million of them asks for the same few thousand sums).

Timestamps become calendar dates in the policy's time zone (``parameters.timezone`` of the rules,
A-27): in Stockholm, 2024-02-29T23:30Z is 2024-03-01.

A deadline for acting that ends on a Saturday, a Sunday, a Swedish public holiday (Lag 1989:253 om
allmänna helgdagar), midsommarafton, julafton or nyårsafton moves to the next working day (Lag
1930:173 2 §; Regulation 1182/71 Art. 3(4) for EU-law periods): :func:`next_working_day_sv`. The end
of a retention period is not a deadline for acting and is never moved. Easter comes from
``dateutil.easter``; every other holiday is a fixed date or a weekday in a fixed range.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import warnings
import zoneinfo
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from dateutil import parser, tz
from dateutil.easter import easter
from dateutil.relativedelta import relativedelta

from policykit.errors import InvalidDateError, short_repr

__all__ = [
    "ISO_DAY",
    "Clock",
    "add_months_sv",
    "add_years_sv",
    "check_zone",
    "in_words",
    "is_timestamp",
    "is_working_day_sv",
    "local_date",
    "next_working_day_sv",
    "number_word",
    "parse_day",
    "parse_moment",
    "swedish_days_off",
    "today_in",
]
# a calendar date exactly as YYYY-MM-DD in ASCII digits (not an ISO week date such as 2024-W01-1)
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# an IANA zone name: Area/Location, letters, digits, _ + - (no path, no POSIX rule such as UTC+99)
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,31}(?:/[A-Za-z0-9_+-]{1,32}){0,3}")


def _out_of_range(day: dt.date, amount: int, unit: str) -> InvalidDateError:
    return InvalidDateError(
        f"expected dates whose periods end by 9999-12-31, got {day.isoformat()} plus {amount} {unit}"
    )


@lru_cache(maxsize=1 << 16)
def add_years_sv(day: dt.date, years: int) -> dt.date:
    """``day`` plus ``years`` calendar years, the Swedish way: 2024-02-29 + 2 → 2026-02-28. A sum past
    9999-12-31 (or before year 1) raises :class:`InvalidDateError`."""
    try:
        result: dt.date = day + relativedelta(years=years)
    except (ValueError, OverflowError):
        raise _out_of_range(day, years, "years") from None
    return result


@lru_cache(maxsize=1 << 16)
def add_months_sv(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, the Swedish way: 2025-01-31 + 1 → 2025-02-28. A sum
    past 9999-12-31 (or before year 1) raises :class:`InvalidDateError`."""
    try:
        result: dt.date = day + relativedelta(months=months)
    except (ValueError, OverflowError):
        raise _out_of_range(day, months, "months") from None
    return result


@lru_cache(maxsize=256)
def swedish_days_off(year: int) -> Mapping[dt.date, str]:
    """The days of ``year`` other than Saturdays and Sundays on which a Swedish deadline cannot end
    (Lag 1930:173 2 §), each with its Swedish name: the public holidays of Lag 1989:253 and
    midsommarafton, julafton and nyårsafton."""
    e = easter(year)

    def weekday_between(month: int, first: int, weekday: int) -> dt.date:
        day = dt.date(year, month, first)
        return day + dt.timedelta(days=(weekday - day.weekday()) % 7)

    midsommardagen = weekday_between(6, 20, 5)        # the Saturday from 20 to 26 June
    alla_helgons_dag = weekday_between(10, 31, 5)     # the Saturday from 31 October to 6 November
    days = {
        dt.date(year, 1, 1): "nyårsdagen",
        dt.date(year, 1, 6): "trettondedag jul",
        e - dt.timedelta(days=2): "långfredagen",
        e: "påskdagen",
        e + dt.timedelta(days=1): "annandag påsk",
        dt.date(year, 5, 1): "första maj",
        e + dt.timedelta(days=39): "Kristi himmelsfärdsdag",
        e + dt.timedelta(days=49): "pingstdagen",
        dt.date(year, 6, 6): "Sveriges nationaldag",
        midsommardagen - dt.timedelta(days=1): "midsommarafton",
        midsommardagen: "midsommardagen",
        alla_helgons_dag: "alla helgons dag",
        dt.date(year, 12, 24): "julafton",
        dt.date(year, 12, 25): "juldagen",
        dt.date(year, 12, 26): "annandag jul",
        dt.date(year, 12, 31): "nyårsafton",
    }
    return MappingProxyType(days)


def is_working_day_sv(day: dt.date) -> bool:
    """Whether a Swedish deadline may end on ``day``: not a Saturday, Sunday or day off."""
    return day.weekday() < 5 and day not in swedish_days_off(day.year)


@lru_cache(maxsize=1 << 12)
def next_working_day_sv(day: dt.date) -> dt.date:
    """``day``, or the next day a Swedish deadline may end on when ``day`` is a Saturday, Sunday,
    public holiday, midsommarafton, julafton or nyårsafton (Lag 1930:173 2 §): 2025-06-06 → 2025-06-09."""
    while not is_working_day_sv(day):
        day += dt.timedelta(days=1)
    return day


def check_zone(name: Any, *, field: str = "timezone") -> str:
    """``name`` if it is an IANA time zone this machine knows (``Europe/Stockholm``, ``UTC``), else
    :class:`InvalidDateError`: never a path, a POSIX rule such as ``UTC+99``, an empty string (which
    would mean the machine's own zone) or an unbounded string."""
    if isinstance(name, str) and _ZONE_NAME.fullmatch(name) and _known_zone(name):
        return name
    raise InvalidDateError(f"{field}: expected an IANA time zone name (Area/City), got {short_repr(name)}")


@lru_cache(maxsize=256)
def _known_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@lru_cache(maxsize=256)
def _gettz(name: str) -> dt.tzinfo | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return tz.gettz(name)
        except (ValueError, OSError):
            return None


def _zone(name: str) -> dt.tzinfo:
    zone = _gettz(check_zone(name))
    if zone is None:
        raise InvalidDateError(f"timezone: expected an IANA time zone name (Area/City), got {short_repr(name)}")
    return zone


_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve")


def number_word(count: int) -> str:
    """A small count as a sentence writes it: ``number_word(2)`` is ``two``; from 13 on, digits."""
    return _NUMBER_WORDS[count] if 0 <= count < len(_NUMBER_WORDS) else str(count)


def in_words(count: int, unit: str) -> str:
    """A period in words, as a sentence says it: ``in_words(1, "week")`` is ``one week``,
    ``in_words(4, "day")`` is ``four days``."""
    return f"{number_word(count)} {unit}{'' if count == 1 else 's'}"


class Clock:
    """Today's date in one time zone (a policy's default ``as_of``), recomputed at local midnight."""

    __slots__ = ("_today", "zone")

    def __init__(self, zone: str) -> None:
        self.zone = _zone(zone)
        self._today: tuple[float, dt.date] = (0.0, dt.date.min)

    def today(self) -> dt.date:
        """Today's date in the zone."""
        now = time.time()
        valid_until, day = self._today
        if now < valid_until:
            return day
        day = dt.datetime.fromtimestamp(now, self.zone).date()
        # valid until the next local midnight (DST-safe: computed in the zone, then converted)
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.zone)
        self._today = (midnight.timestamp(), day)
        return day


def today_in(zone: str) -> dt.date:
    """Today's date in ``zone``."""
    return dt.datetime.now(_zone(zone)).date()


def parse_moment(value: Any, *, field: str = "date") -> dt.date:
    """A calendar ``date`` or an aware ``datetime`` (returned as such) from either, or from an ISO
    date (``2024-03-01``) or ISO 8601 timestamp with a zone (``2024-02-29T23:30:00Z``). A timestamp
    without a zone is refused: its day would depend on where the code runs. Errors name ``field``."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidDateError(
                f"{field}: expected a timestamp with a time zone (e.g. 2024-02-29T23:30:00Z), "
                f"got {value.isoformat()} without one"
            )
        return value
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            return parse_day(text, field=field)
        if len(text) > 64:
            raise InvalidDateError(
                f"{field}: expected an ISO date (YYYY-MM-DD) or ISO 8601 timestamp, got {short_repr(value)}"
            )
        try:
            stamp = parser.isoparse(text)
        except (ValueError, OverflowError):
            raise InvalidDateError(
                f"{field}: expected an ISO date (YYYY-MM-DD) or ISO 8601 timestamp, got {short_repr(value)}"
            ) from None
        return parse_moment(stamp, field=field)
    raise InvalidDateError(
        f"{field}: expected a date (YYYY-MM-DD) or a timestamp with a zone, got {type(value).__name__} "
        f"{short_repr(value)}"
    )


def local_date(value: Any, zone: str, *, field: str = "date") -> dt.date:
    """The calendar date of ``value`` in ``zone``.

    ``value`` is anything :func:`parse_moment` accepts; a timestamp becomes its date in ``zone``.
    """
    moment = parse_moment(value, field=field)
    if isinstance(moment, dt.datetime):
        tzinfo = _zone(zone)  # an unknown zone is refused as such, outside the range check below
        try:
            return moment.astimezone(tzinfo).date()
        except (OverflowError, ValueError):
            raise InvalidDateError(
                f"{field}: expected a timestamp whose local date lies in years 1 to 9999, got {moment.isoformat()}"
            ) from None
    return moment


def parse_day(value: Any, *, field: str = "date") -> dt.date:
    """A calendar date from a ``date`` or an ISO ``YYYY-MM-DD`` string; impossible dates are refused."""
    if isinstance(value, dt.datetime):
        raise InvalidDateError(f"{field}: expected a calendar date, got the timestamp {value.isoformat()}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            if not ISO_DAY.fullmatch(value.strip()):  # not 2024-W01-1 or other ISO forms
                raise ValueError(value)
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidDateError(
                f"{field}: expected a real calendar date as YYYY-MM-DD, got {short_repr(value)}"
            ) from None
    raise InvalidDateError(f"{field}: expected a date as YYYY-MM-DD, got {short_repr(value)}")


def is_timestamp(value: Any) -> bool:
    """Whether ``value`` is a timestamp (a ``datetime``, or a string longer than an ISO date)."""
    return isinstance(value, dt.datetime) or (isinstance(value, str) and len(value.strip()) > 10)
