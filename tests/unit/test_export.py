"""Access and portability exports of annotated records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from examples.candidate_model import Candidate

import policykit
from policykit import errors

RECORD = Path(__file__).parents[2] / "examples" / "records" / "candidate.json"
DAY = dt.date(2025, 3, 11)


@pytest.fixture
def candidate() -> Candidate:
    return Candidate.model_validate_json(RECORD.read_text(encoding="utf-8"))


def test_an_access_export_holds_every_field_by_category(
    bundled_policy: policykit.Policy, candidate: Candidate
) -> None:
    """Every annotated field appears under its category, nested paths indexed."""
    doc = bundled_policy.export(candidate, "access", as_of=DAY)
    assert doc["kind"] == "access"
    assert doc["generated_on"] == "2025-03-11"
    assert doc["policy"]["version"] == "2022-06-22"
    assert doc["data"]["name"] == {"candidate_id": "cand-000417", "name": "Sara Lindqvist"}
    assert doc["data"]["reference_notes"]["references[0].referee_phone"] == "+46 8 555 12 34"
    assert doc["data"]["interview_notes"]["applications[1].outcome"] == "withdrew"
    assert doc["data"]["application_documents"]["applications[1].cover_letter"] is None
    assert "special_category_data" in doc["categories"]


def test_an_access_export_carries_the_article_15_information(
    bundled_policy: policykit.Policy, candidate: Candidate
) -> None:
    """Purposes with stated bases, recipients, retention criteria, sources, rights with IMY, contact."""
    info = bundled_policy.export(candidate, "access", as_of=DAY)["information"]
    purposes = {p["id"]: p for p in info["purposes"]}
    assert len(purposes) == 10
    assert [b["gdpr"] for b in purposes["candidate_portal_services"]["legal_bases"]] == ["Art. 6(1)(b)", "Art. 6(1)(a)"]
    kinds = {r["kind"] for r in info["recipients"]}
    assert "recruitment_client" in kinds
    assert "other_third_party" not in kinds
    assert any("two years from your latest application" in c["en"] for c in info["retention_criteria"])
    assert info["sources"]["by_category"]["linkedin_profile"] == ["linkedin"]
    rights = {r["right"]: r for r in info["rights"]}
    assert {"objection", "rectification", "complaint"} <= set(rights)
    assert rights["complaint"]["authority"]["url"] == "https://www.imy.se"
    assert info["contact"]["email"] == "support@weselect.com"


def test_an_access_export_flags_other_peoples_data_for_review(
    bundled_policy: policykit.Policy, candidate: Candidate
) -> None:
    """Reference-note fields are listed for redaction of the referee's data before release (A-13)."""
    review = bundled_policy.export(candidate, "access", as_of=DAY)["review"]["redact_before_release"]
    assert review == ["references[0].referee_name", "references[0].referee_phone", "references[0].statement"]


def test_a_portability_export_holds_only_what_the_candidate_provided(
    bundled_policy: policykit.Policy, candidate: Candidate
) -> None:
    """Notes, test results, reference notes and the LinkedIn profile are left out, with reasons."""
    doc = bundled_policy.export(candidate, "portability", as_of=DAY)
    assert doc["format"] == "structured_commonly_used_machine_readable"
    assert set(doc["data"]) == {"name", "birth_date", "contact_info", "photo", "application_documents",
                                "special_category_data"}
    assert doc["not_included"] == {
        "interview_notes": "DERIVED_DATA",
        "reference_notes": "ADVERSELY_AFFECTS_OTHERS",
        "linkedin_profile": "BASIS_NOT_CONSENT_OR_CONTRACT",
        "test_results": "DERIVED_DATA",
    }
    assert "P-RATT-5" in doc["clauses"]
    assert "applications[0].outcome" not in json.dumps(doc)


def test_exports_are_json_ready(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Both kinds survive a JSON round trip unchanged."""
    for kind in ("access", "portability"):
        doc = bundled_policy.export(candidate, kind, as_of=DAY)
        assert json.loads(json.dumps(doc)) == doc


def test_the_default_date_is_today_in_stockholm(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Without as_of the export is dated today in the policy's time zone."""
    assert bundled_policy.export(candidate)["generated_on"] == bundled_policy.today().isoformat()


def test_an_unknown_export_kind_is_refused(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Only access and portability exports exist."""
    with pytest.raises(errors.RequestValidationError, match="kind: expected 'access' or 'portability'"):
        bundled_policy.export(candidate, "everything")


def test_only_model_instances_can_be_exported(bundled_policy: policykit.Policy) -> None:
    """A plain mapping is not an annotated record."""
    with pytest.raises(errors.AnnotationError):
        bundled_policy.export({"name": "x"})  # type: ignore[arg-type]
