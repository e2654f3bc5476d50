"""Date parsing: every refusal names the field and says what was expected (literal messages), a
timestamp needs a real offset, and today is the day in the zone asked for."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from policykit._dates import local_date, parse_day, parse_moment, today_in
from policykit.errors import InvalidDateError


class _NoOffset(dt.tzinfo):
    """A time zone object that knows no offset (``utcoffset`` is None): not a usable zone."""

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta | None:
        return None

    def dst(self, when: dt.datetime | None) -> dt.timedelta | None:
        return None

    def tzname(self, when: dt.datetime | None) -> str | None:
        return None


REFUSALS = [
    (lambda: parse_moment("2024-02-30", field="consent_withdrawn_on"),
     "consent_withdrawn_on: expected a real calendar date as YYYY-MM-DD, got '2024-02-30'"),
    (lambda: parse_moment("2024-02-29T25:00:00Z", field="applications[1]"),
     "applications[1]: expected an ISO date (YYYY-MM-DD) or ISO 8601 timestamp, got '2024-02-29T25:00:00Z'"),
    (lambda: parse_moment("2024-02-29T23:30:00", field="applications[0]"),
     "applications[0]: expected a timestamp with a time zone (e.g. 2024-02-29T23:30:00Z), "
     "got 2024-02-29T23:30:00 without one"),
    (lambda: parse_moment(dt.datetime(2024, 2, 29, 23, 30, tzinfo=_NoOffset()), field="as_of"),
     "as_of: expected a timestamp with a time zone (e.g. 2024-02-29T23:30:00Z), got 2024-02-29T23:30:00 without one"),
    (lambda: parse_moment(20240229, field="erasure_requested_on"),
     "erasure_requested_on: expected a date (YYYY-MM-DD) or a timestamp with a zone, got int 20240229"),
    (lambda: parse_moment("yesterday"),
     "date: expected an ISO date (YYYY-MM-DD) or ISO 8601 timestamp, got 'yesterday'"),
    (lambda: local_date("yesterday", "Europe/Stockholm"),
     "date: expected an ISO date (YYYY-MM-DD) or ISO 8601 timestamp, got 'yesterday'"),
    (lambda: parse_day("yesterday"), "date: expected a date as YYYY-MM-DD, got 'yesterday'"),
    (lambda: local_date("2024-02-29T23:30:00Z", "Mars/Olympus_Mons", field="applications[0]"),
     "timezone: expected an IANA time zone name (Area/City), got 'Mars/Olympus_Mons'"),
    (lambda: parse_day(dt.datetime(2024, 3, 1, tzinfo=dt.UTC), field="received_on"),
     "received_on: expected a calendar date, got the timestamp 2024-03-01T00:00:00+00:00"),
    (lambda: parse_day("2024-3-1", field="received_on"),
     "received_on: expected a date as YYYY-MM-DD, got '2024-3-1'"),
    (lambda: parse_day("2023-02-29", field="received_on"),
     "received_on: expected a real calendar date as YYYY-MM-DD, got '2023-02-29'"),
]


@pytest.mark.parametrize(("call", "message"), REFUSALS, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(REFUSALS)])
def test_refusals_name_the_field_and_what_was_expected(call: object, message: str) -> None:
    with pytest.raises(InvalidDateError) as info:
        call()  # type: ignore[operator]
    assert str(info.value) == message


@pytest.mark.parametrize(("text", "day"), [
    ("2024-02-29T23:30:00Z", dt.date(2024, 3, 1)),
    ("2024-02-29T22:59:59+00:00", dt.date(2024, 2, 29)),
    (" 2024-06-30T22:00:00Z ", dt.date(2024, 7, 1)),
    ("2024-06-30", dt.date(2024, 6, 30)),
])
def test_a_timestamp_string_is_parsed_then_placed_on_its_stockholm_day(text: str, day: dt.date) -> None:
    assert local_date(text, "Europe/Stockholm") == day
    assert local_date(text, "America/New_York") == (day if "T" not in text else
                                                   dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
                                                   .astimezone(zoneinfo.ZoneInfo("America/New_York")).date())


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Stockholm", "UTC"])
def test_today_is_the_day_in_the_zone_asked_for(zone: str) -> None:
    """UTC+14 and UTC-11 are 25 hours apart, so their days always differ: a today that ignored the
    zone could not match both."""
    before = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
    got = today_in(zone)
    after = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
    assert got in (before, after)


def test_today_in_kiritimati_and_pago_pago_differ() -> None:
    assert today_in("Pacific/Kiritimati") > today_in("Pacific/Pago_Pago")
