"""Every explanation quotes exactly the clauses its answer cites, in Swedish and in English, and the
answer cites the clauses of the rules behind it (read here from the rule files, not from policykit).

For all three families: disclosure decisions, retention verdicts and data-subject request answers,
on the acceptance cases and on generated questions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given

import policykit
from policykit.testing import disclosure_requests, retention_facts
from tests.acceptance.cases import load_cases
from tests.property.strategies import subject_requests

POLICY = policykit.load_policy()
RULES = Path(POLICY.rules.directory)


def _read(name: str) -> Any:
    return yaml.safe_load((RULES / name).read_text(encoding="utf-8"))


def _space(text: str) -> str:
    return " ".join(str(text).split())


CLAUSE_TEXT = {c["id"]: (_space(c["sv"]), _space(c["en"])) for c in _read("clauses.yaml")["clauses"]}
RULE_CLAUSES = {
    family: {r["id"]: tuple(r["clauses"]) for r in _read(f"{family}.yaml")["rules"]}
    for family in ("disclosure", "retention", "requests")
}


def quoted(explanation: str) -> dict[str, tuple[str, str]]:
    """The clauses an explanation quotes, in order: id -> (Swedish, English), rewrapped on one line."""
    head = re.search(r"^Clauses behind the (decision|verdict|answer):$", explanation, re.M)
    assert head, "the explanation has no clause section"
    texts: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    language = ""
    for line in explanation[head.end():].splitlines()[1:]:
        if re.fullmatch(r"  [A-Z][A-Za-z0-9-]+", line):
            assert line.strip() not in texts, f"{line.strip()} is quoted twice"
            current = texts[line.strip()] = {"sv": [], "en": []}
            continue
        assert current is not None, f"unexpected line in the clause section: {line!r}"
        match = re.fullmatch(r"    (sv|en): (.*)", line)
        if match:
            language = match.group(1)
            current[language].append(match.group(2))
        else:
            assert line.startswith("      ") and language, f"unexpected line in the clause section: {line!r}"
            current[language].append(line.strip())
    return {cid: (_unquote(" ".join(t["sv"])), _unquote(" ".join(t["en"]))) for cid, t in texts.items()}


def _bare(text: str) -> str:
    return "".join(text.split())


def _unquote(text: str) -> str:
    text = _space(text)
    assert text.startswith('"') and text.endswith('"'), text
    return text[1:-1]


def check_quotes(answer: Any) -> None:
    """Exactly ``answer.clauses`` are quoted, in that order, each in both languages, word for word."""
    got = quoted(answer.explain())
    assert tuple(got) == tuple(answer.clauses), (tuple(got), answer.clauses)
    for cid, (sv, en) in got.items():
        # word for word; lines are wrapped at spaces and after hyphens, so compare without spacing
        assert [_bare(sv), _bare(en)] == [_bare(t) for t in CLAUSE_TEXT[cid]], cid
    text = answer.explain()
    said = mentioned(text)
    for cid in answer.clauses:
        assert f"Cites {cid}" in text or re.search(rf"Cites [^\n]*\b{cid}\b", text) \
            or cid in _structural_clauses(answer) or cid in said, cid
    # and the other way round: every clause the explanation relies on in its own sentences (how the
    # question was read, the answer, what to do, obligations, grounds) is a clause of the answer
    missing = [cid for cid in said if cid not in answer.clauses]
    assert not missing, f"the explanation relies on {missing} but the answer's clauses are {answer.clauses}"


#: a clause id as sentences write it (not the first or last of a range such as P-SYF-T01..T10)
CLAUSE_ID = re.compile(r"(?<![.\w-])P-[A-Z]+-[0-9A-Za-z]+(?![\w-]|\.\.)")


def mentioned(explanation: str) -> list[str]:
    """The clause ids an explanation's own sentences name: everything but the rule blocks (which name
    the clauses of every rule that fired, overridden permits included) and the quoted clauses."""
    kept: list[str] = []
    skipping = False
    for line in explanation.splitlines():
        if line and not line.startswith(" "):
            skipping = line.startswith(("Rules that fired", "Rules that applied", "Clauses behind"))
        if not skipping:
            kept.append(line)
    ids = [m for m in CLAUSE_ID.findall("\n".join(kept)) if m in CLAUSE_TEXT]
    return list(dict.fromkeys(ids))


def _structural_clauses(answer: Any) -> set[str]:
    """Clauses a disclosure answer cites without a rule citing them: the general prohibition, the
    purpose's clause (an allow) and the recipient kind's clause (a deny)."""
    vocab = _read("vocabulary.yaml")
    extra = {"P-TP-1"}
    extra |= {p["clause"] for p in vocab["purposes"] if p.get("clause")}
    extra |= {k["clause"] for k in vocab["recipient_kinds"] if k.get("clause")}
    return extra


def _union(family: str, rule_ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for r in rule_ids for c in RULE_CLAUSES[family][r]))


# ---- disclosure ------------------------------------------------------------------------------------


def check_disclosure(decision: policykit.Decision) -> None:
    check_quotes(decision)
    clauses = set(decision.clauses)
    if decision.allowed:
        # every permit that fired is cited (an allow rests on all of them)
        rules = _read("disclosure.yaml")["rules"]
        permits = {r["id"] for r in rules if r["effect"] == "permit"}
        for rule_id in decision.rule_ids:
            if rule_id in permits:
                assert set(RULE_CLAUSES["disclosure"][rule_id]) <= clauses, rule_id
    elif decision.deciding_rule is not None:
        assert set(RULE_CLAUSES["disclosure"][decision.deciding_rule]) <= clauses
    else:
        assert "P-TP-1" in clauses  # no permit: the general prohibition


@pytest.mark.parametrize("case", load_cases("disclosure"), ids=lambda c: c["id"])
def test_disclosure_cases_quote_their_clauses(case: dict[str, Any]) -> None:
    check_disclosure(POLICY.decide(case["inputs"]))


@given(disclosure_requests())
def test_generated_disclosure_decisions_quote_their_clauses(request: policykit.DisclosureRequest) -> None:
    check_disclosure(POLICY.decide(request))


# ---- retention -------------------------------------------------------------------------------------


def check_retention(verdict: policykit.RetentionVerdict) -> None:
    check_quotes(verdict)
    # a verdict rests on every rule that fired (the mode, bookkeeping, special-category tracks), then
    # on the clauses its own sentences rely on
    rules = _union("retention", verdict.rule_ids)
    assert verdict.clauses[: len(rules)] == rules
    said = mentioned(verdict.explain())
    assert all(cid in said for cid in verdict.clauses[len(rules):]), (verdict.clauses, said)


@pytest.mark.parametrize("case", load_cases("retention"), ids=lambda c: c["id"])
def test_retention_cases_quote_their_clauses(case: dict[str, Any]) -> None:
    check_retention(POLICY.retention(case["inputs"]))


@given(retention_facts(as_of="2040-01-01"))
def test_generated_retention_verdicts_quote_their_clauses(facts: policykit.RetentionFacts) -> None:
    check_retention(POLICY.retention(facts))


def test_a_bookkeeping_record_adds_its_clause_to_the_verdict() -> None:
    """Regression: an explanation quoted only the mode rule's clauses and lost P-SYF-T06."""
    verdict = POLICY.retention({"applications": ["2024-01-10"], "consent_withdrawn_on": "2024-03-01",
                                "bookkeeping_records": [{"financial_year_end": "2024-12-31"}],
                                "as_of": "2024-06-01"})
    assert verdict.rule_ids == ("RET-EVIDENCE-WINDOW", "RET-BOOKKEEPING-RECORDS")
    assert verdict.clauses == ("P-RET-3", "P-RET-4", "P-SYF-T06")
    check_retention(verdict)
    assert 'sv: "Bokföringsskyldighet"' in verdict.explain()


# ---- data-subject requests -------------------------------------------------------------------------


def check_request(response: Any) -> None:
    check_quotes(response)
    # the rules' clauses first, then those the explanation's own sentences rely on
    rules = _union("requests", response.rule_ids)
    assert response.clauses[: len(rules)] == rules
    said = mentioned(response.explain())
    assert all(cid in said for cid in response.clauses[len(rules):]), (response.clauses, said)


@pytest.mark.parametrize("case", load_cases("data_subject_request"), ids=lambda c: c["id"])
def test_request_cases_quote_their_clauses(case: dict[str, Any]) -> None:
    check_request(POLICY.handle_request(case["inputs"]))


@given(subject_requests())
def test_generated_request_answers_quote_their_clauses(request: dict[str, Any]) -> None:
    check_request(POLICY.handle_request(request))
