"""The memo under a moving clock: a memoised policy answers exactly as a policy without a memo, for
typed requests and plain mappings, asked again and again while "today" moves across Stockholm
midnight and across the dates the requests carry, and after a request was changed in place.

The clock is faked (``time.time``) and only moves forward, as a wall clock does; each generated case
starts on a later day than the one before. The memo-less answer is itself checked against the
reference evaluator on the facts of the separately written normaliser (tests/oracle.py), so the
three agree or the test fails.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policykit
from policykit.testing import disclosure_requests
from tests.oracle import oracle_outcome, stockholm_day

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


class Clock:
    """A wall clock that only moves forward; ``day`` is the first day of the next case."""

    def __init__(self) -> None:
        self.now = time.time() + 86_400.0
        self.day = stockholm_day(dt.datetime.fromtimestamp(self.now, dt.UTC)) + dt.timedelta(days=1)

    def at(self, day: dt.date, clock: dt.time) -> None:
        moment = dt.datetime.combine(day, clock, STOCKHOLM).timestamp()
        assert moment >= self.now, "the clock only moves forward"
        self.now = moment

    def next_case(self) -> dt.date:
        self.day += dt.timedelta(days=5)
        return self.day


CLOCK = Clock()


@contextmanager
def faked_clock() -> Iterator[None]:
    real = time.time
    time.time = lambda: CLOCK.now
    try:
        yield
    finally:
        time.time = real


with faked_clock():
    MEMO = policykit.load_policy()
    COLD = policykit.load_policy(memo_size=0)

# where "today" stands for each round of questions, relative to the case's first day D: just before
# and just after midnight, at noon, then across the dates the requests carry (D-1 .. D+2)
ROUNDS = [
    (0, dt.time(23, 59, 59, 500_000)), (1, dt.time(0, 0, 0, 500_000)), (1, dt.time(12)),
    (1, dt.time(23, 59, 59)), (2, dt.time(0, 0, 1)), (3, dt.time(0, 0, 0)), (4, dt.time(9)),
]
OFFSETS = st.sampled_from([None, -1, 0, 1, 2, 3])


@st.composite
def dated_requests(draw: st.DrawFn) -> tuple[policykit.DisclosureRequest, dict[str, Any]]:
    """A generated request whose withdrawal, objection and latest application (if any) are offsets
    from the case's first day, ``as_of`` mostly left to today; returned with the offsets."""
    base = draw(disclosure_requests())
    raw = base.model_dump(mode="json")
    raw["as_of"] = None if draw(st.integers(0, 4)) else raw["as_of"]
    offsets = {
        "consent_withdrawn_on": draw(OFFSETS),
        "objection_received_on": draw(OFFSETS),
        "latest_application": draw(OFFSETS),
    }
    if draw(st.booleans()):
        raw["candidate"]["consent_status"] = "given"
    return base, {"raw": raw, "offsets": offsets}


def _materialise(raw: dict[str, Any], offsets: dict[str, int | None], day: dt.date) -> dict[str, Any]:
    out = {**raw, "recipient": dict(raw["recipient"]), "candidate": dict(raw["candidate"]),
           "data_categories": list(raw["data_categories"])}
    for name, offset in offsets.items():
        out["candidate"][name] = None if offset is None else (day + dt.timedelta(days=offset)).isoformat()
    if out["as_of"] is not None:
        out["as_of"] = (day + dt.timedelta(days=2)).isoformat()
    return out


def _expected(mapping: dict[str, Any]) -> policykit.Decision:
    """The memo-less answer, checked against the reference on the oracle's facts."""
    typed = policykit.DisclosureRequest.parse(mapping)
    decision = COLD.decide(typed)
    assert decision.outcome == oracle_outcome(COLD, typed, CLOCK_DAY())
    return decision


def CLOCK_DAY() -> dt.date:  # noqa: N802 - reads like the constant it stands for
    return stockholm_day(dt.datetime.fromtimestamp(CLOCK.now, dt.UTC))


SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(dated_requests(), min_size=1, max_size=6))
def test_memoised_answers_equal_memo_less_answers_while_the_clock_moves(
    cases: list[tuple[policykit.DisclosureRequest, dict[str, Any]]],
) -> None:
    day = CLOCK.next_case()
    with faked_clock():
        mappings = [_materialise(c["raw"], c["offsets"], day) for _, c in cases]
        typed = [policykit.DisclosureRequest.parse(m) for m in mappings]
        for offset, clock in ROUNDS:
            CLOCK.at(day + dt.timedelta(days=offset), clock)
            assert MEMO.today() == COLD.today() == CLOCK_DAY()
            for mapping, request in zip(mappings, typed, strict=True):
                expected = _expected(mapping).outcome
                # the same objects asked again each round: the memo's by-object and by-text paths
                assert MEMO.decide(request).outcome == expected, (mapping, CLOCK_DAY())
                assert MEMO.decide(mapping).outcome == expected, (mapping, CLOCK_DAY())
                assert [d.outcome for d in MEMO.decide_many([mapping, request])] == [expected, expected]


@SETTINGS
@given(st.lists(dated_requests(), min_size=1, max_size=4), st.data())
def test_a_mapping_changed_after_it_was_asked_gets_the_new_answer(
    cases: list[tuple[policykit.DisclosureRequest, dict[str, Any]]], data: st.DataObject,
) -> None:
    """The same dict object, changed in place between questions (a category added or replaced, a
    date moved, a flag turned), is answered as the changed request."""
    day = CLOCK.next_case()
    categories = MEMO.rules.vocabulary.ids("data_categories")
    with faked_clock():
        for _, case in cases:
            mapping = _materialise(case["raw"], case["offsets"], day)
            CLOCK.at(day, dt.time(12))
            assert MEMO.decide(mapping).outcome == _expected(mapping).outcome
            for _ in range(3):
                change = data.draw(st.sampled_from(["add", "replace", "date", "flag", "country"]))
                if change == "add":
                    mapping["data_categories"].append(data.draw(st.sampled_from(categories)))
                elif change == "replace":
                    mapping["data_categories"][0] = data.draw(st.sampled_from(categories))
                elif change == "date":
                    mapping["candidate"]["consent_withdrawn_on"] = (day - dt.timedelta(days=1)).isoformat()
                    mapping["candidate"]["latest_application"] = None
                elif change == "flag":
                    mapping["recipient"]["active_assignment"] = not mapping["recipient"]["active_assignment"]
                else:
                    mapping["recipient"]["country"] = data.draw(st.sampled_from(["SE", "NO", "US", "CH", "ax"]))
                assert MEMO.decide(mapping).outcome == _expected(mapping).outcome, (change, mapping)


# ---- requests whose text does not identify them (the memo key must not be their repr) --------------

ITERABLE_CASES = [
    # the same transfer, asked with an iterator, then a generator, over different categories
    ("iterator", iter),
    ("generator", lambda cats: (c for c in cats)),
]
TRANSFER = {
    "operation": "transfer", "purpose": "present_candidates_to_clients",
    "recipient": {"kind": "recruitment_client", "country": "SE", "active_assignment": True,
                  "confidentiality_undertaking": True, "data_agreement_signed": True},
}


@pytest.mark.parametrize(("how", "make"), ITERABLE_CASES, ids=[c[0] for c in ITERABLE_CASES])
def test_requests_holding_iterators_are_not_confused(how: str, make: Any) -> None:
    """Two requests whose values print alike (an object's default repr holds its address, and
    addresses are reused) get their own answers: ``name`` may go, ``bookkeeping_record`` may not."""
    with policykit.load_policy() as memo, policykit.load_policy(memo_size=0) as cold:
        for i in range(200):
            cats = ["name"] if i % 2 == 0 else ["bookkeeping_record"]
            got = _decide_or_refuse(memo, {**TRANSFER, "data_categories": make(cats)})
            want = _decide_or_refuse(cold, {**TRANSFER, "data_categories": make(cats)})
            assert got == want, (how, i, cats)


def test_a_constructed_request_changed_after_it_was_asked_gets_the_new_answer() -> None:
    """A typed request built without validation (``model_construct``) around a list, the list changed
    after the question: the memoised policy answers the changed request as the memo-less one does."""
    with policykit.load_policy() as memo, policykit.load_policy(memo_size=0) as cold:
        cats = ["name"]
        request = policykit.DisclosureRequest.model_construct(
            **{**policykit.DisclosureRequest.parse({**TRANSFER, "data_categories": ["name"]}).__dict__,
               "data_categories": cats})
        assert _decide_or_refuse(memo, request) == _decide_or_refuse(cold, request)
        cats[0] = "bookkeeping_record"
        assert _decide_or_refuse(memo, request) == _decide_or_refuse(cold, request)


def _decide_or_refuse(policy: policykit.Policy, request: Any) -> Any:
    """The outcome, or the class of the PolicyKitError that refused the request."""
    try:
        return policy.decide(request).outcome
    except policykit.errors.PolicyKitError as exc:
        return type(exc).__name__
