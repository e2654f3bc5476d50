"""policykit.testing: strategies, assertions that explain, and the pytest plugin."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import zoneinfo
from typing import Any

import pytest
from examples.candidate_model import Candidate
from hypothesis import given, settings
from hypothesis import strategies as st

import policykit
from policykit.errors import PolicyKitError, QueryError
from policykit.testing import (
    assert_allowed,
    assert_denied,
    candidate_records,
    disclosure_requests,
    malformed_disclosure_requests,
    retention_facts,
)
from tests.oracle import oracle_outcome

pytest_plugins = ["pytester"]

POLICY = policykit.load_policy()

D01 = {
    "operation": "transfer",
    "data_categories": ["name", "contact_info", "application_documents"],
    "purpose": "present_candidates_to_clients",
    "recipient": {"kind": "recruitment_client", "country": "SE", "active_assignment": True,
                  "confidentiality_undertaking": True, "data_agreement_signed": True},
}
D08 = {**D01, "recipient": {**D01["recipient"], "kind": "prospective_client", "active_assignment": False}}


def test_importing_policykit_imports_neither_hypothesis_nor_pytest() -> None:
    """The testing extras stay out of the runtime import."""
    code = "import sys, policykit; policykit.load_policy(); print('hypothesis' in sys.modules, 'pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@given(disclosure_requests())
def test_disclosure_requests_are_valid_questions(request: policykit.DisclosureRequest) -> None:
    """Every generated request is answered (never an error), odd values included, and the answer is
    the reference evaluator's on the facts of the separately written normaliser (tests/oracle.py)."""
    assert POLICY.decide(request).outcome == oracle_outcome(POLICY, request)


@given(disclosure_requests(operation="show", recipient={"kind": "prospective_client"}, candidate={"anonymised": True}))
def test_fixed_fields_are_kept(request: policykit.DisclosureRequest) -> None:
    """Pinned fields, including fields of the recipient and the candidate, keep their values."""
    assert request.operation == "show" and request.recipient.kind == "prospective_client"
    assert request.candidate.anonymised


@given(malformed_disclosure_requests())
def test_malformed_requests_are_refused(data: Any) -> None:
    """Every malformed input raises a QueryError; none is answered."""
    with pytest.raises(QueryError):
        POLICY.decide(data)


@given(retention_facts())
def test_retention_facts_are_answered(facts: policykit.RetentionFacts) -> None:
    """Generated retention facts are consistent: retention() answers every one."""
    verdict = POLICY.retention(facts)
    assert verdict.retention_mode in {m.value for m in policykit.RetentionMode}


@given(retention_facts(as_of="2040-01-01", erasure_requested_on=st.just("2039-06-01")))
def test_retention_facts_can_be_pinned(facts: policykit.RetentionFacts) -> None:
    """A pinned field keeps its value."""
    assert str(facts.as_of) == "2040-01-01"


@settings(max_examples=20)
@given(candidate_records(Candidate))
def test_candidate_records_build_the_users_model(record: Candidate) -> None:
    """Records are valid instances of the annotated model, nested models included, and anonymise."""
    assert isinstance(record, Candidate)
    result = POLICY.anonymise(record)
    assert isinstance(result.record, Candidate)


def test_candidate_records_refuse_an_unannotated_model() -> None:
    """A model with a field that carries no category is refused at once."""
    from pydantic import BaseModel  # noqa: PLC0415

    class Bare(BaseModel):
        name: str

    with pytest.raises(PolicyKitError, match=r"Bare\.name"):
        candidate_records(Bare)


def test_assert_allowed_passes_and_returns_the_decision() -> None:
    """An allowed request passes."""
    assert assert_allowed(POLICY, D01).allowed


def test_assert_allowed_failure_shows_the_explanation() -> None:
    """The failure message is the decision's explanation, reasons and clauses included."""
    with pytest.raises(AssertionError) as info:
        assert_allowed(POLICY, D08)
    message = str(info.value)
    assert "expected the disclosure to be allowed, but it was denied (TRANSFER_TO_NON_ASSIGNMENT" in message
    assert "Rules that fired, in decision order:" in message and "P-TP-4b" in message


def test_assert_denied_checks_the_deciding_reason() -> None:
    """The deciding reason must match; a reason that is only among the others is said to be."""
    assert_denied(POLICY, D08, reason="TRANSFER_TO_NON_ASSIGNMENT_CLIENT_PROHIBITED")
    with pytest.raises(AssertionError, match="expected the deciding reason OUTSIDE_EU_EEA"):
        assert_denied(POLICY, D08, reason="OUTSIDE_EU_EEA")
    with pytest.raises(AssertionError, match="but it was allowed"):
        assert_denied(POLICY, D01)


def test_assertions_need_a_policy() -> None:
    """Passing the request first is a clear TypeError."""
    with pytest.raises(TypeError, match=r"policykit\.Policy"):
        assert_allowed(D01, POLICY)  # type: ignore[arg-type]


def test_the_plugin_offers_a_policykit_policy_fixture(pytester: pytest.Pytester) -> None:
    """A downstream test suite gets a session-scoped `policykit_policy` fixture without any conftest,
    and keeps the name `policy` for a fixture of its own."""
    pytester.makepyfile(textwrap.dedent('''
        from policykit.testing import assert_denied

        import pytest

        @pytest.fixture
        def policy():
            return "the downstream project's own fixture"

        def test_prospects_never_get_a_cv(policykit_policy):
            assert_denied(policykit_policy, {
                "operation": "transfer", "data_categories": ["application_documents"],
                "purpose": "sell_recruitment_services",
                "recipient": {"kind": "prospective_client", "country": "SE"},
            }, reason="TRANSFER_TO_NON_ASSIGNMENT_CLIENT_PROHIBITED")

        def test_same_policy(policykit_policy, request):
            assert policykit_policy is request.getfixturevalue("policykit_policy")
            assert policykit_policy.version == "2022-06-22"

        def test_the_name_policy_is_left_free(policy):
            assert policy == "the downstream project's own fixture"
    '''))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_the_plugin_loads_another_rules_directory(pytester: pytest.Pytester) -> None:
    """--policykit-rules DIR points the fixture at another rules directory."""
    rules = policykit.bundled_rules_dir()
    pytester.makepyfile(textwrap.dedent(f'''
        from pathlib import Path

        def test_rules_dir(policykit_policy):
            assert Path(policykit_policy.rules.directory) == Path({str(rules)!r})
    '''))
    result = pytester.runpytest("-p", "no:cacheprovider", "--policykit-rules", str(rules))
    result.assert_outcomes(passed=1)


@settings(max_examples=300)
@given(retention_facts())
def test_timestamped_applications_fall_on_their_own_stockholm_day(facts: policykit.RetentionFacts) -> None:
    """Regression: timestamps late in the UTC day fell on the next Stockholm day, so a withdrawal drawn
    for the UTC day came before the first application and retention() refused the facts. The latest
    application date is the latest Stockholm calendar day of the submissions (computed here with the
    standard library's zone data)."""
    stockholm = zoneinfo.ZoneInfo("Europe/Stockholm")
    days = [a.astimezone(stockholm).date() if isinstance(a, dt.datetime) else a for a in facts.applications]
    verdict = POLICY.retention(facts)
    assert verdict.latest_application_date == max(days)
    assert verdict.window_anchor is None or verdict.window_anchor >= max(days)
