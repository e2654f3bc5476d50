"""The reply to the candidate: templates from ``letters.yaml``, filled in from a request's answer.

``letters.yaml`` holds every sentence of the letter in Swedish and English; this module only picks the
sentences an answer needs and fills in its dates and names. Loading checks that every request kind,
outcome, refusal ground, item reason, purpose and item of the rules has a text in both languages and
that every placeholder is one the letter can fill, so a letter never shows a missing text.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from policykit._ruleset.reading import load_yaml
from policykit.errors import QueryError, RuleSchemaError, did_you_mean

if TYPE_CHECKING:
    from policykit._requests.response import RequestResponse
    from policykit._requests.rules import RequestRules
    from policykit._ruleset.loading import _Loader
    from policykit._ruleset.vocabulary import Vocabulary

__all__ = ["LANGUAGES", "Letters", "LettersFile", "Texts", "load_letters", "write_letter"]

FILE = "letters.yaml"
LANGUAGES = ("sv", "en")
Language = Literal["sv", "en"]

# what the letter can fill in; a template naming anything else is a rule-file error
PLACEHOLDERS = frozenset({
    "request", "received_on", "reason", "because", "deadline", "extended_deadline", "until", "anonymise_on", "fee",
    "authority", "authority_url", "controller", "email", "telephone", "address", "day", "month", "year",
})
# what the letter says about an item, by its disposition
DONE = ("include", "deliver", "erase_now", "restrict", "rectify")
NOTES = ("free_of_charge", "fee", "extension")


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Texts(_Raw):
    """One text of the letter, in Swedish and English."""

    sv: str = Field(description="The Swedish text.")
    en: str = Field(description="The English text.")

    def __call__(self, lang: Language) -> str:
        return self.sv if lang == "sv" else self.en


class Months(_Raw):
    sv: list[str] = Field(min_length=12, max_length=12, description="January to December, in Swedish.")
    en: list[str] = Field(min_length=12, max_length=12, description="January to December, in English.")


class LettersFile(_Raw):
    """``letters.yaml``: the reply to the candidate, sentence by sentence, in Swedish and English."""

    dates: Texts = Field(description="How a date is written: {day}, {month} (a name from months), {year}.")
    months: Months
    subject: Texts = Field(description="The subject line; {request} is what was asked.")
    greeting: Texts
    received: Texts = Field(description="The first sentence: {request} and {received_on}.")
    requests: dict[str, Texts] = Field(description="What the candidate asked for, by request kind.")
    outcomes: dict[str, Texts] = Field(description="The answer in one sentence, by request outcome.")
    done: dict[str, Texts] = Field(description="Headings of the lists of what is done, by disposition.")
    refused_heading: Texts
    because: Texts = Field(description="Why items are kept or left out: {reason}, a text of item_reasons.")
    not_included: Texts = Field(description="Heading of items left out; {because} says why.")
    kept: Texts = Field(description="Heading of items kept until {until}; {because} says why.")
    kept_while_dispute: Texts = Field(description="Heading of items kept until a dispute ends; {because} says why.")
    anonymised_on: Texts = Field(description="When the record is anonymised: {anonymise_on}.")
    stop_purposes: Texts
    continue_purposes: Texts
    item_reasons: dict[str, Texts] = Field(description="Why an item is kept or left out, by item reason.")
    grounds: dict[str, Texts] = Field(description="The legal grounds for not doing all that was asked.")
    purposes: dict[str, Texts] = Field(description="The purposes of processing, as the candidate reads them.")
    items: dict[str, Texts] = Field(description="Names of held data that are not data categories.")
    notes: dict[str, Texts] = Field(description="Further sentences: by request flag; free_of_charge, fee, extension.")
    rights: Texts = Field(description="The right to complain to the supervisory authority and to go to court.")
    questions: Texts
    closing: Texts
    signature: Texts


class Letters:
    """The checked letter templates of a rules directory."""

    def __init__(self, raw: LettersFile, source: Path) -> None:
        self.raw = raw
        self.source = source


def _fields(template: str) -> set[str]:
    """The placeholders of a template; a conversion or format spec (``{x!r}``, ``{x:>5}``) counts as
    unknown, since the letter fills in plain text only."""
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is not None:
            names.add(name if not spec and not conversion else template)
    return names


def _walk(value: object, path: tuple[str | int, ...]) -> Iterable[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, Texts):
        for lang in LANGUAGES:
            yield (*path, lang), getattr(value, lang)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), (*path, name))
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk(inner, (*path, key))


def load_letters(loader: _Loader, directory: Path, *, bundled: Path) -> Letters:
    """Load and check ``letters.yaml`` of ``directory`` (the bundled one when the directory has none)
    against the request rules and vocabulary already loaded by ``loader``."""
    from policykit._ruleset.loading import _validate  # noqa: PLC0415

    path = directory / FILE
    if not path.is_file():
        path = bundled / FILE
    doc = load_yaml(path)
    doc.file = Path(FILE)
    loader.docs[FILE] = doc
    raw: LettersFile = _validate(LettersFile, doc, FILE)
    for where, text in _walk(raw, ()):
        try:
            unknown = _fields(text) - PLACEHOLDERS
        except ValueError as error:
            raise RuleSchemaError(
                f"at {'.'.join(map(str, where))!r}: expected a template with {{placeholders}}, got {text!r} ({error})",
                file=FILE, line=loader.line(FILE, where),
            ) from None
        if unknown:
            raise RuleSchemaError(
                f"at {'.'.join(map(str, where))!r}: expected placeholders among {', '.join(sorted(PLACEHOLDERS))}, "
                f"got {{{sorted(unknown)[0]}}}" + did_you_mean(sorted(unknown)[0], PLACEHOLDERS),
                file=FILE, line=loader.line(FILE, where),
            )
    return Letters(raw, path)


def check_letters(loader: _Loader, letters: Letters, vocab: Vocabulary, requests: RequestRules) -> None:
    """Every term a letter may need has a text: request kinds, outcomes, grounds, reasons, purposes,
    items and flags of the rules."""
    from policykit._requests.rules import REQUEST_TYPES  # noqa: PLC0415

    raw = letters.raw
    needed: dict[str, Iterable[str]] = {
        "requests": REQUEST_TYPES,
        "outcomes": vocab.ids("request_outcomes"),
        "done": DONE,
        "item_reasons": [t.id for t in requests.item_reasons],
        "grounds": [t.id for t in requests.grounds],
        "purposes": vocab.ids("purposes"),
        "items": [t.id for t in requests.items],
        "notes": [*(t.id for t in requests.flags if t.id != "include_all_categories"), *NOTES],
    }
    for section, ids in needed.items():
        have: Mapping[str, Texts] = getattr(raw, section)
        for term in ids:
            if term not in have:
                raise RuleSchemaError(
                    f"expected a text for {term!r} under {section!r} (it may appear in a letter), found none",
                    file=FILE, line=loader.line(FILE, (section,)),
                )


# ------------------------------------------------------------------------------------------------
# writing

_WIDTH = 88


def _flat(text: str) -> str:
    return re.sub(r"[ \t\n]+", " ", text).strip()   # not str.split(): no-break spaces stay


def _para(text: str) -> list[str]:
    return [*textwrap.wrap(_flat(text), _WIDTH), ""]


def _bullet(text: str) -> list[str]:
    return textwrap.wrap(_flat(text), _WIDTH, initial_indent="- ", subsequent_indent="  ")


def write_letter(resp: RequestResponse, lang: str) -> str:
    """The letter answering ``resp``, in ``lang`` (``"sv"`` or ``"en"``)."""
    if lang not in LANGUAGES:
        raise QueryError(f"expected a letter language among {', '.join(LANGUAGES)}, got {lang!r}")
    language: Language = "sv" if lang == "sv" else "en"
    rules = resp._policy.rules
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
