"""``policykit diff``: every question whose answer changes between two versions of the rules.

Two things can change an answer:

* **the rules** (a condition, an effect, a reason, an obligation, a rule added or removed): the
  space is partitioned over the union of both rule sets' conditions, so on each cube both versions'
  answers are constant, and a changed cube is a set of questions that all change the same way;
* **the normalisation tables** in the rule files, which decide how a raw request becomes facts:
  which countries are inside the EU/EEA (``countries.yaml``), which referee contexts only identify the
  candidate (``vocabulary.yaml``), the minimum aggregate cell (``policy.yaml``). Editing
  ``countries.yaml`` to put CH inside the EEA changes no rule and no fact field: the fact
  ``recipient.in_eea`` simply becomes true for Swiss recipients. A diff over normalised facts alone
  would show nothing. So the diff compares the tables too: for each raw value whose normalised fact
  differs between the versions (CH: outside → inside), it compares the old answer with that fact at
  its old value against the new answer with it at its new value, over every other field. Each such
  *lane* is reported with the raw values it stands for.

Answers are compared on ``allowed``, the reasons and the obligations. Changed cubes are found from
the rules' conditions (the semantics ``policykit verify`` checks the engine against on every cube) and
every change reported is confirmed by asking both engines. Changes are grouped by the rule
responsible: the forbid that now decides a deny, the forbid that no longer does, the permit that
started or stopped applying.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, cast

from policykit._analysis.partition import PREFERRED, Partition, Region, request_data
from policykit._disclosure.decision import Outcome, combine
from policykit._ruleset.conditions import All, Condition, Field, Not, Ref, Test, Value, partial
from policykit._ruleset.conditions import Any as AnyOf
from policykit._ruleset.facts import OPTIONAL_FACTS, UNLISTED_PURPOSE
from policykit._serial import JsonSpec, to_data
from policykit.errors import IncomparableRulesError

if TYPE_CHECKING:
    from policykit._analysis.view import PolicyView
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["Change", "DiffReport", "Lane", "diff", "render_diff"]


@dataclass(frozen=True)
class Lane:
    """A slice of raw inputs normalised differently by the two versions: ``old`` and ``new`` give the
    facts those inputs become under each (empty for the slice both read alike); ``raw`` describes the
    inputs, and ``country`` is one of them, for example requests."""

    old: dict[str, Value]
    new: dict[str, Value]
    raw: tuple[str, ...] = ()
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """Changed questions that share the rule responsible and how it changed."""

    rule: str
    how: str
    questions: int = 0
    cubes: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    _JSON: ClassVar[JsonSpec] = (
        "rule", ("change", "how"), "questions", "cubes",
        ("transitions", lambda c: dict(sorted(c.transitions.items()))), "examples",
    )


@dataclass(slots=True)
class _Group:
    """A :class:`Change` while the comparison counts it."""

    questions: int = 0
    cubes: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DiffReport:
    """The result of :func:`diff`."""

    old: dict[str, str]
    new: dict[str, str]
    table_changes: list[str]
    lanes: int
    cubes: int
    questions: int
    changed_cubes: int
    changed_questions: int
    changes: list[Change]

    _JSON: ClassVar[JsonSpec] = (
        "old", "new", ("normalisation_changes", "table_changes"),
        ("compared", {"lanes": "lanes", "cubes": "cubes", "questions": "questions"}),
        ("changed", {"cubes": "changed_cubes", "questions": "changed_questions"}),
        ("groups", "changes"),
    )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return cast("dict[str, Any]", to_data(self))


# ------------------------------------------------------------------------------------------------
# what the versions share, and the lanes of raw inputs they read differently


#: Fields whose domain a later version may widen: a new purpose is read by the earlier version as a
#: purpose outside its vocabulary; a new recipient kind or data category is an input error there.
_WIDENED_PURPOSE = "purpose"
_NEW_TERM_FIELDS = ("recipient.kind", "category")
_TERM_WORDS = {"recipient.kind": "recipient kind", "category": "data category"}


@dataclass(frozen=True)
class _Space:
    """The question space two versions are compared over: every field of either, each with the values
    of either. ``new_purposes`` are purposes only the new version knows (the old reads them as
    ``unlisted``); ``new_terms`` are recipient kinds and categories only the new version knows (the
    old refuses such a question as an input error)."""

    schema: dict[str, Field]
    new_purposes: frozenset[Value]
    new_terms: dict[str, frozenset[Value]]


def _check_comparable(old: RuleSet, new: RuleSet) -> _Space:
    """The space two versions are compared over; :class:`IncomparableRulesError` when a question of
    one version has no reading in the other."""
    a, b = old.disclosure.facts, new.disclosure.facts
    only_old = [f for f in a if f not in b]
    only_new = [f for f in b if f not in a]
    if any(f not in OPTIONAL_FACTS for f in [*only_old, *only_new]) or [f for f in a if f in b] != [
        f for f in b if f in a
    ]:
        raise IncomparableRulesError(
            "expected two rule sets over the same fact fields, or fields that differ only by optional facts; "
            f"only in the old: {only_old or 'none'}; only in the new: {only_new or 'none'}",
            file=new.directory,
        )
    schema: dict[str, Field] = {}
    new_terms: dict[str, frozenset[Value]] = {}
    new_purposes: frozenset[Value] = frozenset()
    for name in [*b, *only_old]:  # an optional fact only one version reads has no effect in the other
        if name not in a or name not in b:
            schema[name] = b.get(name) or a[name]
            continue
        gone = [v for v in a[name].domain if v not in b[name].domain]
        added = [v for v in b[name].domain if v not in a[name].domain]
        if gone or (added and name not in (_WIDENED_PURPOSE, *_NEW_TERM_FIELDS)):
            raise IncomparableRulesError(
                f"expected the same vocabulary for {name!r}, or one the new version only adds to; the new "
                f"version removes {gone or 'nothing'} and adds {added or 'nothing'}",
                file=new.directory,
            )
        schema[name] = replace(b[name], domain=(*a[name].domain, *added))
        if added and name == _WIDENED_PURPOSE:
            new_purposes = frozenset(added)
        elif added:
            new_terms[name] = frozenset(added)
    return _Space(schema, new_purposes, new_terms)


def _as_unlisted(cond: Condition, purposes: frozenset[Value]) -> Condition:
    """``cond`` (of the old version) with every purpose of ``purposes`` read as ``unlisted``, as the
    old version's normalisation reads a purpose outside its vocabulary."""
    if not purposes:
        return cond
    if isinstance(cond, Test):
        if cond.field == _WIDENED_PURPOSE and UNLISTED_PURPOSE in cond.values:
            return Test(cond.field, cond.values | purposes, cond.negated)
        return cond
    if isinstance(cond, All):
        return All(tuple(_as_unlisted(c, purposes) for c in cond.items))
    if isinstance(cond, AnyOf):
        return AnyOf(tuple(_as_unlisted(c, purposes) for c in cond.items))
    if isinstance(cond, Not):
        return Not(_as_unlisted(cond.item, purposes))
    if isinstance(cond, Ref):
        return Ref(cond.name, _as_unlisted(cond.condition, purposes))
    return cond


def _country_table(rules: RuleSet) -> dict[str, bool]:
    vocab = rules.vocabulary
    table = {c.code: c.in_eea for c in vocab.countries}
    table.update({alias: table[code] for alias, code in vocab.country_aliases.items() if code in table})
    return table


def _field_lanes(old: RuleSet, new: RuleSet) -> tuple[list[list[Lane]], list[str]]:
    """For each normalised field whose table differs, the lanes it splits into; and the changes in
    words."""
    lanes: list[list[Lane]] = []
    notes: list[str] = []
    # countries
    o, n = _country_table(old), _country_table(new)
    names = {c.code: c.name for c in (*old.vocabulary.countries, *new.vocabulary.countries)}
    for code in sorted(set(o) ^ set(n)):
        side = "old" if code in o else "new"
        notes.append(f"countries: {code} is known only to the {side} version")
    groups: dict[tuple[bool, bool], list[str]] = {}
    for code in sorted(set(o) & set(n)):
        groups.setdefault((o[code], n[code]), []).append(code)
    if any(a != b for a, b in groups):
        field_lanes = []
        for (a, b), codes in sorted(groups.items()):
            if a != b:
                for code in codes:
                    where = "inside" if b else "outside"
                    notes.append(
                        f"countries: {code} ({names.get(code, code)}) is now {where} the EU/EEA "
                        f"(was {'inside' if a else 'outside'})"
                    )
            preferred = [c for c in ("SE", "US", "GB") if c in codes]
            field_lanes.append(
                Lane({"recipient.in_eea": a}, {"recipient.in_eea": b},
                     (f"recipient.country in {{{', '.join(codes)}}}",) if a != b else (),
                     (preferred or codes)[0])
            )
        lanes.append(field_lanes)
    # referee identification context
    ok_old = set(old.vocabulary.referee_identification_context)
    ok_new = set(new.vocabulary.referee_identification_context)
    if ok_old != ok_new:
        by_pair: dict[tuple[bool, bool], list[str]] = {(False, False): ["(none)"], (True, True): ["(any other)"]}
        for item in sorted(ok_old | ok_new):
            by_pair.setdefault((item not in ok_old, item not in ok_new), []).append(item)
            if (item in ok_old) != (item in ok_new):
                notes.append(
                    f"referee context: {item!r} is {'now' if item in ok_new else 'no longer'} identification only"
                )
        lanes.append([
            Lane({"data.context_beyond_identification": a}, {"data.context_beyond_identification": b},
                 (f"disclosed_context holding {', '.join(items)}",) if a != b else ())
            for (a, b), items in sorted(by_pair.items())
        ])
    # the minimum aggregate cell
    t_old, t_new = old.parameters.aggregate_min_cell, new.parameters.aggregate_min_cell
    if t_old != t_new:
        low, high = sorted((t_old, t_new))
        notes.append(f"parameters: aggregate_min_cell is {t_new} (was {t_old})")
        lanes.append([
            Lane({"data.min_cell_size_met": False}, {"data.min_cell_size_met": False}),
            Lane({"data.min_cell_size_met": True}, {"data.min_cell_size_met": True}),
            Lane({"data.min_cell_size_met": t_old <= low}, {"data.min_cell_size_met": t_new <= low},
                 (f"min_cell_size from {low} to {high - 1}",)),
        ])
    return lanes, notes


def _lanes(old: RuleSet, new: RuleSet) -> tuple[list[Lane], list[str]]:
    per_field, notes = _field_lanes(old, new)
    if not per_field:
        return [Lane({}, {})], notes
    combined = []
    for combo in itertools.product(*per_field):
        lane = Lane({}, {}, (), None)
        raw: list[str] = []
        country = None
        for part in combo:
            lane.old.update(part.old)
            lane.new.update(part.new)
            raw.extend(part.raw)
            country = part.country or country
        combined.append(Lane(lane.old, lane.new, tuple(raw), country))
    return combined, notes


# ------------------------------------------------------------------------------------------------
# comparing


def _verdict(o: Outcome) -> str:
    return "allowed" if o.allowed else "denied " + ", ".join(o.reasons)


def _responsible(old: Outcome, new: Outcome, old_rules: RuleSet, new_rules: RuleSet) -> tuple[str, str]:
    """The rule responsible for a change, and how it changed."""
    def permits(o: Outcome, rules: RuleSet) -> list[str]:
        ids = {r.id for r in rules.disclosure.rules if r.effect == "permit"}
        return [r for r in o.rule_ids if r in ids]

    if old.allowed and not new.allowed:
        if new.deciding_rule is not None:
            return new.deciding_rule, "now forbids" if new.deciding_rule not in old.rule_ids else "forbids"
        lost = [r for r in permits(old, old_rules) if r not in new.rule_ids]
        return (lost[0] if lost else "(none)"), "no longer permits"
    if not old.allowed and new.allowed:
        if old.deciding_rule is not None:
            return old.deciding_rule, "no longer forbids"
        gained = [r for r in permits(new, new_rules) if r not in old.rule_ids]
        return (gained[0] if gained else "(none)"), "now permits"
    if new.deciding_rule != old.deciding_rule:
        if new.deciding_rule is not None and new.deciding_rule not in old.rule_ids:
            return new.deciding_rule, "now forbids"
        if old.deciding_rule is not None:
            return old.deciding_rule, "no longer forbids"
    started = [r for r in new.rule_ids if r not in old.rule_ids]
    stopped = [r for r in old.rule_ids if r not in new.rule_ids]
    if started:
        return started[0], "now fires"
    if stopped:
        return stopped[0], "stopped firing"
    return "(changed rule)", "changed"


def diff(
    old: PolicyView, new: PolicyView, *, examples: int = 3, progress: Callable[[float], None] | None = None,
) -> DiffReport:
    """Every single-category question whose answer differs between ``old`` and ``new``, grouped by the
    rule responsible. Raises :class:`~policykit.errors.IncomparableRulesError` when the two versions'
    fact fields or vocabularies differ. ``progress`` is told the fraction of the questions compared, now
    and then (for a progress bar)."""
    space = _check_comparable(old.rules, new.rules)
    lanes, notes = _lanes(old.rules, new.rules)
    notes.extend(_term_notes(old.rules, new.rules, space))
    comparison = _Comparison(old, new, space, examples, progress)
    for lane in lanes:
        comparison.lane(lane)
    changes = comparison.changes()
    if progress is not None:
        progress(1.0)
    return DiffReport(
        old=_describe(old.rules),
        new=_describe(new.rules),
        table_changes=notes,
        lanes=len(lanes),
        cubes=comparison.cubes,
        questions=comparison.questions,
        changed_cubes=comparison.changed_cubes,
        changed_questions=comparison.changed_questions,
        changes=changes,
    )


class _Comparison:
    """The two versions compared lane by lane, cube by cube: the tallies, the groups of changed
    questions, and the candidate examples of each transition."""

    def __init__(
        self, old: PolicyView, new: PolicyView, space: _Space, examples: int,
        progress: Callable[[float], None] | None,
    ) -> None:
        self.old, self.new, self.examples, self.progress = old, new, examples, progress
        self.o_rules, self.n_rules = old.rules, new.rules
        self.schema = space.schema
        self.new_purposes = space.new_purposes
        self.o_names = tuple(name for name in self.o_rules.disclosure.facts if name != "category")
        self.n_names = tuple(name for name in self.n_rules.disclosure.facts if name != "category")
        self.o_list, self.n_list = self.o_rules.disclosure.rules, self.n_rules.disclosure.rules
        # a question on a term only the new version knows splits off: the old version refuses it as input
        self.new_terms = space.new_terms
        self.new_term = AnyOf(tuple(Test(f, v) for f, v in space.new_terms.items())) if space.new_terms else None
        self.same_rules = [(a.effect, a.reason, a.obligations, a.id) for a in self.o_list] == [
            (b.effect, b.reason, b.obligations, b.id) for b in self.n_list
        ]
        self.space = math.prod(len(f.domain) for f in self.schema.values()) or 1
        self.groups: dict[tuple[str, str], _Group] = {}
        self.cubes = self.questions = self.changed_cubes = self.changed_questions = 0
        self.symbolic: dict[tuple[Any, ...], tuple[bool, tuple[str, ...], tuple[str, ...]]] = {}
        self.candidates: dict[tuple[str, str, str], list[tuple[tuple[int, int], dict[str, Any]]]] = {}

    def summary(
        self, rules: RuleSet, fired: tuple[int, ...], category: str
    ) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
        """What the rules that fired give, by the conflict resolution alone (memoised)."""
        key = (id(rules), fired, category)
        got = self.symbolic.get(key)
        if got is None:
            o = combine(
                rules.disclosure.rules, [(i, None) for i in fired], (category,), None, None,
                default_deny=rules.citations.of("default_deny"),
            )
            got = self.symbolic[key] = (o.allowed, o.reasons, o.obligations)
        return got

    def lane(self, lane: Lane) -> None:
        """Compare every cube of one lane."""
        schema = self.schema
        old_conds = [_as_unlisted(partial(r.condition, lane.old, schema), self.new_purposes) for r in self.o_list]
        new_conds = [partial(r.condition, lane.new, schema) for r in self.n_list]
        divisor = 1
        for name in set(lane.old) | set(lane.new):
            divisor *= len(schema[name].domain)
        if self.same_rules and old_conds == new_conds and lane.old == lane.new and self.new_term is None:
            self.cubes += 1
            self.questions += math.prod(len(f.domain) for f in schema.values()) // divisor
            return  # the same conditions and the same metadata: nothing can differ
        n_old = len(self.o_list)
        term_at = n_old + len(self.n_list)
        extra = [self.new_term] if self.new_term is not None else []
        partition = Partition([*old_conds, *new_conds, *extra], schema, prefer=PREFERRED)
        for region in partition.regions():
            size = region.size // divisor
            self.cubes += 1
            self.questions += size
            if self.progress is not None and not self.cubes % 4096:
                self.progress(min(1.0, self.questions / self.space))
            category = str(region.point["category"])
            if self.new_term is not None and region.truths >> term_at & 1:
                self.region(lane, region, size, category, unknown_to_old=True)
                continue
            old_fired = tuple(i for i in range(n_old) if region.truths >> i & 1)
            new_fired = tuple(j for j in range(len(self.n_list)) if region.truths >> (n_old + j) & 1)
            if self.summary(self.o_rules, old_fired, category) != self.summary(self.n_rules, new_fired, category):
                self.region(lane, region, size, category)

    def region(self, lane: Lane, region: Region, size: int, category: str, *, unknown_to_old: bool = False) -> None:
        """Ask both engines about a cube whose rules' conditions differ, and record a change. A cube of
        questions on a term the old version does not know is asked of the new version only."""
        o_point = {**region.point, **lane.old}
        if o_point["purpose"] in self.new_purposes:
            o_point["purpose"] = UNLISTED_PURPOSE  # how the old version reads a purpose it does not know
        n_point = {**region.point, **lane.new}
        n_out = self.new.evaluate_values(tuple(n_point[f] for f in self.n_names), (category,))
        if unknown_to_old:
            rule, how = self.new_term_group(n_point)
            old_verdict, transition = "input error", f"input error -> {_verdict_kind(n_out)}"
            score = (len(n_out.reasons), region.index)
        else:
            o_out = self.old.evaluate_values(tuple(o_point[f] for f in self.o_names), (category,))
            if (o_out.allowed, o_out.reasons, o_out.obligations) == (
                    n_out.allowed, n_out.reasons, n_out.obligations):
                return  # pragma: no cover - the engines disagree with the conditions; verify reports that
            rule, how = _responsible(o_out, n_out, self.o_rules, self.n_rules)
            old_verdict, transition = _verdict(o_out), f"{_verdict_kind(o_out)} -> {_verdict_kind(n_out)}"
            score = (len(o_out.reasons) + len(n_out.reasons), region.index)
        self.changed_cubes += 1
        self.changed_questions += size
        group = self.groups.setdefault((rule, how), _Group())
        group.questions += size
        group.cubes += 1
        group.transitions[transition] += size
        # keep the simplest examples of each transition (fewest reasons, then first found)
        kept = self.candidates.setdefault((rule, how, transition), [])
        if len(kept) < self.examples or score < kept[-1][0]:
            country = lane.country if "recipient.in_eea" in lane.new else None
            kept.append((score, {
                "request": request_data(n_point, self.n_rules, country=country),
                "lane": list(lane.raw),
                "old": old_verdict,
                "new": _verdict(n_out),
                "questions_like_it": size,
            }))
            kept.sort(key=lambda item: item[0])
            del kept[self.examples:]

    def new_term_group(self, point: Mapping[str, Value]) -> tuple[str, str]:
        """The group of a question on a term the old version does not know: one group per term (the
        questions the new version now answers, which the old refused as input)."""
        for name, values in self.new_terms.items():
            if point[name] in values:
                return f"{_TERM_WORDS[name]} {point[name]}", "is new: questions the old version refused as input"
        raise AssertionError(f"no new term in {dict(point)!r}")  # pragma: no cover - the partition split on it

    def changes(self) -> list[Change]:
        """The groups, largest first, each with its examples (flips first)."""
        for (rule, how, _transition), kept in sorted(self.candidates.items(), key=lambda kv: _flip_first(kv[0][2])):
            group = self.groups[(rule, how)]
            group.examples.extend(example for _, example in kept)
        changes = [
            Change(rule, how, g.questions, g.cubes, g.transitions, g.examples[:self.examples])
            for (rule, how), g in self.groups.items()
        ]
        return sorted(changes, key=lambda c: (-c.questions, c.rule, c.how))


def _term_notes(old: RuleSet, new: RuleSet, space: _Space) -> list[str]:
    """The fields and terms only one version has, in words."""
    notes = []
    for name in new.disclosure.facts:
        if name not in old.disclosure.facts:
            notes.append(f"facts: {name} is read by the new version only (no effect in the old)")
    for name in old.disclosure.facts:
        if name not in new.disclosure.facts:
            notes.append(f"facts: {name} is read by the old version only (no effect in the new)")
    for purpose in sorted(map(str, space.new_purposes)):
        notes.append(f"purposes: {purpose} is new (the old version reads it as a purpose outside its vocabulary)")
    for name, values in space.new_terms.items():
        for value in sorted(map(str, values)):
            notes.append(f"{_TERM_WORDS[name]}: {value} is new (the old version refuses it as an input error)")
    return notes


def _flip_first(transition: str) -> tuple[int, str]:
    """Transitions that flip the verdict come first among examples."""
    old, new = transition.split(" -> ")
    return (0 if old != new else 1, transition)


def _verdict_kind(o: Outcome) -> str:
    return "allowed" if o.allowed else "denied"


def _describe(rules: RuleSet) -> dict[str, str]:
    return {"rules": str(rules.directory), "version": rules.version, "fingerprint": rules.fingerprint}


def render_diff(report: DiffReport, *, relative_to: Mapping[str, str] | None = None) -> str:
    """The report as text. ``relative_to`` maps directory paths to the names to print for them."""
    names = relative_to or {}

    def where(side: Mapping[str, str]) -> str:
        return f"{names.get(side['rules'], side['rules'])} (version {side['version']})"

    lines = [
        f"policykit diff: {where(report.old)} -> {where(report.new)}",
        "",
    ]
    if report.table_changes:
        lines.append("Normalisation tables that differ (raw inputs now read differently):")
        lines.extend(f"  {note}" for note in report.table_changes)
    else:
        lines.append("Normalisation tables: the same in both versions.")
    lines += [
        "",
        f"Compared {report.questions:,} single-category questions ({report.cubes:,} cubes in "
        f"{report.lanes} lane{'s' if report.lanes != 1 else ''}).",
        *(["  (A lane is one way the two versions read the raw inputs: each raw value they read "
           "differently,", "  such as a country code, gets a lane of its own; everything they read alike "
           "shares one.)"] if report.lanes > 1 else []),
        f"Changed: {report.changed_questions:,} questions ({report.changed_cubes:,} cubes) in "
        f"{len(report.changes)} group{'s' if len(report.changes) != 1 else ''}.",
    ]
    for change in report.changes:
        lines += ["", f"{change.rule} {change.how}: {change.questions:,} questions ({change.cubes:,} cubes)"]
        for transition, count in sorted(change.transitions.items()):
            lines.append(f"  {transition}: {count:,} questions")
        for ex in change.examples:
            lines.append(f"  e.g. {ex['old']} -> {ex['new']} ({ex['questions_like_it']:,} questions like it)")
            lines.append(f"       {_compact(ex['request'])}")
    if not report.changes:
        lines += ["", "No answer changes."]
    return "\n".join(lines)


def _compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
