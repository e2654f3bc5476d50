"""Clauses quoted in explanations: each with its Swedish original and English translation, wrapped."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["WIDTH", "quote_clauses", "wrap"]

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
