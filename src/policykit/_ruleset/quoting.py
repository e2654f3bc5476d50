"""Text for explanations: clauses quoted with their Swedish original and English translation, wrapped;
vocabulary terms named as a person reads them."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["WIDTH", "article", "category_title", "purpose_phrase", "quote_clauses", "recipient_phrase", "wrap"]

WIDTH = 100


def wrap(text: str, indent: str) -> list[str]:
    """``text`` with its whitespace collapsed, wrapped to ``WIDTH`` at ``indent`` (continuations indented)."""
    return textwrap.wrap(" ".join(text.split()), WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def quote_clauses(rules: RuleSet, clause_ids: tuple[str, ...] | list[str], indent: str = "  ") -> list[str]:
    """The clauses, each with its Swedish original and English translation."""
    lines: list[str] = []
    for cid in clause_ids:
        clause = rules.clause(cid)
        lines.append(f"{indent}{cid}")
        lines.extend(wrap(f'sv: "{clause.sv}"', indent + "  "))
        lines.extend(wrap(f'en: "{clause.en}"', indent + "  "))
    return lines


def article(phrase: str) -> str:
    """``phrase`` with "a" or "an" before it ("an authority", "a referee"); none before "any",
    "another" or "the"."""
    first = phrase.split(" ", 1)[0].lower()
    if first in ("any", "another", "the"):
        return phrase
    return f"{'an' if first[:1] in 'aeiou' else 'a'} {phrase}"


def _short_title(title: str) -> str:
    """A vocabulary title without its explanation in brackets, starting in lower case."""
    short = title.split(" (", 1)[0].strip()
    return short[:1].lower() + short[1:] if short[1:2].islower() or len(short) == 1 else short


def category_title(rules: RuleSet, category: str) -> str:
    """A data category as a person reads it: its title, then its id."""
    try:
        return f"{rules.vocabulary.category(category).en} ({category})"
    except KeyError:
        return category


def recipient_phrase(rules: RuleSet, kind: str, country: str) -> str:
    """"a public authority (authority) in Sweden (SE)"."""
    try:
        title = _short_title(rules.vocabulary.recipient_kind(kind).en)
    except KeyError:
        title = kind
    place = rules.vocabulary.country(country)
    where = f"{place.name} ({place.code})" if place is not None else country.upper()
    return f"{article(title)} ({kind}) in {where}"


def purpose_phrase(rules: RuleSet, purpose: str, limit: int = 80) -> str:
    """A purpose by its title in quotes, then its id; a purpose outside the policy as given."""
    term = rules.vocabulary.purpose(purpose)
    if term is None:
        shown = purpose if len(purpose) <= limit else f"{purpose[:limit]}… ({len(purpose):,} characters)"
        return f"{shown} (not a purpose of the policy)"
    return f"\"{_short_title(term.en)}\" ({purpose})"
