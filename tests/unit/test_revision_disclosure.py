"""The disclosure side of the (hypothetical) 2026-07-01 revision beyond its worked cases: the optional
facts it reads (the Data Privacy Framework certification, the follow-up period of a placement), how
the earlier version treats what only the revision defines (A-35), and the overlay files it adds
(letters, the record of processing, the register of interpretations, the rights citations)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel

import policykit
from policykit import errors
from policykit.testing import disclosure_requests

ROOT = Path(__file__).parents[2]
REVISION = ROOT / "examples" / "policies" / "we-select-2026-07-01"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

AI = {
    "operation": "transfer",
    "data_categories": ["application_documents"],
    "purpose": "identify_potential_candidates",
    "recipient": {"kind": "ai_screening_provider", "country": "US", "dpf_certified": True,
                  "confidentiality_undertaking": True, "data_agreement_signed": True},
    "candidate": {"consent_status": "given"},
    "as_of": "2026-09-01",
}
FOLLOW_UP = {
    "operation": "disclose",
    "data_categories": ["name", "contact_info"],
    "purpose": "follow_up_placed_candidates",
    "recipient": {"kind": "subprocessor", "country": "SE", "confidentiality_undertaking": True,
                  "data_agreement_signed": True},
    "candidate": {"consent_status": "given", "placement_started_on": "2026-10-15"},
}


@pytest.fixture(scope="module")
def history() -> Iterator[policykit.PolicyHistory]:
    with policykit.load_history(policykit.bundled_rules_dir(), REVISION) as h:
        yield h


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    question = {**base}
    for key, value in changes.items():
        question[key] = {**base[key], **value} if isinstance(value, dict) and key in base else value
    return question


# ---- the Data Privacy Framework exception (A-39) -------------------------------------------------

@pytest.mark.parametrize(("country", "certified", "allowed"), [
    ("US", True, True),
    (" us ", True, True),     # a code as callers write it
    ("US", False, False),     # P-TP-11d: no valid certification, no transfer
    ("CH", True, False),      # the framework certifies organisations in the USA only
    ("GB", True, False),
    ("SE", False, True),      # inside the EU/EEA no certification is needed
])
def test_the_certification_opens_the_usa_only(history: policykit.PolicyHistory, country: str,
                                                  certified: bool, allowed: bool) -> None:
    d = history.decide(_with(AI, recipient={"country": country, "dpf_certified": certified}))
    assert d.allowed is allowed, d.explain()
    if not allowed:
        assert d.reason == "OUTSIDE_EU_EEA"


@pytest.mark.parametrize("kind", ["subprocessor", "test_provider", "recruitment_client", "background_check_provider"])
def test_no_other_certified_recipient_in_the_usa_is_excepted(history: policykit.PolicyHistory, kind: str) -> None:
    """P-LAG-2: "Det enda undantaget"."""
    d = history.decide(_with(AI, recipient={"kind": kind, "active_assignment": True}))
    assert (d.allowed, d.reason) == (False, "OUTSIDE_EU_EEA")


@pytest.mark.parametrize("mechanism", ["scc", "bcr", "adequacy_decision"])
def test_a_transfer_mechanism_opens_nothing(history: policykit.PolicyHistory, mechanism: str) -> None:
    d = history.decide(_with(AI, recipient={"dpf_certified": False, "gdpr_transfer_mechanism": mechanism}))
    assert (d.allowed, d.reason) == (False, "OUTSIDE_EU_EEA")


def test_only_a_transfer_outside_the_eea_asks_to_verify_the_certification(history: policykit.PolicyHistory) -> None:
    abroad = history.decide(AI)
    home = history.decide(_with(AI, recipient={"country": "DE", "dpf_certified": False}))
    assert "verify_dpf_certification" in abroad.obligations
    assert "verify_dpf_certification" not in home.obligations
    assert "human_review_of_ai_screening" in abroad.obligations
    assert "human_review_of_ai_screening" in home.obligations


@pytest.mark.parametrize(("changes", "reason"), [
    ({"operation": "show"}, "NO_APPLICABLE_PERMIT"),                  # a showing has no permit
    ({"purpose": "sell_recruitment_services"}, "PURPOSE_NOT_PERMITTED"),
    ({"data_categories": ["photo"]}, "EXCESSIVE_DATA"),
    ({"data_categories": ["test_results"]}, "EXCESSIVE_DATA"),
    ({"data_categories": ["video_interview_recording"]}, "EXCESSIVE_DATA"),   # P-TP-11b
    ({"contains_special_category": True}, "SPECIAL_CATEGORY_NO_EXPLICIT_CONSENT"),
    ({"contains_special_category": True,
      "candidate": {"explicit_consent_special_category": True, "special_category_relevant": True}},
     "SPECIAL_CATEGORY_NOT_RELEVANT"),                                 # P-TP-11b: never
    ({"operation": "disclose", "recipient": {"data_agreement_signed": False}}, "MISSING_CONFIDENTIALITY_OR_DPA"),
    ({"candidate": {"consent_status": "withdrawn"}}, "CONSENT_WITHDRAWN"),
])
def test_what_the_ai_screening_provider_may_not_receive(history: policykit.PolicyHistory,
                                                          changes: dict[str, Any], reason: str) -> None:
    d = history.decide(_with(AI, **changes))
    assert (d.allowed, d.reason) == (False, reason), d.explain()


# ---- the follow-up period (A-42) ----------------------------------------------------------------

@pytest.mark.parametrize(("started", "as_of", "open_"), [
    ("2026-10-15", "2026-10-14", False),   # before the start
    ("2026-10-15", "2026-10-15", True),    # the start day
    ("2026-10-15", "2027-10-15", True),    # twelve months later: the last day, inclusive
    ("2026-10-15", "2027-10-16", False),
    ("2026-08-31", "2027-08-31", True),
    ("2027-02-28", "2028-02-28", True),
    ("2027-02-28", "2028-02-29", False),   # the same day number, not the end of the month
    ("2028-02-29", "2029-02-28", True),    # no 29 February: the last day of the month
    ("2028-02-29", "2029-03-01", False),
])
def test_the_follow_up_period_counts_twelve_months_inclusive(history: policykit.PolicyHistory, started: str,
                                                               as_of: str, open_: bool) -> None:
    d = history.decide(_with(FOLLOW_UP, candidate={"placement_started_on": started}, as_of=as_of))
    assert d.allowed is open_, d.explain()
    if not open_:
        assert d.reason == "NOT_WITHIN_FOLLOW_UP_PERIOD"


def test_the_follow_up_period_comes_first_in_the_purpose_step(history: policykit.PolicyHistory) -> None:
    """Outside the period a recruitment client hears NOT_WITHIN_FOLLOW_UP_PERIOD before the purpose
    rule of its kind (both are step 8)."""
    d = history.decide(_with(FOLLOW_UP, recipient={"kind": "recruitment_client", "active_assignment": True},
                             as_of="2028-01-01"))
    assert d.reasons[:2] == ("NOT_WITHIN_FOLLOW_UP_PERIOD", "PURPOSE_NOT_PERMITTED")


def test_an_undated_follow_up_question_is_judged_each_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no as_of the period is judged on today: a remembered answer is not reused the next day."""
    policy = policykit.load_policy(REVISION)
    question = _with(FOLLOW_UP, candidate={"placement_started_on": "2026-10-15"})
    last_day = dt.datetime(2027, 10, 15, 12, tzinfo=STOCKHOLM).timestamp()
    monkeypatch.setattr("policykit._dates.time.time", lambda: last_day)
    assert policy.decide(question).allowed
    monkeypatch.setattr("policykit._dates.time.time", lambda: last_day + 86_400)
    assert policy.decide(question).reason == "NOT_WITHIN_FOLLOW_UP_PERIOD"


def test_a_rule_set_with_the_follow_up_fact_needs_its_parameter(tmp_path: Path) -> None:
    overlay = tmp_path / "no-period"
    overlay.mkdir()
    (overlay / "policy.yaml").write_text(
        f"extends: {REVISION}\npolicy:\n  version: \"x\"\n  effective_from: \"2026-08-01\"\n"
        "remove:\n  parameters: [placement_follow_up_months]\n", encoding="utf-8")
    with pytest.raises(errors.RuleSchemaError, match="placement_follow_up_months"):
        policykit.load_rules(overlay)


# ---- what only the revision defines, asked of 2022-06-22 ------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("data_categories", ["video_interview_recording"]),
    ("recipient", {"kind": "ai_screening_provider", "country": "SE"}),
])
def test_an_unknown_category_or_kind_is_an_input_error_before_the_switch(
        history: policykit.PolicyHistory, field: str, value: Any) -> None:
    question = _with(AI, as_of="2026-06-30", **{field: value})
    if field == "data_categories":
        question["recipient"] = {**question["recipient"], "kind": "subprocessor", "country": "SE"}
    with pytest.raises(errors.QueryError, match=field):
        history.decide(question)


def test_an_unknown_purpose_is_not_permitted_before_the_switch(history: policykit.PolicyHistory) -> None:
    d = history.decide(_with(FOLLOW_UP, as_of="2026-06-30", candidate={"placement_started_on": "2026-06-01"}))
    assert (d.allowed, d.reason, d.policy_version) == (False, "PURPOSE_NOT_PERMITTED", "2022-06-22")


_BUNDLED = policykit.load_policy()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=disclosure_requests(_BUNDLED))
def test_the_new_fields_have_no_effect_under_2022(request: policykit.DisclosureRequest) -> None:
    """A-35: every field the revision introduces is accepted by 2022-06-22 and changes none of its
    answers, whatever its value."""
    plain = request.model_dump()
    flipped = request.model_dump()
    flipped["recipient"].update(dpf_certified=not plain["recipient"]["dpf_certified"],
                                approved_by_candidate=not plain["recipient"]["approved_by_candidate"])
    flipped["candidate"].update(
        consent_to_show_profile=not plain["candidate"]["consent_to_show_profile"],
        placement_started_on=None if plain["candidate"]["placement_started_on"] else dt.date(2026, 3, 2),
    )
    a, b = _BUNDLED.decide(plain), _BUNDLED.decide(flipped)
    assert (a.allowed, a.reasons, a.obligations, dict(a.by_category), a.clauses) == (
        b.allowed, b.reasons, b.obligations, dict(b.by_category), b.clauses)


# ---- the overlay files ---------------------------------------------------------------------------

def test_the_register_adds_a_34_to_a_44_and_cites_the_rules() -> None:
    rules = policykit.load_rules(REVISION)
    ids = {i.id for i in rules.interpretations}
    assert {f"A-{n}" for n in range(34, 45)} <= ids
    by_id = {i.id: i for i in rules.interpretations}
    assert "D3-AI-PROVIDER-OUTSIDE-EEA" in by_id["A-39"].rules
    assert "D8-FOLLOW-UP-PERIOD" in by_id["A-42"].rules
    assert "DSR8-RECTIFICATION" in by_id["A-43"].rules
    assert not {f"A-{n}" for n in range(34, 45)} & {i.id for i in policykit.load_rules().interpretations}


def test_an_overlay_letters_file_adds_to_the_bundled_texts() -> None:
    bundled = policykit.load_rules().letters.raw
    revised = policykit.load_rules(REVISION).letters.raw
    assert set(revised.purposes) == set(bundled.purposes) | {"follow_up_placed_candidates"}
    assert revised.greeting == bundled.greeting


def test_an_overlay_activity_is_merged_by_purpose() -> None:
    bundled = [a.purpose for a in policykit.load_rules().processing.activities]
    revised = [a.purpose for a in policykit.load_rules(REVISION).processing.activities]
    assert revised == [*bundled, "follow_up_placed_candidates"]


@pytest.mark.parametrize(("scope", "outcome", "complaint_cited"), [
    (["follow_up_placed_candidates"], "fulfil", False),
    (["follow_up_placed_candidates", "bookkeeping"], "partial", True),
    (["bookkeeping"], "not_applicable", True),
])
def test_a_response_that_is_not_a_fulfilment_cites_the_right_to_complain(
        history: policykit.PolicyHistory, scope: list[str], outcome: str, complaint_cited: bool) -> None:
    r = history.handle_request({"request": "objection", "channel": "email", "received_on": "2026-07-01",
                                "candidate_state": "active", "applications": ["2026-02-09"],
                                "objection_scope": scope})
    assert r.outcome == outcome
    assert ("P-RATT-8" in r.clauses) is complaint_cited
    assert "P-RATT-7" in r.clauses


def test_the_revision_overlay_copies_nothing_it_does_not_change(tmp_path: Path) -> None:
    """A copy of the overlay loads on its own (no file reaches outside it but `extends: bundled`)."""
    copy = tmp_path / "rev"
    shutil.copytree(REVISION, copy)
    assert policykit.load_rules(copy).meta.version == "2026-07-01"


def test_a_redaction_dated_by_a_timestamp_is_answered_by_the_version_of_its_stockholm_date(
        history: policykit.PolicyHistory) -> None:
    class Profile(BaseModel):
        name: Annotated[str, policykit.Category("name")]
        cv: Annotated[str, policykit.Category("application_documents")]

    show = {"operation": "show", "purpose": "sell_recruitment_services",
            "recipient": {"kind": "prospective_client", "country": "SE", "relevant_to_candidate_competence": True}}
    before = history.redact(Profile(name="Ada", cv="..."), {**show, "as_of": "2026-06-30T21:59:00Z"})
    after = history.redact(Profile(name="Ada", cv="..."), {**show, "as_of": "2026-06-30T22:00:00Z"})
    assert before.decision is not None and after.decision is not None
    assert (before.decision.policy_version, before.decision.allowed) == ("2022-06-22", True)
    assert (after.decision.policy_version, after.decision.reason) == ("2026-07-01", "NO_CONSENT_TO_SHOW_PROFILE")
    assert after.data == {}
