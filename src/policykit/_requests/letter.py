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


class _Pen:
    """What every sentence of one letter needs: its language, the templates and the answer's values."""

    def __init__(self, resp: RequestResponse, language: Language) -> None:
        self.language = language
        self.rules = resp.rule_set
        letters: Letters = self.rules.letters
        self.t = letters.raw
        controller = self.rules.meta.controller
        authority = self.rules.meta.supervisory_authority
        self.values = {
            "request": self.t.requests[resp.request.request](language),
            "received_on": self.date(resp.received_on),
            "deadline": self.date(resp.deadline),
            "extended_deadline": self.date(resp.extended_deadline),
            "anonymise_on": self.date(resp.anonymise_on) if resp.anonymise_on else "",
            "fee": str(resp.fee),
            "authority": authority.name,
            "authority_url": authority.url,
            "controller": controller.name,
            "email": controller.email,
            "telephone": controller.telephone.replace(" ", "\u00a0"),  # kept on one line
            "address": controller.address,
        }

    def date(self, d: dt.date) -> str:
        t = self.t
        months = t.months.sv if self.language == "sv" else t.months.en
        written = t.dates(self.language).format(day=d.day, month=months[d.month - 1], year=d.year)
        return written.replace(" ", "\u00a0")  # a date stays on one line

    def say(self, texts: Texts, **extra: str) -> str:
        return texts(self.language).format(**{**self.values, **extra})

    def item_name(self, name: str, category: str) -> str:
        if name in self.t.items:
            return self.t.items[name](self.language)
        if name == category:
            term = self.rules.vocabulary.category(category)
            title = (term.sv if self.language == "sv" else term.en) or term.en
            return title[:1].upper() + title[1:]
        return name


def write_letter(resp: RequestResponse, lang: str) -> str:
    """The letter answering ``resp``, in ``lang`` (``"sv"`` or ``"en"``)."""
    if lang not in LANGUAGES:
        raise QueryError(f"expected a letter language among {', '.join(LANGUAGES)}, got {lang!r}")
    pen = _Pen(resp, "sv" if lang == "sv" else "en")
    t, say = pen.t, pen.say
    lines: list[str] = [say(t.subject), "", say(t.greeting), ""]
    lines += _para(say(t.received) + " " + say(t.outcomes[resp.outcome]))
    lines += _done(pen, resp)
    lines += _purposes(pen, resp)
    lines += _refused_and_kept(pen, resp)
    if resp.anonymise_on:
        lines += _para(say(t.anonymised_on))
    for note in _notes(pen, resp):
        lines += _para(note)
    lines += _para(say(t.rights))
    lines += _para(say(t.questions))
    lines += [say(t.closing), *say(t.signature).splitlines()]
    return "\n".join(lines) + "\n"


def _done(pen: _Pen, resp: RequestResponse) -> list[str]:
    """What was done, item by item, one list per kind of action."""
    lines: list[str] = []
    by_item = {d.item: d for d in resp.dispositions}
    for disposition in DONE:
        names = [d.item for d in resp.dispositions if d.disposition == disposition]
        if disposition == "include" and not names and resp.include_all_categories:
            names = [d.item for d in resp.dispositions]
        if names:
            lines.append(pen.say(pen.t.done[disposition]))
            for name in names:
                lines += _bullet(pen.item_name(name, by_item[name].category))
            lines.append("")
    return lines


def _purposes(pen: _Pen, resp: RequestResponse) -> list[str]:
    """The purposes the processing stops for, and those it continues for."""
    t, lines = pen.t, []
    for heading, purposes in ((t.stop_purposes, resp.stop_purposes), (t.continue_purposes, resp.continue_purposes)):
        if purposes:
            lines.append(pen.say(heading))
            lines += [b for p in purposes for b in _bullet(t.purposes[p](pen.language))]
            lines.append("")
    return lines


def _refused_and_kept(pen: _Pen, resp: RequestResponse) -> list[str]:
    """The grounds of a refusal, then the items kept or left out, grouped by what happens and why, in
    the order of the request."""
    t, say, lines = pen.t, pen.say, []
    groups: dict[tuple[str, dt.date | None, str | None], list[str]] = {}
    for d in resp.dispositions:
        if d.disposition in ("exclude", "retain"):
            groups.setdefault((d.disposition, d.until, d.reason), []).append(pen.item_name(d.item, d.category))
    if resp.refusal_grounds:
        lines.append(say(t.refused_heading))
        for g in resp.refusal_grounds:
            lines += _bullet(t.grounds[g](pen.language))
        lines.append("")
    for (disposition, until, reason), names in groups.items():
        because = say(t.because, reason=t.item_reasons[reason](pen.language)) if reason else ""
        if disposition == "exclude":
            head = say(t.not_included, because=because)
        elif until is not None:
            head = say(t.kept, until=pen.date(until), because=because)
        else:
            head = say(t.kept_while_dispute, because=because)
        lines += [*_para(head)[:-1], *(b for name in names for b in _bullet(name)), ""]
    return lines


def _notes(pen: _Pen, resp: RequestResponse) -> list[str]:
    """The notes the answer's flags call for, the fee and the possible extension."""
    notes = [pen.say(pen.t.notes[f]) for f in resp.flags if f in pen.t.notes]
    if resp.request.request == "access" and resp.outcome in ("fulfil", "fulfil_with_redaction", "partial"):
        notes.append(pen.say(pen.t.notes["free_of_charge" if resp.fee == 0 else "fee"]))
    if resp.outcome in ("fulfil", "fulfil_with_redaction", "partial"):
        notes.append(pen.say(pen.t.notes["extension"]))
    return notes
