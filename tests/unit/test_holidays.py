"""Swedish days on which a deadline cannot end (Lag 1930:173 2 §), against a table written by hand.

The movable holidays below were worked out from the Easter dates of 2020-2035 (Easter Sunday; Good
Friday two days before, Easter Monday the day after, Ascension 39 days after, Pentecost 49 days after)
and the weekday rules of Lag 1989:253 (midsommardagen is the Saturday from 20 to 26 June, alla
helgons dag the Saturday from 31 October to 6 November; midsommarafton is the Friday before).
"""

from __future__ import annotations

import datetime as dt

import pytest

from policykit._dates import is_working_day_sv, next_working_day_sv, swedish_days_off

# year: (långfredagen, påskdagen, annandag påsk, Kristi himmelsfärdsdag, pingstdagen,
#        midsommarafton, midsommardagen, alla helgons dag)
MOVABLE = {
    2020: ("04-10", "04-12", "04-13", "05-21", "05-31", "06-19", "06-20", "10-31"),
    2021: ("04-02", "04-04", "04-05", "05-13", "05-23", "06-25", "06-26", "11-06"),
    2022: ("04-15", "04-17", "04-18", "05-26", "06-05", "06-24", "06-25", "11-05"),
    2023: ("04-07", "04-09", "04-10", "05-18", "05-28", "06-23", "06-24", "11-04"),
    2024: ("03-29", "03-31", "04-01", "05-09", "05-19", "06-21", "06-22", "11-02"),
    2025: ("04-18", "04-20", "04-21", "05-29", "06-08", "06-20", "06-21", "11-01"),
    2026: ("04-03", "04-05", "04-06", "05-14", "05-24", "06-19", "06-20", "10-31"),
    2027: ("03-26", "03-28", "03-29", "05-06", "05-16", "06-25", "06-26", "11-06"),
    2028: ("04-14", "04-16", "04-17", "05-25", "06-04", "06-23", "06-24", "11-04"),
    2029: ("03-30", "04-01", "04-02", "05-10", "05-20", "06-22", "06-23", "11-03"),
    2030: ("04-19", "04-21", "04-22", "05-30", "06-09", "06-21", "06-22", "11-02"),
    2031: ("04-11", "04-13", "04-14", "05-22", "06-01", "06-20", "06-21", "11-01"),
    2032: ("03-26", "03-28", "03-29", "05-06", "05-16", "06-25", "06-26", "11-06"),
    2033: ("04-15", "04-17", "04-18", "05-26", "06-05", "06-24", "06-25", "11-05"),
    2034: ("04-07", "04-09", "04-10", "05-18", "05-28", "06-23", "06-24", "11-04"),
    2035: ("03-23", "03-25", "03-26", "05-03", "05-13", "06-22", "06-23", "11-03"),
}
MOVABLE_NAMES = ("långfredagen", "påskdagen", "annandag påsk", "Kristi himmelsfärdsdag", "pingstdagen",
                 "midsommarafton", "midsommardagen", "alla helgons dag")
FIXED = {"01-01": "nyårsdagen", "01-06": "trettondedag jul", "05-01": "första maj",
         "06-06": "Sveriges nationaldag", "12-24": "julafton", "12-25": "juldagen", "12-26": "annandag jul",
         "12-31": "nyårsafton"}


def _day(year: int, month_day: str) -> dt.date:
    return dt.date.fromisoformat(f"{year}-{month_day}")


@pytest.mark.parametrize("year", sorted(MOVABLE))
def test_every_day_off_of_the_year_and_no_other(year: int) -> None:
    """The days off of each year 2020-2035 are exactly the table's, with their Swedish names."""
    expected = {_day(year, md): name for md, name in FIXED.items()}
    expected.update({_day(year, md): name for md, name in zip(MOVABLE[year], MOVABLE_NAMES, strict=True)})
    assert dict(swedish_days_off(year)) == expected


@pytest.mark.parametrize("year", sorted(MOVABLE))
def test_no_deadline_ends_on_a_day_off_or_a_weekend(year: int) -> None:
    """Every day of the year: a working day is its own next working day; any other day moves to the
    first later day that is a weekday and not in the table."""
    off = {_day(year, md) for md in FIXED} | {_day(year, md) for md in MOVABLE[year]}
    off |= {_day(year + 1, md) for md in FIXED} | {_day(year + 1, md) for md in MOVABLE.get(year + 1, ())}
    day = dt.date(year, 1, 1)
    while day.year == year:
        working = day.weekday() < 5 and day not in off
        assert is_working_day_sv(day) is working, day
        expected = day
        while expected.weekday() >= 5 or expected in off:
            expected += dt.timedelta(days=1)
        assert next_working_day_sv(day) == expected, day
        day += dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("day", "moved_to"),
    [
        ("2025-06-06", "2025-06-09"),  # national day (Friday), then Saturday and Whit Sunday
        ("2026-03-28", "2026-03-30"),  # a Saturday
        ("2024-12-24", "2024-12-27"),  # julafton, juldagen, annandag jul
        ("2025-12-31", "2026-01-02"),  # nyårsafton, nyårsdagen
        ("2026-04-03", "2026-04-07"),  # långfredagen to annandag påsk
        ("2024-06-21", "2024-06-24"),  # midsommarafton
        ("2025-05-29", "2025-05-30"),  # Kristi himmelsfärdsdag (Thursday)
        ("2025-06-05", "2025-06-05"),  # an ordinary Thursday stays
    ],
)
def test_worked_examples(day: str, moved_to: str) -> None:
    assert next_working_day_sv(dt.date.fromisoformat(day)) == dt.date.fromisoformat(moved_to)
