"""The reference evaluator against the engine, on random requests naming any categories."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given

import policykit
from policykit._analysis.partition import disclosure_partition
from policykit._disclosure import evaluator as _evaluator
from policykit._disclosure.decision import Outcome, combine
from policykit._disclosure.reference import ReferenceEvaluator
from policykit.testing import disclosure_requests, reference_outcome
from tests.oracle import oracle_outcome

POLICY = policykit.load_policy(memo_size=0)


@given(disclosure_requests())
def test_engine_and_reference_agree_on_random_requests(request: policykit.DisclosureRequest) -> None:
    """Whole multi-category requests: the engine's outcome equals the reference's, field by field, with
    the reference's facts read by the separately written normaliser of tests/oracle.py (so the
    policy's own normaliser is checked too); ``reference_outcome`` (policykit.testing) agrees."""
    outcome = POLICY.decide(request).outcome
    assert outcome == oracle_outcome(POLICY, request)
    assert outcome == reference_outcome(POLICY, request)


def test_the_reference_catches_a_broken_combination(monkeypatch: pytest.MonkeyPatch) -> None:
    """A combination that lets a permit override a forbid disagrees with the reference, so the
    differential check would fail."""
    def permissive(*args: Any, **kwargs: Any) -> Outcome:
        out = combine(*args, **kwargs)
        cats = out.by_category
        return Outcome(allowed=True, reasons=(), obligations=out.obligations, by_category=dict.fromkeys(cats, True),
                       category_reasons=dict.fromkeys(cats, ()), rule_ids=out.rule_ids, clauses=out.clauses,
                       deciding_rule=None)

    monkeypatch.setattr(_evaluator, "combine", permissive)
    with policykit.load_policy(memo_size=0) as policy:
        request = {"operation": "sell", "data_categories": ["name"], "purpose": "sell_data",
                   "recipient": {"kind": "other_third_party", "country": "US"}}
        assert policy.decide(request).outcome != reference_outcome(policy, request)


def test_rule_truths_are_remembered_by_the_fields_they_test(bundled_policy: policykit.Policy) -> None:
    """Remembering a rule's truth by its fields' values changes no answer."""
    reference = ReferenceEvaluator(bundled_policy.rules)
    schema = bundled_policy.rules.disclosure.facts
    facts = {n: f.domain[0] for n, f in schema.items() if n != "category"}
    first = reference.outcome(facts, ("name", "photo"))
    second = reference.outcome(facts, ("photo", "name", "name"))
    assert first == second
    assert tuple(first.by_category) == ("name", "photo")


def test_random_points_inside_cubes_get_their_cubes_answer(bundled_policy: policykit.Policy) -> None:
    """The cube argument itself: random questions inside a sample of cubes get, from the engine, the
    same answer as the cube's representative, and the reference agrees with both."""


    rules = bundled_policy.rules
    partition = disclosure_partition(rules)
    reference = ReferenceEvaluator(rules)
    rng = random.Random(20220622)
    names = [n for n in rules.disclosure.facts if n != "category"]
    checked = 0
    for region in partition.regions(part=0, parts=499):
        expected = bundled_policy.evaluate_facts(region.point, (str(region.point["category"]),))
        for _ in range(3):
            point = partition.random_point(region.cube, rng)
            facts = {n: point[n] for n in names}
            got = bundled_policy.evaluate_facts(facts, (str(point["category"]),))
            assert got.rule_ids == expected.rule_ids and got.allowed == expected.allowed, point
            assert got == reference.outcome(facts, (str(point["category"]),)), point
            checked += 1
    assert checked > 3000
