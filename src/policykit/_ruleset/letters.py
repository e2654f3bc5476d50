"""Loading ``letters.yaml``: the templates of the reply to the candidate, typed and checked.

``letters.yaml`` holds every sentence of the letter in Swedish and English (``_requests.letter``
picks the sentences an answer needs and fills in its dates and names). Loading checks that every
request kind, outcome, refusal ground, item reason, purpose and item of the rules has a text in both
languages and that every placeholder is one the letter can fill, so a letter never shows a missing text.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from policykit._ruleset.loading import _Loader, _validate
from policykit._ruleset.overlay import resolve_rules
from policykit._ruleset.reading import LocatedYaml, load_yaml
from policykit._ruleset.requests import REQUEST_TYPES, RequestRules
from policykit.errors import RuleSchemaError, did_you_mean

if TYPE_CHECKING:
    from policykit._ruleset.vocabulary import Vocabulary

__all__ = ["LANGUAGES", "Language", "Letters", "LettersFile", "Texts", "check_letters", "load_letters"]

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
    against the request rules and vocabulary already loaded by ``loader``. In an overlay the file is
    merged along the chain of ``extends`` like every rule file, and only holds what it changes."""
    path = directory / FILE
    if not path.is_file():
        path = bundled / FILE
    doc: LocatedYaml | None = None
    if len(loader.resolved.chain) > 1:
        doc = resolve_rules(directory, [FILE], lambda: bundled, optional=[FILE]).docs.get(FILE)
    if doc is None:
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
