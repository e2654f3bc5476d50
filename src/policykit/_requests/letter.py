"""The reply to the candidate: the templates of ``letters.yaml``, filled in from a request's answer.

The templates are loaded and checked with the rule set (``_ruleset.letters``); this module only picks
the sentences an answer needs and fills in its dates and names.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap

from policykit._requests.response import RequestResponse
from policykit._ruleset.letters import DONE, LANGUAGES, Language, Letters, Texts
from policykit.errors import QueryError

__all__ = ["write_letter"]


# ------------------------------------------------------------------------------------------------
# writing

_WIDTH = 88


def _flat(text: str) -> str:
    return re.sub(r"[ \t\n]+", " ", text).strip()   # not str.split(): no-break spaces stay


def _para(text: str) -> list[str]:
    return [*textwrap.wrap(_flat(text), _WIDTH), ""]


def _bullet(text: str) -> list[str]:
    return textwrap.wrap(_flat(text), _WIDTH, initial_indent="- ", subsequent_indent="  ")


def write_letter(resp: RequestResponse, lang: str) -> str:  # noqa: PLR0915 - one sequence of steps, not yet split into named ones
    """The letter answering ``resp``, in ``lang`` (``"sv"`` or ``"en"``)."""
    if lang not in LANGUAGES:
        raise QueryError(f"expected a letter language among {', '.join(LANGUAGES)}, got {lang!r}")
    language: Language = "sv" if lang == "sv" else "en"
    rules = resp.rule_set
    letters: Letters = rules.letters
    t = letters.raw
    controller = rules.meta.controller
    authority = rules.meta.supervisory_authority

    def date(d: dt.date) -> str:
        months = t.months.sv if language == "sv" else t.months.en
        written = t.dates(language).format(day=d.day, month=months[d.month - 1], year=d.year)
        return written.replace(" ", "\u00a0")  # a date stays on one line

    request = t.requests[resp.request.request](language)
    values = {
        "request": request,
        "received_on": date(resp.received_on),
        "deadline": date(resp.deadline),
        "extended_deadline": date(resp.extended_deadline),
        "anonymise_on": date(resp.anonymise_on) if resp.anonymise_on else "",
        "fee": str(resp.fee),
        "authority": authority.name,
        "authority_url": authority.url,
        "controller": controller.name,
        "email": controller.email,
        "telephone": controller.telephone.replace(" ", "\u00a0"),  # kept on one line
        "address": controller.address,
    }

    def say(texts: Texts, **extra: str) -> str:
        return texts(language).format(**{**values, **extra})

    def item_name(name: str, category: str) -> str:
        if name in t.items:
            return t.items[name](language)
        if name == category:
            term = rules.vocabulary.category(category)
            title = (term.sv if language == "sv" else term.en) or term.en
            return title[:1].upper() + title[1:]
        return name

    lines: list[str] = [say(t.subject), "", say(t.greeting), ""]
    lines += _para(say(t.received) + " " + say(t.outcomes[resp.outcome]))

    by_item = {d.item: d for d in resp.dispositions}
    for disposition in DONE:
        names = [d.item for d in resp.dispositions if d.disposition == disposition]
        if disposition == "include" and not names and resp.include_all_categories:
            names = [d.item for d in resp.dispositions]
        if names:
            lines.append(say(t.done[disposition]))
            for name in names:
                lines += _bullet(item_name(name, by_item[name].category))
            lines.append("")
    if resp.stop_purposes:
        lines.append(say(t.stop_purposes))
        lines += [b for p in resp.stop_purposes for b in _bullet(t.purposes[p](language))]
        lines.append("")
    if resp.continue_purposes:
        lines.append(say(t.continue_purposes))
        lines += [b for p in resp.continue_purposes for b in _bullet(t.purposes[p](language))]
        lines.append("")

    # items kept or left out, grouped by what happens and why, in the order of the request
    groups: dict[tuple[str, dt.date | None, str | None], list[str]] = {}
    for d in resp.dispositions:
        if d.disposition in ("exclude", "retain"):
            groups.setdefault((d.disposition, d.until, d.reason), []).append(item_name(d.item, d.category))
    if resp.refusal_grounds:
        lines.append(say(t.refused_heading))
        for g in resp.refusal_grounds:
            lines += _bullet(t.grounds[g](language))
        lines.append("")
    for (disposition, until, reason), names in groups.items():
        because = say(t.because, reason=t.item_reasons[reason](language)) if reason else ""
        if disposition == "exclude":
            head = say(t.not_included, because=because)
        elif until is not None:
            head = say(t.kept, until=date(until), because=because)
        else:
            head = say(t.kept_while_dispute, because=because)
        lines += [*_para(head)[:-1], *(b for name in names for b in _bullet(name)), ""]
    if resp.anonymise_on:
        lines += _para(say(t.anonymised_on))

    notes = [say(t.notes[f]) for f in resp.flags if f in t.notes]
    if resp.request.request == "access" and resp.outcome in ("fulfil", "fulfil_with_redaction", "partial"):
        notes.append(say(t.notes["free_of_charge" if resp.fee == 0 else "fee"]))
    if resp.outcome in ("fulfil", "fulfil_with_redaction", "partial"):
        notes.append(say(t.notes["extension"]))
    for note in notes:
        lines += _para(note)
    lines += _para(say(t.rights))
    lines += _para(say(t.questions))
    lines += [say(t.closing), *say(t.signature).splitlines()]
    return "\n".join(lines) + "\n"
