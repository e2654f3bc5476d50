"""``load_policy()`` and ``Policy``: the public entry point that answers questions.

A ``Policy`` is a thin front over one loaded, checked rule set: it composes the three families'
evaluators (disclosure, retention, data-subject requests), each with its own engine ruleset and
memo, and the record helpers (redaction, exports, anonymisation) and the sweep that build on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from policykit._dates import Clock
from policykit._disclosure.decision import Decision, DisclosureRequest, Outcome
from policykit._disclosure.evaluator import DisclosureEvaluator
from policykit._records.anonymise import Anonymised, anonymise_record
from policykit._records.export import export_record
from policykit._records.redact import Redaction, redact_record
from policykit._requests.handler import RequestHandler
from policykit._requests.response import DataSubjectRequest, RequestResponse
from policykit._retention.evaluator import RetentionEvaluator
from policykit._retention.verdict import RetentionFacts, RetentionOutcome, RetentionVerdict
from policykit._ruleset.ruleset import RuleSet, load_rules
from policykit._sweep.job import sweep
from policykit._sweep.report import SweepReport

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["Policy", "load_policy"]

M = TypeVar("M", bound="BaseModel")


class Policy:
    """One loaded policy: ask it ``decide(request)``, ``retention(facts)``, ``anonymise(record)``.

    Policies are independent: each has its own engine rulesets and memo, so several policies (or
    versions, or copies of one) can live in one process. A policy is safe to share between threads.
    Use it as a context manager, or call :meth:`close`, to free its engine rulesets early.
    ``memo_size`` bounds the memo of outcomes by normalised facts; 0 turns the memo off, so every
    question goes to the engine.
    """

    def __init__(self, rules: RuleSet, *, memo_size: int = 65_536) -> None:
        self.rules = rules
        self._clock = Clock(rules.parameters.timezone)
        self._disclosure = DisclosureEvaluator(rules, self._clock, memo_size=memo_size)
        self._retention = RetentionEvaluator(rules, self._clock, memo=bool(memo_size))
        self._requests = RequestHandler(rules, self._clock.today, self._disclosure, self._retention)

    # ---------------------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """The policy version, e.g. ``2022-06-22``."""
        return self.rules.meta.version

    @property
    def name(self) -> str:
        """The policy's name."""
        return self.rules.meta.name

    def __repr__(self) -> str:
        return f"<Policy {self.name!r} version={self.version} rules={str(self.rules.directory)!r}>"

    def __enter__(self) -> Policy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete this policy's engine rulesets. Questions asked afterwards raise ``EngineError``
        unless the memo already holds the answer."""
        self._disclosure.close()
        self._requests.close()
        self._retention.close()

    def today(self) -> dt.date:
        """Today's date in the policy's time zone (the default ``as_of``)."""
        return self._clock.today()

    # ---------------------------------------------------------------------------------------
    def decide(self, request: DisclosureRequest | Mapping[str, Any]) -> Decision:
        """May these data go to this recipient, for this purpose? Returns an explained ``Decision``.

        ``request`` is a :class:`DisclosureRequest` or a mapping shaped like the ``inputs`` of a
        disclosure case. Malformed requests raise a :class:`~policykit.errors.QueryError`; they are
        never answered with an allow.
        """
        return self._disclosure.decide(request)

    def decide_many(self, requests: Iterable[DisclosureRequest | Mapping[str, Any]]) -> list[Decision]:
        """Answer many questions at once: the decisions of ``decide(request)`` for each request, in
        order. The answers, the memo and the errors are exactly those of ``decide``: the first
        malformed request raises its :class:`~policykit.errors.QueryError`."""
        decide = self.decide
        return [decide(request) for request in requests]

    def handle_request(self, request: DataSubjectRequest | Mapping[str, Any]) -> RequestResponse:
        """Answer a candidate's data-subject request: access, erasure, restriction, portability (also by
        direct transmission), objection or rectification. Returns an explained ``RequestResponse``.

        ``request`` is a :class:`DataSubjectRequest` or a mapping shaped like the ``inputs`` of a
        data-subject-request case. Malformed requests raise a :class:`~policykit.errors.QueryError`.
        """
        return self._requests.handle(request)

    def redact(self, record: BaseModel, request: DisclosureRequest | Mapping[str, Any]) -> Redaction:
        """Cut a record (an instance of a model annotated with ``policykit.Category``) down to the
        fields whose categories may go under ``request``: a disclosure request giving the recipient,
        purpose, operation and context (its ``data_categories``, if any, are replaced by the
        categories the record holds). Returns a :class:`Redaction` with the copy, the ``Decision``
        behind it and every withheld field with its reason and clauses."""
        return redact_record(self, record, request)

    def export(self, record: BaseModel, kind: str = "access", *, as_of: dt.date | None = None) -> dict[str, Any]:
        """A JSON-ready export of a record for an access request (``kind="access"``: every field,
        with the Art. 15(1) information) or a portability request (``kind="portability"``: only the
        data the candidate provided on consent or contract)."""
        return export_record(self, record, kind, as_of=as_of)

    def evaluate_facts(self, facts: Mapping[str, Any], categories: tuple[str, ...]) -> Outcome:
        """Ask the engine directly, bypassing the memo: the outcome for normalised facts (keyed by
        field name, without ``category``) and categories. Used by the analysis tools and tests."""
        return self._disclosure.evaluate_facts(facts, categories)

    def evaluate_values(self, values: tuple[Any, ...], categories: tuple[str, ...]) -> Outcome:
        """Ask the engine directly, bypassing the memo: the outcome for the normalised facts' values in
        the disclosure schema's order and categories in the vocabulary's order. Used by the analysis
        tools."""
        return self._disclosure.evaluate_values(values, categories)

    def evaluate_request_facts(self, facts: Mapping[str, Any], categories: tuple[str, ...]) -> frozenset[int]:
        """Ask the engine directly, bypassing the memo: the indexes of the request rules that fire for
        the request family's facts (without ``category``) and item categories. Used by the analysis
        tools."""
        return self._requests.evaluate_facts(facts, categories)

    def retention(
        self,
        facts: RetentionFacts | Mapping[str, Any],
        *,
        anchor: str | None = None,
        review_interval_months: int | None = None,
    ) -> RetentionVerdict:
        """When must this candidate's record be anonymised? Returns an explained ``RetentionVerdict``.

        ``facts`` is a :class:`RetentionFacts` or a mapping shaped like the ``inputs`` of a retention
        case. ``anchor`` (``latest_application`` or ``latest_application_or_process_closed``, A-04) and
        ``review_interval_months`` (A-33) override the policy's parameters for this call. Bad facts
        raise a :class:`~policykit.errors.QueryError` naming the field; nothing is silently ignored.
        """
        return self._retention.retention(facts, anchor=anchor, review_interval_months=review_interval_months)

    def evaluate_retention_facts(self, facts: Mapping[str, bool]) -> RetentionOutcome:
        """Ask the engine directly, bypassing the memo: the retention outcome for yes/no facts keyed by
        field name (``_ruleset.facts.retention_schema``). Used by the analysis tools and tests."""
        return self._retention.evaluate_facts(facts)

    def retention_memo_info(self) -> dict[str, int]:
        """Retention memo statistics: ``size``, ``hits``, ``misses``."""
        return self._retention.memo_info()

    # ---------------------------------------------------------------------------------------
    def anonymise(self, record: M) -> Anonymised[M]:
        """A copy of ``record`` (a pydantic model annotated with :class:`~policykit.Category`) with the
        identifying set erased, and a report of what was erased and why, citing the policy.
        """
        return anonymise_record(record, self.rules)

    def sweep(self, db: Any, **options: Any) -> SweepReport:
        """Run the retention sweep with this policy: :func:`policykit.sweep` (same options)."""
        return sweep(db, policy=self, **options)

    def memo_info(self) -> dict[str, int]:
        """Memo statistics: ``size``, ``max_size``, ``hits``, ``misses``."""
        return self._disclosure.memo_info()

    def clear_memo(self) -> None:
        """Forget every memoised outcome (the next questions go to the engine)."""
        self._disclosure.clear_memo()
        self._retention.clear_memo()


def load_policy(rules_dir: str | Path | None = None, *, memo_size: int = 65_536) -> Policy:
    """Load a policy: the bundled policy, or the rules directory at ``rules_dir``.

    Every rule file is checked; a problem raises a :class:`~policykit.errors.DefinitionError` that
    names the file, the line and the nearest valid term.
    """
    return Policy(load_rules(rules_dir), memo_size=memo_size)
