"""Explanations say what was asked, which rules fired and why, and quote the clauses."""

from __future__ import annotations

import pytest

import policykit
from policykit._ruleset.quoting import article
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


def test_the_question_reads_as_english_with_titles_in_the_order_asked(bundled_policy: policykit.Policy) -> None:
    """"to an authority", not "to a authority"; titles from the vocabulary where a person reads, with the
    ids after them; the categories in the order the question gave them, in the question and per category."""
    request = {
        "operation": "disclose", "data_categories": ["test_results", "name", "contact_info"],
        "purpose": "respond_to_requests", "recipient": {"kind": "authority", "country": "se"},
    }
    text = flat(bundled_policy.decide(request).explain())
    assert ("may We Select disclose Test results (test_results), Name (name), Contact information (contact_info) "
            "to a public authority (authority) in Sweden (SE)") in text
    assert "\"answering individuals' inquiries and claims\" (respond_to_requests)" in text
    per_category = text[text.index("Per data category:"):]
    assert per_category.index("Test results (test_results)") < per_category.index("Name (name)") \
        < per_category.index("Contact information (contact_info)")
    other = flat(bundled_policy.decide({**request, "recipient": {"kind": "existing_client_no_assignment", "country": "NO"},
                                        "purpose": "sell_recruitment_services"}).explain())
    assert "to an existing client without an assignment for the candidate (existing_client_no_assignment) in Norway (NO)" in other


@pytest.mark.parametrize(("phrase", "expected"), [
    ("authority", "an authority"), ("referee", "a referee"), ("existing client", "an existing client"),
    ("any other third party", "any other third party"), ("another controller", "another controller"),
])
def test_article(phrase: str, expected: str) -> None:
    assert article(phrase) == expected


def test_a_criminal_record_denial_names_art_10_and_its_interpretation(bundled_policy: policykit.Policy) -> None:
    """FX-04: the policy is silent on criminal-offence data; the denial says it rests on Art. 10 as
    the register's A-21 reads it (a statute must allow a private actor to process them)."""
    decision = bundled_policy.decide(CASES["FX-04"]["inputs"])
    text = flat(decision.explain())
    assert "NO_ART10_BASIS" in text
    block = text[text.index("[forbid] D6-CRIMINAL-NO-ART10-BASIS"):]
    block = block[: block.index("[forbid] D9") if "[forbid] D9" in block else len(block)]
    assert "Rests on interpretation A-21" in block
    assert "GDPR Art. 10" in block


def test_a_partly_refused_request_lists_the_duties_of_what_goes(bundled_policy: policykit.Policy) -> None:
    """FO-01: the name goes, the invoice does not; the duties of the name are spelled out as such."""
    text = flat(bundled_policy.decide(CASES["FO-01"]["inputs"]).explain())
    assert "Obligations that come with the categories that may go (Name (name)):" in text
    assert "- log_disclosure:" in text
    assert "(overridden where a forbid applies)" in text


def test_a_withdrawal_timestamp_is_shown_with_its_stockholm_date(bundled_policy: policykit.Policy) -> None:
    """23:30 UTC on 1 March 2024 is 00:30 on 2 March in Stockholm (CET, UTC+1): the line that shows the
    timestamp shows the date the rules judge, 2024-03-02."""
    verdict = bundled_policy.retention({"applications": ["2024-01-10"], "consent_withdrawn_on": "2024-03-01T23:30:00Z",
                                        "objection_received_on": "2024-03-05T23:30:00Z", "as_of": "2024-04-01"})
    lines = verdict.explain().splitlines()
    withdrawn = [line for line in lines if "Consent withdrawn:" in line]
    assert withdrawn == ["  - Consent withdrawn: 2024-03-01T23:30:00+00:00 (that is 2024-03-02 in Europe/Stockholm)."]
    objection = [line for line in lines if "Objection received" in line]
    assert len(objection) == 1 and "(that is 2024-03-06 in Europe/Stockholm)" in objection[0]
