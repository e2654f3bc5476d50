"""``load_policy()`` and ``Policy``: the public entry point that answers questions.

A ``Policy`` holds one loaded, checked rule set and the engine rulesets compiled from it. Answers
come from the durable-rules engine; a bounded memo keyed by the normalised facts sits on top, and
every memo entry is an outcome the engine produced.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dateutil import tz

from policykit._disclosure.decision import (
    Decision,
    DisclosureRequest,
    Normaliser,
    Outcome,
    combine,
    is_validated,
)
from policykit._engine.adapter import EngineRules
from policykit._records.anonymise import Anonymised, anonymise_record
from policykit._records.export import export_record
from policykit._records.redact import Redaction, redact_record
from policykit._requests.response import DataSubjectRequest, RequestHandler, RequestResponse
from policykit._retention.verdict import (
    RetentionFacts,
    RetentionOutcome,
    RetentionVerdict,
    combine_retention,
    compute_verdict,
    read_facts,
)
from policykit._ruleset.loading import _PARAMETER_CHOICES, Parameters, RuleSet, load_rules
from policykit._snapshot import snapshot
from policykit._sweep.job import SweepReport, sweep
from policykit.errors import RequestValidationError, did_you_mean

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["Policy", "load_policy"]

M = TypeVar("M", bound="BaseModel")
# a typed request seen before: (a weak reference to it, the day its facts were judged on if they
# depend on the day, its outcome); entries disappear with their requests
TypedEntry = tuple["weakref.ref[DisclosureRequest]", dt.date | None, Outcome]
# a plain-dict request seen before, by its value snapshot: its memo key (and the day, if dated)
MappingEntry = int | tuple[int, dt.date]


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
        vocab = rules.vocabulary
        disclosure = rules.disclosure
        self._zone = tz.gettz(rules.parameters.timezone)
        self._today: tuple[float, dt.date] = (0.0, dt.date.min)
        self._normaliser = Normaliser(rules)
        self._fact_names = self._normaliser.fact_names
        self._disclosure_engine = EngineRules(
            f"disclosure_{rules.fingerprint}",
            [r.condition for r in disclosure.rules],
            disclosure.facts,
            vocab.ids("data_categories"),
        )
        self._purpose_clauses = {p.id: p.clause for p in vocab.purposes}
        self._kind_clauses = {k.id: k.clause for k in vocab.recipient_kinds}
        self._purpose_at = self._fact_names.index("purpose")
        self._kind_at = self._fact_names.index("recipient.kind")
        self._memo: dict[int, Outcome] = {}
        self._combined: dict[Any, Outcome] = {}
        # equal tuples (facts, categories, reasons, rule ids...) shared by memo entries and outcomes
        self._interned: dict[Any, Any] = {}
        # requests already answered, by identity (validated typed requests, while they live) or by
        # the value snapshot of a plain dict (``_snapshot``: never by its repr)
        self._by_id: dict[int, TypedEntry] = {}
        self._by_snapshot: dict[tuple[Any, ...], MappingEntry] = {}
        self._memo_size = memo_size
        # answers per live request object and per plain-dict snapshot, for callers that ask the same
        # request again; entries are small (a parsed request is not kept)
        self._request_cache_size = memo_size
        # outcomes by the rules that fired (many facts fire the same rules): saves re-combining what
        # the engine answered; a pure function of the engine's answer, so kept even without a memo
        self._combined_size = 16_384
        self._memo_lock = threading.Lock()
        self._memo_hits = 0
        self._memo_misses = 0
        self._requests = RequestHandler(self)
        retention = rules.retention
        self._retention_fact_names = tuple(retention.facts)
        self._retention_engine = EngineRules(
            f"retention_{rules.fingerprint}", [r.when for r in retention.rules], retention.facts, ()
        )
        # keyed by the yes/no facts alone: at most 2**len(facts) entries, so it needs no eviction
        self._retention_memo: dict[tuple[bool, ...], RetentionOutcome] = {}
        self._retention_hits = 0
        self._retention_misses = 0

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
        self._disclosure_engine.close()
        self._requests.close()
        self._retention_engine.close()

    def today(self) -> dt.date:
        """Today's date in the policy's time zone (the default ``as_of``)."""
        now = time.time()
        valid_until, day = self._today
        if now < valid_until:
            return day
        local = dt.datetime.fromtimestamp(now, self._zone)
        day = local.date()
        # valid until the next local midnight (DST-safe: computed in the zone, then converted)
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self._zone)
        self._today = (midnight.timestamp(), day)
        return day

    # ---------------------------------------------------------------------------------------
    def decide(self, request: DisclosureRequest | Mapping[str, Any]) -> Decision:
        """May these data go to this recipient, for this purpose? Returns an explained ``Decision``.

        ``request`` is a :class:`DisclosureRequest` or a mapping shaped like the ``inputs`` of a
        disclosure case. Malformed requests raise a :class:`~policykit.errors.QueryError`; they are
        never answered with an allow.
        """
        snap = None
        if type(request) is DisclosureRequest:
            entry = self._by_id.get(id(request))
            if entry is not None and entry[0]() is request and (entry[1] is None or entry[1] == self.today()):
                self._memo_hits += 1
                return Decision(entry[2], request, self)
            # a request made without validation (model_construct, model_copy(update=...)) is
            # validated now, and only the validated copy is remembered
            req = request if is_validated(request) else DisclosureRequest.parse(request)
        else:
            if type(request) is dict and self._memo_size > 0:
                # the value snapshot, never the repr: None for anything whose value is not its content
                snap = snapshot(request)
                if snap is not None:
                    known = self._by_snapshot.get(snap)
                    if known is not None:
                        if isinstance(known, int):
                            outcome = self._memo.get(known)
                        elif known[1] == self.today():
                            outcome = self._memo.get(known[0])
                        else:
                            outcome = None
                        if outcome is not None:
                            self._memo_hits += 1
                            return Decision(outcome, None, self, (request, snap))
            req = DisclosureRequest.parse(request)
            # remembered only if the mapping held, after validation, the value that was validated
            if snap is not None and snapshot(request) != snap:
                snap = None
        normaliser = self._normaliser
        normaliser.check(req)
        dated = normaliser.dated(req)
        day = self.today() if dated or req.as_of is None else req.as_of
        key = normaliser.key(req, day)
        outcome = self._memo.get(key)
        if outcome is None:
            self._memo_misses += 1
            outcome = self._evaluate(*normaliser.decode(key))
            self._remember(key, outcome)
        else:
            self._memo_hits += 1
        if self._memo_size > 0:
            self._remember_typed(req, day if dated else None, outcome)
            if snap is not None:
                self._remember_mapping(snap, (key, day) if dated else key)
        return Decision(outcome, req, self)

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
        key = tuple(facts[name] for name in self._fact_names)
        cats = tuple(c for c in self.rules.vocabulary.ids("data_categories") if c in set(categories))
        return self._evaluate(key, cats)

    def _evaluate(self, key: tuple[Any, ...], categories: tuple[str, ...]) -> Outcome:
        fired = tuple(
            (r.rule_index, r.categories)
            for r in self._disclosure_engine.evaluate_values(key, categories)
        )
        purpose_clause = self._purpose_clauses.get(key[self._purpose_at])
        kind_clause = self._kind_clauses.get(key[self._kind_at])
        interned = self._interned
        combined_key = (interned.setdefault(fired, fired), interned.setdefault(categories, categories),
                        purpose_clause, kind_clause)
        outcome = self._combined.get(combined_key)
        if outcome is None:
            _bound(self._combined, self._combined_size)
            _bound(self._interned, self._combined_size)
            outcome = combine(
                self.rules.disclosure.rules, fired, categories, purpose_clause, kind_clause,
                intern=self._interned,
            )
            self._combined[combined_key] = outcome
        return outcome

    def _remember(self, key: int, outcome: Outcome) -> None:
        if self._memo_size <= 0:
            return
        with self._memo_lock:
            _bound(self._memo, self._memo_size)
            self._memo[key] = outcome

    def _remember_typed(self, request: DisclosureRequest, day: dt.date | None, outcome: Outcome) -> None:
        key = id(request)
        by_id = self._by_id

        def forget(ref: weakref.ref[DisclosureRequest]) -> None:
            entry = by_id.get(key)
            if entry is not None and entry[0] is ref:
                del by_id[key]

        with self._memo_lock:
            _bound(by_id, self._request_cache_size)
            by_id[key] = (weakref.ref(request, forget), day, outcome)

    def _remember_mapping(self, snap: tuple[Any, ...], entry: MappingEntry) -> None:
        with self._memo_lock:
            _bound(self._by_snapshot, self._request_cache_size)
            self._by_snapshot[snap] = entry

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
        parsed = RetentionFacts.parse(facts)
        params = self._retention_parameters(anchor, review_interval_months)
        reading = read_facts(parsed, self.rules.retention, params, self.today())
        key = tuple(reading.facts[name] for name in self._retention_fact_names)
        outcome = self._retention_memo.get(key)
        if outcome is None:
            self._retention_misses += 1
            outcome = self._evaluate_retention(key)
            if self._memo_size:
                self._retention_memo[key] = outcome
        else:
            self._retention_hits += 1
        return compute_verdict(parsed, reading, outcome, rules=self.rules, params=params, policy=self)

    def evaluate_retention_facts(self, facts: Mapping[str, bool]) -> RetentionOutcome:
        """Ask the engine directly, bypassing the memo: the retention outcome for yes/no facts keyed by
        field name (``_ruleset.facts.retention_schema``). Used by the analysis tools and tests."""
        return self._evaluate_retention(tuple(bool(facts[name]) for name in self._retention_fact_names))

    def _evaluate_retention(self, key: tuple[bool, ...]) -> RetentionOutcome:
        facts = dict(zip(self._retention_fact_names, key, strict=True))
        fired = self._retention_engine.evaluate(facts, ())
        return combine_retention(self.rules.retention, (r.rule_index for r in fired))

    def _retention_parameters(self, anchor: str | None, review_interval_months: int | None) -> Parameters:
        params = self.rules.parameters
        update: dict[str, Any] = {}
        if anchor is not None:
            choices = _PARAMETER_CHOICES["retention_anchor"]
            if anchor not in choices:
                raise RequestValidationError(
                    f"anchor: expected one of {', '.join(choices)}, got {anchor!r}" + did_you_mean(anchor, choices)
                )
            update["retention_anchor"] = anchor
        if review_interval_months is not None:
            if isinstance(review_interval_months, bool) or not isinstance(review_interval_months, int) or not (
                1 <= review_interval_months <= 120
            ):
                raise RequestValidationError(
                    f"review_interval_months: expected a whole number of months from 1 to 120, got "
                    f"{review_interval_months!r}"
                )
            update["review_interval_months"] = review_interval_months
        return params.model_copy(update=update) if update else params

    def retention_memo_info(self) -> dict[str, int]:
        """Retention memo statistics: ``size``, ``hits``, ``misses``."""
        return {"size": len(self._retention_memo), "hits": self._retention_hits, "misses": self._retention_misses}

    # ---------------------------------------------------------------------------------------
    def anonymise(self, record: M) -> Anonymised[M]:
        """A copy of ``record`` (a pydantic model annotated with :class:`~policykit.Category`) with the
        identifying set of model.md §2 erased, and a report of what was erased and why (P-RET-4, A-07).
        """
        return anonymise_record(record, self.rules)

    def sweep(self, db: Any, **options: Any) -> SweepReport:
        """Run the retention sweep with this policy: :func:`policykit.sweep` (same options)."""
        return sweep(db, policy=self, **options)

    def memo_info(self) -> dict[str, int]:
        """Memo statistics: ``size``, ``max_size``, ``hits``, ``misses``."""
        return {
            "size": len(self._memo),
            "max_size": self._memo_size,
            "hits": self._memo_hits,
            "misses": self._memo_misses,
        }

    def clear_memo(self) -> None:
        """Forget every memoised outcome (the next questions go to the engine)."""
        with self._memo_lock:
            self._memo.clear()
            self._by_id.clear()
            self._by_snapshot.clear()
            self._retention_memo.clear()


def _bound(table: dict[Any, Any], size: int) -> None:
    """Make room in a bounded table: drop the oldest tenth when it is full (insertion order is age)."""
    if len(table) >= size:
        for old in list(table)[: max(1, size // 10)]:
            table.pop(old, None)


def load_policy(rules_dir: str | Path | None = None, *, memo_size: int = 65_536) -> Policy:
    """Load a policy: the bundled We Select policy, or the rules directory at ``rules_dir``.

    Every rule file is checked; a problem raises a :class:`~policykit.errors.DefinitionError` that
    names the file, the line and the nearest valid term.
    """
    return Policy(load_rules(rules_dir), memo_size=memo_size)
