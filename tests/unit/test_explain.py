"""Explanations say what was asked, which rules fired and why, and quote the clauses."""

from __future__ import annotations

import policykit
from tests.acceptance.cases import load_cases

CASES = {c["id"]: c for c in load_cases("disclosure")}


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_deny_names_its_reason_rule_and_quotes_clauses(bundled_policy: policykit.Policy) -> None:
    """D05: the deciding reason, the rule and the Swedish and English clause text."""
    text = flat(bundled_policy.decide(CASES["D05"]["inputs"]).explain())
    assert "Answer: DENIED. CONSENT_WITHDRAWN" in text
    assert "D4-CONSENT-WITHDRAWN" in text
    assert "Vid upphörande av samtycke" in text
    assert "On cessation of consent" in text
    assert "withdrawal of consent on 2024-05-02 is in effect on 2024-05-20" in text
    assert "(overridden: a forbid applies)" in text


def test_an_allow_lists_its_obligations(bundled_policy: policykit.Policy) -> None:
    """D07: the obligations of the showing are spelled out."""
    text = flat(bundled_policy.decide(CASES["D07"]["inputs"]).explain())
    assert "Answer: ALLOWED." in text
    assert "view_only_no_copy_no_download" in text
    assert "P-TP-4b" in text


def test_the_explanation_says_how_the_question_was_read(bundled_policy: policykit.Policy) -> None:
    """Normalisation is visible: copy makes a transfer; consent to sale has no effect; location."""
    text = flat(bundled_policy.decide(CASES["PK-D19"]["inputs"]).explain())
    assert "leaves a copy with the recipient counts as a transfer" in text
    text = flat(bundled_policy.decide(CASES["D15"]["inputs"]).explain())
    assert "consent to a sale has no effect" in text
    text = flat(bundled_policy.decide(CASES["PK-D08"]["inputs"]).explain())
    assert "Switzerland (CH) is outside the EU/EEA" in text
    assert "'adequacy_decision' does not substitute" in text


def test_every_case_explains_without_error(bundled_policy: policykit.Policy) -> None:
    """explain() works for every acceptance case and cites every clause of the decision."""
    for case in CASES.values():
        decision = bundled_policy.decide(case["inputs"])
        text = decision.explain()
        assert all(cid in text for cid in decision.clauses)
        assert all(rid in text for rid in decision.rule_ids)
