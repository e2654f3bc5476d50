"""policykit's normaliser against the separately written one in tests/oracle.py, and against tables
worked out by hand: every country and territory, every jurisdiction, the date boundaries of
withdrawals, objections and applications, and Stockholm midnight."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import policykit
from policykit.testing import disclosure_requests
from tests.oracle import EEA, ISO_3166_ALPHA_2, oracle_facts, oracle_jurisdiction, oracle_outcome, stockholm_day

POLICY = policykit.load_policy()

# a transfer every rule allows inside the EU/EEA (D01 of the worked examples)
TRANSFER: dict[str, Any] = {
    "operation": "transfer",
    "data_categories": ["name", "contact_info"],
    "purpose": "present_candidates_to_clients",
    "as_of": "2024-06-03",
    "recipient": {"kind": "recruitment_client", "country": "SE", "active_assignment": True,
                  "confidentiality_undertaking": True, "data_agreement_signed": True},
}
# an authority's order to hand over interview notes (PK-D29 of the acceptance cases)
ORDER: dict[str, Any] = {
    "operation": "transfer",
    "data_categories": ["name", "interview_notes"],
    "purpose": "discrimination_disputes",
    "as_of": "2024-05-01",
    "recipient": {"kind": "authority", "country": "SE", "legal_obligation": True,
                  "legal_obligation_jurisdiction": "SE"},
}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, "recipient": dict(base["recipient"]), "candidate": dict(base.get("candidate", {}))}
    for path, value in changes.items():
        part, _, name = path.rpartition("__")
        (out[part] if part else out)[name] = value
    return out


def _policy_facts(request: dict[str, Any], today: dt.date = dt.date(2024, 6, 3)) -> dict[str, Any]:
    req = policykit.DisclosureRequest.parse(request)
    values, _ = POLICY._disclosure.normaliser.normalise(req, today)
    return dict(zip(POLICY._disclosure.fact_names, values, strict=True))


# ---- countries and territories --------------------------------------------------------------------


def test_the_oracle_tables_are_complete() -> None:
    """249 ISO codes; the EEA is the 27 member states, the three EFTA states and seven separately coded
    parts of the EU; Switzerland and the United Kingdom are outside."""
    assert len(ISO_3166_ALPHA_2) == 249
    assert len(EEA) == 27 + 3 + 7 and EEA <= ISO_3166_ALPHA_2
    assert {"CH", "GB", "SJ", "BV", "GL", "FO", "BL", "GI", "MC", "AD"}.isdisjoint(EEA)


@pytest.mark.parametrize("code", sorted(ISO_3166_ALPHA_2))
def test_every_country_and_territory_is_on_its_side_of_the_eea_border(code: str) -> None:
    """A transfer that every other rule allows: allowed exactly when the country is in the EU/EEA,
    otherwise denied OUTSIDE_EU_EEA (P-LAG-1), whatever transfer mechanism exists."""
    request = _with(TRANSFER, recipient__country=code, recipient__gdpr_transfer_mechanism="adequacy_decision")
    assert _policy_facts(request)["recipient.in_eea"] is (code in EEA)
    decision = POLICY.decide(request)
    if code in EEA:
        assert decision.allowed, decision.explain()
    else:
        assert not decision.allowed and "OUTSIDE_EU_EEA" in decision.reasons, decision.explain()


@pytest.mark.parametrize(("written", "inside"), [
    ("EL", True), ("UK", False), ("se", True), (" NO ", True), ("no", True), ("ch", False), ("gb", False),
])
def test_other_spellings_of_a_country(written: str, inside: bool) -> None:
    """EL is Greece and UK the United Kingdom; case and surrounding spaces do not matter."""
    assert _policy_facts(_with(TRANSFER, recipient__country=written))["recipient.in_eea"] is inside
    assert POLICY.decide(_with(TRANSFER, recipient__country=written)).allowed is inside


@pytest.mark.parametrize("written", ["XX", "EU", "SWE", "Sweden", "", "S E", "XK", "ZZ"])
def test_a_code_that_is_no_country_is_refused(written: str) -> None:
    with pytest.raises(policykit.errors.QueryError, match="recipient.country"):
        POLICY.decide(_with(TRANSFER, recipient__country=written))


# ---- jurisdictions -----------------------------------------------------------------------------------

JURISDICTIONS = [
    ("SE", "SE"), ("se", "SE"), (" SE ", "SE"), ("EU", "EU"), ("eu", "EU"),
    # the EEA EFTA states' law is not Union law (Art. 6(3) GDPR), nor is a member state's other than Sweden's
    ("NO", "other"), ("IS", "other"), ("LI", "other"), ("EEA", "other"), ("EES", "other"),
    ("DK", "other"), ("FI", "other"), ("US", "other"), ("CH", "other"), ("GB", "other"), ("Norway", "other"),
    (None, "none"), ("", "none"), ("  ", "none"),
]


@pytest.mark.parametrize(("written", "expected"), JURISDICTIONS)
def test_every_jurisdiction_is_read_as_whose_law_it_is(written: str | None, expected: str) -> None:
    assert oracle_jurisdiction(written) == expected
    assert _policy_facts(_with(ORDER, recipient__legal_obligation_jurisdiction=written))[
        "recipient.legal_obligation_jurisdiction"] == expected


@pytest.mark.parametrize(("written", "expected"), JURISDICTIONS)
def test_only_swedish_or_union_law_compels_a_disclosure(written: str | None, expected: str) -> None:
    """Step 0 of the disclosure procedure: an order under Swedish or Union law is complied with; an
    obligation under any other law, Norway's, Iceland's and Liechtenstein's included, falls through to
    the other rules, which deny an authority this transfer (NO_LEGAL_OBLIGATION)."""
    for country in ("SE", "NO"):
        decision = POLICY.decide(_with(ORDER, recipient__legal_obligation_jurisdiction=written,
                                       recipient__country=country))
        if expected in ("SE", "EU"):
            assert decision.allowed and "limit_to_scope_of_order" in decision.obligations, decision.explain()
        else:
            assert not decision.allowed and decision.reasons[0] == "NO_LEGAL_OBLIGATION", decision.explain()


# ---- date boundaries ---------------------------------------------------------------------------------

A = dt.date(2024, 3, 15)  # the latest application
DAY = dt.timedelta(days=1)
# (the withdrawal or objection, the day it is judged on, in force?) with the application on A
BOUNDARIES = [
    (A - DAY, A - DAY, True),    # given before the application, judged before it: stands
    (A - DAY, A, False),         # a later application is fresh consent (P-INTRO-3): superseded
    (A - DAY, A + DAY, False),
    (A, A, True),                # the same day as the application: only a LATER application renews
    (A, A + DAY, True),
    (A + DAY, A, False),         # not yet given
    (A + DAY, A + DAY, True),
    (A + DAY, A + 2 * DAY, True),
]


@pytest.mark.parametrize(("on", "as_of", "in_force"), BOUNDARIES)
@pytest.mark.parametrize("what", ["withdrawal", "objection"])
def test_withdrawal_and_objection_against_the_latest_application(
    what: str, on: dt.date, as_of: dt.date, in_force: bool
) -> None:
    """Facts and decisions around the application date, as worked out by hand."""
    if what == "withdrawal":
        candidate = {"consent_status": "withdrawn", "consent_withdrawn_on": on.isoformat()}
        fact, reason = "candidate.consent_withdrawn", "CONSENT_WITHDRAWN"
    else:
        candidate = {"objection_in_writing": True, "objection_received_on": on.isoformat()}
        fact, reason = "candidate.objected", "OBJECTION"
    request = {**TRANSFER, "as_of": as_of.isoformat(),
               "candidate": {**candidate, "latest_application": A.isoformat()}}
    req = policykit.DisclosureRequest.parse(request)
    assert oracle_facts(POLICY, req, as_of)[fact] is in_force
    assert _policy_facts(request)[fact] is in_force
    decision = POLICY.decide(request)
    assert decision.allowed is (not in_force), decision.explain()
    if in_force:
        assert decision.reasons[0] == reason


@pytest.mark.parametrize(("on", "as_of", "in_force"), BOUNDARIES)
def test_the_same_boundaries_when_as_of_is_today(on: dt.date, as_of: dt.date, in_force: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``as_of`` the facts are judged on the policy's today (Stockholm)."""
    noon = dt.datetime(as_of.year, as_of.month, as_of.day, 11, tzinfo=dt.UTC).timestamp()
    monkeypatch.setattr(time, "time", lambda: noon)
    with policykit.load_policy() as policy:
        assert policy.today() == as_of
        request = {k: v for k, v in TRANSFER.items() if k != "as_of"}
        request["candidate"] = {"consent_status": "withdrawn", "consent_withdrawn_on": on.isoformat(),
                                "latest_application": A.isoformat()}
        assert policy.decide(request).allowed is (not in_force)


# ---- Stockholm midnight ------------------------------------------------------------------------------

# (an instant, its Stockholm day), worked out by hand: CET is UTC+1, CEST (from 01:00 UTC on the last
# Sunday of March to 01:00 UTC on the last Sunday of October) UTC+2
MIDNIGHTS = [
    ("2024-01-15T22:59:59+00:00", "2024-01-15"),
    ("2024-01-15T23:00:00+00:00", "2024-01-16"),
    ("2024-02-28T23:00:00+00:00", "2024-02-29"),
    ("2024-02-29T23:30:00+00:00", "2024-03-01"),   # the worked example of A-27
    ("2024-03-30T22:59:59+00:00", "2024-03-30"),   # the night before summer time (CET)
    ("2024-03-30T23:00:00+00:00", "2024-03-31"),
    ("2024-03-31T21:59:59+00:00", "2024-03-31"),   # the first summer-time evening (CEST)
    ("2024-03-31T22:00:00+00:00", "2024-04-01"),
    ("2024-06-30T21:59:59+00:00", "2024-06-30"),
    ("2024-06-30T22:00:00+00:00", "2024-07-01"),
    ("2024-10-26T21:59:59+00:00", "2024-10-26"),
    ("2024-10-26T22:00:00+00:00", "2024-10-27"),   # the night summer time ends
    ("2024-10-27T22:59:59+00:00", "2024-10-27"),
    ("2024-10-27T23:00:00+00:00", "2024-10-28"),
    ("2024-12-31T22:59:59+00:00", "2024-12-31"),
    ("2024-12-31T23:00:00+00:00", "2025-01-01"),
    ("2025-01-01T00:30:00+01:00", "2025-01-01"),
    ("2024-12-31T17:59:59-05:00", "2024-12-31"),
    ("2024-12-31T18:00:00-05:00", "2025-01-01"),
]


@pytest.mark.parametrize(("instant", "day"), MIDNIGHTS)
def test_the_policy_today_turns_at_stockholm_midnight(instant: str, day: str, monkeypatch: pytest.MonkeyPatch) -> None:
    moment = dt.datetime.fromisoformat(instant)
    assert stockholm_day(moment) == dt.date.fromisoformat(day)
    monkeypatch.setattr(time, "time", moment.timestamp)
    with policykit.load_policy() as policy:
        assert policy.today() == dt.date.fromisoformat(day)


@pytest.mark.parametrize(("instant", "day"), MIDNIGHTS)
def test_an_application_timestamp_falls_on_its_stockholm_day(instant: str, day: str) -> None:
    """retention(): the latest application is the Stockholm calendar day of its timestamp, and the
    evidence window runs two years from it."""
    verdict = POLICY.retention({"applications": [instant], "consent_withdrawn_on": "2026-06-01",
                                "as_of": "2026-06-01"})
    assert verdict.latest_application_date == dt.date.fromisoformat(day)


def test_withdrawals_and_applications_timestamped_around_stockholm_midnight() -> None:
    """retention(): timestamps become Stockholm days before they are compared. A withdrawal at 23:30
    Stockholm time on the day of an application stands (same day); one at 00:30 the next day too; an
    application at 00:30 Stockholm time after a withdrawal at 23:30 the evening before supersedes it."""
    same = POLICY.retention({"applications": ["2024-03-15"], "consent_withdrawn_on": "2024-03-15T22:30:00Z",
                             "as_of": "2024-06-01"})
    assert same.trigger_date == dt.date(2024, 3, 15)
    assert same.retain_until == dt.date(2026, 3, 15) and same.anonymise_on == dt.date(2026, 3, 16)
    next_day = POLICY.retention({"applications": ["2024-03-15"], "consent_withdrawn_on": "2024-03-15T23:30:00Z",
                                 "as_of": "2024-06-01"})
    assert next_day.trigger_date == dt.date(2024, 3, 16)
    assert next_day.retain_until == dt.date(2026, 3, 15) and next_day.anonymise_on == dt.date(2026, 3, 16)
    renewed = POLICY.retention({"applications": ["2024-01-10", "2024-03-15T23:30:00Z"],
                                "consent_withdrawn_on": "2024-03-15T22:30:00Z", "as_of": "2024-06-01"})
    assert renewed.latest_application_date == dt.date(2024, 3, 16)
    assert renewed.trigger_date is None and renewed.anonymise_on is None


# ---- the whole normaliser, on generated requests -----------------------------------------------------

TODAYS = st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2031, 12, 31))


@given(disclosure_requests(), TODAYS)
def test_policy_facts_equal_the_oracles_facts(request: policykit.DisclosureRequest, today: dt.date) -> None:
    values, categories = POLICY._disclosure.normaliser.normalise(request, today)
    assert dict(zip(POLICY._disclosure.fact_names, values, strict=True)) == oracle_facts(POLICY, request, today)
    assert set(categories) == set(request.data_categories)


@given(disclosure_requests())
def test_the_engine_agrees_with_the_reference_on_the_oracles_facts(request: policykit.DisclosureRequest) -> None:
    """The differential check end to end: the engine's decision on the request equals the reference
    evaluator's on the facts the separately written normaliser reads from it."""
    assert POLICY.decide(request).outcome == oracle_outcome(POLICY, request)


# ---- refusals and the dependence on today ------------------------------------------------------------

UNKNOWN_TERMS = [
    ({"operation": "transferr"}, "operation: expected an operation, got 'transferr'"),
    ({"data_categories": ["name", "salary"]}, "data_categories[1]: expected a data category, got 'salary'"),
    ({"recipient": {**TRANSFER["recipient"], "kind": "friend"}}, "recipient.kind: expected a recipient kind, got 'friend'"),
    ({"recipient": {**TRANSFER["recipient"], "country": "XX"}},
     "recipient.country: expected an ISO 3166-1 alpha-2 code such as SE, got 'XX'"),
]


@pytest.mark.parametrize(("change", "message"), UNKNOWN_TERMS)
def test_an_unknown_term_is_refused_with_its_field_and_what_was_expected(change: dict[str, Any], message: str) -> None:
    with pytest.raises(policykit.errors.UnknownRequestTermError) as info:
        POLICY.decide({**TRANSFER, **change})
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(("as_of", "candidate", "dated"), [
    (None, {}, False),
    (None, {"consent_withdrawn_on": "2024-03-01"}, True),
    (None, {"objection_received_on": "2024-03-01"}, True),
    (None, {"consent_status": "withdrawn"}, False),       # undated: in force whatever the day
    (None, {"latest_application": "2024-03-01"}, False),  # only renews a dated withdrawal or objection
    ("2024-06-03", {"consent_withdrawn_on": "2024-03-01"}, False),
    ("2024-06-03", {"objection_received_on": "2024-03-01"}, False),
])
def test_an_answer_depends_on_today_only_through_dated_withdrawals_and_objections(
    as_of: str | None, candidate: dict[str, Any], dated: bool
) -> None:
    request = {k: v for k, v in TRANSFER.items() if k != "as_of"} | {"as_of": as_of, "candidate": candidate}
    assert POLICY._disclosure.normaliser.dated(policykit.DisclosureRequest.parse(request)) is dated
