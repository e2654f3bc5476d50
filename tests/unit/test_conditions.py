"""The condition language: parsing with errors that point at the line, evaluation, partial
evaluation, negation normal form, and English rendering."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policykit._ruleset.conditions import (
    FALSE,
    TRUE,
    All,
    Condition,
    Field,
    Not,
    Ref,
    evaluate,
    fields_of,
    negation_normal_form,
    parse_condition,
    partial,
    render,
)
from policykit._ruleset.conditions import (
    Any as AnyC,
)
from policykit._ruleset.conditions import (
    Test as Atom,
)
from policykit.errors import ConditionError, UnknownTermError

SCHEMA = {
    "colour": Field("colour", ("red", "green", "blue"), "the colour"),
    "size": Field("size", ("s", "m", "l"), "the size"),
    "ok": Field("ok", (False, True), "ok", "it is ok", "it is not ok"),
    "wet": Field("wet", (False, True), "wetness", "it is wet", "it is dry"),
}
PREDICATES: dict[str, Condition] = {"small_red": All((Atom("colour", frozenset({"red"})), Atom("size", frozenset({"s"}))))}


def parse(raw: Any) -> Condition:
    return parse_condition(raw, SCHEMA, PREDICATES, file="x.yaml", line_of=len, path=())


def test_mapping_is_a_conjunction_of_tests() -> None:
    """``{a: x, b: [y, z]}`` means a is x and b is y or z."""
    cond = parse({"colour": "red", "size": ["s", "m"]})
    assert cond == All((Atom("colour", frozenset({"red"})), Atom("size", frozenset({"s", "m"}))))


def test_keywords_build_any_not_and_predicate_references() -> None:
    """``any``, ``not``, ``not_in`` and ``is`` parse to their nodes."""
    cond = parse({"any": [{"ok": True}, {"colour": {"not_in": ["red"]}}], "not": {"is": "small_red"}})
    assert cond == All((
        AnyC((Atom("ok", frozenset({True})), Atom("colour", frozenset({"red"}), negated=True))),
        Not(Ref("small_red", PREDICATES["small_red"])),
    ))


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        ({"colour": "redd"}, UnknownTermError, "did you mean 'red'"),
        ({"colur": "red"}, UnknownTermError, "did you mean 'colour'"),
        ({"ok": "yes"}, ConditionError, "expected true or false"),
        ({"colour": []}, ConditionError, "at least one value"),
        ({"colour": {"between": ["red"]}}, ConditionError, "expected {in: "),
        ({"any": []}, ConditionError, "non-empty list"),
        ({"is": "small_blue"}, UnknownTermError, "did you mean 'small_red'"),
        ("red", ConditionError, "expected a condition"),
        ({"size": True}, UnknownTermError, "expected a value of 'size'"),
    ],
)
def test_malformed_conditions_are_refused_clearly(raw: Any, error: type[Exception], message: str) -> None:
    """Each malformed condition raises the right error with a helpful message and a line."""
    with pytest.raises(error, match=message) as info:
        parse(raw)
    assert info.value.line is not None  # type: ignore[attr-defined]


points = st.fixed_dictionaries({name: st.sampled_from(f.domain) for name, f in SCHEMA.items()})


def condition_tests() -> st.SearchStrategy[Condition]:
    return st.builds(
        Atom,
        st.sampled_from(sorted(SCHEMA)),
        st.just(frozenset()),
        st.booleans(),
    ).flatmap(
        lambda t: st.sets(st.sampled_from(SCHEMA[t.field].domain), min_size=1).map(
            lambda vs: Atom(t.field, frozenset(vs), t.negated)
        )
    )


conditions = st.recursive(
    condition_tests() | st.sampled_from([TRUE, FALSE]),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: All(tuple(xs))),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: AnyC(tuple(xs))),
        inner.map(Not),
        inner.map(lambda c: Ref("named", c)),
    ),
    max_leaves=8,
)


@given(conditions, points)
def test_negation_normal_form_means_the_same(cond: Condition, point: dict[str, Any]) -> None:
    """Pushing negations into the tests never changes the meaning."""
    nnf = negation_normal_form(cond)
    assert evaluate(nnf, point) == evaluate(cond, point)
    assert "Not" not in repr(nnf)


@given(conditions, points, st.sets(st.sampled_from(sorted(SCHEMA))))
def test_partial_evaluation_agrees_with_full_evaluation(
    cond: Condition, point: dict[str, Any], known: set[str]
) -> None:
    """Substituting some fields first, then the rest, gives the same answer."""
    residual = partial(cond, {k: point[k] for k in known}, SCHEMA)
    assert evaluate(residual, point) == evaluate(cond, point)
    assert fields_of(residual) <= fields_of(cond) - known


@given(conditions, points)
def test_negation_normal_form_keeps_the_meaning_of_a_negation(cond: Condition, point: dict[str, Any]) -> None:
    """Pushing a negation into the tests (De Morgan) holds exactly where the condition does not, and
    leaves no Not or Ref behind."""
    pushed = negation_normal_form(Not(cond))
    assert evaluate(pushed, point) is (not evaluate(cond, point))
    assert evaluate(negation_normal_form(cond), point) is evaluate(cond, point)

    def has_not(c: Condition) -> bool:
        return isinstance(c, Not | Ref) or any(has_not(i) for i in getattr(c, "items", ()))

    assert not has_not(pushed)


def test_render_says_booleans_with_their_phrases() -> None:
    """Yes/no fields render as sentences; enumerations as 'is one of'."""
    text = render(parse({"ok": False, "colour": ["red", "blue"], "size": {"not": "l"}}), SCHEMA)
    assert text == "it is not ok and the colour is one of blue, red and the size is not l"


def test_render_names_predicates_by_title() -> None:
    """A predicate reference renders as its title, a negated one as 'not (title)'."""
    text = render(parse({"not": {"is": "small_red"}, "wet": True}), SCHEMA, {"small_red": "the item is small and red"})
    assert text == "not (the item is small and red) and it is wet"
