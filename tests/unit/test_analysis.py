"""The partition of the request space: exact, disjoint cover; constant conditions; reachable points."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import policykit
from policykit._analysis.partition import Partition, compose, disclosure_partition, realise, request_data
from policykit._disclosure.decision import Normaliser
from policykit._ruleset.conditions import All, Any, Condition, Const, Field, Not, evaluate
from policykit._ruleset.conditions import Test as FieldTest

SCHEMA = {
    "a": Field("a", ("x", "y", "z"), "a"),
    "b": Field("b", (False, True), "b"),
    "c": Field("c", (False, True), "c"),
    "d": Field("d", ("p", "q"), "d"),
}


def _points() -> list[dict[str, object]]:
    names = list(SCHEMA)
    return [dict(zip(names, vs, strict=True)) for vs in itertools.product(*(f.domain for f in SCHEMA.values()))]


def _tests() -> st.SearchStrategy[Condition]:
    return st.one_of(
        st.builds(lambda vs, neg: FieldTest("a", frozenset(vs), neg), st.sets(st.sampled_from("xyz"), min_size=1),
                  st.booleans()),
        st.builds(lambda v: FieldTest("b", frozenset((v,))), st.booleans()),
        st.builds(lambda v: FieldTest("c", frozenset((v,))), st.booleans()),
        st.builds(lambda v: FieldTest("d", frozenset((v,))), st.sampled_from("pq")),
    )


conditions = st.recursive(
    _tests(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: All(tuple(xs))),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: Any(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=6,
)


@given(st.lists(conditions, max_size=4), st.none() | conditions)
def test_cubes_cover_every_point_once_and_fix_every_condition(conds: list[Condition], within: Condition | None) -> None:
    """Each point where ``within`` holds lies in exactly one cube, and on it every condition has the
    value the cube's truth bits say (checked by brute force over a small schema)."""
    partition = Partition(conds, SCHEMA, within)
    regions = list(partition.regions())
    assert len(regions) == len(partition)
    expected = [p for p in _points() if within is None or evaluate(within, p)]
    assert partition.points() == len(expected) == sum(r.size for r in regions)
    for point in expected:
        inside = [r for r in regions if all(point[f] in vs for f, vs in r.cube.items())]
        assert len(inside) == 1
        for i, cond in enumerate(conds):
            assert evaluate(cond, point) == inside[0].holds(i)
    for r in regions:
        assert all(r.point[f] in vs for f, vs in r.cube.items())
        assert r.point == partition.representative(r.cube)


def test_an_empty_restriction_has_no_cubes() -> None:
    """A ``within`` that never holds leaves nothing to enumerate."""
    partition = Partition([FieldTest("b", frozenset((True,)))], SCHEMA, Const(False))
    assert len(partition) == 0
    assert list(partition.regions()) == []
    assert partition.points() == 0


def test_parts_split_the_cubes_between_processes() -> None:
    """Every cube goes to exactly one part, in the same order."""
    partition = Partition([FieldTest("a", frozenset("x")), FieldTest("b", frozenset((True,)))], SCHEMA)
    whole = [r.index for r in partition.regions()]
    split = sorted(r.index for k in range(3) for r in partition.regions(part=k, parts=3))
    assert whole == split


def test_the_disclosure_space_is_covered_exactly(bundled_policy: policykit.Policy) -> None:
    """The shipped rules' cubes add up to the whole normalised space, every single-category question."""
    partition = disclosure_partition(bundled_policy.rules)
    schema = bundled_policy.rules.disclosure.facts
    assert partition.fraction() == 1
    assert partition.points() == math.prod(len(f.domain) for f in schema.values())
    assert 100_000 < len(partition) < 2_000_000


def test_every_value_of_every_field_is_a_real_question(bundled_policy: policykit.Policy) -> None:
    """Setting any one field of a point to any value of its domain gives a request that normalises
    to exactly that point: the enumerated space is the space of real questions."""
    rules = bundled_policy.rules
    schema = rules.disclosure.facts
    normaliser = Normaliser(rules)
    base = {name: f.domain[0] for name, f in schema.items()}
    for name, f in schema.items():
        for value in f.domain:
            point = {**base, name: value}
            values, categories = normaliser.normalise(realise(point, rules), bundled_policy.today())
            assert dict(zip(normaliser.fact_names, values, strict=True)) == {
                k: v for k, v in point.items() if k != "category"
            }, (name, value)
            assert categories == (point["category"],)


def test_a_sample_of_cube_representatives_are_real_questions(bundled_policy: policykit.Policy) -> None:
    """The representatives of every 997th cube normalise back to themselves through decide()."""
    rules = bundled_policy.rules
    normaliser = Normaliser(rules)
    for region in disclosure_partition(rules).regions(part=0, parts=997):
        values, _ = normaliser.normalise(realise(region.point, rules), bundled_policy.today())
        assert values == tuple(region.point[n] for n in normaliser.fact_names)


def test_request_data_is_plain_json(bundled_policy: policykit.Policy) -> None:
    """A point becomes a mapping decide() accepts, with only non-default fields written."""
    rules = bundled_policy.rules
    point = {name: f.domain[0] for name, f in rules.disclosure.facts.items()}
    point.update({"purpose": "unlisted", "recipient.in_eea": False, "recipient.legal_obligation_jurisdiction": "other"})
    data = request_data(point, rules)
    assert data["purpose"] not in rules.vocabulary.ids("purposes")
    assert data["recipient"]["legal_obligation_jurisdiction"] == "US"
    decision = bundled_policy.decide(data)
    assert not decision.allowed
    assert request_data(point, rules, country="CH")["recipient"]["country"] == "CH"


@pytest.mark.parametrize("seed", range(3))
def test_compose_rebuilds_a_multi_category_answer(bundled_policy: policykit.Policy, seed: int) -> None:
    """A request's answer is the composition of its single-category answers (engine, random facts)."""
    rng = random.Random(seed)
    schema = bundled_policy.rules.disclosure.facts
    cats = list(schema["category"].domain)
    for _ in range(200):
        facts = {n: rng.choice(f.domain) for n, f in schema.items() if n != "category"}
        chosen = tuple(c for c in cats if rng.random() < 0.3) or (cats[0],)
        whole = bundled_policy.evaluate_facts(facts, chosen)
        parts = {c: bundled_policy.evaluate_facts(facts, (c,)) for c in chosen}
        composed = compose(parts, bundled_policy.rules)
        assert composed == {
            "allowed": whole.allowed, "reasons": whole.reasons, "rule_ids": whole.rule_ids,
            "obligations": whole.obligations, "by_category": dict(whole.by_category),
        }
