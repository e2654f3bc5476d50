"""``load_policy()`` and ``Policy``: the public entry point that answers questions.

A ``Policy`` is a thin front over one loaded, checked rule set: it composes the three families'
evaluators (disclosure, retention, data-subject requests), each with its own engine ruleset and
memo, and the record helpers (redaction, exports, anonymisation) and the sweep that build on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from policykit._dates import Clock
from policykit._disclosure.decision import Decision, DisclosureRequest, Outcome
from policykit._disclosure.evaluator import DisclosureEvaluator
from policykit._guard import guarded, unexpected
from policykit._input import DEFAULT_LIMITS, Limits, check_value
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
from policykit.errors import PolicyKitError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["Policy", "load_policy", "set_log_hook"]

# what attaches a decision log to a policy: registered by policykit.log, which sits above this module
# (it replays logs with policies), so that this module never imports it
_log_hook: Callable[[Policy, Any], object] | None = None


def set_log_hook(hook: Callable[[Policy, Any], object]) -> None:
    """Register the function that gives a policy its decision log (``policykit.log`` does)."""
    global _log_hook  # noqa: PLW0603 - one registration, when policykit.log is imported
    _log_hook = hook

M = TypeVar("M", bound="BaseModel")


class Policy:
    """One loaded policy: ask it ``decide(request)``, ``retention(facts)``, ``anonymise(record)``.

    Policies are independent: each has its own engine rulesets and memo, so several policies (or
    versions, or copies of one) can live in one process. A policy is safe to share between threads.
    Use it as a context manager, or call :meth:`close`, to free its engine rulesets early.
    ``memo_size`` bounds the memo of outcomes by normalised facts; 0 turns the memo off, so every
    question goes to the engine. ``limits`` (:class:`~policykit.Limits`) bounds the size and depth of
    the questions it accepts. Every public method lets only :class:`~policykit.errors.PolicyKitError`
    out: anything else Python raises while answering becomes an :class:`~policykit.errors.InternalError`.
    """

    def __init__(
        self, rules: RuleSet, *, memo_size: int = 65_536, decision_log: Any = None, limits: Limits | None = None
    ) -> None:
        self.rules = rules
        self.decision_log: Any = None  # a policykit.log.DecisionLog when the policy has one
        # bounds on the size and depth of questions, checked before they are expanded
        self.limits = limits or DEFAULT_LIMITS
        self._clock = Clock(rules.parameters.timezone)
        self._disclosure = DisclosureEvaluator(rules, self._clock, memo_size=memo_size)
        self._disclosure.limits = self.limits
        self._retention = RetentionEvaluator(rules, self._clock, memo=bool(memo_size))
        # a request states the candidate's state itself: no lapse of consent is inferred from its dates
        self._requests = RequestHandler(
            rules, self._clock.today, self._disclosure, self._retention.without_lapse()
        )
        if decision_log is not None:
            # the log's hook replaces the answering methods of this instance only: a policy without a
            # log runs the methods below unchanged
            if _log_hook is None:  # pragma: no cover - importing policykit registers it
                raise RuntimeError("the decision log is not available: import policykit first")
            _log_hook(self, decision_log)

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
    def decide(
        self, request: DisclosureRequest | Mapping[str, Any], context: Mapping[str, Any] | None = None
    ) -> Decision:
        """May these data go to this recipient, for this purpose? Returns an explained ``Decision``.

        ``request`` is a :class:`DisclosureRequest` or a mapping shaped like the ``inputs`` of a
        disclosure case. Malformed requests raise a :class:`~policykit.errors.QueryError`; they are
        never answered with an allow. ``context`` (``{"service": ..., "subject_ref": ...}``) goes
        into the decision log, if the policy has one (``load_policy(decision_log=...)``).
        """
        try:
            return self._disclosure.decide(request)
        except PolicyKitError:
            raise
        except Exception as exc:  # only PolicyKitError leaves the API
            raise unexpected("decide", exc) from exc

    @guarded
    def decide_many(
        self, requests: Iterable[DisclosureRequest | Mapping[str, Any]], context: Mapping[str, Any] | None = None
    ) -> list[Decision]:
        """Answer many questions at once: the decisions of ``decide(request)`` for each request, in
        order. The answers, the memo and the errors are exactly those of ``decide``: the first
        malformed request raises its :class:`~policykit.errors.QueryError`."""
        decide = self.decide
        return [decide(request) for request in requests]

    @guarded
    def handle_request(
        self, request: DataSubjectRequest | Mapping[str, Any], context: Mapping[str, Any] | None = None
    ) -> RequestResponse:
        """Answer a candidate's data-subject request: access, erasure, restriction, portability (also by
        direct transmission), objection or rectification. Returns an explained ``RequestResponse``.

        ``request`` is a :class:`DataSubjectRequest` or a mapping shaped like the ``inputs`` of a
        data-subject-request case. Malformed requests raise a :class:`~policykit.errors.QueryError`.
        """
        if not isinstance(request, DataSubjectRequest):
            check_value(request, self.limits)
        return self._requests.handle(request)

    @guarded
    def redact(self, record: BaseModel, request: DisclosureRequest | Mapping[str, Any]) -> Redaction:
        """Cut a record (an instance of a model annotated with ``policykit.Category``) down to the
        fields whose categories may go under ``request``: a disclosure request giving the recipient,
        purpose, operation and context (its ``data_categories``, if any, are replaced by the
        categories the record holds). Returns a :class:`Redaction` with the copy, the ``Decision``
        behind it and every withheld field with its reason and clauses."""
        if not isinstance(request, DisclosureRequest):
            check_value(request, self.limits)
        return redact_record(self, record, request)

    @guarded
    def export(self, record: BaseModel, kind: str = "access", *, as_of: dt.date | None = None) -> dict[str, Any]:
        """A JSON-ready export of a record for an access request (``kind="access"``: every field,
        with the Art. 15(1) information) or a portability request (``kind="portability"``: only the
        data the candidate provided on consent or contract)."""
        return export_record(self, record, kind, as_of=as_of)

    @guarded
    def evaluate_facts(self, facts: Mapping[str, Any], categories: tuple[str, ...]) -> Outcome:
        """Ask the engine directly, bypassing the memo: the outcome for normalised facts (keyed by
        field name, without ``category``) and categories. Used by the analysis tools and tests."""
        return self._disclosure.evaluate_facts(facts, categories)

    @guarded
    def evaluate_values(self, values: tuple[Any, ...], categories: tuple[str, ...]) -> Outcome:
        """Ask the engine directly, bypassing the memo: the outcome for the normalised facts' values in
        the disclosure schema's order and categories in the vocabulary's order. Used by the analysis
        tools."""
        return self._disclosure.evaluate_values(values, categories)

    @guarded
    def evaluate_request_facts(self, facts: Mapping[str, Any], categories: tuple[str, ...]) -> frozenset[int]:
        """Ask the engine directly, bypassing the memo: the indexes of the request rules that fire for
        the request family's facts (without ``category``) and item categories. Used by the analysis
        tools."""
        return self._requests.evaluate_facts(facts, categories)

    @guarded
    def retention(
        self,
        facts: RetentionFacts | Mapping[str, Any],
        *,
        anchor: str | None = None,
        review_interval_months: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> RetentionVerdict:
        """When must this candidate's record be anonymised? Returns an explained ``RetentionVerdict``.

        ``facts`` is a :class:`RetentionFacts` or a mapping shaped like the ``inputs`` of a retention
        case. ``anchor`` (``latest_application`` or ``latest_application_or_process_closed``, A-04) and
        ``review_interval_months`` (A-33) override the policy's parameters for this call. Bad facts
        raise a :class:`~policykit.errors.QueryError` naming the field; nothing is silently ignored.
        """
        if not isinstance(facts, RetentionFacts):
            check_value(facts, self.limits, "the retention facts")
        return self._retention.retention(facts, anchor=anchor, review_interval_months=review_interval_months)

    @guarded
    def evaluate_retention_facts(self, facts: Mapping[str, bool]) -> RetentionOutcome:
        """Ask the engine directly, bypassing the memo: the retention outcome for yes/no facts keyed by
        field name (``_ruleset.facts.retention_schema``). Used by the analysis tools and tests."""
        return self._retention.evaluate_facts(facts)

    def retention_memo_info(self) -> dict[str, int]:
        """Retention memo statistics: ``size``, ``hits``, ``misses``."""
        return self._retention.memo_info()

    # ---------------------------------------------------------------------------------------
    @guarded
    def anonymise(self, record: M) -> Anonymised[M]:
        """A copy of ``record`` (a pydantic model annotated with :class:`~policykit.Category`) with the
        identifying set erased, and a report of what was erased and why, citing the policy.
        """
        return anonymise_record(record, self.rules)

    @guarded
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


def load_policy(
    rules_dir: str | Path | None = None,
    *,
    memo_size: int = 65_536,
    decision_log: Any = None,
    limits: Limits | None = None,
    follow_symlinks: bool = False,
) -> Policy:
    """Load a policy: the bundled policy, or the rules directory at ``rules_dir``.

    Every rule file is checked; a problem raises a :class:`~policykit.errors.DefinitionError` that
    names the file, the line and the nearest valid term. ``decision_log`` records every answer: a
    path ending in ``.jsonl``, a SQLAlchemy URL, or a :class:`~policykit.DecisionLog`
    (``docs/howto/decision-log.md``); :meth:`Policy.close` flushes it. Rule files are read within
    ``limits`` (:class:`~policykit.Limits`, which also bound the policy's questions); a rule file that
    is a symbolic link is refused unless ``follow_symlinks`` is true.
    """
    try:
        return Policy(load_rules(rules_dir, limits=limits, follow_symlinks=follow_symlinks),
                      memo_size=memo_size, decision_log=decision_log, limits=limits)
    except PolicyKitError:
        raise
    except Exception as exc:  # only PolicyKitError leaves the API
        raise unexpected("load_policy", exc) from exc
