"""``load_history()`` and ``PolicyHistory``: several versions of a policy, each answering the questions
dated while it was in force.

A history is a thin layer over :class:`~policykit.Policy`. Each version is a rules directory that
declares its ``effective_from`` date in ``policy.yaml`` and extends the version before it (an
overlay, see ``docs/rule-format.md``). A question goes to the version in force on its governing
date, which answers it exactly as it would alone: each version keeps its own engine rulesets and
memo, so ``history.decide(q) == history.at(day).decide(q)`` for the question's day.

The governing date is ``as_of`` for disclosure, retention, redaction and export questions and
``received_on`` for data-subject requests; a timestamp with a zone counts as its local calendar date
in the policy's time zone, and a question without one is dated today there, so a new version takes
over at local midnight of its effective date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from policykit._dates import local_date
from policykit._disclosure.decision import Decision, DisclosureRequest
from policykit._input import Limits
from policykit._policy import Policy, load_policy
from policykit._requests.response import DataSubjectRequest, RequestResponse
from policykit._retention.verdict import RetentionFacts, RetentionVerdict
from policykit._ruleset.reading import bundled_rules_dir
from policykit.errors import DefinitionError, InvalidDateError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from policykit._records.anonymise import Anonymised
    from policykit._records.redact import Redaction
    from policykit._sweep.report import SweepReport

__all__ = ["PolicyHistory", "PolicyVersion", "load_history"]

M = TypeVar("M", bound="BaseModel")


class PolicyVersion(str):
    """One version of a history: its label (the string itself, e.g. ``"2026-07-01"``), the first day
    it answers (``effective_from``), its rules directory and its :class:`~policykit.Policy`."""

    effective_from: dt.date
    directory: Path
    policy: Policy

    def __new__(cls, policy: Policy, effective_from: dt.date) -> PolicyVersion:
        obj = super().__new__(cls, policy.version)
        obj.effective_from = effective_from
        obj.directory = policy.rules.directory
        obj.policy = policy
        return obj

    @property
    def version(self) -> str:
        """The version label, as a plain string."""
        return str(self)


def _effective_from(policy: Policy) -> dt.date:
    day = policy.rules.meta.effective_from
    if day is None:
        raise DefinitionError(
            f"expected 'policy.effective_from' (the first day version {policy.version!r} is in force), "
            "found none: every version of a history declares it",
            file=Path(policy.rules.directory) / "policy.yaml",
        )
    return day


def _same_dir(a: Path | None, b: Path) -> bool:
    return a is not None and Path(a).resolve() == Path(b).resolve()


class PolicyHistory:
    """Versions of one policy by effective date; each question is answered by the version in force on
    its date. It answers like a :class:`~policykit.Policy` (``decide``, ``decide_many``,
    ``retention``, ``handle_request``, ``redact``, ``export``, ``anonymise``, ``sweep``), and
    ``at(day)`` is the version in force on a day. A question dated before the first version raises
    :class:`~policykit.errors.InvalidDateError` (a ``QueryError``) naming the first effective date.
    """

    def __init__(self, policies: Sequence[Policy]) -> None:
        if not policies:
            raise DefinitionError("expected at least one rules directory for a history, got none")
        dated = sorted(((_effective_from(p), p) for p in policies), key=lambda item: item[0])
        for (day, earlier), (next_day, later) in pairwise(dated):
            if next_day == day:
                raise DefinitionError(
                    f"expected one version per effective date, got {earlier.version!r} "
                    f"({earlier.rules.directory}) and {later.version!r} ({later.rules.directory}) "
                    f"both from {day}",
                    file=Path(later.rules.directory) / "policy.yaml",
                )
            if not _same_dir(later.rules.extends, earlier.rules.directory):
                extends = later.rules.extends
                raise DefinitionError(
                    f"expected version {later.version!r} to extend the version before it, "
                    f"{earlier.version!r} ({earlier.rules.directory}), got "
                    + (f"'extends' naming {extends}" if extends is not None else "no 'extends'")
                    + ": a history is one chain of overlays without gaps",
                    file=Path(later.rules.directory) / "policy.yaml",
                )
        self._versions = tuple(PolicyVersion(p, day) for day, p in dated)
        self._log_owner: Policy | None = None
        self._first = self._versions[0]
        self._zone = self._first.policy.rules.parameters.timezone

    # -------------------------------------------------------------------------------------------
    @property
    def versions(self) -> tuple[PolicyVersion, ...]:
        """The versions, by effective date (each compares equal to its label)."""
        return self._versions

    def __repr__(self) -> str:
        return "<PolicyHistory " + ", ".join(f"{v} from {v.effective_from}" for v in self._versions) + ">"

    def __enter__(self) -> PolicyHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free every version's engine rulesets, and flush a decision log the history opened (the
        version that opened it is closed last, after the others have written their records)."""
        for v in sorted(self._versions, key=lambda v: v.policy is self._log_owner):
            v.policy.close()

    @property
    def limits(self) -> Limits:
        """The bounds on the size and depth of a question (those of the first version)."""
        return self._first.policy.limits

    def today(self) -> dt.date:
        """Today's date in the policy's time zone (the date of an undated question)."""
        return self._first.policy.today()

    def at(self, day: dt.date | dt.datetime | str) -> Policy:
        """The version in force on ``day`` (a date, an ISO date, or a timestamp with a zone, which
        counts as its local date)."""
        return self.version_at(day).policy

    def version_at(self, day: dt.date | dt.datetime | str) -> PolicyVersion:
        """Like :meth:`at`, the version itself (label, effective date, directory, policy)."""
        local = local_date(day, self._zone, field="date")
        if local < self._first.effective_from:
            raise InvalidDateError(
                f"date: expected a day on or after {self._first.effective_from}, when the first version "
                f"of this history ({self._first}) took effect, got {local}"
            )
        chosen = self._first
        for v in self._versions[1:]:
            if v.effective_from <= local:
                chosen = v
        return chosen

    def _dated(self, value: Any, field: str) -> Policy:
        if value is None:
            return self.at(self.today())
        day = local_date(value, self._zone, field=field)
        if day < self._first.effective_from:
            raise InvalidDateError(
                f"{field}: expected a date on or after {self._first.effective_from}, when the first "
                f"version of this history ({self._first}) took effect, got {day}"
            )
        return self.at(day)

    @staticmethod
    def _field(question: Any, name: str) -> Any:
        if isinstance(question, Mapping):
            return question.get(name)
        return getattr(question, name, None)

    # -------------------------------------------------------------------------------------------
    def decide(
        self, request: DisclosureRequest | Mapping[str, Any], context: Mapping[str, Any] | None = None
    ) -> Decision:
        """``decide`` of the version in force on the request's ``as_of`` (today if absent);
        ``context=`` goes to the decision log, as with a single policy."""
        return self._dated(self._field(request, "as_of"), "as_of").decide(request, context=context)

    def decide_many(
        self, requests: Iterable[DisclosureRequest | Mapping[str, Any]], context: Mapping[str, Any] | None = None
    ) -> list[Decision]:
        """The decisions of :meth:`decide` for each request, in order."""
        decide = self.decide
        return [decide(request, context=context) for request in requests]

    def retention(self, facts: RetentionFacts | Mapping[str, Any], **options: Any) -> RetentionVerdict:
        """``retention`` of the version in force on the facts' ``as_of`` (today if absent)."""
        return self._dated(self._field(facts, "as_of"), "as_of").retention(facts, **options)

    def handle_request(
        self, request: DataSubjectRequest | Mapping[str, Any], context: Mapping[str, Any] | None = None
    ) -> RequestResponse:
        """``handle_request`` of the version in force on the request's ``received_on``."""
        received = self._field(request, "received_on")
        policy = self.at(self.today()) if received is None else self._dated(received, "received_on")
        return policy.handle_request(request, context=context)

    def redact(self, record: BaseModel, request: DisclosureRequest | Mapping[str, Any]) -> Redaction:
        """``redact`` of the version in force on the request's ``as_of`` (today if absent)."""
        return self._dated(self._field(request, "as_of"), "as_of").redact(record, request)

    def export(self, record: BaseModel, kind: str = "access", *, as_of: dt.date | None = None) -> dict[str, Any]:
        """``export`` of the version in force on ``as_of`` (today if absent)."""
        return self._dated(as_of, "as_of").export(record, kind, as_of=as_of)

    def anonymise(self, record: M) -> Anonymised[M]:
        """``anonymise`` of the version in force today."""
        return self.at(self.today()).anonymise(record)

    def sweep(self, db: Any, **options: Any) -> SweepReport:
        """The retention sweep with the version in force on its ``as_of`` (today if absent)."""
        return self._dated(options.get("as_of"), "as_of").sweep(db, **options)


def load_history(
    *rules_dirs: str | Path,
    memo_size: int = 65_536,
    decision_log: Any = None,
    limits: Limits | None = None,
    follow_symlinks: bool = False,
) -> PolicyHistory:
    """Load the versions of a policy, one rules directory each, into a :class:`PolicyHistory`.

    Each directory declares its ``effective_from`` in ``policy.yaml`` and extends the version before
    it; they may be given in any order. With no directory, the history is the bundled policy alone.
    Two versions with the same date, or a version that does not extend the one before it, raise a
    :class:`~policykit.errors.DefinitionError`. ``decision_log`` is one log for every version (each
    record names the version that answered); ``limits`` and ``follow_symlinks`` are those of
    :func:`~policykit.load_policy`.
    """
    dirs = rules_dirs or (bundled_rules_dir(),)
    policies: list[Policy] = []
    try:
        for d in dirs:
            # the first version opens the log; the others write into that same log
            log = decision_log if not policies else policies[0].decision_log
            policies.append(load_policy(d, memo_size=memo_size, decision_log=log, limits=limits,
                                        follow_symlinks=follow_symlinks))
        history = PolicyHistory(policies)
        if decision_log is not None:
            history._log_owner = policies[0]
        return history
    except BaseException:
        for p in policies:
            p.close()
        raise
