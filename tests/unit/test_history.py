"""Policy versions: a history answers each question by the version in force on its date, exactly as
that version alone would."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policykit
from policykit import errors
from policykit.testing import disclosure_requests
from tests.acceptance.cases import CASES_DIR

ROOT = Path(__file__).parents[2]
REVISION = ROOT / "examples" / "policies" / "we-select-2026-07-01"
SWITCH = dt.date(2026, 7, 1)

# V-D01/V-D02 of the revision cases: a referee the candidate has not approved. Allowed under
# 2022-06-22 (P-TP-8 asks for no approval), refused under 2026-07-01 (P-TP-12).
REFEREE = {
    "operation": "disclose",
    "data_categories": ["name"],
    "disclosed_context": ["role_applied_for"],
    "purpose": "obtain_reference_statements",
    "recipient": {"kind": "reference", "country": "SE", "approved_by_candidate": False},
    "candidate": {"consent_status": "given"},
}


@pytest.fixture(scope="module")
def history() -> Iterator[policykit.PolicyHistory]:
    with policykit.load_history(policykit.bundled_rules_dir(), REVISION) as h:
        yield h


def test_versions_are_ordered_by_effective_date_whatever_the_argument_order() -> None:
    with policykit.load_history(REVISION, policykit.bundled_rules_dir()) as h:
        assert h.versions == ("2022-06-22", "2026-07-01")
        assert [v.effective_from for v in h.versions] == [dt.date(2022, 6, 22), SWITCH]
        assert h.at(dt.date(2026, 6, 30)).version == "2022-06-22"
        assert h.at(SWITCH).version == "2026-07-01"
        assert h.at(dt.date(2031, 1, 1)).version == "2026-07-01"


def test_no_argument_is_the_bundled_policy_alone() -> None:
    with policykit.load_history() as h:
        assert h.versions == ("2022-06-22",)
        assert h.versions[0].effective_from == dt.date(2022, 6, 22)
        assert h.decide({**REFEREE, "as_of": "2030-01-01"}).allowed


@pytest.mark.parametrize(("as_of", "version", "allowed"), [
    ("2026-06-30", "2022-06-22", True),
    ("2026-07-01", "2026-07-01", False),
    (dt.date(2026, 6, 30), "2022-06-22", True),
    # Stockholm is UTC+2 in summer: 21:59Z is 23:59 on 30 June, 22:00Z is midnight of 1 July
    ("2026-06-30T21:59:59Z", "2022-06-22", True),
    ("2026-06-30T22:00:00Z", "2026-07-01", False),
    ("2026-06-30T22:05:00+00:00", "2026-07-01", False),
    ("2026-07-01T00:30:00+02:00", "2026-07-01", False),
    ("2026-06-30T23:59:00+02:00", "2022-06-22", True),
    (dt.datetime(2026, 6, 30, 22, 0, tzinfo=dt.UTC), "2026-07-01", False),
])
def test_the_switch_is_at_stockholm_midnight(history: policykit.PolicyHistory, as_of: Any, version: str,
                                             allowed: bool) -> None:
    decision = history.decide({**REFEREE, "as_of": as_of})
    assert decision.policy_version == version
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reasons[0] == "REFEREE_NOT_APPROVED"


def test_a_single_policy_reads_a_zoned_timestamp_as_its_stockholm_date() -> None:
    with policykit.load_policy() as policy:
        decision = policy.decide({**REFEREE, "as_of": "2026-06-30T22:05:00Z"})
        assert decision.request is not None and decision.request.as_of == SWITCH
        verdict = policy.retention({"applications": ["2025-11-17"], "as_of": "2026-06-30T22:05:00Z"})
        assert verdict.as_of == SWITCH
        with pytest.raises(errors.QueryError, match="time zone"):
            policy.decide({**REFEREE, "as_of": "2026-06-30T22:05:00"})


def test_an_undated_question_is_dated_today_in_stockholm(history: policykit.PolicyHistory) -> None:
    today = dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()
    expected = "2026-07-01" if today >= SWITCH else "2022-06-22"
    assert history.decide(REFEREE).policy_version == expected
    assert history.retention({"applications": ["2025-09-08"]}).policy_version == expected


def test_a_question_before_the_first_version_names_its_date() -> None:
    with policykit.load_history(REVISION) as h:
        with pytest.raises(errors.QueryError, match="2026-07-01"):
            h.decide({**REFEREE, "as_of": "2026-06-30"})
        with pytest.raises(errors.QueryError, match="2026-07-01"):
            h.handle_request({"request": "access", "channel": "email", "received_on": "2026-06-30"})
        with pytest.raises(errors.QueryError, match="2026-07-01"):
            h.at(dt.date(2025, 1, 1))
        assert h.decide({**REFEREE, "as_of": "2026-07-01"}).reasons[0] == "REFEREE_NOT_APPROVED"


def _overlay(tmp_path: Path, name: str, extends: str, version: str, effective: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "policy.yaml").write_text(
        f"extends: {extends}\npolicy:\n  version: {version!r}\n  effective_from: {effective}\n", encoding="utf-8"
    )
    return d


def test_two_versions_with_one_date_are_refused(tmp_path: Path) -> None:
    same = _overlay(tmp_path, "same", "bundled", "copy", "2022-06-22")
    with pytest.raises(errors.DefinitionError, match="one version per effective date"):
        policykit.load_history(policykit.bundled_rules_dir(), same)


def test_a_gap_in_the_chain_of_extends_is_refused(tmp_path: Path) -> None:
    middle = _overlay(tmp_path, "middle", "bundled", "2024-01-01", "2024-01-01")
    last = _overlay(tmp_path, "last", "../middle", "2025-01-01", "2025-01-01")
    with pytest.raises(errors.DefinitionError, match="extend the version before it"):
        policykit.load_history(policykit.bundled_rules_dir(), last)
    # a complete copy does not extend the bundled rules either
    copy = tmp_path / "copy"
    shutil.copytree(policykit.bundled_rules_dir(), copy)
    text = (copy / "policy.yaml").read_text(encoding="utf-8").replace("effective_from: \"2022-06-22\"",
                                                                      "effective_from: 2023-01-01")
    (copy / "policy.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(errors.DefinitionError, match="no 'extends'"):
        policykit.load_history(policykit.bundled_rules_dir(), copy)
    with policykit.load_history(policykit.bundled_rules_dir(), middle, last) as h:
        assert h.versions == ("2022-06-22", "2024-01-01", "2025-01-01")


def test_two_histories_live_in_one_process(tmp_path: Path) -> None:
    """Each version keeps its own engine rulesets: closing one history leaves the other answering."""
    early = _overlay(tmp_path, "early", "bundled", "2024-01-01", "2024-01-01")
    first = policykit.load_history(policykit.bundled_rules_dir(), REVISION)
    second = policykit.load_history(policykit.bundled_rules_dir(), early)
    try:
        question = {**REFEREE, "as_of": "2026-08-01"}
        assert first.decide(question).policy_version == "2026-07-01"
        assert second.decide(question).policy_version == "2024-01-01"
        assert second.decide(question).allowed and not first.decide(question).allowed
        first.close()
        fresh = {**REFEREE, "as_of": "2026-08-02", "data_categories": ["name", "contact_info"]}
        assert second.decide(fresh).policy_version == "2024-01-01"
    finally:
        first.close()
        second.close()


def test_a_version_alone_answers_as_inside_the_history(history: policykit.PolicyHistory) -> None:
    """The revision loaded on its own gives the answers the history gives from 2026-07-01."""
    cases = yaml.safe_load((CASES_DIR / "versions" / "revision-2026-07-01.yaml").read_text(encoding="utf-8"))["cases"]
    late = [c for c in cases if c["expected"]["policy_version"] == "2026-07-01"]
    assert late
    with policykit.load_policy(REVISION) as alone:
        for case in late:
            ask = {"disclosure": "decide", "retention": "retention", "data_subject_request": "handle_request"}[case["area"]]
            mine = getattr(alone, ask)(case["inputs"]).to_dict()
            theirs = getattr(history, ask)(case["inputs"]).to_dict()
            assert mine == theirs, case["id"]


# the transition rule of the retention family (P-ANDR-4): the Stockholm date of the end of consent
# decides which anchor the evidence window takes
@pytest.mark.parametrize(("withdrawn", "retain_until"), [
    ("2026-06-22", "2027-11-17"),            # ended before 2026-07-01: two years from the application
    ("2026-06-30T21:59:00Z", "2027-11-17"),  # 23:59 on 30 June in Stockholm: still before
    ("2026-06-30T22:01:00Z", "2028-03-27"),  # 00:01 on 1 July: the 2026 anchor, the process's end
    ("2026-07-10", "2028-03-27"),
])
def test_the_transition_rule_keeps_the_earlier_window_for_consent_ended_before(
    history: policykit.PolicyHistory, withdrawn: str, retain_until: str
) -> None:
    facts = {"applications": ["2025-11-17"], "process_closed_on": "2026-03-27",
             "consent_withdrawn_on": withdrawn, "as_of": "2026-07-15"}
    verdict = history.retention(facts)
    assert verdict.policy_version == "2026-07-01"
    assert verdict.retention_mode == "evidence_window"
    assert verdict.retain_until == dt.date.fromisoformat(retain_until)
    # the 2022 version always counts from the application
    assert history.at(dt.date(2026, 6, 30)).retention({**facts, "as_of": "2026-07-15"}).retain_until == dt.date(2027, 11, 17)


@pytest.mark.parametrize(("application", "as_of", "review_on"), [
    ("2023-10-02", "2026-07-01", "2027-07-01"),   # activity long before: counted from 2026-07-01
    ("2025-09-08", "2026-07-01", "2027-07-01"),
    ("2026-08-15", "2026-09-01", "2027-08-15"),   # activity after the switch: its own twelve months
])
def test_the_talent_pool_period_counts_from_the_switch_at_the_earliest(
    history: policykit.PolicyHistory, application: str, as_of: str, review_on: str
) -> None:
    verdict = history.retention({"applications": [application], "as_of": as_of})
    assert verdict.retention_mode == "indefinite_while_relevant"
    assert verdict.review_on == dt.date.fromisoformat(review_on)


def test_a_request_follows_the_transition_rule(history: policykit.PolicyHistory) -> None:
    """An evidence-hold record whose consent ended before the switch keeps the 2022 window when asked
    about after it; one whose consent ends after takes the process's end as its anchor."""
    base = {"request": "erasure", "channel": "email", "candidate_state": "evidence_hold",
            "applications": ["2025-11-17"], "process_closed_on": "2026-03-27"}
    before = history.handle_request({**base, "received_on": "2026-07-20", "consent_withdrawn_on": "2026-06-22"})
    after = history.handle_request({**base, "received_on": "2026-07-20", "consent_withdrawn_on": "2026-07-02"})
    assert before.policy_version == after.policy_version == "2026-07-01"
    assert before.retain_until == dt.date(2027, 11, 17)
    assert after.retain_until == dt.date(2028, 3, 27)


_DAYS = st.dates(min_value=dt.date(2022, 6, 22), max_value=dt.date(2028, 12, 31))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=disclosure_requests(), day=_DAYS)
def test_history_answers_are_the_answers_of_the_version_in_force(
    history: policykit.PolicyHistory, request: policykit.DisclosureRequest, day: dt.date
) -> None:
    question = request.model_copy(update={"as_of": day})
    got = history.decide(question)
    want = history.at(day).decide(question)
    assert got.to_dict() == want.to_dict()
    assert got.policy_version == ("2026-07-01" if day >= SWITCH else "2022-06-22")
