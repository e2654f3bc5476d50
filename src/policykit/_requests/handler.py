"""The data-subject request family's evaluator: ``DataSubjectRequest`` in, an explained ``RequestResponse`` out.

A request is checked against the vocabulary (``response.check_request``), its items are judged one by
one, and it is reduced to the request schema's facts (``response.request_facts``), with the retention
dates from the retention family (``response.evidence_window``) and, for a direct transmission, the
disclosure family's decision. The engine (the family's own durable-rules ruleset) says which rules
fire; a bounded memo remembers that by the facts; the handler combines the fired rules into the
response.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policykit._disclosure.decision import Decision, DisclosureRequest
from policykit._engine.adapter import EngineRules
from policykit._engine.context import AnswerContext
from policykit._engine.memo import Memo
from policykit._requests.letter import write_letter
from policykit._requests.response import (
    DESIGNATED_CONTROLLER,
    DataSubjectRequest,
    Disclosure,
    EvidenceWindow,
    ItemDisposition,
    RequestResponse,
    Retention,
    _Item,
    _objection,
    _restriction_ground,
    _unique,
    check_request,
    evidence_window,
    explain_response,
    request_facts,
    request_items,
)
from policykit._ruleset.quoting import recipient_phrase
from policykit._ruleset.requests import OTHER_ITEM, RESTRICTION_GROUNDS, RequestRule
from policykit._ruleset.ruleset import RuleSet
from policykit.errors import EngineError, did_you_mean

__all__ = ["RequestHandler"]


# the request rules' answers, by facts and item categories
MEMO_SIZE = 16_384

Fired = tuple[tuple[int, frozenset[str] | None], ...]


class RequestHandler:
    """The request rules of one policy compiled into a private engine ruleset, with a bounded memo."""

    def __init__(
        self, rules: RuleSet, today: Callable[[], dt.date], disclosure: Disclosure, retention: Retention
    ) -> None:
        self._rules = rules
        self._disclosure = disclosure
        self._retention = retention
        self._context: AnswerContext[RequestResponse] = AnswerContext(
            rules, today, explain_response, write_letter
        )
        family = rules.requests
        self._fact_names = tuple(n for n in family.facts if n != "category")
        self._categories: tuple[str, ...] = tuple(str(v) for v in family.facts["category"].domain)
        self._engine = EngineRules(
            f"requests_{rules.fingerprint}", [r.condition for r in family.rules], family.facts, self._categories
        )
        self._memo: Memo[tuple[tuple[Any, ...], tuple[str, ...]], Fired] = Memo(MEMO_SIZE)

    def close(self) -> None:
        """Delete the engine ruleset."""
        self._engine.close()

    def fired(self, facts: Mapping[str, Any], categories: Sequence[str]) -> Fired:
        """The rules that fire (rule index, item categories or ``None`` for all), from the memo or the
        engine."""
        wanted = set(categories)
        cats = tuple(c for c in self._categories if c in wanted)
        key = (tuple(facts[n] for n in self._fact_names), cats)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        result = tuple((r.rule_index, r.categories) for r in self._engine.evaluate(facts, cats))
        self._memo.put(key, result)
        return result

    def evaluate_facts(self, facts: Mapping[str, Any], categories: Sequence[str]) -> frozenset[int]:
        """Ask the engine directly, bypassing the memo: the indexes of the rules that fire."""
        return frozenset(r.rule_index for r in self._engine.evaluate(facts, tuple(categories)))

    def handle(self, request: DataSubjectRequest | Mapping[str, Any]) -> RequestResponse:
        """Answer a data-subject request."""
        rules = self._rules
        req = DataSubjectRequest.parse(request, timezone=rules.parameters.timezone)
        check_request(req, rules)
        items = request_items(req, rules)
        window = evidence_window(self._retention, req)
        objection = _objection(req, rules) if req.request == "objection" else None
        notes, cited = _notes(req, items, window, rules)
        if objection is not None:
            # the purposes whose legal basis decided what stops and what continues
            clause_of = {p.id: p.clause for p in rules.vocabulary.purposes if p.clause}
            cited += tuple(clause_of[p] for p in (*objection.stop, *objection.cont) if p in clause_of)
        transmission = "not_requested"
        decision: Decision | None = None
        if req.request == "portability_direct_transmission":
            transmission = "not_feasible" if not req.technically_feasible else "permitted"
        facts = request_facts(req, items, window, objection, transmission)
        dates = {
            "evidence_window_end": window.retain_until,
            "bookkeeping_period_end": window.bookkeeping_retain_until,
        }
        verdict = self._combine(facts, items, dates)
        if transmission == "permitted" and req.recipient is not None:
            decision = _check_transmission(self._disclosure, rules, req, verdict.delivered_categories)
            if decision is not None and not decision.allowed:
                facts["transmission"] = "refused"
                to = recipient_phrase(self._rules, req.recipient.kind, req.recipient.country)
                notes += (
                    f"Direct transmission to {to} is "
                    f"refused by the disclosure rules ({', '.join(decision.reasons)}); the candidate "
                    "receives the data instead.",
                )
                cited += decision.clauses  # the clauses behind the refused transmission
                verdict = self._combine(facts, items, dates)
        return RequestResponse(
            request=req,
            context=self._context,
            outcome=verdict.outcome,
            outcome_rule=verdict.outcome_rule,
            dispositions=verdict.dispositions,
            unaffected=verdict.unaffected,
            request_rules=verdict.request_rules,
            item_rules=verdict.item_rules,
            window=window,
            objection=objection,
            transmission=decision,
            notes=notes,
            cited=_clause_ids(cited, rules),
        )

    def _combine(
        self, facts: Mapping[str, Any], items: Sequence[_Item], dates: Mapping[str, dt.date | None]
    ) -> _Verdict:
        """Combine the fired rules: per item the first item rule decides; the first request rule with
        an outcome decides it; every fired request rule contributes its other effects."""
        family = self._rules.requests
        categories = tuple(dict.fromkeys(i.category for i in items))
        fired = sorted(self.fired(facts, categories), key=lambda f: f[0])
        deciding: dict[str, int] = {}
        request_rules: list[int] = []
        for index, scope in fired:
            rule = family.rules[index]
            if rule.item_rule:
                for c in categories if scope is None else [c for c in categories if c in scope]:
                    deciding.setdefault(c, index)
            elif index not in request_rules:
                request_rules.append(index)
        dispositions: list[ItemDisposition] = []
        unaffected: list[str] = []
        for item in items:
            index_ = deciding.get(item.category)
            if index_ is None:
                unaffected.append(item.name)
                continue
            rule = family.rules[index_]
            e = rule.then
            dispositions.append(
                ItemDisposition(
                    item=item.name, category=item.category, disposition=e.disposition or "",
                    reason=e.reason, refusal_grounds=e.refusal_grounds,
                    until=dates.get(e.until) if e.until else None, until_event=e.until,
                    rule_id=rule.id, clauses=rule.clauses,
                )
            )
        outcome: str | None = None
        outcome_rule = ""
        for index in request_rules:
            e = family.rules[index].then
            if e.outcome is not None:
                outcome = e.outcome
            elif e.outcome_by_items is not None:
                counted = sum(1 for d in dispositions if d.disposition == e.outcome_by_items.count)
                outcome = e.outcome_by_items.resolve(counted, len(dispositions))
            if outcome is not None:
                outcome_rule = family.rules[index].id
                break
        if outcome is None:  # the loader checks that every request gets one; fail closed regardless
            raise EngineError(f"no request rule gave an outcome for the facts {dict(facts)!r}")
        used = sorted({deciding[d.category] for d in dispositions})
        return _Verdict(
            outcome=outcome,
            outcome_rule=outcome_rule,
            dispositions=tuple(dispositions),
            unaffected=tuple(unaffected),
            request_rules=tuple(family.rules[i] for i in request_rules),
            item_rules=tuple(family.rules[i] for i in used),
        )


@dataclass(frozen=True, slots=True)
class _Verdict:
    outcome: str
    outcome_rule: str
    dispositions: tuple[ItemDisposition, ...]
    unaffected: tuple[str, ...]
    request_rules: tuple[RequestRule, ...]
    item_rules: tuple[RequestRule, ...]

    @property
    def delivered_categories(self) -> tuple[str, ...]:
        return _unique([d.category for d in self.dispositions if d.disposition == "deliver"])


def _check_transmission(
    disclosure: Disclosure, rules: RuleSet, req: DataSubjectRequest, delivered: Sequence[str]
) -> Decision | None:
    """Ask the disclosure rules whether the delivered data may go to the designated controller.

    Special-category data are in the scope of Art. 20 only when the candidate provided them with explicit
    consent (the data category's portability scope), so the check records that consent. With no items
    named, the check covers every category the vocabulary counts as portable.
    """
    assert req.recipient is not None
    vocab = rules.vocabulary
    categories = [c for c in delivered if c != OTHER_ITEM] or [
        t.id for t in vocab.data_categories if t.portability == "yes_if_candidate_provided"
    ]
    if not categories:
        return None
    question = DisclosureRequest.parse({
        "operation": "transfer",
        "data_categories": categories,
        "purpose": "respond_to_requests",
        "recipient": {"kind": DESIGNATED_CONTROLLER, "country": req.recipient.country},
        "candidate": {
            "consent_status": req.consent_status,
            "consent_withdrawn_on": req.consent_withdrawn_on,
            "explicit_consent_special_category": True,
            "special_category_relevant": True,
            # this very request is the candidate's portability request naming the controller
            "portability_request_on_file": True,
        },
        "as_of": req.received_on,
    })
    return disclosure.decide(question)


def _clause_ids(ids: Sequence[str], rules: RuleSet) -> tuple[str, ...]:
    """The clause ids among ``ids`` (citations may also name interpretations), without repeats."""
    known = {c.id for c in rules.clauses}
    return _unique([i for i in ids if i in known])


def _notes(
    req: DataSubjectRequest, items: Sequence[_Item], window: EvidenceWindow, rules: RuleSet
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the normalisation did with the request, said plainly, and the ids the sentences cite
    (the answer's clauses include them)."""
    notes: list[str] = []
    cited: list[str] = []
    if not req.written:
        notes.append(f"A request by {req.channel.replace('_', ' ')} is accepted; the policy's 'in writing' "
                     f"is met by {rules.meta.controller.short_name}'s written confirmation (A-03).")
    others = [i.name for i in items if i.category == OTHER_ITEM]
    if others:
        notes.append(f"{', '.join(others)}: not a data category of the policy; judged as an item outside the "
                     "record of the recruitment process.")
    aliased = [f"{i.name} as {i.category}" for i in items if i.category not in (OTHER_ITEM, i.name)]
    if aliased:
        notes.append(f"Judged by category: {', '.join(aliased)}.")
    if req.request == "restriction" and _restriction_ground(req.ground) == "unrecognised":
        notes.append(
            f"The ground {req.ground!r} is not a ground of Art. 18(1)"
            + did_you_mean(req.ground or "", RESTRICTION_GROUNDS)
            + f"; the grounds are {', '.join(RESTRICTION_GROUNDS)}."
        )
    if req.request in ("erasure", "objection") and req.candidate_state in ("active", "evidence_hold"):
        if window.status == "none":
            cited.extend(rules.citations.of("evidence_window"))
            notes.append("No application on or before the day of the request is on file, so there is no "
                         f"evidence window ({rules.citations('evidence_window')} runs from the latest application).")
        elif window.latest_application is not None:
            state = "was still open" if window.status == "open" else "had already ended"
            notes.append(f"Latest application {window.latest_application}: the evidence window runs to "
                         f"{window.retain_until} and {state} when the request was received.")
        else:
            notes.append("The record is held as evidence but no application date is given, so the end "
                         "of the evidence window is unknown.")
    if req.recipient is not None and req.recipient.kind != DESIGNATED_CONTROLLER:
        notes.append(f"The {req.recipient.kind} receives the data as a controller the candidate designates "
                     "(Art. 20(2)), and is checked as one.")
    if req.request in ("portability", "portability_direct_transmission"):
        if req.provided_by_candidate is None:
            notes.append("provided_by_candidate is not given: taken as true unless the sources exclude the "
                         "candidate.")
        if not req.legal_basis:
            cited.extend(rules.citations.of("consent_by_applying"))
            notes.append("legal_basis is not given: data sent with an application rest on the consent given "
                         f"by applying ({rules.citations('consent_by_applying')}).")
    return tuple(notes), tuple(cited)


