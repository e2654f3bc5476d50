"""The condition language of rule files: parsing, evaluation, partial evaluation and rendering.

A condition is written in YAML over the fields of a fact schema::

    when:
      recipient.kind: [existing_client_no_assignment, prospective_client]   # one of
      operation: {not_in: [show]}                                            # none of
      candidate.anonymised: true                                             # equals
      any:                                                                   # at least one
        - data.contains_special_category: true
        - category: special_category_data
      not: {is: compelled_disclosure}                                        # negation
      is: show_only_recipient                                                # a named predicate

A mapping means *all of its entries*. The keywords ``all``, ``any``, ``not`` and ``is`` cannot be
field names. Every field and value is checked against the schema when the rules are loaded.

The parsed form is a small tree of frozen dataclasses. The same tree is compiled for the engine
(``_engine.adapter``), evaluated directly by the reference evaluator, partially evaluated to split a rule by
data category and to enumerate the request space, and rendered as English for explanations and docs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any as AnyType

from policykit.errors import ConditionError, UnknownTermError, did_you_mean

__all__ = [
    "FALSE",
    "TRUE",
    "All",
    "Any",
    "Condition",
    "Const",
    "Field",
    "Not",
    "Ref",
    "Test",
    "Value",
    "evaluate",
    "fields_of",
    "negation_normal_form",
    "parse_condition",
    "partial",
    "render",
]

Value = str | bool
KEYWORDS = ("all", "any", "not", "is")


@dataclass(frozen=True, slots=True)
class Field:
    """A field of a fact schema: its name in rule files, its finite domain, and how to say it."""

    name: str
    domain: tuple[Value, ...]
    label: str
    true_text: str = ""
    false_text: str = ""
    description: str = ""

    @property
    def is_bool(self) -> bool:
        """Whether the field is a yes/no fact."""
        return self.domain == (False, True)

    @property
    def key(self) -> str:
        """The field's key in a flat fact (dots become underscores)."""
        return self.name.replace(".", "_")


@dataclass(frozen=True, slots=True)
class Const:
    """A condition that is always true or always false."""

    value: bool


TRUE = Const(True)
FALSE = Const(False)


@dataclass(frozen=True, slots=True)
class Test:
    """``field`` is one of ``values`` (or, when ``negated``, none of them)."""

    field: str
    values: frozenset[Value]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class All:
    """Every item holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Any:
    """At least one item holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The item does not hold."""

    item: Condition


@dataclass(frozen=True, slots=True)
class Ref:
    """A named predicate, kept by name for explanations; ``condition`` is its definition."""

    name: str
    condition: Condition


Condition = Const | Test | All | Any | Not | Ref


# --------------------------------------------------------------------------------------------
# parsing


LineOf = Callable[[tuple[str | int, ...]], int | None]


class _Parser:
    def __init__(
        self,
        schema: Mapping[str, Field],
        predicates: Mapping[str, Condition],
        file: str,
        line_of: LineOf,
    ) -> None:
        self.schema = schema
        self.predicates = predicates
        self.file = file
        self.line_of = line_of

    def fail(self, cls: type[ConditionError] | type[UnknownTermError], msg: str, path: tuple[str | int, ...]) -> None:
        raise cls(msg, file=self.file, line=self.line_of(path))

    def parse(self, raw: AnyType, path: tuple[str | int, ...]) -> Condition:
        if isinstance(raw, list):
            if not raw:
                self.fail(ConditionError, "expected a non-empty list of conditions, got []", path)
            return _all(tuple(self.parse(item, (*path, i)) for i, item in enumerate(raw)))
        if not isinstance(raw, dict) or not raw:
            self.fail(
                ConditionError,
                f"expected a condition (a mapping of fields to values, or all/any/not/is), got {raw!r}",
                path,
            )
        parts: list[Condition] = []
        for key, value in raw.items():
            sub = (*path, key)
            if key in ("all", "any"):
                if not isinstance(value, list) or not value:
                    self.fail(ConditionError, f"expected a non-empty list under {key!r}, got {value!r}", sub)
                items = tuple(self.parse(item, (*sub, i)) for i, item in enumerate(value))
                parts.append(All(items) if key == "all" else Any(items))
            elif key == "not":
                parts.append(Not(self.parse(value, sub)))
            elif key == "is":
                names = value if isinstance(value, list) else [value]
                for i, name in enumerate(names):
                    parts.append(self.predicate(name, (*sub, i) if isinstance(value, list) else sub))
            else:
                parts.append(self.test(key, value, sub))
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def predicate(self, name: AnyType, path: tuple[str | int, ...]) -> Condition:
        if not isinstance(name, str) or name not in self.predicates:
            self.fail(
                UnknownTermError,
                f"expected the name of a predicate, got {name!r}"
                + did_you_mean(str(name), self.predicates)
                + f"; predicates: {', '.join(sorted(self.predicates)) or 'none'}",
                path,
            )
        return Ref(name, self.predicates[name])

    def test(self, name: AnyType, spec: AnyType, path: tuple[str | int, ...]) -> Condition:
        field = self.schema.get(name) if isinstance(name, str) else None
        if field is None:
            self.fail(
                UnknownTermError,
                f"expected a fact field or one of all/any/not/is, got {name!r}"
                + did_you_mean(str(name), [*self.schema, *KEYWORDS]),
                path,
            )
            raise AssertionError  # unreachable: fail() raises
        negated = False
        if isinstance(spec, dict):
            if len(spec) != 1 or next(iter(spec)) not in ("in", "not_in", "not"):
                self.fail(
                    ConditionError,
                    f"expected {{in: [...]}}, {{not_in: [...]}} or {{not: value}} for {name!r}, got {spec!r}",
                    path,
                )
            op, spec = next(iter(spec.items()))
            negated = op in ("not_in", "not")
            path = (*path, op)
        values = spec if isinstance(spec, list) else [spec]
        if not values:
            self.fail(ConditionError, f"expected at least one value for {name!r}, got []", path)
        for i, v in enumerate(values):
            vpath = (*path, i) if isinstance(spec, list) else path
            if field.is_bool and not isinstance(v, bool):
                self.fail(ConditionError, f"expected true or false for {name!r}, got {v!r}", vpath)
            if v not in field.domain or (isinstance(v, bool) != field.is_bool):
                self.fail(
                    UnknownTermError,
                    f"expected a value of {name!r}, got {v!r}"
                    + did_you_mean(str(v), [str(d) for d in field.domain]),
                    vpath,
                )
        return Test(field.name, frozenset(values), negated)


def parse_condition(
    raw: AnyType,
    schema: Mapping[str, Field],
    predicates: Mapping[str, Condition],
    *,
    file: str,
    line_of: LineOf,
    path: tuple[str | int, ...],
) -> Condition:
    """Parse and check one condition from a rule file; errors name the file and line."""
    return _Parser(schema, predicates, file, line_of).parse(raw, path)


# --------------------------------------------------------------------------------------------
# evaluation


def evaluate(cond: Condition, facts: Mapping[str, Value]) -> bool:
    """Evaluate a condition over complete facts (keyed by field name). The reference semantics."""
    if isinstance(cond, Test):
        return (facts[cond.field] in cond.values) != cond.negated
    if isinstance(cond, All):
        return all(evaluate(c, facts) for c in cond.items)
    if isinstance(cond, Any):
        return any(evaluate(c, facts) for c in cond.items)
    if isinstance(cond, Not):
        return not evaluate(cond.item, facts)
    if isinstance(cond, Ref):
        return evaluate(cond.condition, facts)
    return cond.value


def _all(items: Iterable[Condition]) -> Condition:
    out: list[Condition] = []
    for c in items:
        if type(c) is Const:  # FALSE ends it, TRUE drops out (a type test: cheaper than ==)
            if not c.value:
                return FALSE
            continue
        out.extend(c.items if isinstance(c, All) else (c,))
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else All(tuple(out))


def _any(items: Iterable[Condition]) -> Condition:
    out: list[Condition] = []
    for c in items:
        if type(c) is Const:  # TRUE ends it, FALSE drops out
            if c.value:
                return TRUE
            continue
        out.extend(c.items if isinstance(c, Any) else (c,))
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else Any(tuple(out))


def partial(
    cond: Condition, known: Mapping[str, Value], schema: Mapping[str, Field] | None = None
) -> Condition:
    """Substitute the ``known`` fields and simplify. With ``schema``, a test that covers a field's
    whole domain becomes a constant."""
    if isinstance(cond, Test):
        if cond.field in known:
            return TRUE if (known[cond.field] in cond.values) != cond.negated else FALSE
        if schema is not None:
            domain = schema[cond.field].domain
            if len(cond.values) >= len(domain) and cond.values.issuperset(domain):
                return FALSE if cond.negated else TRUE
        return cond
    if isinstance(cond, All):
        return _all(partial(c, known, schema) for c in cond.items)
    if isinstance(cond, Any):
        return _any(partial(c, known, schema) for c in cond.items)
    if isinstance(cond, Not):
        inner = partial(cond.item, known, schema)
        if isinstance(inner, Const):
            return FALSE if inner.value else TRUE
        if isinstance(inner, Not):
            return inner.item
        return Not(inner)
    if isinstance(cond, Ref):
        inner = partial(cond.condition, known, schema)
        return inner if isinstance(inner, Const) else Ref(cond.name, inner)
    return cond


def fields_of(cond: Condition) -> frozenset[str]:
    """The fields a condition mentions."""
    if isinstance(cond, Test):
        return frozenset((cond.field,))
    if isinstance(cond, (All, Any)):
        return frozenset().union(*(fields_of(c) for c in cond.items))
    if isinstance(cond, Not):
        return fields_of(cond.item)
    if isinstance(cond, Ref):
        return fields_of(cond.condition)
    return frozenset()


def negation_normal_form(cond: Condition, negate: bool = False) -> Condition:
    """The condition without ``Not`` or ``Ref``: negations pushed into the tests (De Morgan)."""
    if isinstance(cond, Test):
        return Test(cond.field, cond.values, cond.negated != negate)
    if isinstance(cond, All):
        parts = tuple(negation_normal_form(c, negate) for c in cond.items)
        return _any(parts) if negate else _all(parts)
    if isinstance(cond, Any):
        parts = tuple(negation_normal_form(c, negate) for c in cond.items)
        return _all(parts) if negate else _any(parts)
    if isinstance(cond, Not):
        return negation_normal_form(cond.item, not negate)
    if isinstance(cond, Ref):
        return negation_normal_form(cond.condition, negate)
    return Const(cond.value != negate)


# --------------------------------------------------------------------------------------------
# rendering


def _fmt(v: Value) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def render(
    cond: Condition,
    schema: Mapping[str, Field],
    predicate_titles: Mapping[str, str] | None = None,
) -> str:
    """Say a condition in plain English, e.g. ``the operation is transfer and the recipient is
    outside the EU/EEA``. Named predicates are said by their title."""
    titles = predicate_titles or {}

    def say(c: Condition, nested: bool) -> str:
        if isinstance(c, Const):
            return "always" if c.value else "never"
        if isinstance(c, Test):
            f = schema[c.field]
            if f.is_bool and len(c.values) == 1:
                value = next(iter(c.values)) != c.negated
                return (f.true_text if value else f.false_text) or f"{f.label} is {_fmt(value)}"
            vals = sorted(_fmt(v) for v in c.values)
            if len(vals) == 1:
                return f"{f.label} is {'not ' if c.negated else ''}{vals[0]}"
            return f"{f.label} is {'none' if c.negated else 'one'} of {', '.join(vals)}"
        if isinstance(c, Ref):
            return titles.get(c.name, c.name.replace("_", " "))
        if isinstance(c, Not):
            inner = c.item
            if isinstance(inner, Ref):
                return f"not ({titles.get(inner.name, inner.name.replace('_', ' '))})"
            return f"not ({say(inner, False)})"
        joiner = " and " if isinstance(c, All) else " or "
        text = joiner.join(say(i, True) for i in c.items)
        if isinstance(c, Any):
            text = "either " + text
        return f"({text})" if nested else text

    return say(cond, False)
