"""The disclosure request space, partitioned so that every possible question can be checked.

Why "every possible question" is a finite, checkable claim
----------------------------------------------------------
1. **Decisions depend only on normalised facts.** ``decide()`` reduces a request to the fields of
   ``_ruleset.facts.disclosure_schema`` (dates become yes/no facts as of the question's day, a country becomes
   "inside the EU/EEA or not", an unknown purpose becomes ``unlisted``…) and the engine sees nothing
   else. Every field has a finite domain, so there are finitely many distinct questions:
   ``operation × purpose × recipient kind × … × category`` is about 4.5e10 single-category questions
   for the shipped vocabulary. Every point of that space is reachable: :func:`realise` builds, for
   any point, a request that normalises to exactly it (it sets each field independently of the
   others; a test checks every value of every field, and a sample of cubes).
2. **Single-category questions suffice.** A rule either tests ``category`` (and is judged for each
   requested category on its own) or does not (and applies to every requested category alike). The
   combination is per category (a forbid overrides a permit, no permit means deny) and a request is
   allowed when every category is, with the reasons, fired rules and obligations the union of the
   categories' in rule order. So the answer to a request naming categories ``c1…cn`` is a function of
   the answers to the n single-category questions (:func:`compose`); the property tests check this
   compositionality against the engine. An invariant that holds for every single-category question
   of the form "denied", "reasons include…" or "allowed only if…" therefore holds for every request.
3. **The space is a union of cubes on which nothing changes.** :func:`partition` splits the space
   with a decision tree: at each node it picks a field that some rule's (or invariant's) remaining
   condition still tests, splits the field's domain into the classes of values that every remaining
   test treats alike, substitutes, simplifies, and stops where every condition has become constant.
   Each leaf is a cube (a set of values per field; unmentioned fields are free) on which every rule's
   condition, hence which rules fire, hence the whole outcome, is constant. The leaves are disjoint
   and cover the space exactly (:meth:`Partition.points` adds them up and checks the total).
   Identical sub-problems are shared (the tree is a DAG), so building it takes milliseconds; the
   shipped rules give roughly 7e5 cubes.
4. **One engine call per cube.** ``policykit verify`` sends one representative point of each cube
   through the durable-rules engine and checks every invariant on the answer; it also checks that the
   rules the engine fired are exactly the rules whose conditions hold on the cube (the partition knows
   them symbolically). The differential test compares every cube's answer with the independent
   reference evaluator (``policykit.testing.reference_outcome``), and hypothesis samples random
   points inside cubes to check that the engine's answer is indeed constant on each.

The same machinery gives the semantic diff (``_analysis.diff``): partition over the union of two rule sets'
conditions, and every question whose answer differs is in a cube whose answers differ.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from policykit._disclosure.decision import CandidateStatus, DisclosureRequest, Outcome, Recipient
from policykit._ruleset.conditions import (
    All,
    Condition,
    Const,
    Field,
    Not,
    Ref,
    Test,
    Value,
    fields_of,
    negation_normal_form,
    partial,
)
from policykit._ruleset.conditions import (
    Any as AnyOf,
)
from policykit._ruleset.facts import UNLISTED_PURPOSE

if TYPE_CHECKING:
    from policykit._analysis.view import PolicyView
    from policykit._ruleset.ruleset import RuleSet

__all__ = [
    "PREFERRED",
    "Partition",
    "Region",
    "compose",
    "disclosure_partition",
    "outcome_of",
    "realise",
    "request_data",
]

Cube = dict[str, frozenset[Value]]
# representatives take a request's defaults where they can (inputs.md), so examples read naturally
PREFERRED: dict[str, Value] = {
    "purpose": "present_candidates_to_clients",
    "recipient.in_eea": True,
    "recipient.subprocessors_in_eea": True,
    "data.identifiable": True,
    "category": "name",
}
# an edge of the partition DAG: field, class of values, the class's first value (in domain order),
# bits of the conditions that became true on it, and the child node (None at a leaf)
_Edge = tuple[str, frozenset[Value], Value, int, "tuple[_Edge, ...] | None"]


@dataclass(frozen=True, slots=True)
class Region:
    """One cube of a partition: ``index`` (its position in the partition's order), ``cube`` (the
    values each constrained field may take; other fields are free), ``point`` (its representative:
    for each field the first value of its domain the cube allows), ``truths`` (bit ``i`` is set
    when condition ``i`` of the partition holds on the cube; it is constant there) and ``size`` (how
    many points it holds)."""

    index: int
    cube: Cube
    point: dict[str, Value]
    truths: int
    size: int

    def holds(self, condition_index: int) -> bool:
        """Whether condition ``condition_index`` of the partition holds on this cube."""
        return bool(self.truths >> condition_index & 1)


def _tests_on(cond: Condition, field: str, out: list[frozenset[Value]]) -> None:
    if isinstance(cond, Test):
        if cond.field == field:
            out.append(cond.values)
    elif isinstance(cond, (All, AnyOf)):
        for item in cond.items:
            _tests_on(item, field, out)
    elif isinstance(cond, Not):
        _tests_on(cond.item, field, out)
    elif isinstance(cond, Ref):
        _tests_on(cond.condition, field, out)


class Partition:
    """The points of a finite space where ``within`` holds, split into disjoint cubes on which each of
    ``conditions`` is constant.

    ``len(partition)`` is the number of cubes, :meth:`points` the number of points they hold, and
    :meth:`regions` yields the cubes in a fixed order (the same on every run and in every process).
    """

    def __init__(
        self,
        conditions: Sequence[Condition],
        schema: Mapping[str, Field],
        within: Condition | None = None,
        prefer: Mapping[str, Value] | None = None,
    ) -> None:
        self.schema = dict(schema)
        self.conditions = tuple(conditions)
        self.within = within
        # the value a representative point takes for a field where the cube allows it
        self._prefer = {name: f.domain[0] for name, f in self.schema.items()}
        for name, value in (prefer or {}).items():
            if name in self.schema and value in self.schema[name].domain:
                self._prefer[name] = value
        self._order = {name: i for i, name in enumerate(self.schema)}
        self._fields: dict[Condition, frozenset[str]] = {}
        self._memo: dict[Any, tuple[_Edge, ...]] = {}
        live: list[tuple[int, Condition]] = []
        self._mask0 = 0
        for i, cond in enumerate(self.conditions):
            residual = partial(negation_normal_form(cond), {}, self.schema)
            if isinstance(residual, Const):
                self._mask0 |= int(residual.value) << i
            else:
                live.append((i, residual))
        guard = partial(negation_normal_form(within), {}, self.schema) if within is not None else Const(True)
        self._empty = guard == Const(False)
        self._root: tuple[_Edge, ...] | None = None
        if not self._empty and (live or not isinstance(guard, Const)):
            self._root = self._node(guard, tuple(live))
        self._count = self._count_leaves()

    # building ---------------------------------------------------------------------------------
    def _fields_of(self, cond: Condition) -> frozenset[str]:
        got = self._fields.get(cond)
        if got is None:
            got = self._fields[cond] = fields_of(cond)
        return got

    def _node(self, guard: Condition, live: tuple[tuple[int, Condition], ...]) -> tuple[_Edge, ...]:
        key = (guard, live)
        got = self._memo.get(key)
        if got is not None:
            return got
        counts: Counter[str] = Counter()
        for _, cond in live:
            counts.update(self._fields_of(cond))
        if not isinstance(guard, Const):
            counts.update(self._fields_of(guard))
        order = self._order
        field = max(counts, key=lambda f: (counts[f], -order[f]))
        tests: list[frozenset[Value]] = []
        for _, cond in live:
            _tests_on(cond, field, tests)
        _tests_on(guard, field, tests)
        classes: dict[tuple[bool, ...], list[Value]] = {}
        for value in self.schema[field].domain:
            classes.setdefault(tuple(value in t for t in tests), []).append(value)
        edges: list[_Edge] = []
        for values in classes.values():
            known = {field: values[0]}
            sub_guard = partial(guard, known, self.schema)
            if sub_guard == Const(False):
                continue
            mask = 0
            sub_live: list[tuple[int, Condition]] = []
            for i, cond in live:
                residual = partial(cond, known, self.schema)
                if isinstance(residual, Const):
                    mask |= int(residual.value) << i
                else:
                    sub_live.append((i, residual))
            child = self._node(sub_guard, tuple(sub_live)) if sub_live or sub_guard != Const(True) else None
            if child == ():  # every branch below was cut off by the guard
                continue
            first = self._prefer[field] if self._prefer[field] in values else values[0]
            edges.append((field, frozenset(values), first, mask, child))
        result = tuple(edges)
        self._memo[key] = result
        return result

    # counting ---------------------------------------------------------------------------------
    def _count_leaves(self) -> int:
        if self._empty:
            return 0
        if self._root is None:
            return 1
        memo: dict[int, int] = {}

        def count(node: tuple[_Edge, ...]) -> int:
            got = memo.get(id(node))
            if got is None:
                got = sum(1 if child is None else count(child) for *_, child in node)
                memo[id(node)] = got
            return got

        return count(self._root)

    def __len__(self) -> int:
        return self._count

    @property
    def nodes(self) -> int:
        """How many distinct sub-problems the decision tree has (the DAG's nodes)."""
        return len(self._memo)

    def fraction(self) -> Fraction:
        """The share of the whole space the cubes cover (1 without ``within``)."""
        if self._empty:
            return Fraction(0)
        if self._root is None:
            return Fraction(1)
        memo: dict[int, Fraction] = {}
        sizes = {name: len(f.domain) for name, f in self.schema.items()}

        def share(node: tuple[_Edge, ...]) -> Fraction:
            got = memo.get(id(node))
            if got is None:
                got = sum(
                    (Fraction(len(values), sizes[field]) * (1 if child is None else share(child))
                     for field, values, _, _, child in node),
                    Fraction(0),
                )
                memo[id(node)] = got
            return got

        return share(self._root)

    def points(self) -> int:
        """How many points (single-category normalised questions) the cubes hold."""
        total = Fraction(math.prod(len(f.domain) for f in self.schema.values()))
        return int(self.fraction() * total)

    def size(self, cube: Mapping[str, frozenset[Value]], *, exclude: frozenset[str] = frozenset()) -> int:
        """How many points a cube holds (fields in ``exclude`` not counted)."""
        return math.prod(
            len(cube[name]) if name in cube else len(f.domain)
            for name, f in self.schema.items()
            if name not in exclude
        )

    # enumerating ------------------------------------------------------------------------------
    def regions(self, *, part: int = 0, parts: int = 1) -> Iterator[Region]:
        """The cubes in a fixed order; with ``parts`` > 1 only those whose index is ``part`` modulo
        ``parts`` (for spreading the work over processes)."""
        if self._empty:
            return
        point = dict(self._prefer)
        total = math.prod(len(f.domain) for f in self.schema.values())
        if self._root is None:
            if part == 0:
                yield Region(0, {}, point, self._mask0, total)
            return
        sizes = {name: len(f.domain) for name, f in self.schema.items()}
        first_values = self._prefer
        counter = 0
        cube: Cube = {}

        def walk(node: tuple[_Edge, ...], mask: int, num: int, den: int) -> Iterator[Region]:
            nonlocal counter
            for field, values, first, bits, child in node:
                cube[field] = values
                point[field] = first
                n, d = num * len(values), den * sizes[field]
                if child is None:
                    if counter % parts == part:
                        yield Region(counter, dict(cube), dict(point), mask | bits, total * n // d)
                    counter += 1
                else:
                    yield from walk(child, mask | bits, n, d)
                del cube[field]
                point[field] = first_values[field]

        yield from walk(self._root, self._mask0, 1, 1)

    def representative(self, cube: Mapping[str, frozenset[Value]]) -> dict[str, Value]:
        """The cube's representative point: for each field, its preferred value if the cube allows
        it, else the first value of its domain that the cube allows."""
        point: dict[str, Value] = {}
        for name, f in self.schema.items():
            allowed = cube.get(name)
            prefer = self._prefer[name]
            if allowed is None or prefer in allowed:
                point[name] = prefer
            else:
                point[name] = next(v for v in f.domain if v in allowed)
        return point

    def random_point(self, cube: Mapping[str, frozenset[Value]], rng: random.Random) -> dict[str, Value]:
        """A point of the cube chosen at random."""
        point: dict[str, Value] = {}
        for name, f in self.schema.items():
            allowed = cube.get(name)
            choices = f.domain if allowed is None else [v for v in f.domain if v in allowed]
            point[name] = rng.choice(choices)
        return point


def disclosure_partition(
    rules: RuleSet, extra: Sequence[Condition] = (), within: Condition | None = None
) -> Partition:
    """The disclosure space split for every rule's full condition (``rules.disclosure.rules`` in
    order: condition ``i`` is rule ``i``), then for the ``extra`` conditions (indexes after the
    rules'), restricted to where ``within`` holds."""
    conditions = [r.condition for r in rules.disclosure.rules] + list(extra)
    return Partition(conditions, rules.disclosure.facts, within, PREFERRED)


def outcome_of(policy: PolicyView, point: Mapping[str, Value]) -> Outcome:
    """The engine's outcome for one single-category point (``category`` included), bypassing the
    memo."""
    return policy.evaluate_facts(point, (str(point["category"]),))


def compose(outcomes: Mapping[str, Outcome], rules: RuleSet) -> dict[str, Any]:
    """The answer to a request naming several categories, from the answers to its single-category
    questions (one per category, same facts): allowed when every category is; reasons and fired rules
    are the union in rule order, and the obligations the union, in rule order, of those of the
    categories that may go. ``NO_APPLICABLE_PERMIT`` comes last.

    Returns the comparable parts: ``allowed``, ``reasons``, ``rule_ids``, ``obligations`` and
    ``by_category``."""
    order = {r.id: i for i, r in enumerate(rules.disclosure.rules)}
    allowed = all(o.allowed for o in outcomes.values())
    fired = sorted({rid for o in outcomes.values() for rid in o.rule_ids}, key=order.__getitem__)
    forbid_reasons = [
        rules.disclosure.rule(rid).reason or "" for rid in fired if rules.disclosure.rule(rid).effect == "forbid"
    ]
    reasons = list(dict.fromkeys(forbid_reasons))
    if any("NO_APPLICABLE_PERMIT" in o.reasons for o in outcomes.values()):
        reasons.append("NO_APPLICABLE_PERMIT")
    releasing = {rid for o in outcomes.values() if o.allowed for rid in o.rule_ids}
    obligations: list[str] = []
    for rid in fired:
        rule = rules.disclosure.rule(rid)
        if rule.effect == "permit" and rid in releasing:
            obligations.extend(rule.obligations)
    return {
        "allowed": allowed,
        "reasons": tuple(reasons),
        "rule_ids": tuple(fired),
        "obligations": tuple(dict.fromkeys(obligations)),
        "by_category": {c: o.allowed for c, o in outcomes.items()},
    }


# ------------------------------------------------------------------------------------------------
# from points back to requests


def _outside_country(rules: RuleSet) -> str:
    preferred = ("US", "CH", "GB")
    outside = [c.code for c in rules.vocabulary.countries if not c.in_eea]
    for code in preferred:
        if code in outside:
            return code
    return outside[0]


def _inside_country(rules: RuleSet) -> str:
    inside = [c.code for c in rules.vocabulary.countries if c.in_eea]
    return "SE" if "SE" in inside else inside[0]


def request_data(
    point: Mapping[str, Value], rules: RuleSet, *, country: str | None = None
) -> dict[str, Any]:
    """A request, as plain JSON-ready data, that normalises to ``point`` (a single-category point).

    Only fields that differ from their defaults are written. ``country`` overrides the recipient's
    country (it must agree with ``recipient.in_eea`` under ``rules``, or be the point of a diff).
    """
    vocab = rules.vocabulary
    purpose = str(point["purpose"])
    if purpose == UNLISTED_PURPOSE:
        purpose = "unlisted_purpose"
        taken = set(vocab.ids("purposes")) | set(vocab.ids("out_of_policy_purposes"))
        while purpose in taken:  # pragma: no cover - a vocabulary that uses this very id
            purpose += "_"
    if country is None:
        country = _inside_country(rules) if point["recipient.in_eea"] else _outside_country(rules)
    recipient: dict[str, Any] = {"kind": point["recipient.kind"], "country": country}
    flags = (
        "active_assignment", "confidentiality_undertaking", "data_agreement_signed",
        "relevant_to_candidate_competence", "specific_process_requirement", "legitimate_need_kul",
        "legal_obligation",
    )
    for flag in flags:
        if point[f"recipient.{flag}"]:
            recipient[flag] = True
    if not point["recipient.subprocessors_in_eea"]:
        recipient["subprocessors_in_eea"] = False
    if point["recipient.acts_as_controller"]:
        recipient["role"] = "controller"
    jurisdiction = point["recipient.legal_obligation_jurisdiction"]
    if jurisdiction != "none":
        recipient["legal_obligation_jurisdiction"] = "US" if jurisdiction == "other" else jurisdiction
    data: dict[str, Any] = {
        "operation": point["operation"],
        "data_categories": [point["category"]],
        "purpose": purpose,
    }
    for flag in ("contains_special_category", "contains_criminal_data", "art10_statutory_basis"):
        if point[f"data.{flag}"]:
            data[flag] = True
    if not point["data.identifiable"]:
        data["identifiable"] = False
    if point["data.min_cell_size_met"]:
        data["min_cell_size"] = rules.parameters.aggregate_min_cell
    if point["data.context_beyond_identification"]:
        ok = set(vocab.referee_identification_context)
        extra = "other_context"
        while extra in ok:  # pragma: no cover - a vocabulary that uses this very id
            extra += "_"
        data["disclosed_context"] = [extra]
    data["recipient"] = recipient
    candidate: dict[str, Any] = {}
    if point["candidate.consent_withdrawn"]:
        candidate["consent_status"] = "withdrawn"
    if point["candidate.objected"]:
        candidate["objection_in_writing"] = True
    for flag in ("explicit_consent_special_category", "special_category_relevant", "anonymised"):
        if point[f"candidate.{flag}"]:
            candidate[flag] = True
    _optional_facts(point, rules, data, recipient, candidate, country_given=country is not None)
    if candidate:
        data["candidate"] = candidate
    return data


def _optional_facts(point: Mapping[str, Value], rules: RuleSet, data: dict[str, Any], recipient: dict[str, Any],
                    candidate: dict[str, Any], *, country_given: bool) -> None:
    """The request fields of the optional facts a point sets (``_ruleset.facts.OPTIONAL_FACTS``)."""
    if point.get("recipient.approved_by_candidate"):
        recipient["approved_by_candidate"] = True
    if point.get("candidate.consent_to_show_profile"):
        candidate["consent_to_show_profile"] = True
    if point.get("candidate.portability_request_on_file"):
        candidate["portability_request_on_file"] = True
    if point.get("recipient.dpf_certified"):
        recipient["dpf_certified"] = True
        # the certification counts for a recipient in the USA only (outside the EU/EEA: a point
        # inside it with the certification is no real question)
        if not country_given and not point["recipient.in_eea"]:
            recipient["country"] = "US"
    if point.get("candidate.placement_follow_up_open"):
        # a placement that started on the day of the question: its period is open
        day = (rules.meta.effective_from or dt.date(2000, 1, 1)).isoformat()
        candidate["placement_started_on"] = day
        data["as_of"] = day


def realise(point: Mapping[str, Value], rules: RuleSet, *, country: str | None = None) -> DisclosureRequest:
    """A typed request that normalises to ``point``: proof that the point is a real question, and
    what a counterexample is explained with."""
    data = request_data(point, rules, country=country)
    recipient = Recipient(**data.pop("recipient"))
    candidate = CandidateStatus(**data.pop("candidate", {}))
    return DisclosureRequest(**data, recipient=recipient, candidate=candidate)
