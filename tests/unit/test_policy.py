"""The Policy object: the memo sits on top of the engine and agrees with it; bounded; versioned."""

from __future__ import annotations

import copy
import datetime as dt
import gc

import pytest
from dateutil import tz

import policykit
from policykit._dates import Clock
from tests.acceptance.cases import load_cases

REQUESTS = [c["inputs"] for c in load_cases("disclosure")]


def test_memoised_answers_equal_fresh_engine_answers() -> None:
    """Every memo entry is the outcome the engine gives for the same facts."""
    with policykit.load_policy() as memoised, policykit.load_policy(memo_size=0) as engine_only:
        for request in REQUESTS:
            first = memoised.decide(request)
            again = memoised.decide(request)
            fresh = engine_only.decide(request)
            assert again.outcome is first.outcome
            assert first.outcome == fresh.outcome
        assert memoised.memo_info()["hits"] >= len(REQUESTS)


def test_the_memo_stays_within_its_bound() -> None:
    """A memo of size n never holds more than n outcomes."""
    with policykit.load_policy(memo_size=5) as policy:
        for request in REQUESTS:
            policy.decide(request)
            assert policy.memo_info()["size"] <= 5


def test_memo_size_zero_asks_the_engine_every_time() -> None:
    """With the memo off nothing is stored."""
    with policykit.load_policy(memo_size=0) as policy:
        for request in REQUESTS[:5]:
            policy.decide(request)
        assert policy.memo_info()["size"] == 0
        assert policy.memo_info()["misses"] == 5


def test_clear_memo_forgets_outcomes(bundled_policy: policykit.Policy) -> None:
    """After clear_memo the next question is a miss."""
    bundled_policy.decide(REQUESTS[0])
    bundled_policy.clear_memo()
    misses = bundled_policy.memo_info()["misses"]
    bundled_policy.decide(REQUESTS[0])
    assert bundled_policy.memo_info()["misses"] == misses + 1


def test_requests_differing_only_in_irrelevant_detail_share_an_outcome() -> None:
    """Two EEA countries normalise to the same facts: one engine evaluation answers both."""
    with policykit.load_policy() as policy:
        se = next(c["inputs"] for c in load_cases("disclosure") if c["id"] == "D01")
        dk = {**se, "recipient": {**se["recipient"], "country": "DK"}}
        assert policy.decide(se).outcome is policy.decide(dk).outcome


def test_policy_reports_its_version_and_name(bundled_policy: policykit.Policy) -> None:
    """The version of the policy text is on the policy and every decision."""
    assert bundled_policy.version == "2022-06-22"
    assert "We Select" in repr(bundled_policy)
    assert bundled_policy.decide(REQUESTS[0]).policy_version == bundled_policy.version


def test_today_is_a_stockholm_date(bundled_policy: policykit.Policy) -> None:
    """The default as_of is today's date in the policy's time zone."""
    assert bundled_policy.today() == dt.datetime.now(tz.gettz("Europe/Stockholm")).date()


def test_a_mutated_request_dict_is_answered_afresh() -> None:
    """Remembering answers per request never serves a stale answer for a changed mapping."""
    with policykit.load_policy() as policy:
        request = copy.deepcopy(next(c["inputs"] for c in load_cases("disclosure") if c["id"] == "D01"))
        assert policy.decide(request).allowed
        request["recipient"]["country"] = "US"
        assert policy.decide(request).reasons == ("OUTSIDE_EU_EEA",)


def test_a_remembered_answer_that_depends_on_today_expires_with_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request dated by 'today' (no as_of) is re-judged when the day changes."""
    request = policykit.DisclosureRequest.parse({
        **next(c["inputs"] for c in load_cases("disclosure") if c["id"] == "D01"),
        "candidate": {"consent_status": "withdrawn", "consent_withdrawn_on": "2030-01-02"},
    })
    with policykit.load_policy() as policy:
        monkeypatch.setattr(Clock, "today", lambda self: dt.date(2030, 1, 1))
        assert policy.decide(request).allowed
        assert policy.decide(request).allowed  # remembered
        monkeypatch.setattr(Clock, "today", lambda self: dt.date(2030, 1, 2))
        assert policy.decide(request).reasons == ("CONSENT_WITHDRAWN",)


def test_remembered_typed_requests_are_forgotten_when_the_requests_die() -> None:
    """Answers kept per request object hold no request alive: the entries go with the requests."""
    d01 = next(c["inputs"] for c in load_cases("disclosure") if c["id"] == "D01")
    with policykit.load_policy() as policy:
        requests = [policykit.DisclosureRequest.parse(d01) for _ in range(50)]
        for r in requests:
            policy.decide(r)
        assert len(policy._disclosure._by_id) == 50
        del requests, r
        gc.collect()
        assert len(policy._disclosure._by_id) == 0


def test_a_plain_dict_answered_from_memory_still_knows_its_request() -> None:
    """A repeated plain-dict question is answered without parsing; its request is parsed when asked."""
    d05 = copy.deepcopy(next(c["inputs"] for c in load_cases("disclosure") if c["id"] == "D05"))
    with policykit.load_policy() as policy:
        first = policy.decide(d05)
        again = policy.decide(copy.deepcopy(d05))
        assert again.outcome is first.outcome
        assert again.request == first.request
        assert "CONSENT_WITHDRAWN" in again.explain()


def test_a_remembered_dict_changed_after_the_decision_is_not_explained_wrongly() -> None:
    """If the caller changes the mapping after the answer, the decision refuses to describe it."""
    d05 = copy.deepcopy(next(c["inputs"] for c in load_cases("disclosure") if c["id"] == "D05"))
    with policykit.load_policy() as policy:
        policy.decide(copy.deepcopy(d05))
        again = policy.decide(d05)
        d05["recipient"]["country"] = "US"
        with pytest.raises(policykit.QueryError, match="changed after the decision"):
            again.explain()
