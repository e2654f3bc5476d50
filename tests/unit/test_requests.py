"""Data-subject requests: parsing and checking, dates around the rules, items, objections, direct
transmission, the memo, and the explained response."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

import policykit
from policykit import errors
from policykit._requests.response import (
    DataSubjectRequest,
    _objection,
    evidence_window,
    request_facts,
    request_items,
)

BASE: dict[str, Any] = {"channel": "email", "received_on": "2025-03-11"}


def ask(policy: policykit.Policy, **fields: Any) -> policykit.RequestResponse:
    return policy.handle_request({**BASE, **fields})


# ------------------------------------------------------------------------------------------------
# parsing and checking


def test_a_request_object_and_a_mapping_get_the_same_answer(bundled_policy: policykit.Policy) -> None:
    """handle_request accepts the typed request as well as a mapping of its fields."""
    fields = {**BASE, "request": "access", "data_held": ["name"]}
    typed = DataSubjectRequest.parse(fields)
    assert bundled_policy.handle_request(typed).to_dict() == bundled_policy.handle_request(fields).to_dict()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"request": "access"}, "channel: expected a value, found none"),
        ({**BASE, "request": "acces"}, "request: input should be 'access'"),
        ({**BASE, "request": "access", "channel": "fax"}, "channel: input should be"),
        ({**BASE, "request": "access", "colour": "red"}, "colour: unexpected field"),
        ({**BASE, "request": "access", "received_on": "2025-02-30"}, "received_on: expected a real calendar date"),
        ({**BASE, "request": "access", "contains_third_party_data": "yes"}, "contains_third_party_data"),
    ],
)
def test_malformed_requests_are_refused_with_the_field(
    bundled_policy: policykit.Policy, fields: dict[str, Any], message: str
) -> None:
    """Shape errors are RequestValidationErrors naming the field; no answer is given."""
    with pytest.raises(errors.RequestValidationError, match=message):
        bundled_policy.handle_request(fields)


def test_a_request_that_is_not_a_mapping_is_refused(bundled_policy: policykit.Policy) -> None:
    """Only a DataSubjectRequest or a mapping is a request."""
    with pytest.raises(errors.RequestValidationError, match="got list"):
        bundled_policy.handle_request([("request", "access")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"request": "access", "data_categories": ["test_result"]}, errors.UnknownRequestTermError,
         "data_categories\\[0\\]: expected a data category, got 'test_result' \\(did you mean 'test_results'"),
        ({"request": "access", "data_held": ["interview_note"]}, errors.UnknownRequestTermError,
         "did you mean 'interview_notes'"),
        ({"request": "portability", "legal_basis": ["consen"]}, errors.UnknownRequestTermError,
         "did you mean 'consent'"),
        ({"request": "objection", "objection_scope": ["statistics"]}, errors.UnknownRequestTermError,
         "did you mean 'statistics_target_group_optimisation'"),
        ({"request": "access", "objection_scope": ["bookkeeping"]}, errors.RequestValidationError,
         "only an objection has one"),
        ({"request": "portability_direct_transmission"}, errors.RequestValidationError,
         "recipient: expected \\{kind, country\\}"),
        ({"request": "portability", "recipient": {"country": "SE"}}, errors.RequestValidationError,
         "only portability_direct_transmission names a recipient"),
        ({"request": "portability_direct_transmission", "recipient": {"country": "XX"}},
         errors.UnknownRequestTermError, "recipient.country"),
        ({"request": "erasure", "previous_recipients": [{"kind": "client", "country": "SE"}]},
         errors.UnknownRequestTermError, "previous_recipients\\[0\\].kind"),
        ({"request": "access", "previous_copy_delivered_on": "2025-04-01"}, errors.InvalidDateError,
         "on or before received_on"),
    ],
)
def test_unknown_terms_and_inconsistent_fields_are_refused(
    bundled_policy: policykit.Policy, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Terms are checked against the vocabulary, with a "did you mean"; errors are QueryErrors."""
    with pytest.raises(error, match=message) as info:
        ask(bundled_policy, **fields)
    assert isinstance(info.value, errors.QueryError)


def test_item_names_outside_the_vocabulary_are_accepted(bundled_policy: policykit.Policy) -> None:
    """data_held may name items that are not categories: known aliases are judged by their category,
    anything else as an item outside the recruitment record."""
    r = ask(bundled_policy, request="erasure", applications=["2024-11-01"],
            data_held=["cv", "talent_pool_tags", "newsletter_clicks"])
    by_item = {d.item: d for d in r.dispositions}
    assert by_item["cv"].category == "application_documents"
    assert by_item["cv"].disposition == "retain"
    assert by_item["talent_pool_tags"].disposition == "erase_now"
    assert by_item["newsletter_clicks"].category == "other_item"
    assert any("newsletter_clicks" in note for note in r.reasons)


# ------------------------------------------------------------------------------------------------
# dates


def test_the_deadline_is_one_calendar_month_the_swedish_way(bundled_policy: policykit.Policy) -> None:
    """31 January + 1 month is the last day of February; the extension is 3 months from receipt."""
    r = ask(bundled_policy, request="access", received_on="2024-01-31")
    assert r.deadline == dt.date(2024, 2, 29)
    assert r.extended_deadline == dt.date(2024, 4, 30)
    assert r.extension_notice_by == r.deadline


def test_a_timestamp_of_receipt_becomes_its_stockholm_date(bundled_policy: policykit.Policy) -> None:
    """An e-mail received 2025-03-31T22:30Z arrived on 1 April in Stockholm (A-27); one month later is
    1 May, a public holiday, so the deadline is Friday 2 May (Lag 1930:173 2 §)."""
    r = ask(bundled_policy, request="access", received_on="2025-03-31T22:30:00Z")
    assert r.received_on == dt.date(2025, 4, 1)
    assert r.deadline == dt.date(2025, 5, 2)


def test_a_timestamp_without_a_zone_is_refused(bundled_policy: policykit.Policy) -> None:
    """Its calendar day would depend on where the code runs."""
    with pytest.raises(errors.RequestValidationError, match="with a time zone"):
        ask(bundled_policy, request="access", received_on="2025-03-31T22:30:00")


def window(policy: policykit.Policy, **fields: Any) -> Any:
    return evidence_window(policy, DataSubjectRequest.parse({**BASE, "request": "erasure", **fields}))


def test_the_evidence_window_runs_two_swedish_years_from_the_latest_application(
    bundled_policy: policykit.Policy,
) -> None:
    """Input order is irrelevant; the window is inclusive; anonymisation follows the next day."""
    w = window(bundled_policy, applications=["2024-02-29", "2023-06-01"])
    assert (w.status, w.latest_application) == ("open", dt.date(2024, 2, 29))
    assert (w.retain_until, w.anonymise_on) == (dt.date(2026, 2, 28), dt.date(2026, 3, 1))
    assert w.verdict is not None
    assert w.verdict.retention_mode == "evidence_window"


def test_on_its_last_day_the_window_is_still_open(bundled_policy: policykit.Policy) -> None:
    """retain_until is the last day the data must still exist."""
    assert window(bundled_policy, applications=["2023-03-11"]).status == "open"
    passed = window(bundled_policy, applications=["2023-03-10"])
    assert passed.status == "passed"
    assert passed.anonymise_on == dt.date(2025, 3, 11)


def test_applications_after_the_request_do_not_count(bundled_policy: policykit.Policy) -> None:
    """The window runs from the latest application on or before the day of the request (A-04)."""
    w = window(bundled_policy, applications=["2022-01-10", "2025-06-01"])
    assert (w.status, w.latest_application) == ("passed", dt.date(2022, 1, 10))


def test_without_applications_there_is_no_window_unless_the_record_is_held_as_evidence(
    bundled_policy: policykit.Policy,
) -> None:
    """An active candidate with no application has no window; an evidence hold has one of unknown end."""
    assert window(bundled_policy).status == "none"
    held = window(bundled_policy, candidate_state="evidence_hold")
    assert (held.status, held.retain_until) == ("open", None)


def test_a_request_that_ends_no_processing_needs_no_retention_dates(bundled_policy: policykit.Policy) -> None:
    """Access from an active candidate asks nothing of the retention rules."""
    req = DataSubjectRequest.parse({**BASE, "request": "access", "applications": ["2024-01-01"]})
    assert evidence_window(bundled_policy, req).verdict is None


@pytest.mark.parametrize(
    ("record", "keep_until"),
    [
        ({"financial_year_end": "2022-12-31"}, "2029-12-31"),
        ({"financial_year_end": "2023-06-30"}, "2030-12-31"),
        ({"dated": "2024-02-29"}, "2031-12-31"),
    ],
)
def test_accounting_records_are_kept_to_the_end_of_the_seventh_year(
    bundled_policy: policykit.Policy, record: dict[str, str], keep_until: str
) -> None:
    """31 December of the seventh year after the calendar year in which the financial year ended."""
    r = ask(bundled_policy, request="erasure", data_held=["name"], bookkeeping_record=record)
    assert r.bookkeeping_retain_until == dt.date.fromisoformat(keep_until)
    assert r.retain == ("bookkeeping_record",)
    assert r.retain_until_by_item["bookkeeping_record"] == dt.date.fromisoformat(keep_until)


def test_an_accounting_record_needs_a_date(bundled_policy: policykit.Policy) -> None:
    """Without a financial year end or a date, its period cannot be known."""
    with pytest.raises(errors.RequestValidationError, match="expected financial_year_end or dated"):
        ask(bundled_policy, request="erasure", bookkeeping_record={})


# ------------------------------------------------------------------------------------------------
# outcomes and their parts


def test_a_fulfilled_request_gives_no_refusal_grounds_or_complaint_notice(bundled_policy: policykit.Policy) -> None:
    """Grounds and the Art. 12(4) notices come only with a refusal, in whole or in part."""
    r = ask(bundled_policy, request="erasure", applications=["2024-11-01"], data_held=["linkedin_profile"])
    assert r.outcome == "fulfil"
    assert r.refusal_grounds == ()
    assert r.inform == ()


def test_only_the_first_outcome_counts_and_the_rest_is_explained(bundled_policy: policykit.Policy) -> None:
    """A redaction outcome takes precedence over the plain access rule, which still contributes."""
    r = ask(bundled_policy, request="access", data_held=["reference_notes"], contains_third_party_data=True)
    assert r.outcome == "fulfil_with_redaction"
    assert r.outcome_rule == "DSR3-ACCESS-THIRD-PARTY-DATA"
    assert "DSR3-ACCESS" in r.rule_ids
    assert "retention_criteria" in r.include_information
    assert "(outcome overridden by an earlier rule)" in r.explain()


def test_other_peoples_data_outside_reference_notes_are_redacted(bundled_policy: policykit.Policy) -> None:
    """contains_third_party_data without reference notes redacts third-party data in general."""
    r = ask(bundled_policy, request="access", data_held=["application_documents"], contains_third_party_data=True)
    assert r.outcome == "fulfil_with_redaction"
    assert r.redact == ("third_party_personal_data",)


def test_an_anonymised_record_is_answered_by_the_first_steps_only(bundled_policy: policykit.Policy) -> None:
    """Steps after 'nothing identifying held' are exempt: no item is judged."""
    r = ask(bundled_policy, request="erasure", candidate_state="anonymised", data_held=["name"])
    assert r.outcome == "not_applicable"
    assert r.rule_ids == ("DSR1-ANONYMISED",)
    assert r.dispositions == ()
    assert r.unaffected == ("name",)


def test_an_unknown_restriction_ground_is_refused_with_a_suggestion(bundled_policy: policykit.Policy) -> None:
    """An unrecognised ground is no Art. 18(1) ground; the response says which was probably meant."""
    r = ask(bundled_policy, request="restriction", ground="accuracy_contestd")
    assert r.outcome == "refuse"
    assert any("did you mean 'accuracy_contested'" in note for note in r.reasons)


@pytest.mark.parametrize(
    ("ground", "until"),
    [
        ("accuracy_contested", "accuracy_verified"),
        ("unlawful_processing_erasure_opposed", "candidate_lifts_restriction"),
        ("needed_for_legal_claims", "no_longer_needed_for_legal_claims"),
        ("objection_pending_verification", "objection_verified"),
    ],
)
def test_each_restriction_ground_restricts_until_its_event(
    bundled_policy: policykit.Policy, ground: str, until: str
) -> None:
    """Every Art. 18(1) ground is met, with the event that ends the restriction."""
    r = ask(bundled_policy, request="restriction", ground=ground, data_held=["name", "interview_notes"])
    assert r.outcome == "fulfil"
    assert r.restrict == ("name", "interview_notes")
    assert r.restrict_until == until
    assert r.notify_before_lifting_restriction


def test_objectable_purposes_follow_the_stated_legal_bases(bundled_policy: policykit.Policy) -> None:
    """Purposes on legitimate interest stop; answering requests continues on compelling grounds."""
    policy = bundled_policy
    li = {p.id for p in policy.rules.vocabulary.purposes if "legitimate_interest" in p.stated_legal_bases}
    whole = ask(policy, request="objection")
    assert set(whole.stop_purposes) == li - {"respond_to_requests"}
    limited = ask(policy, request="objection", objection_scope=["respond_to_requests", "respond_to_requests"])
    assert limited.outcome == "not_applicable"
    assert limited.continue_purposes == ("respond_to_requests",)
    assert "Arts. 12-22" in limited.continue_reasons["respond_to_requests"]


def test_a_whole_objection_past_the_window_anonymises_at_once(bundled_policy: policykit.Policy) -> None:
    """With the evidence window already over, nothing keeps the data (A-02, A-06)."""
    r = ask(bundled_policy, request="objection", applications=["2021-05-01"])
    assert r.outcome == "fulfil"
    assert r.retain_until is None
    assert r.anonymise_on == dt.date(2025, 3, 11)


def test_direct_transmission_is_checked_by_the_disclosure_rules(bundled_policy: policykit.Policy) -> None:
    """The delivered categories go to a designated controller only if decide() allows it."""
    ok = ask(bundled_policy, request="portability_direct_transmission", data_categories=["name", "photo"],
             recipient={"country": "NO"})
    assert ok.transmit_directly
    assert ok.transmission_decision is not None
    assert ok.transmission_decision.request.recipient.kind == "data_subject_designated_controller"
    assert set(ok.transmission_decision.request.data_categories) == {"name", "photo"}
    refused = ask(bundled_policy, request="portability_direct_transmission", data_categories=["name"],
                  recipient={"country": "CH"})
    assert not refused.transmit_directly
    assert refused.outcome == "partial"
    assert refused.transmission_decision is not None
    assert refused.transmission_decision.reasons == ("OUTSIDE_EU_EEA",)


def test_nothing_portable_means_portability_does_not_apply(bundled_policy: policykit.Policy) -> None:
    """When every item named is excluded, the outcome is not_applicable, with access offered."""
    r = ask(bundled_policy, request="portability", data_categories=["interview_notes", "test_results"],
            provided_by_candidate=True, legal_basis=["consent"])
    assert r.outcome == "not_applicable"
    assert r.exclude_reasons == {"interview_notes": "DERIVED_DATA", "test_results": "DERIVED_DATA"}


def test_portability_of_data_from_other_sources_does_not_apply(bundled_policy: policykit.Policy) -> None:
    """Without provided_by_candidate, sources that exclude the candidate mean not provided."""
    r = ask(bundled_policy, request="portability", data_categories=["name"], sources=["linkedin"])
    assert r.outcome == "not_applicable"
    assert r.refusal_grounds == ("Art. 20(1)",)
    assert r.offer_access


# ------------------------------------------------------------------------------------------------
# the response object


def test_the_response_explains_itself_citing_and_quoting_clauses(bundled_policy: policykit.Policy) -> None:
    """explain() gives the answer, the deadline, the rules and the clause texts."""
    r = ask(bundled_policy, request="erasure", applications=["2024-11-01"], data_held=["name", "linkedin_profile"])
    text = r.explain()
    assert "Answer: PARTIAL." in text
    assert "Deadline: 2025-04-11" in text
    assert "DSR4-KEEP-EVIDENCE" in text
    assert "linkedin_profile: erase_now" in text
    assert "Integritetsskyddsmyndigheten (IMY)" in text
    assert "Du har även rätt att i vissa fall kräva radering" in text


def test_the_response_is_json_ready(bundled_policy: policykit.Policy) -> None:
    """to_dict() survives a JSON round trip and carries the policy version."""
    r = ask(bundled_policy, request="portability_direct_transmission", data_categories=["name"],
            recipient={"country": "SE"}, previous_recipients=[{"kind": "test_provider", "country": "SE"}])
    data = json.loads(json.dumps(r.to_dict()))
    assert data["policy_version"] == "2022-06-22"
    assert data["deadline"] == "2025-04-11"
    assert data["dispositions"][0]["item"] == "name"
    assert "RequestResponse portability_direct_transmission" in repr(r)


def test_repeated_questions_are_answered_from_the_memo(bundled_policy: policykit.Policy) -> None:
    """The engine is asked once per combination of facts and item categories."""
    handler = bundled_policy._requests
    fields = {**BASE, "request": "access", "data_held": ["name", "photo"]}
    bundled_policy.handle_request(fields)
    before = handler._engine.stored_facts()
    first = handler.fired(_facts(bundled_policy, fields), ("name", "photo"))
    again = handler.fired(_facts(bundled_policy, fields), ("photo", "name"))
    assert first is again
    assert handler._engine.stored_facts() == before


def _facts(policy: policykit.Policy, fields: dict[str, Any]) -> dict[str, Any]:
    req = DataSubjectRequest.parse(fields)
    items = request_items(req, policy.rules)
    objection = _objection(req, policy.rules) if req.request == "objection" else None
    return request_facts(req, items, evidence_window(policy, req), objection, "not_requested")


def test_a_closed_policy_answers_no_new_request() -> None:
    """After close() the engine ruleset is gone; a request not in the memo raises EngineError."""
    policy = policykit.load_policy()
    policy.close()
    with pytest.raises(errors.EngineError, match="closed"):
        ask(policy, request="access")


def test_erasure_erases_now_what_the_retention_verdict_erases_now(bundled_policy: policykit.Policy) -> None:
    """For an active candidate in the window, the items erased at once are those the retention rules
    erase at once (special-category data aside: their explicit consent ends with the request, A-20)."""
    held = [*bundled_policy.rules.vocabulary.ids("data_categories"), "talent_pool_tags", "marketing_attributes"]
    r = ask(bundled_policy, request="erasure", applications=["2024-11-01"], data_held=held)
    assert r.window.verdict is not None
    assert set(r.erase_now) - {"special_category_data"} == set(r.window.verdict.erase_now) & set(held)
    assert "bookkeeping_record" in r.retain
    assert "aggregated_statistics" in r.unaffected
