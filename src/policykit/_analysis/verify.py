"""``policykit verify``: every invariant checked against the engine's answer to every question.

The disclosure space is partitioned (``_analysis.partition``) for the rules' conditions and the invariants'
conditions together, so that on each cube every rule fires or not throughout and every invariant's
``for_all`` and ``allowed_only_if`` are constant. One representative question per cube goes to the
durable-rules engine (bypassing the memo); its answer is checked against

* every invariant whose ``for_all`` holds on the cube;
* the rules whose conditions hold on the cube, which the partition knows symbolically: the engine
  must fire exactly those (a compiler or adapter bug would show here);
* optionally (``differential=True``) the independent reference evaluator (``_disclosure.reference``).

The work can be spread over processes (``jobs``): each loads the same rules directory, builds the
same partition (its order is fixed) and takes every ``jobs``-th cube.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import itertools
import json
import math
import multiprocessing
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import yaml

from policykit._analysis.invariants import FLAGGED_CATEGORIES, Invariant, violation
from policykit._analysis.partition import Partition, Region, disclosure_partition, request_data
from policykit._dates import Clock
from policykit._disclosure.evaluator import DisclosureEvaluator
from policykit._disclosure.reference import ReferenceEvaluator
from policykit._ruleset.conditions import All, Condition, Const, Not, Value, evaluate, partial, render
from policykit._ruleset.conditions import Any as AnyOf
from policykit._ruleset.ruleset import load_rules
from policykit._serial import JsonSpec, to_data
from policykit.errors import EngineError, PolicyKitError

if TYPE_CHECKING:
    from policykit._analysis.view import PolicyView
    from policykit._disclosure.decision import Outcome
    from policykit._ruleset.ruleset import RuleSet

__all__ = [
    "Counterexample",
    "InvariantResult",
    "Mismatch",
    "VerifyReport",
    "case_coverage",
    "render_report",
    "verify",
]

# how many cubes a part checks between two progress reports
_TICK = 4096


@dataclass(frozen=True, slots=True)
class Counterexample:
    """A cube where an invariant fails: its index, representative point, size and what went wrong."""

    invariant: str
    index: int
    point: dict[str, Value]
    size: int
    message: str

    _JSON: ClassVar[JsonSpec] = (("cube", "index"), ("facts", "point"), ("questions", "size"), ("problem", "message"))


@dataclass(frozen=True, slots=True)
class InvariantResult:
    """How one invariant fared: the cubes and questions it covers, those that break it, and the first
    counterexamples (lowest cube index first)."""

    invariant: Invariant
    cubes: int = 0
    points: int = 0
    failed_cubes: int = 0
    failed_points: int = 0
    counterexamples: list[Counterexample] = field(default_factory=list)

    _JSON: ClassVar[JsonSpec] = (
        ("id", lambda r: r.invariant.id), ("title", lambda r: r.invariant.title),
        ("clauses", lambda r: r.invariant.clauses), "ok", "cubes", ("questions", "points"), "failed_cubes",
        ("failed_questions", "failed_points"), "counterexamples",
    )

    @property
    def ok(self) -> bool:
        """Whether the invariant holds on every question it covers."""
        return self.failed_cubes == 0


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A cube where the engine disagrees with the rules' conditions or with the reference evaluator."""

    kind: str  # "conditions" or "reference"
    index: int
    point: dict[str, Value]
    engine: dict[str, Any]
    expected: dict[str, Any]

    _JSON: ClassVar[JsonSpec] = ("kind", ("cube", "index"), ("facts", "point"), "engine", "expected")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :func:`verify`."""

    directory: str
    version: str
    cubes: int
    points: int
    seconds: float
    jobs: int
    differential: bool
    restricted: bool
    invariants: list[InvariantResult]
    rule_cubes: dict[str, int]
    rule_points: dict[str, int]
    allowed_cubes: int
    allowed_points: int
    mismatch_count: int
    mismatches: list[Mismatch]
    retention_points: int = 0
    retention_problems: list[str] = field(default_factory=list)
    request_points: int = 0
    request_cubes: int = 0
    request_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every invariant holds and the engine agreed everywhere."""
        return (
            self.mismatch_count == 0 and not self.retention_problems and not self.request_problems
            and all(r.ok for r in self.invariants)
        )

    _JSON: ClassVar[JsonSpec] = (
        "ok", ("rules", "directory"), ("policy_version", "version"), "cubes", ("questions", "points"),
        ("seconds", lambda r: round(r.seconds, 2)), "jobs", "differential", ("restricted_to_invariants", "restricted"),
        ("allowed", {"cubes": "allowed_cubes", "questions": "allowed_points"}),
        ("engine_mismatches", "mismatch_count"),
        ("retention", {"fact_combinations": "retention_points", "problems": "retention_problems"}),
        ("requests", {"questions": "request_points", "cubes": "request_cubes", "problems": "request_problems"}),
        "mismatches", "invariants",
        ("rules_fired", lambda r: {
            rid: {"cubes": r.rule_cubes[rid], "questions": r.rule_points[rid]} for rid in r.rule_cubes
        }),
    )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return cast("dict[str, Any]", to_data(self))


# ------------------------------------------------------------------------------------------------
# the work on one share of the cubes


@dataclass(frozen=True)
class _Task:
    rules_dir: str
    fingerprint: str
    invariants: tuple[Invariant, ...]
    restrict: bool
    part: int
    parts: int
    max_examples: int
    differential: bool
    progress: Any = None  # a shared list (multiprocessing manager) where each part reports its questions done


@dataclass
class _PartResult:
    cubes: int = 0
    points: int = 0
    allowed_cubes: int = 0
    allowed_points: int = 0
    inv_cubes: list[int] = field(default_factory=list)
    inv_points: list[int] = field(default_factory=list)
    inv_failed_cubes: list[int] = field(default_factory=list)
    inv_failed_points: list[int] = field(default_factory=list)
    examples: list[list[Counterexample]] = field(default_factory=list)
    rule_cubes: list[int] = field(default_factory=list)
    rule_points: list[int] = field(default_factory=list)
    mismatch_count: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @classmethod
    def empty(cls, k: int, n_rules: int) -> _PartResult:
        """Zero tallies for ``k`` invariants and ``n_rules`` rules."""
        return cls(
            inv_cubes=[0] * k, inv_points=[0] * k, inv_failed_cubes=[0] * k, inv_failed_points=[0] * k,
            examples=[[] for _ in range(k)], rule_cubes=[0] * n_rules, rule_points=[0] * n_rules,
        )


def _partition_for(
    rules: RuleSet, invariants: Sequence[Invariant], restrict: bool
) -> tuple[Partition, list[tuple[int, int]]]:
    """The rules' and the invariants' conditions together (the rules first, so that bit ``i`` is
    rule ``i``), and each invariant's slots shifted past the rules."""
    conditions, slots = _invariant_conditions(invariants)
    conditions += _twin_conditions(rules, invariants)
    within = None
    if restrict and invariants:
        within = AnyOf(tuple(inv.for_all for inv in invariants))
    n = len(rules.disclosure.rules)
    shifted = [(a + n, b + n if b >= 0 else -1) for a, b in slots]
    return disclosure_partition(rules, conditions, within), shifted


def _invariant_conditions(invariants: Sequence[Invariant]) -> tuple[list[Condition], list[tuple[int, int]]]:
    """The conditions that refine the rules' cubes for the invariants, and for each invariant the
    index of its ``for_all`` and of its "for_all and not allowed_only_if" (or -1)."""
    conditions: list[Condition] = []
    slots: list[tuple[int, int]] = []
    for inv in invariants:
        conditions.append(inv.for_all)
        breach = -1
        if inv.expect.allowed_only_if is not None:
            breach = len(conditions)
            conditions.append(All((inv.for_all, Not(inv.expect.allowed_only_if))))
        slots.append((len(conditions) - 1 - (breach >= 0), breach))
    return conditions, slots


def _twin_conditions(rules: RuleSet, invariants: Sequence[Invariant]) -> list[Condition]:
    """For a ``flags_as_strict_as_categories`` invariant, each rule's condition at the twin questions
    (the flags cleared; the category kept, or replaced by a flagged one), restricted to the
    invariant's region: on every cube the twins then fire the same rules throughout, so the engine's
    answer to the representative's twins stands for the whole cube."""
    out: list[Condition] = []
    for inv in invariants:
        if inv.expect.structural != "flags_as_strict_as_categories":
            continue
        known: dict[str, Value] = {flag: False for flag, _ in FLAGGED_CATEGORIES}
        seen = {rule.condition for rule in rules.disclosure.rules}
        for rule in rules.disclosure.rules:
            twins = [partial(rule.condition, known)]
            twins += [partial(rule.condition, {**known, "category": c}) for _, c in FLAGGED_CATEGORIES]
            for twin in twins:
                if isinstance(twin, Const) or twin in seen:
                    continue  # constant, or already a condition of the partition
                seen.add(twin)
                out.append(All((inv.for_all, twin)))
    return out


def _twin_problem(
    evaluate: Any, names: tuple[str, ...], point: Mapping[str, Value], outcome: Outcome
) -> str | None:
    """Why an allowed flagged question is more permissive than its twins without the flags, or None."""
    if not outcome.allowed:
        return None
    facts = dict(point)
    for flag, _ in FLAGGED_CATEGORIES:
        facts[flag] = False
    values = tuple([facts[name] for name in names])
    categories = [str(point["category"])]
    categories += [category for flag, category in FLAGGED_CATEGORIES if point[flag]]
    for category in categories:
        twin = evaluate(values, (category,))
        if not twin.allowed:
            return (
                f"allowed with the flags, but the same question without them is denied for {category} "
                f"({', '.join(twin.reasons)})"
            )
    return None


def _summary(o: Outcome) -> dict[str, Any]:
    return {
        "allowed": o.allowed,
        "reasons": list(o.reasons),
        "rule_ids": list(o.rule_ids),
        "obligations": list(o.obligations),
        "by_category": dict(o.by_category),
        "category_rules": {c: list(r) for c, r in o.category_rules.items()},
        "clauses": list(o.clauses),
    }


def _run(
    rules: RuleSet, evaluate: Callable[[tuple[Any, ...], tuple[str, ...]], Outcome], task: _Task,
    tick: Callable[[int], None] | None = None,
) -> _PartResult:
    """Check one part of the disclosure space; ``evaluate`` is the engine, without the memo. ``tick``
    is told the questions done so far, every few thousand cubes."""
    check = _PartCheck(rules, evaluate, task)
    out = check.out
    for region in check.partition.regions(part=task.part, parts=task.parts):
        point = region.point
        size = region.size
        category = str(point["category"])
        outcome = evaluate(tuple([point[name] for name in check.names]), (category,))
        out.cubes += 1
        out.points += size
        if tick is not None and not out.cubes % _TICK:
            tick(out.points)
        if outcome.allowed:
            out.allowed_cubes += 1
            out.allowed_points += size
        check.rules_fired(region, outcome)
        check.against_reference(region, outcome, category)
        check.invariants_hold(region, outcome)
    return out


class _PartCheck:
    """The checks of one part, each region in turn, and the tallies they keep (``out``)."""

    def __init__(
        self, rules: RuleSet, evaluate: Callable[[tuple[Any, ...], tuple[str, ...]], Outcome], task: _Task
    ) -> None:
        self.rules, self.evaluate, self.task = rules, evaluate, task
        self.invariants = task.invariants
        self.partition, self.slots = _partition_for(rules, self.invariants, task.restrict)
        self.rule_mask = (1 << len(rules.disclosure.rules)) - 1
        self.rule_index = {r.id: i for i, r in enumerate(rules.disclosure.rules)}
        self.reference = ReferenceEvaluator(rules) if task.differential else None
        self.names = tuple(name for name in rules.disclosure.facts if name != "category")
        self.fired_bits: dict[tuple[str, ...], int] = {}
        self.verdicts: dict[tuple[int, tuple[str, ...], bool], str | None] = {}
        self.out = _PartResult.empty(len(self.invariants), len(rules.disclosure.rules))

    def rules_fired(self, region: Region, outcome: Outcome) -> None:
        """Count the rules that fired, and check they are exactly those whose conditions hold."""
        out, size, fired = self.out, region.size, outcome.rule_ids
        bits = self.fired_bits.get(fired)
        if bits is None:
            bits = 0
            for rid in fired:
                bits |= 1 << self.rule_index[rid]
            self.fired_bits[fired] = bits
        for rid in fired:
            i = self.rule_index[rid]
            out.rule_cubes[i] += 1
            out.rule_points[i] += size
        if bits != region.truths & self.rule_mask:
            out.mismatch_count += 1
            if len(out.mismatches) < self.task.max_examples:
                expected = [r.id for i, r in enumerate(self.rules.disclosure.rules) if region.truths >> i & 1]
                out.mismatches.append(
                    Mismatch("conditions", region.index, dict(region.point), _summary(outcome), {"rule_ids": expected})
                )

    def against_reference(self, region: Region, outcome: Outcome, category: str) -> None:
        """Compare the engine's outcome with the reference evaluator's (when the task asks for it)."""
        if self.reference is None:
            return
        out, point = self.out, region.point
        expected_outcome = self.reference.outcome({name: point[name] for name in self.names}, (category,))
        if expected_outcome != outcome:
            out.mismatch_count += 1
            if len(out.mismatches) < self.task.max_examples:
                out.mismatches.append(
                    Mismatch("reference", region.index, dict(point), _summary(outcome), _summary(expected_outcome))
                )

    def invariants_hold(self, region: Region, outcome: Outcome) -> None:
        """Check every invariant whose ``for_all`` covers the region."""
        out, truths, size, invariants = self.out, region.truths, region.size, self.invariants
        for j, (for_all, breach) in enumerate(self.slots):
            if not truths >> for_all & 1:
                continue
            out.inv_cubes[j] += 1
            out.inv_points[j] += size
            only_if = breach < 0 or not truths >> breach & 1
            key = (j, outcome.rule_ids, only_if)
            problem = self.verdicts.get(key, "")
            if problem == "":
                problem = self.verdicts[key] = violation(invariants[j], outcome, only_if, self.rules)
            if problem is None and invariants[j].expect.structural == "flags_as_strict_as_categories":
                problem = _twin_problem(self.evaluate, self.names, region.point, outcome)
            if problem is not None:
                out.inv_failed_cubes[j] += 1
                out.inv_failed_points[j] += size
                if len(out.examples[j]) < self.task.max_examples:
                    out.examples[j].append(
                        Counterexample(invariants[j].id, region.index, dict(region.point), size, problem)
                    )


def _run_in_worker(task: _Task) -> _PartResult:
    rules = load_rules(task.rules_dir)
    if rules.fingerprint != task.fingerprint:
        raise EngineError(
            f"the rules in {task.rules_dir} changed while they were being verified "
            f"(fingerprint {rules.fingerprint}, expected {task.fingerprint})"
        )
    evaluator = DisclosureEvaluator(rules, Clock(rules.parameters.timezone), memo_size=0)
    shared = task.progress

    def tick(points: int) -> None:
        shared[task.part] = points

    try:
        return _run(rules, evaluator.evaluate_values, task, tick if shared is not None else None)
    finally:
        evaluator.close()


def _merge(parts: Iterable[_PartResult], k: int, n_rules: int, max_examples: int) -> _PartResult:
    total = _PartResult.empty(k, n_rules)
    for p in parts:
        total.cubes += p.cubes
        total.points += p.points
        total.allowed_cubes += p.allowed_cubes
        total.allowed_points += p.allowed_points
        total.mismatch_count += p.mismatch_count
        total.mismatches.extend(p.mismatches)
        for j in range(k):
            total.inv_cubes[j] += p.inv_cubes[j]
            total.inv_points[j] += p.inv_points[j]
            total.inv_failed_cubes[j] += p.inv_failed_cubes[j]
            total.inv_failed_points[j] += p.inv_failed_points[j]
            total.examples[j].extend(p.examples[j])
        for i in range(n_rules):
            total.rule_cubes[i] += p.rule_cubes[i]
            total.rule_points[i] += p.rule_points[i]
    total.mismatches = sorted(total.mismatches, key=lambda m: m.index)[:max_examples]
    total.examples = [sorted(e, key=lambda c: c.index)[:max_examples] for e in total.examples]
    return total


def verify(
    policy: PolicyView,
    invariants: Sequence[Invariant],
    *,
    restrict: bool = False,
    max_counterexamples: int = 3,
    differential: bool = False,
    jobs: int = 1,
    progress: Callable[[float], None] | None = None,
) -> VerifyReport:
    """Check ``invariants`` against the engine's answer to every single-category question.

    ``restrict`` enumerates only the questions some of the invariants cover (their ``for_all``), for a
    quick check of a few; otherwise the whole space is enumerated and every rule's coverage counted.
    ``differential`` also compares every answer with the reference evaluator. ``jobs`` > 1 spreads the
    cubes over that many processes, each of which loads the policy's rules directory again.
    ``progress`` is told the fraction of the questions checked, now and then (for a progress bar).
    """
    rules = policy.rules
    start = time.perf_counter()
    invs = tuple(invariants)
    k = len(invs)
    n_rules = len(rules.disclosure.rules)
    base = _Task(
        str(rules.directory), rules.fingerprint, invs, restrict, 0, 1, max_counterexamples, differential
    )
    space = math.prod(len(f.domain) for f in rules.disclosure.facts.values()) or 1

    def report(done: int) -> None:
        if progress is not None:
            progress(min(1.0, done / space))

    if jobs <= 1:
        parts = [_run(rules, policy.evaluate_values, base, report if progress is not None else None)]
    else:
        parts = _run_in_parallel(base, jobs, report if progress is not None else None)
    report(space)
    total = _merge(parts, k, n_rules, max_counterexamples)
    results = [
        InvariantResult(
            inv, total.inv_cubes[j], total.inv_points[j], total.inv_failed_cubes[j], total.inv_failed_points[j],
            total.examples[j],
        )
        for j, inv in enumerate(invs)
    ]
    ids = [r.id for r in rules.disclosure.rules]
    retention_points, retention_problems = (0, []) if restrict else check_retention(policy)
    request_points, request_cubes, request_problems = (0, 0, []) if restrict else check_requests(policy)
    return VerifyReport(
        directory=str(rules.directory),
        version=rules.version,
        cubes=total.cubes,
        points=total.points,
        seconds=time.perf_counter() - start,
        jobs=max(1, jobs),
        differential=differential,
        restricted=restrict and bool(invs),
        invariants=results,
        rule_cubes=dict(zip(ids, total.rule_cubes, strict=True)),
        rule_points=dict(zip(ids, total.rule_points, strict=True)),
        allowed_cubes=total.allowed_cubes,
        allowed_points=total.allowed_points,
        mismatch_count=total.mismatch_count,
        mismatches=total.mismatches,
        retention_points=retention_points,
        retention_problems=retention_problems,
        request_points=request_points,
        request_cubes=request_cubes,
        request_problems=request_problems,
    )


def _run_in_parallel(base: _Task, jobs: int, report: Callable[[int], None] | None) -> list[_PartResult]:
    """The cubes of ``base`` spread over ``jobs`` processes, each of which loads the rules directory
    again; ``report`` is told the questions done by all, now and then."""
    context = multiprocessing.get_context("spawn")
    with contextlib.ExitStack() as stack:
        shared = None
        if report is not None:
            manager = stack.enter_context(context.Manager())
            shared = manager.list([0] * jobs)
        tasks = [dataclasses.replace(base, part=i, parts=jobs, progress=shared) for i in range(jobs)]
        pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context))
        futures = [pool.submit(_run_in_worker, t) for t in tasks]
        while report is not None and shared is not None:
            _, pending = concurrent.futures.wait(futures, timeout=0.25)
            report(sum(shared))
            if not pending:
                break
        return [f.result() for f in futures]


def check_requests(policy: PolicyView, limit: int = 10) -> tuple[int, int, list[str]]:
    """The data-subject request family's whole fact space, partitioned like the disclosure space: on
    every cube the engine must fire exactly the request rules whose conditions hold. Returns the
    questions and cubes checked and the first problems found."""
    family = policy.rules.requests
    partition = Partition([r.condition for r in family.rules], family.facts)
    problems: list[str] = []
    cubes = 0
    for region in partition.regions():
        cubes += 1
        point = region.point
        facts = {name: value for name, value in point.items() if name != "category"}
        fired = policy.evaluate_request_facts(facts, (str(point["category"]),))
        expected = {i for i in range(len(family.rules)) if region.truths >> i & 1}
        if fired != expected and len(problems) < limit:
            problems.append(
                f"{point}: the engine fired {sorted(family.rules[i].id for i in fired)}, the conditions hold for "
                f"{sorted(family.rules[i].id for i in expected)}"
            )
    return partition.points(), cubes, problems


def check_retention(policy: PolicyView, limit: int = 10) -> tuple[int, list[str]]:
    """Every combination of the retention facts through the engine: it must fire exactly the rules
    whose conditions hold, and exactly one of them must decide the mode. Returns how many
    combinations were checked and the first problems found."""
    retention = policy.rules.retention
    names = list(retention.facts)
    problems: list[str] = []
    count = 0
    for values in itertools.product((False, True), repeat=len(names)):
        point = dict(zip(names, values, strict=True))
        count += 1
        expected = tuple(r.id for r in retention.rules if evaluate(r.when, point))
        modes = [r.id for r in retention.rules if r.id in expected and r.decides == "mode"]
        if len(modes) != 1:
            problems.append(f"{point}: expected exactly one mode rule, the conditions give {modes}")
        else:
            try:
                fired = policy.evaluate_retention_facts(point).rule_ids
            except PolicyKitError as exc:  # pragma: no cover - the engine failed
                fired = (f"error: {exc}",)
            if fired != expected:
                problems.append(f"{point}: the engine fired {list(fired)}, the conditions hold for {list(expected)}")
        if len(problems) >= limit:
            break
    return count, problems


# ------------------------------------------------------------------------------------------------
# acceptance cases: which rules they exercise


def case_coverage(policy: PolicyView, directories: Sequence[Path]) -> dict[str, list[str]]:
    """For each disclosure rule, the ids of the cases that fire it.

    Cases are read from every ``*.yaml`` file (the acceptance format: ``cases:`` with ``id``, ``area``
    and ``inputs``; disclosure cases only) and every ``*.json`` file (one request; its name is its id)
    under the directories. A case the policy cannot answer is skipped.
    """
    fired: dict[str, list[str]] = {r.id: [] for r in policy.rules.disclosure.rules}
    for directory in directories:
        for path in sorted(Path(directory).glob("*.yaml")):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for case in doc.get("cases", []) if isinstance(doc, dict) else []:
                if isinstance(case, dict) and case.get("area") == "disclosure":
                    _note(policy, str(case.get("id")), case.get("inputs"), fired)
        for path in sorted(Path(directory).glob("*.json")):

            _note(policy, path.stem, json.loads(path.read_text(encoding="utf-8")), fired)
    return fired


def _note(policy: PolicyView, case_id: str, inputs: Any, fired: dict[str, list[str]]) -> None:
    if not isinstance(inputs, Mapping):
        return
    try:
        decision = policy.decide(inputs)
    except PolicyKitError:
        return
    for rid in decision.rule_ids:
        fired[rid].append(case_id)


# ------------------------------------------------------------------------------------------------
# the report in words


def _num(n: int) -> str:
    return f"{n:,}"


def render_report(
    report: VerifyReport,
    policy: PolicyView,
    *,
    coverage: Mapping[str, list[str]] | None = None,
    show_coverage: bool = False,
) -> str:
    """The report as text: the space, each invariant, each failure with its counterexamples explained
    as decisions, and (``show_coverage``) which rules the cubes and the cases exercise."""
    lines = [*_space_lines(report, policy.rules), *_family_lines(report)]
    failed = [r for r in report.invariants if not r.ok]
    lines += ["", f"Invariants: {len(report.invariants) - len(failed)} of {len(report.invariants)} hold."]
    for r in report.invariants:
        inv = r.invariant
        status = "ok  " if r.ok else "FAIL"
        lines.append(f"  {status} {inv.id}: {inv.title} ({', '.join(inv.clauses)})")
        lines.append(f"         {_num(r.points)} questions in {_num(r.cubes)} cubes")
    for r in failed:
        lines += _failure_lines(r, policy)
    if show_coverage:
        lines += _coverage_lines(report, policy.rules, coverage)
    lines += ["", "OK: every invariant holds." if report.ok else "FAILED."]
    return "\n".join(lines)


def _space_lines(report: VerifyReport, rules: RuleSet) -> list[str]:
    """The disclosure space, what was allowed, and whether the engine agreed with the conditions."""
    scope = "the questions the chosen invariants cover" if report.restricted else "every question"
    lines = [
        f"policykit verify: {rules.meta.name} {report.version} ({report.directory})",
        "",
        f"Space ({scope}): {_num(report.points)} single-category questions in {_num(report.cubes)} cubes, on each of",
        "which every rule and every invariant is constant; one engine call per cube "
        f"({report.seconds:.1f} s, {report.jobs} job{'s' if report.jobs != 1 else ''}).",
        f"Allowed: {_num(report.allowed_points)} questions ({_num(report.allowed_cubes)} cubes).",
    ]
    if report.mismatch_count:
        lines.append(
            f"ENGINE DISAGREES on {_num(report.mismatch_count)} cubes with the rules' conditions"
            + (" or the reference evaluator" if report.differential else "")
            + ":"
        )
        for m in report.mismatches:
            lines.append(f"  cube {m.index} ({m.kind}): engine {m.engine} expected {m.expected}")
            lines.append(f"    facts {m.point}")
    else:
        check = ", and agreed with the reference evaluator" if report.differential else ""
        lines.append(f"On every cube the engine fired exactly the rules whose conditions hold{check}.")
    return lines


def _family_lines(report: VerifyReport) -> list[str]:
    """The retention and request families' checks, when they ran."""
    lines: list[str] = []
    if report.retention_points:
        if report.retention_problems:
            lines.append(f"RETENTION: problems among {_num(report.retention_points)} fact combinations:")
            lines.extend(f"  {p}" for p in report.retention_problems)
        else:
            lines.append(
                f"Retention: all {_num(report.retention_points)} combinations of its yes/no facts through the "
                "engine; it fired exactly the rules whose conditions hold, one mode each time."
            )
    if report.request_cubes:
        if report.request_problems:
            lines.append("REQUESTS: the engine disagrees with the request rules' conditions:")
            lines.extend(f"  {p}" for p in report.request_problems)
        else:
            lines.append(
                f"Data-subject requests: {_num(report.request_points)} questions in {_num(report.request_cubes)} "
                "cubes through the engine; it fired exactly the rules whose conditions hold."
            )
    return lines


def _failure_lines(r: InvariantResult, policy: PolicyView) -> list[str]:
    """A failed invariant, with each counterexample asked as a decision and explained."""
    rules = policy.rules
    inv = r.invariant

    def say(c: Condition) -> str:
        return render(c, rules.disclosure.facts)

    lines = [
        "",
        f"FAILED {inv.id}: {inv.title}",
        f"  {inv.description}",
        f"  Cites {', '.join(inv.clauses)}; declared at {inv.file}:{inv.line}.",
        f"  For every question where {say(inv.for_all)}:",
        f"  expected {inv.expect.describe(say)}.",
        f"  Broken by {_num(r.failed_points)} questions in {_num(r.failed_cubes)} cubes.",
    ]
    for n, c in enumerate(r.counterexamples, 1):
        lines += ["", f"  Counterexample {n} of {len(r.counterexamples)} (cube {c.index}, "
                      f"{_num(c.size)} questions like it): {c.message}"]
        request = request_data(c.point, rules)
        lines.append("  Request: " + _compact_json(request))
        try:
            explained = policy.decide(request).explain()
        except PolicyKitError as exc:  # pragma: no cover - every point is realisable
            explained = f"(could not be asked: {exc})"
        lines.extend("    " + line if line else "" for line in explained.splitlines())
    return lines


def _coverage_lines(report: VerifyReport, rules: RuleSet, coverage: Mapping[str, list[str]] | None) -> list[str]:
    """Which rules the questions fire and which the acceptance cases exercise."""
    lines = ["", "Rule coverage (questions whose answer fires the rule; cases that fire it):"]
    for rule in rules.disclosure.rules:
        cases = coverage.get(rule.id, []) if coverage is not None else []
        case_text = f"{len(cases)} case{'s' if len(cases) != 1 else ''}" if coverage is not None else ""
        lines.append(
            f"  {rule.id:<44} {_num(report.rule_points[rule.id]):>16} questions "
            f"{_num(report.rule_cubes[rule.id]):>8} cubes  {case_text}"
        )
    never = [rid for rid, n in report.rule_cubes.items() if n == 0]
    if never and not report.restricted:
        lines.append("  Rules no question fires (dead rules): " + ", ".join(never))
    if coverage is not None:
        unexercised = [rid for rid, cases in coverage.items() if not cases]
        lines.append(
            "  Rules no case exercises: " + (", ".join(unexercised) if unexercised else "none")
        )
    else:
        lines.append("  No acceptance cases found (pass --cases DIR); case coverage skipped.")
    return lines


def _compact_json(data: Any) -> str:

    return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
