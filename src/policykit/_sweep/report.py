"""What the retention sweep reports: the due candidates, the problems, the progress and the totals.

The sweep itself is ``_sweep.job.sweep``; ``SweepPolicy`` is what it asks of a policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from policykit._serial import JsonSpec, to_data
from policykit.errors import SweepError

if TYPE_CHECKING:
    from policykit._retention.verdict import RetentionVerdict
    from policykit._ruleset.ruleset import RuleSet

__all__ = [
    "OTHER_ACTIONS", "CandidateAction", "SweepPolicy", "SweepProblem", "SweepProgress", "SweepReport", "chosen_actions",
    "sweep_context",
]


class SweepPolicy(Protocol):
    """What the sweep asks of a policy: its rule set, today's date and a retention verdict."""

    @property
    def rules(self) -> RuleSet: ...

    def today(self) -> dt.date: ...

    def retention(self, facts: Mapping[str, Any]) -> RetentionVerdict: ...


OTHER_ACTIONS = ("erase_now", "special_category", "review_due")


def sweep_context(candidate_id: Any) -> dict[str, str]:
    """The caller's context of a sweep's retention question in a decision log (either engine): the
    sweep as the service, the candidate's id as the subject (the log stores it as a keyed HMAC)."""
    return {"service": "policykit-sweep", "subject_ref": str(candidate_id)}


def chosen_actions(actions: Collection[str] | None) -> frozenset[str]:
    """The other actions a sweep takes (all by default; anonymisation is always taken), checked:
    anything but a collection of :data:`OTHER_ACTIONS` is a :class:`SweepError`."""
    if actions is None:
        return frozenset(OTHER_ACTIONS)
    if isinstance(actions, str) or not isinstance(actions, Collection):
        raise SweepError(f"actions: expected a collection of {', '.join(OTHER_ACTIONS)}, got {actions!r}")
    wrong = [a for a in actions if a not in OTHER_ACTIONS]
    if wrong:
        raise SweepError(f"actions: expected some of {', '.join(OTHER_ACTIONS)}, got {wrong[0]!r}")
    return frozenset(actions)


ACTION_LINES = {
    "erase_now": ("erased at once", "candidates kept as evidence or on hold: what the rules erase when consent ends"),
    "special_category": ("special-category items", "candidates with items whose own erasure date has come"),
    "review_due": ("relevance reviews due", "active candidates to review (A-33): recorded, never anonymised"),
}


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


@dataclass(frozen=True, slots=True)
class SweepProblem:
    """A row the sweep could not judge: where it is, and why. The candidate was skipped."""

    table: str
    row_id: str | None
    candidate_id: str | None
    column: str | None
    message: str
    code: str

    _JSON: ClassVar[JsonSpec] = ("table", "row_id", "candidate_id", "column", "code", "message")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return cast("dict[str, Any]", to_data(self))

    def __str__(self) -> str:
        where = f"{self.table} row {self.row_id}" if self.row_id is not None else self.table
        if self.column:
            where += f", column {self.column}"
        own = self.candidate_id is None or self.table == "candidates"
        who = "" if own else f" (candidate {self.candidate_id})"
        return f"{where}{who}: {self.message}"


@dataclass(frozen=True, slots=True)
class CandidateAction:
    """One candidate and one action due: the verdict that made it due, and what was (or would be)
    erased.

    ``action`` is ``anonymise`` (the anonymisation date has come), ``erase_now`` (what the verdict
    erases at once while the record is kept: the LinkedIn snapshot, talent-pool tags, marketing
    attributes), ``special_category`` (special-category items whose own date has come) or
    ``review_due`` (an active candidate's relevance review, A-33: recorded and reported, never acted
    on); ``due_on`` is the day it became due. ``erased`` names columns as ``table.column``;
    ``deleted_rows`` counts the rows deleted per table. ``applied`` is true once the change is
    committed.
    """

    candidate_id: str
    retention_mode: str
    mode_rule: str
    rule_ids: tuple[str, ...]
    clauses: tuple[str, ...]
    anonymise_on: dt.date | None
    deadline: dt.date | None
    erased: tuple[str, ...]
    deleted_rows: Mapping[str, int]
    applied: bool
    action: str = "anonymise"
    due_on: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: its fields, in order."""
        return cast("dict[str, Any]", to_data(self))


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """How far a sweep has come: candidates read, due so far, and the share of the id range covered
    (``None`` when the ids are not numbers)."""

    examined: int
    due: int
    fraction: float | None


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What a sweep found and did.

    ``actions`` counts the other actions due (``erase_now``, ``special_category``, ``review_due``)
    and ``action_sample`` holds the first ones; ``skipped_actions`` names those this run did not look
    for (the Spark pass does not yet: docs/spark.md).

    ``candidates`` rows in the table, of which ``already_anonymised`` were skipped; ``examined`` were
    read and judged (all the others, with pre-selection, when the SQL showed they cannot be due);
    ``due`` were due; ``anonymised`` were anonymised by this run (``apply``). ``by_mode`` counts the
    judged candidates per ``(retention mode, deciding rule)`` as ``[judged, due]``. ``problems``
    lists the rows that could not be judged (up to a thousand; ``problem_count`` counts them all);
    ``sample`` holds the first due candidates. ``exit_status`` is 0, or 1 when any row was skipped.
    """

    database: str
    as_of: dt.date
    policy_version: str
    applied: bool
    preselect: bool
    batch_size: int
    run_id: str
    candidates: int
    already_anonymised: int
    examined: int
    due: int
    anonymised: int
    by_mode: Mapping[tuple[str, str], tuple[int, int]]
    problems: tuple[SweepProblem, ...]
    problem_count: int
    sample: tuple[CandidateAction, ...]
    seconds: float
    erases: Mapping[str, int] = field(default_factory=dict)
    actions: Mapping[str, int] = field(default_factory=dict)
    action_sample: tuple[CandidateAction, ...] = ()
    skipped_actions: tuple[str, ...] = ()

    _JSON: ClassVar[JsonSpec] = (
        "database", "as_of", "policy_version", "applied", "preselect", "batch_size", "run_id", "candidates",
        "already_anonymised", "examined", "due", "anonymised",
        ("by_mode", lambda r: [
            {"retention_mode": mode, "rule": rule, "judged": judged, "due": due}
            for (mode, rule), (judged, due) in sorted(r.by_mode.items())
        ]),
        ("erases", lambda r: dict(sorted(r.erases.items()))),
        ("actions", lambda r: {kind: r.actions.get(kind, 0) for kind in OTHER_ACTIONS}),
        "skipped_actions", "problem_count", "problems",
        ("seconds", lambda r: round(r.seconds, 3)),
        "exit_status",
    )

    @property
    def exit_status(self) -> int:
        """0 when every row read could be judged; 1 when some were skipped as problems."""
        return 1 if self.problem_count else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the counts, the problems and the sample."""
        return cast("dict[str, Any]", to_data(self))

    def summary(self, *, limit: int = 20) -> str:
        """The report as a plain-text table: counts, modes and rules, the first due candidates and
        the problems."""
        kind = "anonymised" if self.applied else "dry run (nothing changed)"
        out = [
            f"policykit sweep: {kind}, as of {self.as_of}, policy {self.policy_version}",
            f"database {self.database}",
            "",
            f"  {'candidates':<30}{self.candidates:>12,}",
            f"  {'already anonymised':<30}{self.already_anonymised:>12,}",
        ]
        rest = self.candidates - self.already_anonymised - self.examined
        how = "pre-selected in SQL" if self.preselect else "every candidate not yet anonymised"
        out.append(f"  {'read and judged':<30}{self.examined:>12,}   ({how})")
        if self.preselect:
            out.append(f"  {'ruled out by the SQL':<30}{max(rest, 0):>12,}   (not read: the database query showed "
                       "that nothing can be due for them)")
        out.append(f"  {'due for anonymisation':<30}{self.due:>12,}")
        if self.applied:
            out.append(f"  {'anonymised now':<30}{self.anonymised:>12,}")
        for kind in OTHER_ACTIONS:
            label, note = ACTION_LINES[kind]
            if kind in self.skipped_actions:
                out.append(f"  {label:<30}{'-':>12}   (not looked for in this run)")
            else:
                out.append(f"  {label:<30}{self.actions.get(kind, 0):>12,}   ({note})")
        out.append(f"  {'problems (rows skipped)':<30}{self.problem_count:>12,}")
        out.append(f"  {'time':<30}{self.seconds:>11.1f}s")
        if self.by_mode:
            out += ["", f"  {'retention mode':<28}{'deciding rule':<34}{'judged':>9}{'due':>9}"]
            for (mode, rule), (judged, due) in sorted(self.by_mode.items()):
                out.append(f"  {mode:<28}{rule:<34}{judged:>9,}{due:>9,}")
        if self.erases:
            out += ["", "  what anonymisation erases (due candidates; rows deleted):"]
            out.extend(f"    {name:<40}{n:>9,}" for name, n in sorted(self.erases.items()))
        if self.sample:
            shown = self.sample[:limit]
            out += ["", f"  due candidates (first {len(shown)} of {self.due:,}):",
                    f"  {'candidate':<12}{'mode':<18}{'rule':<32}{'anonymise_on':<14}{'deadline':<12}erases",
                    "  (anonymise_on: the first day nothing identifying may remain; deadline: the last day to have "
                    "anonymised a record that is due at once)"]
            for a in shown:
                rows = "".join(f", {n} {t} row{'s' if n != 1 else ''}" for t, n in a.deleted_rows.items() if n)
                out.append(
                    f"  {a.candidate_id:<12}{a.retention_mode:<18}{a.mode_rule:<32}{_iso(a.anonymise_on) or '-':<14}"
                    f"{_iso(a.deadline) or '-':<12}{len(a.erased)} columns{rows}"
                )
        if self.action_sample:
            shown_actions = self.action_sample[:limit]
            out += ["", f"  other actions (first {len(shown_actions)} of {sum(self.actions.values()):,}):",
                    f"  {'candidate':<12}{'action':<18}{'mode':<28}{'due_on':<12}what"]
            for a in shown_actions:
                gone = (f"{n} {t} row{'s' if n != 1 else ''}" for t, n in a.deleted_rows.items())
                what = ", ".join([*a.erased, *gone])
                out.append(f"  {a.candidate_id:<12}{a.action:<18}{a.retention_mode:<28}{_iso(a.due_on) or '-':<12}"
                           f"{what or 'review relevance (A-33)'}")
        if self.problems:
            shown_problems = self.problems[:limit]
            out += ["", f"  problems (first {len(shown_problems)} of {self.problem_count:,}; these candidates were "
                        "skipped):"]
            out.extend(f"    {p}" for p in shown_problems)
        out.append("")
        closing = self._closing()
        if closing:
            out.append(closing)
        if self.problem_count:
            out.append(f"{self.problem_count:,} row(s) could not be judged and were skipped; fix them and run again.")
        return "\n".join(out)

    def _closing(self) -> str:
        """The last line: what was done, or what --apply would do."""
        lines: list[str] = []
        others = sum(n for kind, n in self.actions.items() if kind != "review_due")
        reviews = self.actions.get("review_due", 0)
        if not self.applied and (self.due or others):
            more = f" and apply the {others:,} other erasure(s)" if others else ""
            lines.append(f"Nothing was changed. Run again with --apply to anonymise the {self.due:,} due "
                         f"candidate(s){more}.")
        elif self.applied and (self.anonymised or others or reviews):
            done = [f"anonymised {self.anonymised:,} candidate(s)"]
            if others:
                done.append(f"applied {others:,} other erasure(s)")
            if reviews:
                done.append(f"recorded {reviews:,} relevance review(s) due")
            text = "; ".join(done)
            lines.append(f"{text[0].upper()}{text[1:]}; each is recorded in the audit log (run {self.run_id}).")
        elif self.applied:
            lines.append("Nothing to do: no candidate is due for anonymisation as of "
                         f"{self.as_of}; nothing was changed and nothing was added to the audit log.")
        elif not self.problem_count:
            if reviews:
                lines.append(f"Nothing is due for erasure as of {self.as_of}: --apply would only record the "
                             f"{reviews:,} relevance review(s) in the audit log.")
            else:
                lines.append(f"Nothing is due as of {self.as_of}: --apply would change nothing.")
        return "\n".join(lines)
