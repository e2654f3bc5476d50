"""Invariants: claims about every disclosure decision, declared in ``rules/invariants.yaml``.

An invariant says what must be true of the answer to every single-category question in a region of
the fact space, and cites the clauses it rests on::

    - id: INV-NEVER-SOLD
      title: Personal data are never sold
      clauses: [CLAUSE-ID]
      for_all:                       # a condition over the fact fields (the rules' language);
        any:                         # omitted: every question
          - operation: sell
          - purpose: sell_data
        not: {is: true_aggregate}    # predicates of this file, not of disclosure.yaml
      expect:
        allowed: false
        reason_in: [SALE_PROHIBITED]

``expect`` holds one or more of: ``allowed`` (true/false), ``reason_in`` (the deciding reason is one
of these), ``reasons_include`` / ``reasons_exclude`` (reason codes that must / must not be among the
reasons), ``allowed_only_if`` (a condition that every allowed question satisfies),
``obligations_include`` (obligations every allow carries) and ``structural`` (a check of the outcome
against the rules that fired: ``forbid_overrides_permit`` or ``explained``; or
``flags_as_strict_as_categories``, which compares the answer with the answers to the same question
without the data flags, for its category and for each category a flag stands for).

Invariants are written independently of the disclosure rules: they may use their own predicates
but not the rules' ones, so that a mistake in a rule cannot hide in the claim that checks it. The
file is checked like every rule file: an unknown field, value, reason code, obligation or clause id
is an error naming the file and line, with a "did you mean".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from policykit._ruleset.conditions import TRUE, Condition, Field, parse_condition
from policykit._ruleset.cubes import to_cubes
from policykit._ruleset.loading import _Loader, _validate
from policykit._ruleset.overlay import relocate, resolve_rules
from policykit._ruleset.reading import LocatedYaml, bundled_rules_dir, load_yaml
from policykit.errors import ConditionError, DefinitionError, DuplicateIdError, RuleSchemaError

if TYPE_CHECKING:
    from policykit._disclosure.decision import Outcome
    from policykit._ruleset.ruleset import RuleSet

__all__ = [
    "FLAGGED_CATEGORIES", "INVARIANTS_FILE", "Expectation", "Invariant", "Structural", "load_invariants", "violation",
]

INVARIANTS_FILE = "invariants.yaml"
Structural = Literal["forbid_overrides_permit", "explained", "flags_as_strict_as_categories"]
# the data flags and the category each stands for (flags_as_strict_as_categories)
FLAGGED_CATEGORIES = (
    ("data.contains_special_category", "special_category_data"),
    ("data.contains_criminal_data", "criminal_offence_data"),
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Expectation(_Frozen):
    """What an invariant expects of every answer in its region."""

    allowed: bool | None = None
    reason_in: tuple[str, ...] = ()
    reasons_include: tuple[str, ...] = ()
    reasons_exclude: tuple[str, ...] = ()
    allowed_only_if: Condition | None = None
    obligations_include: tuple[str, ...] = ()
    structural: Structural | None = None

    def describe(self, say: Callable[[Condition], str]) -> str:
        """The expectation in words; ``say`` renders a condition."""
        parts: list[str] = []
        if self.allowed is not None:
            parts.append("allowed" if self.allowed else "denied")
        if self.reason_in:
            parts.append("the deciding reason is " + " or ".join(self.reason_in))
        if self.reasons_include:
            parts.append("the reasons include " + ", ".join(self.reasons_include))
        if self.reasons_exclude:
            parts.append("the reasons never include " + ", ".join(self.reasons_exclude))
        if self.allowed_only_if is not None:
            parts.append("allowed only if " + say(self.allowed_only_if))
        if self.obligations_include:
            parts.append("every allow carries " + ", ".join(self.obligations_include))
        if self.structural == "forbid_overrides_permit":
            parts.append("a forbid that fires is never overridden by a permit")
        elif self.structural == "explained":
            parts.append("every answer is explained by the rules that fired, with reasons and clauses")
        elif self.structural == "flags_as_strict_as_categories":
            parts.append(
                "an allow implies that the same question without the flags is allowed for its category and "
                "for each flagged category"
            )
        return "; ".join(parts)


class Invariant(_Frozen):
    """A claim about the answer to every single-category question where ``for_all`` holds."""

    id: str
    title: str
    description: str
    clauses: tuple[str, ...]
    for_all: Condition
    expect: Expectation
    file: str
    line: int | None = None

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """The conditions the enumeration must keep constant on each cube: ``for_all`` and, when
        given, ``allowed_only_if``."""
        extra = (self.expect.allowed_only_if,) if self.expect.allowed_only_if is not None else ()
        return (self.for_all, *extra)


# ------------------------------------------------------------------------------------------------
# checking one answer


def violation(
    inv: Invariant,
    outcome: Outcome,
    only_if_holds: bool,
    rules: RuleSet,
) -> str | None:
    """Why ``outcome`` (the answer to a single-category question where ``for_all`` holds) breaks the
    invariant, or ``None`` if it does not. ``only_if_holds`` is the value of ``allowed_only_if`` at the
    question (ignored when the invariant has none)."""
    e = inv.expect
    reasons = outcome.reasons
    if e.allowed is not None and outcome.allowed != e.allowed:
        return f"expected {'allowed' if e.allowed else 'denied'}, got {_verdict(outcome)}"
    if e.reason_in and (outcome.allowed or reasons[0] not in e.reason_in):
        return f"expected the deciding reason to be {' or '.join(e.reason_in)}, got {_verdict(outcome)}"
    missing = [r for r in e.reasons_include if r not in reasons]
    if missing:
        return f"expected the reasons to include {', '.join(missing)}, got {_verdict(outcome)}"
    present = [r for r in e.reasons_exclude if r in reasons]
    if present:
        return f"expected the reasons not to include {', '.join(present)}, got {_verdict(outcome)}"
    if e.allowed_only_if is not None and outcome.allowed and not only_if_holds:
        return "expected a deny where the allowed_only_if condition fails, got allowed"
    if e.obligations_include and outcome.allowed:
        lacking = [o for o in e.obligations_include if o not in outcome.obligations]
        if lacking:
            return f"expected the allow to carry {', '.join(lacking)}, got obligations {list(outcome.obligations)}"
    if e.structural is not None:
        return _structural(e.structural, outcome, rules)
    return None


def _verdict(outcome: Outcome) -> str:
    return "allowed" if outcome.allowed else "denied " + ", ".join(outcome.reasons)


def _structural(check: Structural, outcome: Outcome, rules: RuleSet) -> str | None:
    if check == "flags_as_strict_as_categories":
        return None  # relational: checked by the verifier, which asks the engine the twin questions
    fired = [rules.disclosure.rule(rid) for rid in outcome.rule_ids]
    forbids = [r for r in fired if r.effect == "forbid"]
    permits = [r for r in fired if r.effect == "permit"]
    if check == "forbid_overrides_permit":
        if forbids and (outcome.allowed or any(outcome.by_category.values())):
            return f"forbid {forbids[0].id} fired but the question was allowed"
        return None
    # explained: the answer follows from the rules that fired, and says why
    if outcome.allowed:
        if not permits:
            return "allowed although no permit fired"
        if forbids:
            return f"allowed although forbid {forbids[0].id} fired"
    else:
        if not outcome.reasons:
            return "denied without a reason"
        expected_first = forbids[0].reason if forbids else "NO_APPLICABLE_PERMIT"
        if outcome.reasons[0] != expected_first:
            return f"denied with deciding reason {outcome.reasons[0]}, expected {expected_first} (first fired forbid)"
        if outcome.obligations and not any(outcome.by_category.values()):
            return f"nothing may go but the answer carries obligations {list(outcome.obligations)}"
        codes = set(rules.vocabulary.ids("reason_codes"))
        unknown = [r for r in outcome.reasons if r not in codes]
        if unknown:
            return f"denied with reasons outside the vocabulary: {unknown}"
    if not outcome.clauses:
        return "the answer cites no clause"
    return None


# ------------------------------------------------------------------------------------------------
# loading


class _RawPredicate(_Raw):
    title: str
    description: str = ""
    when: Any


class _RawExpect(_Raw):
    allowed: bool | None = None
    reason_in: list[str] = []
    reasons_include: list[str] = []
    reasons_exclude: list[str] = []
    allowed_only_if: Any = None
    obligations_include: list[str] = []
    structural: Structural | None = None


class _RawInvariant(_Raw):
    id: str
    title: str
    description: str
    clauses: list[str]
    for_all: Any = None
    expect: _RawExpect


class _RawInvariantsFile(_Raw):
    predicates: dict[str, _RawPredicate] = {}
    invariants: list[_RawInvariant]


def load_invariants(rules: RuleSet, path: str | Path | None = None) -> tuple[Invariant, ...]:
    """The invariants declared for a rule set: ``invariants.yaml`` in its directory, or the file at
    ``path``. A rules directory without the file declares none. Every problem raises a
    :class:`~policykit.errors.DefinitionError` naming the file and line."""
    if path is None:  # the rules directory's own file, with any overlay applied
        resolved = resolve_rules(rules.directory, [INVARIANTS_FILE], bundled_rules_dir, optional=[INVARIANTS_FILE])
        if INVARIANTS_FILE not in resolved.docs:
            return ()
        doc, name = resolved.docs[INVARIANTS_FILE], INVARIANTS_FILE
    else:
        doc, name = load_yaml(Path(path)), str(path)
    doc.file = Path(name)
    try:
        return _load_invariants(rules, doc, name)
    except DefinitionError as exc:
        raise relocate(exc) from None


def _load_invariants(rules: RuleSet, doc: LocatedYaml, name: str) -> tuple[Invariant, ...]:
    loader = _Loader.__new__(_Loader)
    loader.directory = rules.directory
    loader.docs = {name: doc}
    loader.clause_ids = {c.id for c in rules.clauses}
    raw: _RawInvariantsFile = _validate(_RawInvariantsFile, doc, name)
    schema: Mapping[str, Field] = rules.disclosure.facts
    predicates: dict[str, Condition] = {}
    for pname, p in raw.predicates.items():
        ppath: tuple[str | int, ...] = ("predicates", pname)
        if pname in schema:
            raise DuplicateIdError(
                f"expected a predicate name apart from the fact fields, got {pname!r}",
                file=name, line=loader.line(name, ppath),
            )
        predicates[pname] = parse_condition(
            p.when, schema, predicates, file=name, line_of=doc.line, path=(*ppath, "when")
        )
    loader.unique([i.id for i in raw.invariants], "invariant id", name, ("invariants",))
    reasons = rules.vocabulary.ids("reason_codes")
    obligations = rules.vocabulary.ids("obligations")
    out: list[Invariant] = []
    for i, inv in enumerate(raw.invariants):
        where: tuple[str | int, ...] = ("invariants", i)
        if not inv.clauses:
            raise RuleSchemaError(
                f"expected invariant {inv.id!r} to cite at least one clause, got none",
                file=name, line=loader.line(name, (*where, "clauses")),
            )
        loader.check_clauses(inv.clauses, name, (*where, "clauses"))
        e = inv.expect
        epath = (*where, "expect")
        for key, values, choices, what in (
            ("reason_in", e.reason_in, reasons, "a reason code"),
            ("reasons_include", e.reasons_include, reasons, "a reason code"),
            ("reasons_exclude", e.reasons_exclude, reasons, "a reason code"),
            ("obligations_include", e.obligations_include, obligations, "an obligation id"),
        ):
            for j, value in enumerate(values):
                loader.check_term(value, choices, what, name, (*epath, key, j))
        only_if = None
        if e.allowed_only_if is not None:
            only_if = parse_condition(
                e.allowed_only_if, schema, predicates, file=name, line_of=doc.line, path=(*epath, "allowed_only_if")
            )
        expectation = Expectation(
            allowed=e.allowed, reason_in=tuple(e.reason_in), reasons_include=tuple(e.reasons_include),
            reasons_exclude=tuple(e.reasons_exclude), allowed_only_if=only_if,
            obligations_include=tuple(e.obligations_include), structural=e.structural,
        )
        if expectation == Expectation():
            raise RuleSchemaError(
                f"expected invariant {inv.id!r} to expect something (allowed, reason_in, reasons_include, "
                "reasons_exclude, allowed_only_if, obligations_include or structural), got nothing",
                file=name, line=loader.line(name, epath),
            )
        if e.allowed is True and (e.reason_in or e.reasons_include):
            raise RuleSchemaError(
                f"invariant {inv.id!r} expects an allow and deny reasons at once; an allow has no reasons",
                file=name, line=loader.line(name, epath),
            )
        for_all: Condition = TRUE
        if inv.for_all is not None:
            for_all = parse_condition(
                inv.for_all, schema, predicates, file=name, line_of=doc.line, path=(*where, "for_all")
            )
            if not to_cubes(for_all, schema):
                raise ConditionError(
                    f"expected a for_all condition that can hold, but invariant {inv.id!r} covers no question",
                    file=name, line=loader.line(name, (*where, "for_all")),
                )
        out.append(
            Invariant(
                id=inv.id, title=inv.title, description=" ".join(inv.description.split()),
                clauses=tuple(inv.clauses), for_all=for_all, expect=expectation,
                file=name, line=loader.line(name, where),
            )
        )
    return tuple(out)


def select(invariants: Sequence[Invariant], ids: Sequence[str]) -> tuple[Invariant, ...]:
    """The invariants with these ids, in file order; an unknown id raises ``KeyError`` with the
    known ones."""
    known = {i.id for i in invariants}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise KeyError(f"unknown invariant ids: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return tuple(i for i in invariants if i.id in set(ids))
