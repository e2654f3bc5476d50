"""Plain-English explanations of retention verdicts, citing and quoting the policy's clauses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from policykit._dates import local_date
from policykit._retention.verdict import TRIGGER_WORDS, RetentionVerdict
from policykit._ruleset.conditions import render
from policykit._ruleset.quoting import quote_clauses, wrap

if TYPE_CHECKING:
    from policykit._ruleset.retention import RetentionRule
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["explain_retention"]

_TRACK_LABEL = {
    "mode": "decides the mode",
    "bookkeeping": "accounting records",
    "special_category": "special-category data",
    "special_category_without_consent": "special-category data without consent",
    "recording": "recordings",
    "note": "note",
}


def _facts_lines(v: RetentionVerdict, rules: RuleSet) -> list[str]:
    f, r = v.facts, v.reading
    lines: list[str] = []
    if r.applications:
        zone = f" (calendar dates in {r.zone})" if any(not _is_day(a) for a in f.applications) else ""
        lines.append(
            f"Applications{zone}: {', '.join(map(str, r.applications))}; the latest is {r.latest}."
        )
    for w in f.consent_withdrawn_on:
        lines.append(f"Consent withdrawn: {_show(w, r.zone)}.")
    if f.objection_received_on is not None:
        form = f.objection_form.replace("_", " ")
        documented = (
            f" (documented in writing by {rules.meta.controller.short_name})"
            if f.objection_documented_in_writing_by_controller else ""
        )
        lines.append(f"Objection received {_show(f.objection_received_on, r.zone)} by {form}{documented}.")
    if f.erasure_requested_on is not None:
        lines.append(
            f"Erasure requested: {_show(f.erasure_requested_on, r.zone)} (counts as withdrawal and objection, A-10)."
        )
    if f.process_closed_on is not None:
        lines.append(f"Recruitment process closed: {f.process_closed_on}.")
    for i, d in enumerate(f.disputes):
        end = f", resolved {d.resolved_on}" if d.resolved_on else ""
        lines.append(f"Dispute {i}: opened {d.opened_on}, {d.status}{end}.")
    for i, b in enumerate(f.bookkeeping_records):
        lines.append(
            f"Bookkeeping record {i}{f' ({b.type})' if b.type else ''}: financial year end "
            f"{v.bookkeeping[i].financial_year_end if i < len(v.bookkeeping) else b.financial_year_end}."
        )
    for i, s in enumerate(f.special_category_items):
        consent = "with" if s.explicit_consent else "without"
        process = f" in process {s.process_id}" if s.process_id else ""
        lines.append(f"Special-category item {i}: {s.category}{process}, {consent} explicit consent.")
    for i, item in enumerate(f.video_interviews):
        withdrawn = item.recording_consent_withdrawn_on
        also = f", consent to the recording withdrawn {_show(withdrawn, r.zone)}" if withdrawn is not None else ""
        lines.append(f"Recorded interview {i}: {_show(item.interviewed_on, r.zone)}{also}.")
    if f.interest_confirmed_on:
        lines.append(f"Interest confirmed: {', '.join(_show(c, r.zone) for c in f.interest_confirmed_on)}.")
    if r.trigger_date is not None:
        kinds = " and ".join(TRIGGER_WORDS[k] for k in r.trigger_kinds)
        lines.append(
            f"Consent ended on {r.trigger_date} ({kinds}): the first end of consent on or after the latest "
            "application."
        )
    elif r.latest is not None:
        lines.append("No withdrawal, written objection or erasure request on or after the latest application.")
    return lines


def _is_day(value: object) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _show(value: object, zone: str) -> str:
    """A date as it is, a timestamp with its calendar date in the policy's zone on the same line (the
    date the rules judge)."""
    if isinstance(value, dt.datetime):
        return f"{value.isoformat()} (that is {local_date(value, zone)} in {zone})"
    return str(value)


def _dates_lines(v: RetentionVerdict, rules: RuleSet) -> list[str]:
    rule = v.outcome.mode_rule
    params = v.parameters
    lines: list[str] = []
    if v.window_anchor is not None and v.trigger_date is not None:
        what = "the latest application date" if v.window_anchor == v.latest_application_date else (
            "the process-closed date (the later of it and the latest application, A-04)"
        )
        lines.append(f"window anchor  {v.window_anchor}: {what}")
    for slot, value in (
        ("retain_until", v.retain_until), ("anonymise_on", v.anonymise_on), ("deadline", v.deadline),
        ("review_on", v.review_on),
    ):
        spec = getattr(rule, slot)
        if spec is None:
            continue
        how = spec.describe(params)
        lines.append(f"{slot:<14} {value if value is not None else 'none'} = {how}")
    if v.retention_mode == "legal_hold":
        lines.append("anonymise_on   none until the dispute is finally resolved (A-09)")
    if v.bookkeeping_retain_until is not None:
        kept = next(r.retain_until for r in rules.retention.rules if r.decides == "bookkeeping" and r.retain_until)
        lines.append(
            f"bookkeeping    {v.bookkeeping_retain_until} = 31 Dec. of the year the financial year ended + "
            f"{kept.years} years"
        )
        lines.append("               (Bokföringslagen 7 kap. 2 §)")
    if v.special_category:
        for s in v.special_category:
            when = s.erase_on if s.erase_on is not None else "not yet fixed"
            lines.append(f"special item {s.index} ({s.category}): erase on {when}{' (due)' if s.due else ''}")
    recording_rule = v.outcome.tracks.get("recording")
    if v.video_recordings and recording_rule is not None and recording_rule.erase_on is not None:
        lines.append(f"recordings     erase on {recording_rule.erase_on.describe(params)}")
        for rec in v.video_recordings:
            when = rec.erase_on if rec.erase_on is not None else "not yet fixed"
            held = " (kept for a pending dispute)" if rec.held_for_dispute else ""
            due = " (due)" if rec.due else ""
            lines.append(f"recording {rec.index} ({rec.interviewed_on}): erase on {when}{held}{due}")
    if any(spec is not None and (spec.years or spec.months) for spec in (rule.retain_until, rule.deadline)):
        lines.append("Years and months are added the Swedish way (Lag 1930:173 1 §): same day number, or the")
        lines.append("last day of the month where it does not exist; never a count of days.")
    return lines


def _rule_block(rule: RetentionRule, rules: RuleSet) -> list[str]:
    ret = rules.retention
    head = f"  [{_TRACK_LABEL[rule.decides]}] {rule.id}"
    if rule.mode:
        head += f" -> {rule.mode}"
    lines = [head]
    lines.extend(wrap(rule.title + ".", "      "))
    lines.extend(wrap("Applies when " + render(rule.when, ret.facts, ret.predicate_titles) + ".", "      "))
    lines.extend(wrap(rule.description, "      "))
    cites = f"Cites {', '.join(rule.clauses)}"
    if rule.ambiguities:
        cites += f"; interpretation {', '.join(rule.ambiguities)} of the register of interpretations"
    lines.append(f"      {cites}.")
    return lines


def explain_retention(v: RetentionVerdict, rules: RuleSet, today: Callable[[], dt.date]) -> str:
    """The full explanation of a retention verdict (its ``as_of`` is always set: ``today`` is not needed)."""
    as_of = f"{v.as_of}" + ("" if v.reading.as_of_given else " (today)")
    lines = [f"{rules.meta.name}, version {rules.meta.version}: retention verdict", ""]
    lines.extend(wrap(f"Question: when must this candidate's record be anonymised, as of {as_of}?", ""))
    term = rules.vocabulary.term("retention_modes", v.retention_mode)
    lines.extend(wrap(f"Answer: {v.retention_mode}: {term.en}", ""))
    lines.extend(wrap(v.reasons[0], "  "))
    lines += ["", "Facts as read:"]
    for line in _facts_lines(v, rules):
        lines.extend(wrap("- " + line, "  "))
    lines += ["", "Dates:"]
    lines.extend("  " + line for line in _dates_lines(v, rules))
    if v.due:
        lines.append(f"  DUE: as of {v.as_of} the anonymisation date has come.")
    if v.erase_on_anonymisation:
        lines += ["", f"Erase on {v.anonymise_on}:"]
        lines.extend(wrap(", ".join(v.erase_on_anonymisation), "  "))
    if v.legal_hold:
        lines.extend(wrap(
            "LEGAL HOLD: a discrimination dispute is pending; no review or job may anonymise or erase the "
            "evidence until it is finally resolved (A-09).", "  ",
        ))
    lines += ["", "Permitted purposes now:"]
    lines.extend(wrap(", ".join(v.permitted_purposes) or "none", "  "))
    lines += ["", "Erase now:"]
    lines.extend(wrap(", ".join(v.erase_now) or "nothing", "  "))
    others = v.reasons[1:]
    if others:
        lines += ["", "Also:"]
        for reason in others:
            lines.extend(wrap("- " + reason, "  "))
    lines += ["", "Rules that fired, in rule-file order:"]
    for rule in v.outcome.rules:
        lines.extend(_rule_block(rule, rules))
    lines += ["", "Clauses behind the verdict:"]
    lines.extend(quote_clauses(rules, v.clauses))
    return "\n".join(lines)
