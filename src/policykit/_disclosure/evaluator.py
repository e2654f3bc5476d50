"""The disclosure family's evaluator: ``DisclosureRequest`` in, an explained ``Decision`` out.

A request is checked against the vocabulary and reduced to the normalised facts of the disclosure
schema (``decision.Normaliser``); the engine (the family's own durable-rules ruleset) says which
rules fire for which categories; ``decision.combine`` turns the fired rules into an ``Outcome``. A
bounded memo keyed by the normalised facts sits on top, and every memo entry is an outcome the
engine produced.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Mapping
from typing import Any

from policykit._dates import Clock
from policykit._disclosure.decision import (
    PARSE_EXPECTED,
    PARSE_WHAT,
    Decision,
    DisclosureRequest,
    Normaliser,
    Outcome,
    combine,
    is_validated,
)
from policykit._disclosure.explain import explain_decision
from policykit._engine.adapter import EngineRules
from policykit._engine.context import AnswerContext
from policykit._engine.memo import Memo
from policykit._engine.snapshot import snapshot
from policykit._input import DEFAULT_LIMITS, Limits, check_value, parse_input
from policykit._ruleset.ruleset import RuleSet

__all__ = ["DisclosureEvaluator"]

# a typed request seen before: (a weak reference to it, the day its facts were judged on if they
# depend on the day, its outcome); entries disappear with their requests
COMBINED_SIZE = 65_536  # the most combined outcomes (and interned tuples) a policy keeps
TypedEntry = tuple["weakref.ref[DisclosureRequest]", dt.date | None, Outcome]
# a plain-dict request seen before, by its value snapshot: its memo key (and the day, if dated)
MappingEntry = int | tuple[int, dt.date]


class DisclosureEvaluator:
    """The disclosure rules of one rule set compiled into a private engine ruleset, with a bounded memo.

    ``memo_size`` bounds the memo of outcomes by normalised facts; 0 turns the memo off, so every
    question goes to the engine.
    """

    def __init__(self, rules: RuleSet, clock: Clock, *, memo_size: int = 65_536) -> None:
        self.rules = rules
        self.clock = clock
        vocab = rules.vocabulary
        disclosure = rules.disclosure
        self._context: AnswerContext[Decision] = AnswerContext(rules, clock.today, explain_decision)
        self._zone = rules.parameters.timezone
        self._parse_context = {"timezone": self._zone}  # read by the validators, never changed
        self.normaliser = Normaliser(rules)
        self.fact_names = self.normaliser.fact_names
        self.engine = EngineRules(
            f"disclosure_{rules.fingerprint}",
            [r.condition for r in disclosure.rules],
            disclosure.facts,
            vocab.ids("data_categories"),
        )
        self._categories = vocab.ids("data_categories")
        engine_domains = [f.domain for f in self.engine._fields]
        if self.engine.field_names != self.fact_names or engine_domains != [
            disclosure.facts[name].domain for name in self.fact_names
        ]:  # pragma: no cover - both are read from the same schema
            raise AssertionError("the engine's facts and the memo key's disagree")
        self._default_deny = rules.citations.of("default_deny")
        self._purpose_clauses = {p.id: p.clause for p in vocab.purposes}
        self._kind_clauses = {k.id: k.clause for k in vocab.recipient_kinds}
        self._purpose_at = self.fact_names.index("purpose")
        self._kind_at = self.fact_names.index("recipient.kind")
        self._memo_size = memo_size
        self._memo: Memo[int, Outcome] = Memo(memo_size)
        # requests already answered, by identity (validated typed requests, while they live) or by the
        # value snapshot of a plain dict (``_engine.snapshot``: never by its repr), for callers that
        # ask the same request again; entries are small (a parsed request is not kept)
        self._by_id: Memo[int, TypedEntry] = Memo(memo_size)
        self._by_snapshot: Memo[tuple[Any, ...], MappingEntry] = Memo(memo_size)
        # outcomes by the rules that fired (many facts fire the same rules): saves re-combining what
        # the engine answered; a pure function of the engine's answer, so kept even without a memo.
        # Sized for every pattern a policy's questions fire, not for a share of them: its entries are
        # dropped oldest first, so a table smaller than the patterns in use drops each one shortly
        # before it is needed again (the benchmark's 48,000 questions fire 16,936 patterns; at
        # 16,384 entries two cold questions in three were recombined)
        self._combined: Memo[Any, Outcome] = Memo(COMBINED_SIZE)
        # equal tuples (facts, categories, reasons, rule ids...) shared by memo entries and outcomes
        self._interned: Memo[Any, Any] = Memo(COMBINED_SIZE)
        self._hits = 0
        self._misses = 0
        # bounds on the questions, checked before they are expanded (the policy's limits)
        self.limits: Limits = DEFAULT_LIMITS

    def close(self) -> None:
        """Delete the engine ruleset."""
        self.engine.close()

    def decide(self, request: DisclosureRequest | Mapping[str, Any]) -> Decision:
        """The decision for ``request`` (see ``Policy.decide``)."""
        if type(request) is DisclosureRequest:
            entry = self._by_id.get(id(request))
            if entry is not None and entry[0]() is request and (entry[1] is None or entry[1] == self.clock.today()):
                self._hits += 1
                return Decision(entry[2], request, self._context)
        today = self.clock.today
        snap = None
        if type(request) is DisclosureRequest:
            # a request made without validation (model_construct, model_copy(update=...)) is
            # validated now, and only the validated copy is remembered
            req = request if is_validated(request) else DisclosureRequest.parse(request, timezone=self._zone)
        else:
            if type(request) is dict and self._memo_size > 0:
                # the value snapshot, never the repr: None for anything whose value is not its content
                snap = snapshot(request)
                if snap is not None:
                    known = self._by_snapshot.get(snap)
                    if known is not None:
                        if isinstance(known, int):
                            outcome = self._memo.get(known)
                        elif known[1] == today():
                            outcome = self._memo.get(known[0])
                        else:
                            outcome = None
                        if outcome is not None:
                            self._hits += 1
                            return Decision(outcome, None, self._context, (request, snap))
            check_value(request, self.limits)  # size, depth and string length, before anything expands
            if type(request) is dict:  # what DisclosureRequest.parse does for a dict, with the context made once
                req = parse_input(DisclosureRequest, request, what=PARSE_WHAT, expected=PARSE_EXPECTED,
                                  context=self._parse_context)
            else:
                req = DisclosureRequest.parse(request, timezone=self._zone)
            # remembered only if the mapping held, after validation, the value that was validated
            if snap is not None and snapshot(request) != snap:
                snap = None
        normaliser = self.normaliser
        normaliser.check(req)
        dated = normaliser.dated(req)
        day = today() if dated or req.as_of is None else req.as_of
        key = normaliser.key(req, day)
        outcome = self._memo.get(key)
        if outcome is None:
            self._misses += 1
            outcome = self.evaluate_key(key)
            self._memo.put(key, outcome)
        else:
            self._hits += 1
        if self._memo_size > 0:
            self._remember_typed(req, day if dated else None, outcome)
            if snap is not None:
                self._by_snapshot.put(snap, (key, day) if dated else key)
        return Decision(outcome, req, self._context)

    def evaluate_facts(self, facts: Mapping[str, Any], categories: tuple[str, ...]) -> Outcome:
        """Ask the engine directly, bypassing the memo: the outcome for normalised facts (keyed by
        field name, without ``category``) and categories."""
        key = tuple(facts[name] for name in self.fact_names)
        wanted = set(categories)
        return self.evaluate_values(key, tuple(c for c in self._categories if c in wanted))

    def evaluate_key(self, key: int) -> Outcome:
        """The engine's outcome for a memo key (``Normaliser.key``): its facts part is the engine's
        mixed-radix number of the facts (the same fields and domains, in the same order)."""
        categories = self.normaliser.categories_of(key)
        _mask, answer, values = self.engine.evaluate_radix(key >> self.normaliser.category_bits, categories)
        return self._outcome(answer, values, categories)

    def evaluate_values(self, key: tuple[Any, ...], categories: tuple[str, ...]) -> Outcome:
        """The engine's outcome for the facts' values in schema order and categories in vocabulary order."""
        return self._outcome(self.engine.evaluate_values(key, categories), key, categories)

    def _outcome(self, answer: list[Any], key: tuple[Any, ...], categories: tuple[str, ...]) -> Outcome:
        # the outcome is a function of the (policy rule, categories) pairs that fired (combine orders
        # them by index), the categories and two clauses: keyed by the OR of the pairs' bits, an
        # integer. (Keyed by the compiled pieces instead, questions that fire different pieces of the
        # same rules would each need their own entry: on the benchmark's 48,000 questions that was a
        # fifth more recombining.)
        bits = 0
        for rule in answer:
            bits |= rule.answer_bit
        purpose_clause = self._purpose_clauses.get(key[self._purpose_at])
        kind_clause = self._kind_clauses.get(key[self._kind_at])
        combined_key = (bits, categories, purpose_clause, kind_clause)
        outcome = self._combined.get(combined_key)
        if outcome is None:
            interned = self._interned
            fired = tuple((r.rule_index, r.categories) for r in answer)
            self._combined.make_room()
            interned.make_room()
            combined_key = (bits, interned.setdefault(categories, categories), purpose_clause, kind_clause)
            outcome = combine(
                self.rules.disclosure.rules, fired, categories, purpose_clause, kind_clause,
                default_deny=self._default_deny, intern=interned,
            )
            self._combined[combined_key] = outcome
        return outcome

    def _remember_typed(self, request: DisclosureRequest, day: dt.date | None, outcome: Outcome) -> None:
        key = id(request)
        by_id = self._by_id

        def forget(ref: weakref.ref[DisclosureRequest]) -> None:
            entry = by_id.get(key)
            if entry is not None and entry[0] is ref:
                del by_id[key]

        by_id.put(key, (weakref.ref(request, forget), day, outcome))

    def memo_info(self) -> dict[str, int]:
        """Memo statistics: ``size``, ``max_size``, ``hits``, ``misses``."""
        return {"size": len(self._memo), "max_size": self._memo_size, "hits": self._hits, "misses": self._misses}

    def clear_memo(self) -> None:
        """Forget every remembered outcome and request (the next questions go to the engine)."""
        self._memo.clear()
        self._by_id.clear()
        self._by_snapshot.clear()
