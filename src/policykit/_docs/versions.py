"""The auditor pages of a policy history: every version's pages, an index of the versions, and a
"what changed, and from when" page computed from the rule sets of consecutive versions.

The change page compares the typed rule sets, not their files: parameters, clauses, vocabulary terms,
optional facts, and the rules of every family by id (added, replaced, removed). For each rule it
says when it applies, its effect and the clauses it cites, so a reader sees which questions get
another answer from the effective date on, and under which clause.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol

from policykit._docs.pages import GENERATED, DocsPolicy, build_pages, cell, code, table
from policykit._ruleset.conditions import render

if TYPE_CHECKING:
    from policykit._ruleset.ruleset import RuleSet


class PolicyVersion(Protocol):
    """What the pages ask of one version of a history (its label is its ``str``)."""

    @property
    def effective_from(self) -> dt.date: ...

    @property
    def policy(self) -> DocsPolicy: ...


class PolicyHistory(Protocol):
    """What the pages ask of a history: its versions, by effective date."""

    @property
    def versions(self) -> Sequence[PolicyVersion]: ...

__all__ = ["build_history_pages", "changes_page"]

_VOCABULARY_KINDS = (
    "operations", "data_categories", "legal_bases", "purposes", "out_of_policy_purposes", "recipient_kinds",
    "reason_codes", "obligations", "retention_modes", "request_outcomes",
)


def build_history_pages(history: PolicyHistory) -> dict[str, str]:
    """Every version's pages under ``VERSION/``, an ``index.md`` of the versions and ``changes.md``."""
    pages: dict[str, str] = {"index.md": _index(history), "changes.md": changes_page(history)}
    for v in history.versions:
        for path, text in build_pages(v.policy).items():
            pages[f"{v}/{path}"] = text
    return pages


def _index(history: PolicyHistory) -> str:
    first = history.versions[0]
    rows = []
    for i, v in enumerate(history.versions):
        until = history.versions[i + 1].effective_from.isoformat() if i + 1 < len(history.versions) else "–"
        rows.append((f"[{v}]({v}/index.md)", v.effective_from.isoformat(), until, v.policy.rules.meta.title))
    lines = [
        GENERATED,
        "",
        f"# {first.policy.rules.meta.name}: versions",
        "",
        "Each question is answered by the version in force on its date: `as_of` for disclosure and "
        "retention, `received_on` for a data-subject request (a timestamp counts as its local date in "
        f"{first.policy.rules.parameters.timezone}). A question dated before "
        f"{first.effective_from} has no version and is refused.",
        "",
        table(("Version", "In force from", "Replaced on", "Title"), rows),
        "",
        "[What changed, and from when](changes.md)",
    ]
    return "\n".join(lines) + "\n"


def changes_page(history: PolicyHistory) -> str:
    """What each version changes against the one before it, from its effective date."""
    lines = [GENERATED, "", "# What changed, and from when", ""]
    versions = history.versions
    if len(versions) == 1:
        lines.append(f"This history has one version, {versions[0]}: nothing changed.")
    for old, new in pairwise(versions):
        lines += _pair(old, new)
    return "\n".join(lines).rstrip("\n") + "\n"


def _pair(old: PolicyVersion, new: PolicyVersion) -> list[str]:
    a, b = old.policy.rules, new.policy.rules
    lines = [
        f"## {old} → {new}, from {new.effective_from}",
        "",
        f"Questions dated {new.effective_from} or later are answered by [{new}]({new}/index.md); earlier "
        f"ones by [{old}]({old}/index.md).",
        "",
    ]
    lines += _parameters(a, b)
    lines += _clauses(a, b, new)
    lines += _vocabulary(a, b)
    facts = [f for f in b.disclosure.facts if f not in a.disclosure.facts]
    if facts:
        schema = b.disclosure.facts
        lines += ["### New facts of a disclosure question", "",
                  table(("Fact", "Meaning"), ((code(f), schema[f].description or schema[f].label) for f in facts)), ""]
    families = (("disclosure", "Disclosure"), ("retention", "Retention"), ("requests", "Data-subject requests"))
    for family, label in families:
        lines += _rules(a, b, family, label)
    return lines


def _parameters(a: RuleSet, b: RuleSet) -> list[str]:
    old, new = a.parameters.model_dump(), b.parameters.model_dump()
    rows = [(code(k), _value(old.get(k)), _value(new.get(k))) for k in new if old.get(k) != new.get(k)]
    if not rows:
        return []
    return ["### Parameters", "", table(("Parameter", "Before", "From now on"), rows), ""]


def _value(v: Any) -> str:
    return "–" if v is None else code(str(v))


def _clauses(a: RuleSet, b: RuleSet, new: PolicyVersion) -> list[str]:
    before = {c.id: c for c in a.clauses}
    after = {c.id: c for c in b.clauses}
    changed = [(code(i), cell(before[i].en), cell(c.en)) for i, c in after.items() if i in before and
               (before[i].sv, before[i].en) != (c.sv, c.en)]
    added = [(code(i), cell(c.en), c.enforcement) for i, c in after.items() if i not in before]
    removed = [(code(i), cell(c.en)) for i, c in before.items() if i not in after]
    lines: list[str] = []
    if changed:
        lines += ["### Changed clauses", "", table(("Clause", "Before", "From now on"), changed), ""]
    if added:
        lines += ["### New clauses", "", table(("Clause", "Text (English)", "Enforcement"), added), ""]
    if removed:
        lines += ["### Removed clauses", "", table(("Clause", "Text (English)"), removed), ""]
    return lines


def _vocabulary(a: RuleSet, b: RuleSet) -> list[str]:
    rows = []
    for kind in _VOCABULARY_KINDS:
        old = set(a.vocabulary.ids(kind))
        for term in getattr(b.vocabulary, kind):
            if term.id not in old:
                rows.append((kind.replace("_", " "), code(term.id), cell(term.en)))
    if not rows:
        return []
    return ["### New terms", "", table(("Kind", "Term", "Meaning"), rows), ""]


def _rules(a: RuleSet, b: RuleSet, family: str, label: str) -> list[str]:
    fa, fb = getattr(a, family), getattr(b, family)
    before = {r.id: r for r in fa.rules}
    after = {r.id: r for r in fb.rules}
    rows = []
    for rid, rule in after.items():
        old = before.get(rid)
        if old is None:
            rows.append(("added", rule, fb))
        elif _definition(old) != _definition(rule):
            rows.append(("replaced", rule, fb))
    rows += [("removed", rule, fa) for rid, rule in before.items() if rid not in after]
    if not rows:
        return []
    return [f"### {label} rules", "",
            table(("Change", "Rule", "Applies when", "Effect", "Clauses"),
                  ((what, f"{code(r.id)}: {cell(r.title)}", cell(_when(r, fam)), cell(_effect(r)),
                    ", ".join(code(c) for c in r.clauses)) for what, r, fam in rows)), ""]


def _definition(rule: Any) -> Any:
    data = rule.model_dump(exclude={"source"})
    return repr(data)


def _when(rule: Any, family: Any) -> str:
    when = getattr(rule, "when", None)
    if when is None:
        return "–"
    try:
        return render(when, family.facts, family.predicate_titles)
    except (KeyError, TypeError, AttributeError):  # pragma: no cover - a family without rendering
        return "–"


def _effect(rule: Any) -> str:
    effect = getattr(rule, "effect", None)
    if effect == "forbid":
        return f"forbid: {rule.reason}"
    if effect == "permit":
        return "permit"
    then = getattr(rule, "then", None)
    mode = getattr(then, "mode", None) if then is not None else None
    return str(mode) if mode else str(getattr(rule, "decides", "") or "–")
