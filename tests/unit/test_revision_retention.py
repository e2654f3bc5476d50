"""Retention capabilities a later policy version uses: a track of recorded items whose date is the
earliest of several, and the lapse of consent after an unconfirmed review period. Each is written
here as a small overlay of the bundled rules, so the capability is tested apart from the 2026-07-01
revision; the revision's own cases are in tests/acceptance/cases/versions. Expected dates are worked
out by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import policykit
from policykit import errors

REVISION = Path(__file__).parents[2] / "examples" / "policies" / "we-select-2026-07-01"

CATEGORY = """
data_categories:
  - id: kept_recording
    clause: P-PU-3e
    sv: Inspelning
    en: A recording
    dpv: ["pd:Picture"]
    identifiability: direct
    art9: risk
    art10: "no"
    portability: "no"
    identifying: true
    free_text: true
    evidence: false
    typical_source: [candidate]
"""

RECORDING_RULE = """
rules:
  - id: RET-TEST-RECORDING
    decides: recording
    title: A test recording goes ten days after it was made, or a month after consent ended
    description: A rule for the test.
    clauses: [P-RET-3]
    when:
      has_recordings: true
    then:
      category: kept_recording
      erase_on:
        earliest:
          - {from: interview, days: 10}
          - {from: trigger, months: 1}
      until_dispute_resolved: {dispute}
"""


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")


def overlay(tmp_path: Path, *, parameters: str = "", retention: str | None = None, vocabulary: str = "") -> Path:
    directory = tmp_path / "overlay"
    write(directory, "policy.yaml", "extends: bundled\npolicy:\n  version: test-1\n" + parameters)
    if retention is not None:
        write(directory, "retention.yaml", retention)
    if vocabulary:
        write(directory, "vocabulary.yaml", vocabulary)
    return directory


@pytest.fixture
def recording_policy(tmp_path: Path) -> policykit.Policy:
    directory = overlay(tmp_path, retention=RECORDING_RULE.replace("{dispute}", "false"), vocabulary=CATEGORY)
    return policykit.load_policy(directory)


def ask(policy: policykit.Policy, **facts: Any) -> policykit.RetentionVerdict:
    return policy.retention({"applications": ["2025-03-03"], **facts})


# ------------------------------------------------------------------------------------------------
# the recording track


def test_each_recording_goes_on_the_earliest_of_its_dates(recording_policy: policykit.Policy) -> None:
    """Made 2025-04-01: 10 days later is 2025-04-11. Consent ended 2025-04-05: a month later is
    2025-05-05. The earliest is 04-11; a second recording of 04-20 goes on 04-30."""
    v = ask(recording_policy, consent_withdrawn_on="2025-04-05", as_of="2025-04-10",
            video_interviews=[{"interviewed_on": "2025-04-01"}])
    assert v.video_recording_erase_on == dt.date(2025, 4, 11)
    assert [r.erase_on for r in v.video_recordings] == [dt.date(2025, 4, 11)]
    assert "kept_recording" not in v.erase_now  # not due yet, whatever the mode's list of non-evidence
    due = ask(recording_policy, as_of="2025-05-02",
              video_interviews=[{"interviewed_on": "2025-04-20"}, {"interviewed_on": "2025-04-01"}])
    assert [r.erase_on for r in due.video_recordings] == [dt.date(2025, 4, 30), dt.date(2025, 4, 11)]
    assert due.video_recording_erase_on == dt.date(2025, 4, 11)
    assert "kept_recording" in due.erase_now
    assert "RET-TEST-RECORDING" in due.rule_ids


def test_the_end_of_consent_can_come_first(recording_policy: policykit.Policy) -> None:
    """Made 2025-04-01 (10 days: 04-11); consent ended 2025-03-05 (a month: 04-05): 04-05 wins."""
    v = ask(recording_policy, consent_withdrawn_on="2025-03-05", as_of="2025-04-02",
            video_interviews=[{"interviewed_on": "2025-04-01"}])
    assert v.video_recording_erase_on == dt.date(2025, 4, 5)


def test_without_the_dispute_flag_a_pending_dispute_keeps_nothing(recording_policy: policykit.Policy) -> None:
    v = ask(recording_policy, as_of="2025-04-20", video_interviews=[{"interviewed_on": "2025-04-01"}],
            disputes=[{"opened_on": "2025-04-02", "status": "pending"}])
    assert v.video_recording_erase_on == dt.date(2025, 4, 11)


def test_with_the_dispute_flag_a_dispute_pending_on_the_day_keeps_the_item(tmp_path: Path) -> None:
    directory = overlay(tmp_path, retention=RECORDING_RULE.replace("{dispute}", "true"), vocabulary=CATEGORY)
    policy = policykit.load_policy(directory)
    pending = ask(policy, as_of="2025-04-20", video_interviews=[{"interviewed_on": "2025-04-01"}],
                  disputes=[{"opened_on": "2025-04-11", "status": "pending"}])
    assert pending.video_recording_erase_on is None
    assert pending.video_recordings[0].held_for_dispute
    resolved = ask(policy, as_of="2025-06-20", video_interviews=[{"interviewed_on": "2025-04-01"}],
                   disputes=[{"opened_on": "2025-04-11", "status": "resolved", "resolved_on": "2025-06-01"}])
    assert resolved.video_recording_erase_on == dt.date(2025, 6, 1)
    later = ask(policy, as_of="2025-04-20", video_interviews=[{"interviewed_on": "2025-04-01"}],
                disputes=[{"opened_on": "2025-04-12", "status": "pending"}])
    assert later.video_recording_erase_on == dt.date(2025, 4, 11)


def test_without_a_recording_rule_recordings_are_accepted_and_ignored() -> None:
    policy = policykit.load_policy()
    plain = ask(policy, as_of="2025-04-20")
    given = ask(policy, as_of="2025-04-20", video_interviews=[{"interviewed_on": "2019-01-01"}],
                interest_confirmed_on=["2030-01-01"])
    assert given.video_recording_erase_on is None
    assert given.to_dict() == plain.to_dict()


@pytest.mark.parametrize(
    ("then", "message"),
    [
        ("      erase_on: {earliest: [{from: interview, days: 10}]}\n", "two dates or more"),
        ("      erase_on: {earliest: [{from: interview}], days: 3}\n", "nothing beside"),
        ("      erase_on: {from: window_anchor}\n", "expected an anchor allowed for 'erase_on'"),
    ],
)
def test_a_malformed_recording_date_is_refused(tmp_path: Path, then: str, message: str) -> None:
    rule = RECORDING_RULE.split("      erase_on:", maxsplit=1)[0].replace("{dispute}", "false") + then
    directory = overlay(tmp_path, retention=rule, vocabulary=CATEGORY)
    with pytest.raises(errors.DefinitionError, match=message):
        policykit.load_policy(directory)


def test_a_recording_rule_names_a_known_category(tmp_path: Path) -> None:
    missing = RECORDING_RULE.replace("      category: kept_recording\n", "").replace("{dispute}", "false")
    with pytest.raises(errors.RuleSchemaError, match="expected 'category'"):
        policykit.load_policy(overlay(tmp_path, retention=missing, vocabulary=CATEGORY))
    unknown = RECORDING_RULE.replace("{dispute}", "false")
    with pytest.raises(errors.UnknownTermError, match="kept_recording"):
        policykit.load_policy(overlay(tmp_path / "b", retention=unknown))


def test_only_a_recording_rule_names_a_category(tmp_path: Path) -> None:
    note = """
rules:
  - id: RET-TEST-NOTE
    decides: note
    title: A note
    description: A note for the test.
    clauses: [P-RET-3]
    when: {has_recordings: true}
    then: {category: name}
"""
    with pytest.raises(errors.RuleSchemaError, match="only recording rules set it"):
        policykit.load_policy(overlay(tmp_path, retention=note))


# ------------------------------------------------------------------------------------------------
# the lapse of consent


@pytest.fixture
def lapsing_policy(tmp_path: Path) -> policykit.Policy:
    """The bundled rules with consent lapsing after the review period (24 months there)."""
    return policykit.load_policy(overlay(tmp_path, parameters="parameters:\n  consent_lapses_after_review: true\n"))


def test_consent_lapses_the_day_after_the_review_period(lapsing_policy: policykit.Policy) -> None:
    """Applied 2023-01-31: 24 months end on 2025-01-31 (the last day); the lapse is 2025-02-01, and
    the evidence window of two years ends the same 2025-01-31, so the record is anonymised at once."""
    last = lapsing_policy.retention({"applications": ["2023-01-31"], "as_of": "2025-01-31"})
    assert (last.retention_mode, last.review_on) == ("indefinite_while_relevant", dt.date(2025, 1, 31))
    assert last.trigger_date is None
    lapsed = lapsing_policy.retention({"applications": ["2023-01-31"], "as_of": "2025-02-01"})
    assert lapsed.trigger == ("consent_lapsed",)
    assert (lapsed.retention_mode, lapsed.anonymise_on) == ("anonymise_now", dt.date(2025, 2, 1))
    assert "RET-ACTIVE" not in lapsed.rule_ids


def test_a_confirmation_within_the_period_restarts_it(lapsing_policy: policykit.Policy) -> None:
    """Confirmed 2024-12-31, inside the period: it now ends on 2026-12-31. A confirmation after an
    earlier withdrawal has no effect."""
    v = lapsing_policy.retention({"applications": ["2023-01-31"], "interest_confirmed_on": "2024-12-31",
                                  "as_of": "2025-03-01"})
    assert (v.retention_mode, v.review_on) == ("indefinite_while_relevant", dt.date(2026, 12, 31))
    w = lapsing_policy.retention({"applications": ["2023-01-31"], "consent_withdrawn_on": "2024-06-01",
                                  "interest_confirmed_on": "2024-12-31", "as_of": "2025-03-01"})
    assert (w.trigger, w.trigger_date) == (("consent_withdrawn",), dt.date(2024, 6, 1))


def test_a_withdrawal_on_the_lapse_day_names_both(lapsing_policy: policykit.Policy) -> None:
    v = lapsing_policy.retention({"applications": ["2023-01-31"], "consent_withdrawn_on": "2025-02-01",
                                  "as_of": "2025-02-03"})
    assert v.trigger_date == dt.date(2025, 2, 1)
    assert set(v.trigger) == {"consent_withdrawn", "consent_lapsed"}


def test_a_confirmation_after_as_of_is_refused(lapsing_policy: policykit.Policy) -> None:
    with pytest.raises(errors.InvalidDateError, match="interest_confirmed_on"):
        lapsing_policy.retention({"applications": ["2023-01-31"], "interest_confirmed_on": "2025-03-02",
                                  "as_of": "2025-03-01"})


def test_a_request_infers_no_lapse(lapsing_policy: policykit.Policy) -> None:
    """The request is the trigger: an erasure on 2025-03-03 anonymises on that day, not on the lapse."""
    r = lapsing_policy.handle_request({"request": "erasure", "channel": "email", "received_on": "2025-03-03",
                                       "applications": ["2023-01-31"], "data_held": ["name"]})
    assert r.anonymise_on == dt.date(2025, 3, 3)


# ------------------------------------------------------------------------------------------------
# the revision's recordings: the inputs it refuses


@pytest.fixture(scope="module")
def revision() -> policykit.Policy:
    return policykit.load_policy(REVISION)


@pytest.mark.parametrize(
    ("interview", "message"),
    [
        ({"interviewed_on": "2026-06-30"}, "on or after 2026-07-01"),
        ({"interviewed_on": "2026-06-30T21:59:00Z"}, "on or after 2026-07-01"),
        ({"interviewed_on": "2026-09-21"}, "on or before as_of"),
        ({"interviewed_on": "2026-09-10", "recording_consent_withdrawn_on": "2026-09-09"}, "on or after interviewed_on"),
    ],
)
def test_an_impossible_recording_is_refused(revision: policykit.Policy, interview: dict[str, str], message: str) -> None:
    with pytest.raises(errors.InvalidDateError, match=message) as caught:
        revision.retention({"applications": ["2026-08-17"], "as_of": "2026-09-20", "video_interviews": [interview]})
    assert "video_interviews[0]" in str(caught.value)


def test_a_recording_at_stockholm_midnight_is_accepted(revision: policykit.Policy) -> None:
    """2026-06-30T22:00:00Z is 00:00 on 1 July in Stockholm: 30 days later is 2026-07-31."""
    v = revision.retention({"applications": ["2026-06-01"], "as_of": "2026-07-10",
                            "video_interviews": [{"interviewed_on": "2026-06-30T22:00:00Z"}]})
    assert v.video_recording_erase_on == dt.date(2026, 7, 31)


def test_an_unknown_field_of_a_recording_is_refused(revision: policykit.Policy) -> None:
    with pytest.raises(errors.RequestValidationError, match="recording_consent_withdrawn_on"):
        revision.retention({"applications": ["2026-08-17"], "as_of": "2026-09-20",
                            "video_interviews": [{"interviewed_on": "2026-09-10", "withdrawn_on": "2026-09-11"}]})
