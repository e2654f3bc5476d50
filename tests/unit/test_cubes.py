"""Cubes: a condition as disjoint boxes of its finite space, exactly the points where it holds."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given

from policykit._ruleset.conditions import Condition, evaluate
from policykit._ruleset.cubes import cube_contains, disjoint, intersect, subtract, to_cubes
from tests.unit.test_conditions import SCHEMA, conditions

ALL_POINTS = [dict(zip(SCHEMA, values, strict=True)) for values in itertools.product(*(f.domain for f in SCHEMA.values()))]


@given(conditions)
def test_cubes_cover_exactly_the_points_where_the_condition_holds(cond: Condition) -> None:
    """Every point of the space lies in a cube iff the condition holds there, and in at most one."""
    cubes = to_cubes(cond, SCHEMA)
    for point in ALL_POINTS:
        inside = [c for c in cubes if cube_contains(c, point)]
        assert len(inside) == (1 if evaluate(cond, point) else 0)


def test_subtract_leaves_disjoint_pieces_outside_the_subtrahend() -> None:
    """a - b is a set of disjoint cubes covering a's points that are not in b."""
    a: dict[str, Any] = {"colour": frozenset({"red", "green"})}
    b: dict[str, Any] = {"colour": frozenset({"red"}), "ok": frozenset({True})}
    pieces = subtract(a, b, SCHEMA)
    for point in ALL_POINTS:
        expected = cube_contains(a, point) and not cube_contains(b, point)
        assert sum(cube_contains(p, point) for p in pieces) == int(expected)


def test_intersect_of_disjoint_cubes_is_none() -> None:
    """Cubes that share no point do not intersect."""
    assert intersect({"size": frozenset({"s"})}, {"size": frozenset({"m"})}) is None


def test_disjoint_keeps_the_union() -> None:
    """Making overlapping cubes disjoint keeps the same points."""
    cubes = [{"colour": frozenset({"red"})}, {"ok": frozenset({True})}, {"size": frozenset({"s", "m"})}]
    out = disjoint(cubes, SCHEMA)
    for point in ALL_POINTS:
        assert sum(cube_contains(c, point) for c in out) == int(any(cube_contains(c, point) for c in cubes))
