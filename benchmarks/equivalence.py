"""Before anything is timed: every engine must give policykit's answer on every question.

For each question the check asks policykit (typed and plain-mapping requests), Cedar and Casbin,
and requires the same allow/deny. It also compares *why*, rule for rule, since both re-expressions
name their rules after policykit's:

* Cedar reports the policies that decided: for a deny, the satisfied forbids, which must be exactly
  the forbid rules that fired in policykit; for an allow, the satisfied permits, exactly policykit's
  fired permits.
* Casbin reports the row that decided: for a deny, the first deny row matched, which must be
  policykit's deciding rule (rows follow policykit's rule order); for an allow, an allow row
  whose rule fired in policykit.

The precomputed table of the dict-lookup floor is built from the same answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import policykit
from benchmarks.workload import Question, to_mapping, to_typed

__all__ = ["EquivalenceError", "Mismatch", "Report", "check"]


class EquivalenceError(Exception):
    """An engine disagreed with policykit; the message lists the questions and policykit's account."""


@dataclass(frozen=True)
class Mismatch:
    """One question on which an engine and policykit disagree."""

    engine: str
    question: Question
    expected: str
    got: str
    explanation: str

    def describe(self) -> str:
        """The mismatch, the request, and policykit's explanation."""
        return (
            f"{self.engine} disagrees with policykit on {self.question}:\n"
            f"  policykit: {self.expected}\n  {self.engine}: {self.got}\n"
            f"  request: {to_mapping(self.question)}\n"
            + "\n".join("  | " + line for line in self.explanation.splitlines())
        )


@dataclass
class Report:
    """What the check found: the counts, the rules reached and the floor's table."""

    questions: int = 0
    allowed: int = 0
    engines: tuple[str, ...] = ()
    deciding_reasons: Counter[str] = field(default_factory=Counter)
    rules_fired: set[str] = field(default_factory=set)
    table: dict[Question, bool] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    disagreements: int = 0

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {
            "questions": self.questions,
            "allowed": self.allowed,
            "denied": self.questions - self.allowed,
            "engines_checked": list(self.engines),
            "deciding_reasons": dict(self.deciding_reasons.most_common()),
            "rules_fired": sorted(self.rules_fired),
            "disagreements": self.disagreements,
        }


def check(
    questions: Sequence[Question],
    policy: policykit.Policy,
    *,
    cedar: Any = None,
    casbin: Any = None,
    max_mismatches: int = 20,
) -> Report:
    """Ask every engine every question; collect disagreements (up to ``max_mismatches``).

    ``policy`` should be loaded with ``memo_size=0`` so that each answer comes from the engine.
    Raises nothing: look at ``report.mismatches`` (or call :func:`require`).
    """
    effects = {r.id: r.effect for r in policy.rules.disclosure.rules}
    report = Report(engines=tuple(n for n, e in (("cedarpy", cedar), ("pycasbin", casbin)) if e is not None))

    def mismatch(engine: str, q: Question, expected: str, got: str, decision: Any) -> None:
        report.disagreements += 1
        if len(report.mismatches) < max_mismatches:
            report.mismatches.append(Mismatch(engine, q, expected, got, decision.explain()))

    for q in questions:
        typed = policy.decide(to_typed(q))
        mapped = policy.decide(to_mapping(q))
        allowed = typed.allowed
        forbids = frozenset(r for r in typed.rule_ids if effects[r] == "forbid")
        permits = frozenset(r for r in typed.rule_ids if effects[r] == "permit")
        report.questions += 1
        report.allowed += allowed
        report.deciding_reasons[typed.reasons[0] if typed.reasons else "(allowed)"] += 1
        report.rules_fired.update(typed.rule_ids)
        report.table[q] = allowed
        if mapped.outcome != typed.outcome:
            mismatch("policykit (mapping)", q, repr(typed.outcome), repr(mapped.outcome), typed)
        if cedar is not None:
            c_allowed, c_rules = cedar.explain(cedar.request(q))
            expected = permits if allowed else forbids
            if c_allowed != allowed or c_rules != expected:
                mismatch(
                    "cedarpy", q,
                    f"allowed={allowed} by {sorted(expected)}",
                    f"allowed={c_allowed} by {sorted(c_rules)}",
                    typed,
                )
        if casbin is not None:
            k_allowed, k_rule = casbin.explain(casbin.request(q))
            ok = k_rule in permits if allowed else k_rule == typed.deciding_rule
            if k_allowed != allowed or not ok:
                mismatch(
                    "pycasbin", q,
                    f"allowed={allowed}, deciding rule {typed.deciding_rule}, permits {sorted(permits)}",
                    f"allowed={k_allowed}, row of {k_rule}",
                    typed,
                )
    return report


def require(report: Report) -> None:
    """Raise :class:`EquivalenceError` listing the disagreements, if there are any."""
    if report.mismatches:
        shown = "\n\n".join(m.describe() for m in report.mismatches)
        raise EquivalenceError(
            f"{report.disagreements} disagreement(s) with policykit "
            f"(the first {len(report.mismatches)} shown):\n\n{shown}"
        )
