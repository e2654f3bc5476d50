"""Cubes: conditions over finite domains as unions of disjoint boxes.

A *cube* constrains some fields to sets of values (a field it does not mention may take any value).
Any condition over finite-domain fields is a union of cubes, and the cubes can be made pairwise
disjoint, so that each point of the space lies in at most one of them.

Two readers use this:

* the engine adapter compiles each rule into disjoint cubes, one engine rule each, so that a rule
  fires at most once per question and no engine rule exceeds durable-rules' expression limit;
* the analysis tools split the whole request space into cubes on which every rule's condition is
  constant, so that every possible question can be checked by checking one point of each cube.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from policykit._ruleset.conditions import All, Condition, Const, Field, Not, Ref, Test, Value

__all__ = ["Cube", "cube_contains", "disjoint", "intersect", "subtract", "to_cubes"]

Cube = dict[str, frozenset[Value]]


def intersect(a: Cube, b: Cube) -> Cube | None:
    """The cube of points in both, or ``None`` if they do not meet."""
    out = dict(a)
    for field, values in b.items():
        if field in out:
            both = out[field] & values
            if not both:
                return None
            out[field] = both
        else:
            out[field] = values
    return out


def subtract(a: Cube, b: Cube, domains: Mapping[str, Field]) -> list[Cube]:
    """``a`` minus ``b`` as disjoint cubes."""
    if intersect(a, b) is None:
        return [a]
    pieces: list[Cube] = []
    current = dict(a)
    for field, values in b.items():
        have = current.get(field, frozenset(domains[field].domain))
        outside = have - values
        if outside:
            piece = dict(current)
            piece[field] = outside
            pieces.append(piece)
        current[field] = have & values
    return pieces


def disjoint(cubes: Iterable[Cube], domains: Mapping[str, Field]) -> list[Cube]:
    """The same union of points, as pairwise disjoint cubes."""
    out: list[Cube] = []
    for cube in cubes:
        pending = [cube]
        for existing in out:
            pending = [piece for p in pending for piece in subtract(p, existing, domains)]
            if not pending:
                break
        out.extend(pending)
    return out


def _normalise(cube: Cube, domains: Mapping[str, Field]) -> Cube:
    return {f: v for f, v in cube.items() if v != frozenset(domains[f].domain)}


def to_cubes(cond: Condition, domains: Mapping[str, Field]) -> list[Cube]:
    """The points where ``cond`` holds, as disjoint cubes (unconstrained fields left out)."""

    def go(c: Condition, negate: bool) -> list[Cube]:
        if isinstance(c, Const):
            return [{}] if c.value != negate else []
        if isinstance(c, Test):
            domain = frozenset(domains[c.field].domain)
            values = c.values & domain if (c.negated == negate) else domain - c.values
            return [{c.field: values}] if values else []
        if isinstance(c, Ref):
            return go(c.condition, negate)
        if isinstance(c, Not):
            return go(c.item, not negate)
        conjunctive = isinstance(c, All) != negate
        if conjunctive:
            result: list[Cube] = [{}]
            for item in c.items:
                parts = go(item, negate)
                result = [m for r in result for p in parts if (m := intersect(r, p)) is not None]
                if not result:
                    return []
            return result
        return disjoint((cube for item in c.items for cube in go(item, negate)), domains)

    return [_normalise(c, domains) for c in disjoint(go(cond, False), domains)]


def cube_contains(cube: Cube, point: Mapping[str, Value]) -> bool:
    """Whether a complete point lies in the cube."""
    return all(point[f] in values for f, values in cube.items())
