"""Plain-English explanations of decisions, citing and quoting the policy's clauses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from policykit._disclosure.decision import Decision, superseded
from policykit._ruleset.conditions import fields_of, partial, render
from policykit._ruleset.quoting import category_title, purpose_phrase, quote_clauses, recipient_phrase, wrap
from policykit.errors import did_you_mean, short_repr

if TYPE_CHECKING:
    from policykit._ruleset.loading import Rule
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["explain_decision"]

def _cut(text: str, limit: int = 80) -> str:
    """Free text from a request, cut to a readable length."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _notes(decision: Decision, rules: RuleSet, today: Callable[[], dt.date]) -> list[str]:
    """What the normalisation did with the request, said plainly."""
    vocab = rules.vocabulary
    req = decision.request
    r, c = req.recipient, req.candidate
    as_of = req.as_of or today()
    notes: list[str] = []
    if r.receives_copy and req.operation in ("show", "disclose"):
        notes.append(f"A {req.operation} that leaves a copy with the recipient counts as a transfer.")
    if req.purpose not in vocab.ids("purposes") and req.purpose not in vocab.ids("out_of_policy_purposes"):
        notes.append(
            f"The purpose {short_repr(req.purpose)} is not a purpose of the policy"
            + did_you_mean(req.purpose, vocab.ids("purposes"))
            + "; it is treated as an unlisted purpose, which no rule permits."
        )
    country = vocab.country(r.country)
    if country is not None:
        where = "inside" if country.in_eea else "outside"
        notes.append(f"{country.name} ({country.code}) is {where} the EU/EEA.")
    if r.gdpr_transfer_mechanism:
        notes.append(
            f"The transfer mechanism {r.gdpr_transfer_mechanism!r} does not substitute for storage "
            f"inside the EU/EEA under this policy ({rules.citations('storage_in_eea')})."
        )
    for label, flag, on in (
        ("withdrawal of consent", c.consent_status == "withdrawn" or c.consent_withdrawn_on is not None,
         c.consent_withdrawn_on),
        ("objection", c.objection_in_writing or c.objection_received_on is not None, c.objection_received_on),
    ):
        if not flag or on is None:
            continue
        if on > as_of:
            notes.append(
                f"The {label} on {on} comes after {as_of}, the date of the disclosure, so it does not count yet."
            )
        elif superseded(on, as_of, c.latest_application):
            notes.append(
                f"The {label} on {on} was superseded by the application on {c.latest_application}: "
                f"a new application is fresh consent ({rules.citations('fresh_consent')})."
            )
        else:
            notes.append(f"The {label} on {on} is in effect on {as_of}.")
    notes.extend(_inert_inputs(decision, rules))
    if c.consent_to_sale:
        notes.append(
            f"The candidate's consent to a sale has no effect: personal data are never sold "
            f"({rules.citations('never_sold')})."
        )
    if req.operation == "share_aggregate" or "aggregated_statistics" in req.data_categories:
        size = "unknown" if req.min_cell_size is None else str(req.min_cell_size)
        notes.append(
            f"Smallest cell: {size}; the policy requires at least "
            f"{rules.parameters.aggregate_min_cell} and that no one can be singled out."
        )
    return notes


# recipient inputs that only some recipient kinds' rules test: input name -> fact field
_RECIPIENT_INPUTS = (
    ("role", "recipient.acts_as_controller"),
    ("active_assignment", "recipient.active_assignment"),
    ("relevant_to_candidate_competence", "recipient.relevant_to_candidate_competence"),
    ("specific_process_requirement", "recipient.specific_process_requirement"),
    ("legitimate_need_kul", "recipient.legitimate_need_kul"),
    ("legal_obligation", "recipient.legal_obligation"),
    ("legal_obligation_jurisdiction", "recipient.legal_obligation_jurisdiction"),
)


def _inert_inputs(decision: Decision, rules: RuleSet) -> list[str]:
    """The recipient inputs the question gives that no rule tests for its recipient kind: they
    cannot change the answer, and the explanation says so rather than passing over them."""
    r = decision.request.recipient
    kind = r.kind
    tested: set[str] = set()
    for rule in rules.disclosure.rules:
        tested |= fields_of(partial(rule.condition, {"recipient.kind": kind}, rules.disclosure.facts))
    notes: list[str] = []
    for name, fact in _RECIPIENT_INPUTS:
        value = getattr(r, name)
        if value in (None, False, "") or fact in tested:
            continue
        notes.append(
            f"recipient.{name} = {value} cannot change the answer for a {kind}: no rule for this kind of "
            "recipient depends on it."
        )
    if r.role is not None and "recipient.acts_as_controller" in tested:
        notes.append(
            f"recipient.role = {r.role}: "
            + ("the recipient acts as a controller, for its own purposes." if r.role == "controller"
               else "the recipient acts on the controller's instructions.")
        )
    return notes


def _rule_block(rule: Rule, rules: RuleSet, status: str) -> list[str]:
    d = rules.disclosure
    head = f"  [{rule.effect}] {rule.id} (step {rule.step}: {_step_title(rules, rule.step)})"
    if rule.reason:
        head += f" -> {rule.reason}"
    if status:
        head += f" {status}"
    lines = [head]
    lines.extend(wrap(rule.title + ".", "      "))
    lines.extend(wrap("Applies when " + render(rule.when, d.facts, d.predicate_titles) + ".", "      "))
    lines.append(f"      Cites {', '.join(rule.clauses)}.")
    for reading in rules.interpretations:
        if rule.id in reading.rules:
            grounds = f"; grounds: {reading.grounds.rstrip('.')}" if reading.grounds else ""
            lines.extend(wrap(f"Rests on interpretation {reading.id} of the register of interpretations "
                              f"({reading.title}{grounds}).", "      "))
    return lines


def _step_title(rules: RuleSet, step: int) -> str:
    for s in rules.disclosure.steps:
        if s.step == step:
            return s.title.lower()
    return str(step)


def explain_decision(decision: Decision, rules: RuleSet, today: Callable[[], dt.date]) -> str:
    """The full explanation of a disclosure decision (``today`` gives the day of a question without ``as_of``)."""
    req = decision.request
    as_of = req.as_of.isoformat() if req.as_of else f"{today().isoformat()} (today)"
    verdict = "ALLOWED" if decision.allowed else "DENIED"
    lines = [
        f"{rules.meta.name}, version {rules.meta.version}: disclosure decision",
        "",
    ]
    asked = list(dict.fromkeys(req.data_categories))  # in the order asked
    lines.extend(
        wrap(
            f"Question: may {rules.meta.controller.short_name} {req.operation} "
            f"{', '.join(category_title(rules, c) for c in asked)} to "
            f"{recipient_phrase(rules, req.recipient.kind, req.recipient.country)} for the purpose "
            f"{purpose_phrase(rules, req.purpose)}, as of {as_of}?",
            "",
        )
    )
    if decision.allowed:
        lines.append(f"Answer: {verdict}.")
    else:
        reason = decision.reasons[0]
        gloss = rules.vocabulary.term("reason_codes", reason).en
        lines.extend(wrap(f"Answer: {verdict}. {reason}: {gloss}", ""))
    notes = _notes(decision, rules, today)
    if notes:
        lines += ["", "How the question was read:"]
        for n in notes:
            lines.extend(wrap("- " + n, "  "))
    lines += ["", "Rules that fired, in decision order:"]
    fired = [rules.disclosure.rule(rid) for rid in decision.rule_ids]
    if not fired:
        lines.append("  none: no rule permits this disclosure, so it is refused (default deny).")
    some_go = any(decision.by_category.values())
    for rule in fired:
        status = ""
        if rule.effect == "permit" and not decision.allowed:
            status = "(overridden where a forbid applies)" if some_go else "(overridden: a forbid applies)"
        lines.extend(_rule_block(rule, rules, status))
    if len(decision.by_category) > 1 or not decision.allowed:
        lines += ["", "Per data category:"]
        shown = [c for c in asked if c in decision.by_category]
        shown += [c for c in decision.by_category if c not in shown]
        for cat in shown:
            ok = decision.by_category[cat]
            why = "" if ok else " (" + ", ".join(decision.category_reasons[cat]) + ")"
            lines.append(f"  {category_title(rules, cat)}: {'may go' if ok else 'may not go'}{why}")
    if decision.obligations:
        lines += ["", "Obligations that come with this allow:" if decision.allowed else
                  "Obligations that come with the categories that may go ("
                  + ", ".join(category_title(rules, c) for c, ok in decision.by_category.items() if ok) + "):"]
        for o in decision.obligations:
            lines.extend(wrap(f"- {o}: {rules.vocabulary.term('obligations', o).en}", "  "))
    lines += ["", "Clauses behind the decision:"]
    lines.extend(quote_clauses(rules, decision.clauses))
    return "\n".join(lines)
