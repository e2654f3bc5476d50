"""Properties of retention verdicts that hold for every candidate (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import assume, given
from hypothesis import strategies as st

import policykit
from policykit._dates import add_years_sv

POLICY = policykit.load_policy()
STOCKHOLM = ZoneInfo("Europe/Stockholm")
DAYS = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2035, 12, 31))
AS_OF = "2040-01-01"


@st.composite
def candidates(draw: st.DrawFn) -> dict[str, Any]:
    """Retention facts with applications, and possibly withdrawals, an objection, an erasure request,
    disputes, bookkeeping records and special-category items, all consistent."""
    apps = draw(st.lists(DAYS, min_size=1, max_size=4))
    first = min(apps)
    after_first = st.dates(min_value=first, max_value=dt.date(2037, 12, 31))
    facts: dict[str, Any] = {"applications": [a.isoformat() for a in apps], "as_of": AS_OF}
    withdrawals = draw(st.lists(after_first, max_size=3))
    if withdrawals:
        facts["consent_withdrawn_on"] = [w.isoformat() for w in withdrawals]
    if draw(st.booleans()):
        facts["objection_received_on"] = draw(after_first).isoformat()
        facts["objection_form"] = draw(st.sampled_from(["email", "letter", "portal", "phone", "in_person"]))
        facts["objection_documented_in_writing_by_controller"] = draw(st.booleans())
    if draw(st.booleans()):
        facts["erasure_requested_on"] = draw(after_first).isoformat()
    if draw(st.booleans()):
        facts["process_closed_on"] = draw(after_first).isoformat()
    disputes = []
    for _ in range(draw(st.integers(0, 2))):
        opened = draw(after_first)
        if draw(st.booleans()):
            disputes.append({"opened_on": opened.isoformat(), "status": "pending"})
        else:
            resolved = draw(st.dates(min_value=opened, max_value=dt.date(2039, 12, 31)))
            disputes.append(
                {"opened_on": opened.isoformat(), "status": "resolved", "resolved_on": resolved.isoformat()}
            )
    if disputes:
        facts["disputes"] = disputes
    if draw(st.booleans()):
        facts["bookkeeping_records"] = [{"financial_year_end": draw(DAYS).isoformat()}]
    if draw(st.booleans()):
        facts["special_category_items"] = [{"category": "health", "explicit_consent": draw(st.booleans())}]
    return facts


def _key(v: policykit.RetentionVerdict) -> tuple[Any, ...]:
    return (v.retention_mode, v.latest_application_date, v.retain_until, v.anonymise_on, v.deadline, v.review_on,
            v.legal_hold, v.erase_now, v.rule_ids, v.bookkeeping_retain_until, v.special_category_erase_on)


@given(candidates())
def test_anonymise_on_is_never_before_retain_until(facts: dict[str, Any]) -> None:
    """Whatever the facts, identifying data are never due to go before the last day they must be kept."""
    v = POLICY.retention(facts)
    if v.anonymise_on is not None and v.retain_until is not None:
        assert v.anonymise_on > v.retain_until
    if v.deadline is not None:
        assert v.anonymise_on is not None
        assert v.deadline >= v.anonymise_on


@given(candidates())
def test_retain_until_is_never_before_the_latest_application(facts: dict[str, Any]) -> None:
    """The evidence window never ends before the latest application."""
    v = POLICY.retention(facts)
    assert v.latest_application_date == max(dt.date.fromisoformat(a) for a in facts["applications"])
    if v.retain_until is not None:
        assert v.retain_until >= v.latest_application_date


@given(candidates(), st.randoms(use_true_random=False))
def test_permuting_the_input_dates_changes_nothing(facts: dict[str, Any], rnd: Any) -> None:
    """The order of applications, withdrawals and disputes in the input never matters."""
    shuffled = dict(facts)
    for name in ("applications", "consent_withdrawn_on", "disputes"):
        if name in facts:
            items = list(facts[name])
            rnd.shuffle(items)
            shuffled[name] = items
    assert _key(POLICY.retention(facts)) == _key(POLICY.retention(shuffled))


@given(candidates(), DAYS)
def test_a_later_application_never_moves_anonymisation_earlier(facts: dict[str, Any], extra: dt.date) -> None:
    """Adding an application on or after the latest one never brings anonymisation forward (no date,
    or an active candidate, counts as later than any date)."""
    latest = max(dt.date.fromisoformat(a) for a in facts["applications"])
    assume(extra >= latest)
    before = POLICY.retention(facts)
    after = POLICY.retention({**facts, "applications": [*facts["applications"], extra.isoformat()]})
    if after.anonymise_on is not None:
        assert before.anonymise_on is not None
        assert after.anonymise_on >= before.anonymise_on


@given(st.integers(min_value=1, max_value=9999).filter(lambda y: y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)),
       st.integers(min_value=1, max_value=30))
def test_leap_day_clamp_holds_for_every_year(year: int, years: int) -> None:
    """29 February plus whole years is 29 February in a leap year and 28 February otherwise."""
    assume(year + years <= 9999)
    target = year + years
    leap = target % 4 == 0 and (target % 100 != 0 or target % 400 == 0)
    assert add_years_sv(dt.date(year, 2, 29), years) == dt.date(target, 2, 29 if leap else 28)


@given(st.integers(min_value=1904, max_value=2396).filter(lambda y: y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)))
def test_leap_day_application_window(year: int) -> None:
    """An application on 29 February is kept until 28 February two years later, anonymised on 1 March."""
    v = POLICY.retention({"applications": [f"{year}-02-29"], "consent_withdrawn_on": f"{year}-06-01", "as_of": "2400-01-01"})
    assert (v.retain_until, v.anonymise_on) == (dt.date(year + 2, 2, 28), dt.date(year + 2, 3, 1))


@given(st.dates(min_value=dt.date(2000, 1, 2), max_value=dt.date(2090, 12, 31)), st.integers(1, 3599))
def test_timestamps_around_stockholm_midnight(day: dt.date, seconds: int) -> None:
    """A submission just before Stockholm midnight is dated the day before; just after, that day,
    whatever the offset (CET or CEST) and however the timestamp is written (UTC here)."""
    midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=STOCKHOLM)
    before = (midnight - dt.timedelta(seconds=seconds)).astimezone(dt.UTC)
    after = (midnight + dt.timedelta(seconds=seconds)).astimezone(dt.UTC)
    for stamp, expected in ((before, day - dt.timedelta(days=1)), (after, day)):
        text = stamp.isoformat().replace("+00:00", "Z")
        assert POLICY.retention({"applications": [text], "as_of": "2100-01-01"}).latest_application_date == expected, text


@given(candidates())
def test_the_memo_agrees_with_the_engine(facts: dict[str, Any]) -> None:
    """The memoised outcome of any candidate is what durable-rules answers for the same facts."""
    v = POLICY.retention(facts)
    assert v.outcome == POLICY.evaluate_retention_facts(v.reading.facts)
