"""Properties of data-subject request answers over generated requests of every kind."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from hypothesis import given

import policykit
from policykit._dates import is_working_day_sv
from tests.property.strategies import subject_requests


def plus_months(day: dt.date | str, months: int) -> dt.date:
    """Lag 1930:173 1 §, written out here: the same day number ``months`` later, or the last day of
    that month where it has no such day (2025-01-31 + 1 month = 2025-02-28)."""
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def test_plus_months_on_hand_worked_days() -> None:
    assert [plus_months(d, m) for d, m in [("2025-01-31", 1), ("2024-01-31", 1), ("2025-03-12", 1),
                                          ("2025-11-30", 3), ("2025-12-31", 2)]] == [
        dt.date(2025, 2, 28), dt.date(2024, 2, 29), dt.date(2025, 4, 12), dt.date(2026, 2, 28), dt.date(2026, 2, 28)]


NOTICE = {"reasons_for_refusal", "right_to_complain_to_IMY", "right_to_judicial_remedy"}
NEVER_PORTED = {"reference_notes", "interview_notes", "test_results", "background_check"}


@given(request=subject_requests())
def test_every_request_gets_an_outcome_and_a_one_month_deadline(
    bundled_policy: policykit.Policy, request: dict[str, Any]
) -> None:
    """An outcome of the vocabulary, due one Swedish calendar month after receipt, or on the first
    working day after that when the month ends on a Saturday, Sunday or holiday (Lag 1930:173 2 §)."""
    r = bundled_policy.handle_request(request)
    assert r.outcome in bundled_policy.rules.vocabulary.ids("request_outcomes")
    for got, months in ((r.deadline, 1), (r.extended_deadline, 3)):
        end = plus_months(request["received_on"], months)
        assert got >= end and is_working_day_sv(got)
        assert all(not is_working_day_sv(end + dt.timedelta(days=i)) for i in range((got - end).days))
    assert r.fee == 0


@given(request=subject_requests())
def test_refusals_give_grounds_or_reasons_and_the_complaint_notice(
    bundled_policy: policykit.Policy, request: dict[str, Any]
) -> None:
    """Anything short of fulfilment tells the candidate why and about IMY; fulfilment gives no grounds.
    A request met in part or refused carries its refusal grounds in the answer itself (Art. 12(4)),
    not only in a note."""
    r = bundled_policy.handle_request(request)
    if r.outcome in ("fulfil", "fulfil_with_redaction"):
        assert r.refusal_grounds == ()
        assert not NOTICE & set(r.inform)
    else:
        assert set(r.inform) >= NOTICE
        assert r.reasons
    if r.outcome in ("partial", "refuse"):
        assert r.refusal_grounds, (r.outcome, r.rule_ids)
        assert r.to_dict()["refusal_grounds"] == list(r.refusal_grounds)


@given(request=subject_requests())
def test_items_get_one_disposition_each(bundled_policy: policykit.Policy, request: dict[str, Any]) -> None:
    """No item is both erased and kept, or both delivered and excluded."""
    r = bundled_policy.handle_request(request)
    items = [d.item for d in r.dispositions]
    assert len(items) == len(set(items))
    assert not set(r.erase_now) & set(r.retain)
    assert not set(r.deliver) & set(r.exclude)
    assert not NEVER_PORTED & set(r.deliver)


@given(request=subject_requests())
def test_oral_requests_are_never_refused_for_their_form(
    bundled_policy: policykit.Policy, request: dict[str, Any]
) -> None:
    """The same request by phone gets the same outcome as by e-mail, plus confirmation and identification."""
    oral = bundled_policy.handle_request({**request, "channel": "phone"})
    written = bundled_policy.handle_request({**request, "channel": "email"})
    assert oral.outcome == written.outcome
    assert oral.confirm_in_writing
    assert oral.verify_identity
    assert not written.verify_identity


@given(request=subject_requests())
def test_kept_evidence_is_anonymised_the_day_after_the_window(
    bundled_policy: policykit.Policy, request: dict[str, Any]
) -> None:
    """Whenever data are kept as evidence, anonymisation follows retain_until by one day."""
    r = bundled_policy.handle_request(request)
    evidence = [d for d in r.dispositions if d.until_event == "evidence_window_end"]
    if evidence and r.retain_until is not None and r.anonymise_on is not None and r.window.status == "open":
        assert (r.anonymise_on - r.retain_until).days == 1
        assert all(d.until == r.retain_until for d in evidence)
