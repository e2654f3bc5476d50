"""Field-level redaction of annotated records: what is kept, what is withheld and how, nested models
and lists, untouched originals, and errors at annotation time rather than at send time."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import pytest
from examples.candidate_model import Candidate
from pydantic import BaseModel, ConfigDict

import policykit
from policykit import Category, errors

RECORD = Path(__file__).parents[2] / "examples" / "records" / "candidate.json"

CLIENT: dict[str, Any] = {
    "operation": "transfer",
    "purpose": "present_candidates_to_clients",
    "recipient": {"kind": "recruitment_client", "country": "SE", "active_assignment": True,
                  "confidentiality_undertaking": True, "data_agreement_signed": True},
}
REFEREE: dict[str, Any] = {
    "operation": "disclose",
    "purpose": "obtain_reference_statements",
    "recipient": {"kind": "reference", "country": "SE"},
}
COURT_ORDER: dict[str, Any] = {
    "operation": "disclose",
    "purpose": "discrimination_disputes",
    "recipient": {"kind": "authority", "country": "SE", "legal_obligation": True,
                  "legal_obligation_jurisdiction": "SE"},
}


@pytest.fixture
def candidate() -> Candidate:
    return Candidate.model_validate_json(RECORD.read_text(encoding="utf-8"))


class Note(BaseModel):
    text: Annotated[str, Category("interview_notes")]
    author_phone: Annotated[str | None, Category("contact_info")] = None


class Profile(BaseModel):
    name: Annotated[str, Category("name")]
    email: Annotated[str | None, Category("contact_info")] = None
    tags: Annotated[list[str], Category("linkedin_profile")] = []
    latest_note: Note | None = None
    notes: list[Note] = []


def test_what_the_decision_forbids_is_withheld_and_reported(
    bundled_policy: policykit.Policy, candidate: Candidate
) -> None:
    """Special-category data without explicit consent stay behind; the rest goes to the client."""
    r = bundled_policy.redact(candidate, CLIENT)
    assert [w.path for w in r.withheld] == ["health_adjustments"]
    w = r.withheld[0]
    assert (w.category, w.reason, w.rule_id) == (
        "special_category_data", "SPECIAL_CATEGORY_NO_EXPLICIT_CONSENT", "D6-SPECIAL-NO-EXPLICIT-CONSENT")
    assert w.clauses == ("P-SAM-1",)
    assert r.record is not None
    assert r.record.health_adjustments is None
    assert r.data["health_adjustments"] is None
    assert r.data["name"] == "Sara Lindqvist"


def test_what_is_released_carries_its_obligations(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """The health note is withheld, the rest goes to the client: what goes carries the recruitment
    permit's duties (D10-PERMIT-RECRUITMENT-CLIENT in docs/policy/disclosure.md: log the disclosure,
    limit it to the assignment, record the policy version), on the redaction and on its decision."""
    r = bundled_policy.redact(candidate, CLIENT)
    assert r.withheld
    duties = {"log_disclosure", "limit_to_data_relevant_to_assignment", "record_policy_version"}
    assert set(r.obligations) == duties
    assert r.decision is not None and set(r.decision.obligations) == duties
    assert "special_category_data" not in r.released_categories
    assert "name" in r.released_categories
    assert r.decision.category_obligations["special_category_data"] == ()
    data = r.to_dict()
    assert set(data["obligations"]) == duties
    assert set(data["decision"]["obligations"]) == duties


def test_nothing_released_carries_no_obligations(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """A client outside the EU/EEA receives nothing (P-LAG-1), so no duty comes with the redaction."""
    r = bundled_policy.redact(candidate, {**CLIENT, "recipient": {**CLIENT["recipient"], "country": "US"}})
    assert r.released_categories == ()
    assert r.obligations == ()


def test_the_decision_is_the_one_decide_gives_for_the_held_categories(
    bundled_policy: policykit.Policy, candidate: Candidate
) -> None:
    """The redaction asks decide() once, about exactly the categories the record holds."""
    r = bundled_policy.redact(candidate, {**CLIENT, "data_categories": ["bookkeeping_record"]})
    assert r.decision is not None
    held = {"name", "birth_date", "contact_info", "photo", "linkedin_profile", "application_documents",
            "interview_notes", "reference_notes", "test_results", "special_category_data"}
    assert set(r.decision.by_category) == held
    direct = bundled_policy.decide({**CLIENT, "data_categories": sorted(held)})
    assert dict(r.decision.by_category) == dict(direct.by_category)


def test_an_allowed_record_comes_back_unchanged(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """When every held category may go, the copy equals the record and nothing is withheld."""
    r = bundled_policy.redact(candidate, COURT_ORDER)
    assert r.complete
    assert r.record == candidate
    assert r.record is not candidate
    assert r.data == candidate.model_dump(mode="json")


def test_a_required_withheld_field_leaves_no_valid_record(
    bundled_policy: policykit.Policy, candidate: Candidate
) -> None:
    """A referee may learn the name only: required fields that may not go are dropped from the data,
    and no model instance can be built."""
    r = bundled_policy.redact(candidate, REFEREE)
    assert r.record is None
    assert r.data["name"] == "Sara Lindqvist"
    assert r.data["candidate_id"] == "cand-000417"
    assert "email" not in r.data
    assert r.data["phone"] is None
    assert r.data["interview_notes"] == []
    assert r.data["references"] == []
    assert r.data["applications"] == []
    assert "applications[0].cv_text" in {w.path for w in r.withheld}


def test_nested_models_and_lists_are_redacted_field_by_field(bundled_policy: policykit.Policy) -> None:
    """A nested model keeps what may go; one whose data are all withheld is removed or nulled."""
    profile = Profile(
        name="Ada", email="ada@example.se", tags=["python"],
        latest_note=Note(text="good", author_phone="+46 8 1"),
        notes=[Note(text="first"), Note(text="second", author_phone="+46 8 2")],
    )
    # a test provider may receive name and contact details, nothing else
    provider = {"operation": "transfer", "purpose": "personality_competence_assessment",
                "recipient": {"kind": "test_provider", "country": "SE", "confidentiality_undertaking": True,
                              "data_agreement_signed": True}}
    r = bundled_policy.redact(profile, provider)
    assert r.decision is not None
    assert not r.decision.by_category["interview_notes"]
    assert r.decision.by_category["contact_info"]
    assert r.record is None  # Note.text is required and withheld
    assert r.data["tags"] == []
    assert r.data["latest_note"] == {"author_phone": "+46 8 1"}
    assert r.data["notes"] == [{"author_phone": "+46 8 2"}]
    paths = [w.path for w in r.withheld]
    assert paths == ["tags", "latest_note.text", "notes[0].text", "notes[1].text"]


def test_a_fully_withheld_optional_nested_model_becomes_none(bundled_policy: policykit.Policy) -> None:
    """When nothing of a nested model may go, the optional field becomes None."""
    profile = Profile(name="Ada", latest_note=Note(text="good"))
    r = bundled_policy.redact(profile, REFEREE)
    assert r.record is not None
    assert r.record.latest_note is None
    assert r.record.name == "Ada"


def test_the_original_frozen_record_is_not_touched(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Redaction builds copies; the (frozen) record keeps every value."""
    before = candidate.model_dump()
    bundled_policy.redact(candidate, REFEREE)
    assert candidate.model_dump() == before


def test_a_record_that_holds_nothing_needs_no_decision(bundled_policy: policykit.Policy) -> None:
    """Empty fields hold no data: nothing would leave, so nothing is decided."""
    class Empty(BaseModel):
        model_config = ConfigDict(frozen=True)
        email: Annotated[str | None, Category("contact_info")] = None
        notes: Annotated[list[str], Category("interview_notes")] = []

    r = bundled_policy.redact(Empty(), CLIENT)
    assert r.decision is None
    assert r.complete
    assert r.data == {"email": None, "notes": []}


def test_a_typed_disclosure_request_is_accepted(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """A DisclosureRequest works too; its data_categories are replaced by the record's."""
    typed = policykit.DisclosureRequest.parse({**REFEREE, "data_categories": ["name"]})
    r = bundled_policy.redact(candidate, typed)
    assert r.decision is not None
    assert len(r.decision.by_category) == 10


def test_the_redaction_is_json_ready(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """to_dict() holds the data, the withheld fields and the decision."""
    data = json.loads(json.dumps(bundled_policy.redact(candidate, REFEREE).to_dict()))
    assert data["decision"]["allowed"] is False
    assert data["withheld"][0]["reason"] == "EXCESSIVE_DATA"


# ------------------------------------------------------------------------------------------------
# errors


def test_a_field_without_a_category_is_an_error_when_the_model_is_inspected(
    bundled_policy: policykit.Policy,
) -> None:
    """An unannotated field fails at annotation time, before anything is sent."""
    class Loose(BaseModel):
        name: Annotated[str, Category("name")]
        nickname: str

    with pytest.raises(errors.AnnotationError, match="Loose.nickname: expected Annotated"):
        policykit.check_model(Loose)
    with pytest.raises(errors.AnnotationError, match="Loose.nickname"):
        bundled_policy.redact(Loose(name="a", nickname="b"), CLIENT)


def test_an_unknown_category_is_an_error_when_the_class_is_defined() -> None:
    """Category('...') checks its id against the vocabulary at once, with a suggestion."""
    with pytest.raises(errors.AnnotationError, match="did you mean 'contact_info'"):
        class Wrong(BaseModel):
            email: Annotated[str, Category("contact_infos")]


def test_only_model_instances_can_be_redacted(bundled_policy: policykit.Policy) -> None:
    """A plain dict is not an annotated record."""
    with pytest.raises(errors.AnnotationError, match="expected an instance of a pydantic model"):
        bundled_policy.redact({"name": "x"}, CLIENT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({**CLIENT, "recipient": {"kind": "client", "country": "SE"}}, errors.UnknownRequestTermError),
        ({"operation": "transfer", "purpose": "present_candidates_to_clients"}, errors.RequestValidationError),
        ("transfer", errors.RequestValidationError),
    ],
)
def test_a_bad_request_is_refused_even_for_an_empty_record(
    bundled_policy: policykit.Policy, request_: Any, error: type[Exception]
) -> None:
    """A malformed disclosure request is an error, whatever the record holds."""
    class Empty(BaseModel):
        email: Annotated[str | None, Category("contact_info")] = None

    for record in (Empty(), Empty(email="a@b.se")):
        with pytest.raises(error):
            bundled_policy.redact(record, request_)


def test_dates_survive_redaction(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Python values stay typed in the record copy and become ISO strings in the data."""
    r = bundled_policy.redact(candidate, CLIENT)
    assert r.record is not None
    assert r.record.birth_date == dt.date(1991, 6, 14)
    assert r.data["birth_date"] == "1991-06-14"


@pytest.mark.parametrize(("as_of", "withdrawn"), [
    ("2026-05-03T21:59:00Z", False),   # 23:59 CEST on 3 May: before the withdrawal
    ("2026-05-03T22:00:00Z", True),    # 00:00 CEST on 4 May: the withdrawal counts
    ("2026-05-04T00:30:00+02:00", True),
])
def test_a_timestamp_as_of_is_the_stockholm_date(bundled_policy: policykit.Policy, as_of: str,
                                                 withdrawn: bool) -> None:
    """A redaction request is dated like a disclosure question: a zoned timestamp is its local date."""
    request = {**CLIENT, "as_of": as_of,
               "candidate": {"consent_status": "withdrawn", "consent_withdrawn_on": "2026-05-04"}}
    result = bundled_policy.redact(Profile(name="Ada"), request)
    assert result.decision is not None
    assert result.decision.request.as_of == dt.date(2026, 5, 4 if withdrawn else 3)
    assert (result.decision.reason == "CONSENT_WITHDRAWN") is withdrawn


def test_a_timestamp_as_of_without_a_zone_is_refused(bundled_policy: policykit.Policy) -> None:
    with pytest.raises(errors.RequestValidationError, match="as_of"):
        bundled_policy.redact(Profile(name="Ada"), {**CLIENT, "as_of": "2026-05-03T22:00:00"})
