"""Swedish statutory date arithmetic (Lag 1930:173 1 §) and Stockholm calendar dates (A-27)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policykit._dates import add_months_sv, add_years_sv, local_date, parse_day
from policykit.errors import InvalidDateError


@pytest.mark.parametrize(
    ("start", "years", "end"),
    [
        ("2024-02-29", 2, "2026-02-28"),   # no 29 February in the end year: last day of the month
        ("2024-02-28", 2, "2026-02-28"),
        ("2023-03-01", 2, "2025-03-01"),   # 730 days would give 2025-02-28
        ("2023-12-31", 2, "2025-12-31"),
        ("2024-02-29", 4, "2028-02-29"),
    ],
)
def test_years_keep_the_day_number_or_clamp_to_month_end(start: str, years: int, end: str) -> None:
    """A period of years ends on the same day number, or the last day of the end month."""
    assert add_years_sv(dt.date.fromisoformat(start), years) == dt.date.fromisoformat(end)


def test_two_years_is_not_730_days() -> None:
    """Across a leap day, 730 days falls one day short of two years."""
    start = dt.date(2023, 3, 1)
    assert add_years_sv(start, 2) - start == dt.timedelta(days=731)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2025-01-31", "2025-02-28"), ("2024-01-31", "2024-02-29"), ("2025-03-11", "2025-04-11"), ("2025-12-15", "2026-01-15")],
)
def test_one_month_keeps_the_day_number_or_clamps(start: str, end: str) -> None:
    """Art. 12(3) deadlines: one month later, clamped to the month's end."""
    assert add_months_sv(dt.date.fromisoformat(start), 1) == dt.date.fromisoformat(end)


@given(st.integers(min_value=1, max_value=400))
def test_leap_day_clamp_holds_for_every_year(years: int) -> None:
    """From 29 February, whole years land on 29 February in leap years and on 28 February otherwise."""
    end = add_years_sv(dt.date(2000, 2, 29), years)
    assert (end.year, end.month) == (2000 + years, 2)
    assert end.day == (29 if _leap(end.year) else 28)


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2024-02-29T23:30:00Z", "2024-03-01"),         # 00:30 CET
        ("2024-02-29T22:59:59Z", "2024-02-29"),         # 23:59:59 CET
        ("2024-06-30T22:00:00+00:00", "2024-07-01"),     # 00:00 CEST
        ("2024-06-30T21:59:59+00:00", "2024-06-30"),
        ("2024-03-31T01:30:00+01:00", "2024-03-31"),     # the night clocks go forward
        ("2024-03-01", "2024-03-01"),
    ],
)
def test_timestamps_become_stockholm_dates(value: str, day: str) -> None:
    """Around Stockholm midnight, in winter and summer time, the calendar date is Stockholm's."""
    assert local_date(value, "Europe/Stockholm") == dt.date.fromisoformat(day)


def test_naive_timestamps_are_refused_naming_the_field() -> None:
    """A timestamp without a zone has no single calendar date."""
    with pytest.raises(InvalidDateError, match="applications\\[0\\]: expected a timestamp with a time zone"):
        local_date(dt.datetime(2024, 3, 1, 10, 0), "Europe/Stockholm", field="applications[0]")


@pytest.mark.parametrize("value", ["2024-02-30", "2024-13-01", "01/02/2024", "yesterday", 20240101])
def test_malformed_dates_are_refused(value: object) -> None:
    """Impossible or non-ISO dates raise InvalidDateError naming the field."""
    with pytest.raises(InvalidDateError, match="as_of: expected"):
        parse_day(value, field="as_of")
