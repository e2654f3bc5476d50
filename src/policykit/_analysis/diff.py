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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from policykit._analysis.partition import PREFERRED, Partition, Region, request_data
from policykit._disclosure.decision import Outcome, combine
from policykit._ruleset.conditions import Value, partial
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


@dataclass
class Change:
    """Changed questions that share the rule responsible and how it changed."""

    rule: str
    how: str
    questions: int = 0
    cubes: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
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

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "old": self.old,
            "new": self.new,
            "normalisation_changes": self.table_changes,
            "compared": {"lanes": self.lanes, "cubes": self.cubes, "questions": self.questions},
            "changed": {"cubes": self.changed_cubes, "questions": self.changed_questions},
            "groups": [
                {
                    "rule": c.rule,
                    "change": c.how,
                    "questions": c.questions,
                    "cubes": c.cubes,
                    "transitions": dict(sorted(c.transitions.items())),
                    "examples": c.examples,
                }
                for c in self.changes
            ],
        }


# ------------------------------------------------------------------------------------------------
# what the versions share, and the lanes of raw inputs they read differently


def _check_comparable(old: RuleSet, new: RuleSet) -> None:
    a, b = old.disclosure.facts, new.disclosure.facts
    if list(a) != list(b):
        only_old = [f for f in a if f not in b]
        only_new = [f for f in b if f not in a]
        raise IncomparableRulesError(
            "expected two rule sets over the same fact fields; "
            f"only in the old: {only_old or 'none'}; only in the new: {only_new or 'none'}",
            file=new.directory,
        )
    for name in a:
        if a[name].domain != b[name].domain:
            gone = [v for v in a[name].domain if v not in b[name].domain]
            added = [v for v in b[name].domain if v not in a[name].domain]
            raise IncomparableRulesError(
                f"expected the same vocabulary for {name!r}; the new version removes {gone or 'nothing'} and "
                f"adds {added or 'nothing'}, so some questions exist in one version only",
                file=new.directory,
            )


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
    _check_comparable(old.rules, new.rules)
    lanes, notes = _lanes(old.rules, new.rules)
    comparison = _Comparison(old, new, examples, progress)
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
        self, old: PolicyView, new: PolicyView, examples: int, progress: Callable[[float], None] | None
    ) -> None:
        self.old, self.new, self.examples, self.progress = old, new, examples, progress
        self.o_rules, self.n_rules = old.rules, new.rules
        self.schema = self.o_rules.disclosure.facts
        self.names = tuple(name for name in self.schema if name != "category")
        self.o_list, self.n_list = self.o_rules.disclosure.rules, self.n_rules.disclosure.rules
        self.same_rules = [(a.effect, a.reason, a.obligations, a.id) for a in self.o_list] == [
            (b.effect, b.reason, b.obligations, b.id) for b in self.n_list
        ]
        self.space = math.prod(len(f.domain) for f in self.schema.values()) or 1
        self.groups: dict[tuple[str, str], Change] = {}
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
        old_conds = [partial(r.condition, lane.old, schema) for r in self.o_list]
        new_conds = [partial(r.condition, lane.new, schema) for r in self.n_list]
        divisor = 1
        for name in set(lane.old) | set(lane.new):
            divisor *= len(schema[name].domain)
        if self.same_rules and old_conds == new_conds and lane.old == lane.new:
            self.cubes += 1
            self.questions += math.prod(len(f.domain) for f in schema.values()) // divisor
            return  # the same conditions and the same metadata: nothing can differ
        n_old = len(self.o_list)
        partition = Partition([*old_conds, *new_conds], schema, prefer=PREFERRED)
        for region in partition.regions():
            size = region.size // divisor
            self.cubes += 1
            self.questions += size
            if self.progress is not None and not self.cubes % 4096:
                self.progress(min(1.0, self.questions / self.space))
            category = str(region.point["category"])
            old_fired = tuple(i for i in range(n_old) if region.truths >> i & 1)
            new_fired = tuple(j for j in range(len(self.n_list)) if region.truths >> (n_old + j) & 1)
            if self.summary(self.o_rules, old_fired, category) != self.summary(self.n_rules, new_fired, category):
                self.region(lane, region, size, category)

    def region(self, lane: Lane, region: Region, size: int, category: str) -> None:
        """Ask both engines about a cube whose rules' conditions differ, and record a change."""
        names = self.names
        o_point = {**region.point, **lane.old}
        n_point = {**region.point, **lane.new}
        o_out = self.old.evaluate_values(tuple(o_point[f] for f in names), (category,))
        n_out = self.new.evaluate_values(tuple(n_point[f] for f in names), (category,))
        if (o_out.allowed, o_out.reasons, o_out.obligations) == (n_out.allowed, n_out.reasons, n_out.obligations):
            return  # pragma: no cover - the engines disagree with the conditions; verify reports that
        self.changed_cubes += 1
        self.changed_questions += size
        rule, how = _responsible(o_out, n_out, self.o_rules, self.n_rules)
        group = self.groups.setdefault((rule, how), Change(rule, how))
        group.questions += size
        group.cubes += 1
        transition = f"{_verdict_kind(o_out)} -> {_verdict_kind(n_out)}"
        group.transitions[transition] += size
        # keep the simplest examples of each transition (fewest reasons, then first found)
        score = (len(o_out.reasons) + len(n_out.reasons), region.index)
        kept = self.candidates.setdefault((rule, how, transition), [])
        if len(kept) < self.examples or score < kept[-1][0]:
            country = lane.country if "recipient.in_eea" in lane.new else None
            kept.append((score, {
                "request": request_data(n_point, self.n_rules, country=country),
                "lane": list(lane.raw),
                "old": _verdict(o_out),
                "new": _verdict(n_out),
                "questions_like_it": size,
            }))
            kept.sort(key=lambda item: item[0])
            del kept[self.examples:]

    def changes(self) -> list[Change]:
        """The groups, largest first, each with its examples (flips first)."""
        for (rule, how, _transition), kept in sorted(self.candidates.items(), key=lambda kv: _flip_first(kv[0][2])):
            group = self.groups[(rule, how)]
            group.examples.extend(example for _, example in kept)
        for group in self.groups.values():
            del group.examples[self.examples:]
        return sorted(self.groups.values(), key=lambda c: (-c.questions, c.rule, c.how))


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
