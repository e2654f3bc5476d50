"""Disclosure requests: shape checks, vocabulary checks, normalisation of dates and copies, and the
Decision object."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings

import policykit
from policykit import errors
from policykit._disclosure.decision import DisclosureRequest, normalise
from policykit.testing import disclosure_requests
from tests.oracle import oracle_facts

BASE: dict[str, Any] = {
    "operation": "transfer",
    "data_categories": ["name", "application_documents"],
    "purpose": "present_candidates_to_clients",
    "recipient": {"kind": "recruitment_client", "country": "SE", "active_assignment": True,
                  "confidentiality_undertaking": True, "data_agreement_signed": True},
}


def with_(**changes: Any) -> dict[str, Any]:
    """BASE with top-level fields replaced; ``recipient``/``candidate`` dicts are merged."""
    out = {**BASE}
    for key, value in changes.items():
        if key in ("recipient", "candidate") and isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out


def facts(policy: policykit.Policy, request: dict[str, Any]) -> dict[str, Any]:
    key, _ = normalise(DisclosureRequest.parse(request), policy.rules, dt.date(2025, 1, 1))
    return dict(zip(policy._disclosure.fact_names, key, strict=True))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({k: v for k, v in BASE.items() if k != "recipient"}, "recipient: expected a value, found none"),
        (with_(colour="blue"), "colour: unexpected field"),
        (with_(data_categories=[]), "data_categories: tuple should have at least 1 item"),
        (with_(contains_special_category="yes"), "contains_special_category: input should be a valid boolean"),
        (with_(as_of="2024-02-30"), "as_of: expected a real calendar date"),
        (with_(as_of="30/01/2024"), "as_of: expected a real calendar date"),
        (with_(as_of=20240101), "as_of: expected a date as YYYY-MM-DD"),
        (with_(candidate={"consent_status": "revoked"}), "candidate.consent_status: input should be 'given' or 'withdrawn'"),
        (with_(min_cell_size=-1), "min_cell_size: input should be greater than or equal to 0"),
        (with_(recipient={"role": "owner"}), "recipient.role: input should be"),
    ],
)
def test_malformed_requests_are_refused_naming_the_field(
    bundled_policy: policykit.Policy, request_: dict[str, Any], message: str
) -> None:
    """Shape errors are RequestValidationError naming the field and what was expected."""
    with pytest.raises(errors.RequestValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bundled_policy.decide(request_)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (with_(operation="tranfer"), "operation: expected an operation, got 'tranfer' (did you mean 'transfer'?)"),
        (with_(data_categories=["name", "cv"]), "data_categories[1]: expected a data category, got 'cv'"),
        (with_(recipient={"kind": "client"}), "recipient.kind: expected a recipient kind, got 'client'"),
        (with_(recipient={"country": "Sweden"}), "recipient.country: expected an ISO 3166-1 alpha-2 code"),
        (with_(recipient={"country": "XX"}), "recipient.country: expected an ISO 3166-1 alpha-2 code"),
    ],
)
def test_unknown_terms_are_refused_with_a_suggestion(
    bundled_policy: policykit.Policy, request_: dict[str, Any], message: str
) -> None:
    """Vocabulary errors are UnknownRequestTermError: never a silent allow."""
    with pytest.raises(errors.UnknownRequestTermError) as info:
        bundled_policy.decide(request_)
    assert message in str(info.value)


def test_a_non_mapping_request_is_refused(bundled_policy: policykit.Policy) -> None:
    """Only a DisclosureRequest or a mapping is a request."""
    with pytest.raises(errors.RequestValidationError, match="expected a DisclosureRequest or a mapping"):
        bundled_policy.decide(["transfer"])  # type: ignore[arg-type]


def test_an_unknown_purpose_is_a_purpose_the_policy_does_not_permit(bundled_policy: policykit.Policy) -> None:
    """A purpose outside the vocabulary is not an input error; it is refused as not permitted."""
    decision = bundled_policy.decide(with_(purpose="present_candidate_to_clients"))
    assert decision.reasons == ("PURPOSE_NOT_PERMITTED",)
    assert "did you mean 'present_candidates_to_clients'" in " ".join(decision.explain().split())


def test_country_codes_accept_lower_case_and_aliases(bundled_policy: policykit.Policy) -> None:
    """'se' is Sweden; 'UK' is the United Kingdom (outside the EEA); 'EL' is Greece (inside)."""
    assert facts(bundled_policy, with_(recipient={"country": "se"}))["recipient.in_eea"] is True
    assert facts(bundled_policy, with_(recipient={"country": "UK"}))["recipient.in_eea"] is False
    assert facts(bundled_policy, with_(recipient={"country": "EL"}))["recipient.in_eea"] is True


def test_a_showing_that_leaves_a_copy_is_a_transfer(bundled_policy: policykit.Policy) -> None:
    """receives_copy turns show and disclose into transfer; a plain show stays a show."""
    assert facts(bundled_policy, with_(operation="show"))["operation"] == "show"
    assert facts(bundled_policy, with_(operation="show", recipient={"receives_copy": True}))["operation"] == "transfer"
    assert facts(bundled_policy, with_(operation="disclose", recipient={"receives_copy": True}))["operation"] == "transfer"


@pytest.mark.parametrize(
    ("candidate", "as_of", "withdrawn"),
    [
        ({"consent_status": "withdrawn"}, None, True),
        ({"consent_status": "withdrawn", "consent_withdrawn_on": "2024-05-02"}, "2024-05-02", True),
        ({"consent_status": "withdrawn", "consent_withdrawn_on": "2024-05-02"}, "2024-05-01", False),
        ({"consent_status": "withdrawn", "consent_withdrawn_on": "2024-05-02", "latest_application": "2024-06-01"},
         "2024-07-01", False),
        ({"consent_status": "withdrawn", "consent_withdrawn_on": "2024-05-02", "latest_application": "2024-06-01"},
         "2024-05-20", True),
        ({"consent_status": "given", "consent_withdrawn_on": "2024-05-02"}, "2024-06-01", True),
        ({"consent_status": "given"}, None, False),
    ],
)
def test_withdrawal_is_judged_as_of_the_disclosure_date(
    bundled_policy: policykit.Policy, candidate: dict[str, Any], as_of: str | None, withdrawn: bool
) -> None:
    """A withdrawal counts from its date, until a later application renews consent (P-INTRO-3, A-06)."""
    request = with_(candidate=candidate, **({"as_of": as_of} if as_of else {}))
    assert facts(bundled_policy, request)["candidate.consent_withdrawn"] is withdrawn


@pytest.mark.parametrize(
    ("candidate", "objected"),
    [
        ({"objection_in_writing": True}, True),
        ({"objection_in_writing": True, "objection_received_on": "2025-02-01"}, False),
        ({"objection_received_on": "2024-12-01"}, True),
        ({"objection_in_writing": True, "objection_received_on": "2024-01-01", "latest_application": "2024-03-01"}, False),
    ],
)
def test_objection_is_judged_as_of_the_disclosure_date(
    bundled_policy: policykit.Policy, candidate: dict[str, Any], objected: bool
) -> None:
    """An objection counts from when it was received; a later application supersedes it."""
    request = with_(candidate=candidate, as_of="2025-01-01")
    assert facts(bundled_policy, request)["candidate.objected"] is objected


def test_aggregate_cell_size_is_judged_against_the_policy_parameter(bundled_policy: policykit.Policy) -> None:
    """min_cell_size meets the threshold at exactly aggregate_min_cell, and an unknown size never does."""
    threshold = bundled_policy.rules.parameters.aggregate_min_cell
    assert facts(bundled_policy, with_(min_cell_size=threshold))["data.min_cell_size_met"] is True
    assert facts(bundled_policy, with_(min_cell_size=threshold - 1))["data.min_cell_size_met"] is False
    assert facts(bundled_policy, BASE)["data.min_cell_size_met"] is False


def test_foreign_law_is_not_a_domestic_obligation(bundled_policy: policykit.Policy) -> None:
    """Only SE and EU law count; any other code is 'other', absence is 'none'."""
    def jurisdiction(code: str | None) -> Any:
        return facts(bundled_policy, with_(recipient={"legal_obligation_jurisdiction": code}))[
            "recipient.legal_obligation_jurisdiction"]
    assert [jurisdiction(c) for c in ("se", "EU", "US", None)] == ["SE", "EU", "other", "none"]


def test_decision_exposes_the_contract_attributes(bundled_policy: policykit.Policy) -> None:
    """allowed, reasons, obligations, by_category, rule_ids, clauses, policy_version, explain."""
    decision = bundled_policy.decide(BASE)
    assert decision.allowed is True
    assert decision.reasons == ()
    assert decision.reason is None
    assert decision.by_category == {"name": True, "application_documents": True}
    assert decision.rule_ids == ("D10-PERMIT-RECRUITMENT-CLIENT",)
    assert decision.policy_version == "2022-06-22"
    assert "log_disclosure" in decision.obligations
    assert decision.to_dict()["allowed"] is True


def test_a_partly_excessive_request_says_which_categories_may_go(bundled_policy: policykit.Policy) -> None:
    """by_category and category_reasons split a request category by category."""
    decision = bundled_policy.decide(with_(data_categories=["name", "bookkeeping_record"]))
    assert not decision.allowed
    assert decision.by_category == {"name": True, "bookkeeping_record": False}
    assert decision.category_reasons == {"name": (), "bookkeeping_record": ("EXCESSIVE_DATA",)}
    assert decision.deciding_rule == "D9-MINIMISE-RECRUITMENT-CLIENT"


def test_a_deny_carries_no_obligations_and_cites_the_deciding_rule(bundled_policy: policykit.Policy) -> None:
    """Obligations attach to allows only; a deny cites its deciding rule's clauses."""
    decision = bundled_policy.decide(with_(recipient={"country": "US"}))
    assert decision.obligations == ()
    assert decision.clauses[0] == "P-LAG-1"


def test_typed_requests_are_accepted_as_they_are(bundled_policy: policykit.Policy) -> None:
    """A DisclosureRequest built in code gets the same answer as the mapping."""
    typed = DisclosureRequest(
        operation=policykit.Operation.TRANSFER,
        data_categories=(policykit.DataCategory.NAME, policykit.DataCategory.APPLICATION_DOCUMENTS),
        purpose=policykit.Purpose.PRESENT_CANDIDATES_TO_CLIENTS,
        recipient=policykit.Recipient(kind="recruitment_client", country="SE", active_assignment=True,
                                      confidentiality_undertaking=True, data_agreement_signed=True),
    )
    assert bundled_policy.decide(typed).outcome == bundled_policy.decide(BASE).outcome


@settings(max_examples=200)
@given(disclosure_requests())
def test_the_integer_memo_key_round_trips_through_the_generic_encoding(request_: DisclosureRequest) -> None:
    """The hand-written key decodes to the facts the separately written normaliser (tests/oracle.py)
    reads from the request, and equals the generic mixed-radix encoding of those facts."""
    policy = _POLICY
    normaliser = policy._disclosure.normaliser
    today = dt.date(2025, 1, 1)
    expected = oracle_facts(policy, request_, today)
    values = tuple(expected[name] for name in normaliser.fact_names)
    categories = tuple(c for c in policy.rules.vocabulary.ids("data_categories") if c in request_.data_categories)
    key = normaliser.key(request_, today)
    assert normaliser.decode(key) == (values, categories)
    assert key == normaliser.encode(values, categories)
    # the cold path reads the key as the engine's number of the facts and the category bits
    assert normaliser.categories_of(key) == categories
    assert policy._disclosure.engine.evaluate_radix(key >> normaliser.category_bits, categories)[2] == values


_POLICY = policykit.load_policy()
