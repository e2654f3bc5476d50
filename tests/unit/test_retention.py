"""policykit._retention.verdict: reading retention facts, the engine behind the verdict, and the verdict."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from typing import Any

import pytest

import policykit
from policykit._ruleset.conditions import evaluate
from policykit.errors import InvalidDateError, RequestValidationError, UnknownRequestTermError

BASE: dict[str, Any] = {"applications": ["2023-12-31"], "consent_withdrawn_on": "2024-04-02"}


def verdict(policy: policykit.Policy, **facts: Any) -> policykit.RetentionVerdict:
    return policy.retention(facts)


# ---- bad facts are errors that name the field -----------------------------------------------------

BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"applications": ["2024-01-10"], "consent_withdrawn_on": "2023-06-01"}, InvalidDateError,
     "consent_withdrawn_on: expected a date on or after the first application (2024-01-10)"),
    ({"applications": ["2024-01-10"], "consent_withdrawn_on": ["2024-06-01", "2023-06-01"]}, InvalidDateError,
     "consent_withdrawn_on[1]:"),
    ({"applications": ["2024-13-10"]}, InvalidDateError, "applications[0]: expected a real calendar date"),
    ({"applications": ["2024-02-30"]}, InvalidDateError, "applications[0]: expected a real calendar date"),
    ({"applications": ["10/01/2024"]}, InvalidDateError, "applications[0]: expected a real calendar date"),
    ({"applications": ["2024-01-10T10:00:00"]}, InvalidDateError,
     "applications[0]: expected a timestamp with a time zone"),
    ({"applications": ["2024-01-10"], "consent_withdrawn_on": "yesterday"}, InvalidDateError, "consent_withdrawn_on"),
    ({"applications": ["2024-01-10"], "as_of": "2024-01-10T00:00:00Z"}, InvalidDateError,
     "as_of: expected a date as YYYY-MM-DD"),
    ({"applications": [20240110]}, InvalidDateError, "applications[0]"),
    ({"applications": ["2024-01-10"], "consent_withdrawn": "2024-02-01"}, RequestValidationError,
     "consent_withdrawn: unexpected field (did you mean 'consent_withdrawn_on'?)"),
    ({"applications": ["2024-01-10"], "objection_received_on": "2024-02-01", "objection_form": "e-mail"},
     UnknownRequestTermError, "objection_form: expected an objection form (email, letter, portal, phone, in_person), "
     "got 'e-mail' (did you mean 'email'?)"),
    ({"applications": ["2024-01-10"], "disputes": [{"opened_on": "2024-02-01", "status": "pendng"}]},
     UnknownRequestTermError, "disputes[0].status: expected a dispute status (pending, resolved), got 'pendng' "
     "(did you mean 'pending'?)"),
    ({"applications": ["2024-01-10"], "disputes": [{"status": "pending"}]}, RequestValidationError,
     "disputes[0].opened_on: expected a value, found none"),
    ({"applications": ["2024-01-10"], "disputes": [{"opened_on": "2024-02-01", "status": "resolved"}]},
     RequestValidationError, "disputes[0].resolved_on: expected the date a resolved dispute was resolved"),
    ({"applications": ["2024-01-10"],
      "disputes": [{"opened_on": "2024-02-01", "status": "pending", "resolved_on": "2024-03-01"}]},
     RequestValidationError, "disputes[0].resolved_on: expected no resolution date for a pending dispute"),
    ({"applications": ["2024-01-10"],
      "disputes": [{"opened_on": "2024-02-01", "status": "resolved", "resolved_on": "2024-01-20"}]},
     InvalidDateError, "disputes[0].resolved_on: expected a date on or after opened_on"),
    ({"applications": ["2024-01-10"], "disputes": [{"opened_on": "2024-02-01", "status": "pending", "x": 1}]},
     RequestValidationError, "disputes[0].x: unexpected field"),
    ({"applications": ["2024-05-10"], "as_of": "2024-03-01"}, InvalidDateError,
     "applications[0]: expected a date on or before as_of (2024-03-01)"),
    ({"applications": ["2024-01-10"], "consent_withdrawn_on": "2024-05-10", "as_of": "2024-03-01"},
     InvalidDateError, "consent_withdrawn_on: expected a date on or before as_of"),
    ({"applications": ["2024-01-10"], "objection_received_on": "2024-05-10", "as_of": "2024-03-01"},
     InvalidDateError, "objection_received_on: expected a date on or before as_of"),
    ({"applications": ["2024-01-10"], "erasure_requested_on": "2024-05-10", "as_of": "2024-03-01"},
     InvalidDateError, "erasure_requested_on: expected a date on or before as_of"),
    ({}, RequestValidationError, "applications: expected at least one application date"),
    ({"consent_withdrawn_on": "2024-01-10", "bookkeeping_records": [{"financial_year_end": "2023-12-31"}]},
     RequestValidationError, "applications: expected at least one application date, since consent_withdrawn_on"),
    ({"applications": ["2024-01-10"], "objection_form": "phone"}, RequestValidationError,
     "objection_received_on: expected the date the objection was received, since objection_form is given"),
    ({"applications": ["2024-01-10"], "bookkeeping_records": [{"type": "invoice"}]}, RequestValidationError,
     "bookkeeping_records[0].financial_year_end: expected the end of the record's financial year"),
    ({"applications": ["2024-01-10"],
      "bookkeeping_records": [{"financial_year_start": "2024-07-01", "financial_year_end": "2024-06-30"}]},
     InvalidDateError, "bookkeeping_records[0].financial_year_end: expected a date after financial_year_start"),
    ({"applications": ["2024-01-10"], "timezone": "Mars/Olympus"}, InvalidDateError,
     "timezone: expected an IANA time zone"),
    ({"applications": ["2024-01-10"], "process_closed_on": "2023-12-01"}, InvalidDateError,
     "process_closed_on: expected a date on or after the first application"),
    ({"applications": ["2024-01-10"], "objection_documented_in_writing_by_controller": "yes"},
     RequestValidationError, "objection_documented_in_writing_by_controller: input should be a valid boolean"),
]


@pytest.mark.parametrize(
    ("facts", "error", "message"), BAD, ids=[m.split(":")[0] + f"-{i}" for i, (_, _, m) in enumerate(BAD)]
)
def test_bad_facts_raise_an_error_naming_the_field(
    bundled_policy: policykit.Policy, facts: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Each kind of bad fact raises its own QueryError whose message names the field."""
    with pytest.raises(error) as info:
        bundled_policy.retention(facts)
    assert isinstance(info.value, policykit.QueryError)
    assert message in str(info.value)


def test_not_a_mapping_is_refused(bundled_policy: policykit.Policy) -> None:
    """Facts must be RetentionFacts or a mapping."""
    with pytest.raises(RequestValidationError, match="expected RetentionFacts or a mapping"):
        bundled_policy.retention(["2024-01-10"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"anchor": "latest"}, "anchor: expected one of latest_application, latest_application_or_process_closed"),
     ({"review_interval_months": 0}, "review_interval_months: expected a whole number of months from 1 to 120")],
)
def test_bad_call_options_are_refused(bundled_policy: policykit.Policy, kwargs: dict[str, Any], message: str) -> None:
    """Per-call overrides are checked like facts."""
    with pytest.raises(RequestValidationError, match=message):
        bundled_policy.retention(BASE, **kwargs)


# ---- reading the dates ---------------------------------------------------------------------------


def test_typed_facts_with_timestamps_and_dates(bundled_policy: policykit.Policy) -> None:
    """RetentionFacts accepts date and aware datetime objects; timestamps become Stockholm dates."""
    stamp = dt.datetime(2024, 2, 29, 23, 30, tzinfo=dt.UTC)
    facts = policykit.RetentionFacts(
        applications=(stamp, dt.date(2023, 5, 1)), consent_withdrawn_on=(dt.date(2024, 6, 1),)
    )
    v = bundled_policy.retention(facts)
    assert v.latest_application_date == dt.date(2024, 3, 1)
    assert v.retain_until == dt.date(2026, 3, 1)


def test_another_timezone_moves_the_date(bundled_policy: policykit.Policy) -> None:
    """The timezone field decides the calendar date of a timestamp."""
    facts = {"applications": ["2024-02-29T23:30:00Z"], "timezone": "America/New_York"}
    assert bundled_policy.retention(facts).latest_application_date == dt.date(2024, 2, 29)


def test_as_of_defaults_to_today(bundled_policy: policykit.Policy) -> None:
    """Without as_of the verdict is judged as of today in Europe/Stockholm."""
    assert bundled_policy.retention(BASE).as_of == bundled_policy.today()


@pytest.mark.parametrize("field", ["applications", "consent_withdrawn_on"])
def test_future_dates_are_judged_alike_with_or_without_as_of(bundled_policy: policykit.Policy, field: str) -> None:
    """A date after as_of cannot be known as of that day, whether as_of is given or defaults to today:
    both are refused (before, a default of today let a future withdrawal through)."""
    today = bundled_policy.today()
    later = (today + dt.timedelta(days=400)).isoformat()
    facts: dict[str, Any] = {"applications": [(today - dt.timedelta(days=10)).isoformat()]}
    facts[field] = [later]
    for as_of in ({}, {"as_of": today.isoformat()}):
        with pytest.raises(policykit.InvalidDateError, match=f"{field}.*expected a date on or before"):
            bundled_policy.retention({**facts, **as_of})


def test_oral_objection_must_be_documented(bundled_policy: policykit.Policy) -> None:
    """An undocumented phone objection does not end consent, and the verdict says it must be documented."""
    v = verdict(bundled_policy, applications=["2024-01-10"], objection_received_on="2024-02-01",
                objection_form="phone", as_of="2024-03-01")
    assert v.retention_mode == "indefinite_while_relevant"
    assert "RET-ORAL-OBJECTION" in v.rule_ids
    assert any("documented in writing" in r for r in v.reasons)
    assert "documented in writing" in v.explain()
    assert "A-03" in v.ambiguities


def test_oral_objection_before_a_later_application_has_no_effect(bundled_policy: policykit.Policy) -> None:
    """An oral objection superseded by a later application needs no documenting, but is mentioned."""
    v = verdict(bundled_policy, applications=["2023-01-10", "2024-01-10"], objection_received_on="2023-02-01",
                objection_form="in_person")
    assert "RET-ORAL-OBJECTION" not in v.rule_ids
    assert any("renewed consent" in r for r in v.reasons)


def test_erasure_request_counts_as_withdrawal_and_objection(bundled_policy: policykit.Policy) -> None:
    """A-10: the erasure request starts the evidence window and erases non-evidence data now."""
    v = verdict(bundled_policy, applications=["2024-02-14"], erasure_requested_on="2024-08-20")
    assert v.retention_mode == "evidence_window"
    assert v.trigger == ("erasure_request",)
    assert "linkedin_profile" in v.erase_now
    assert "RET-ERASURE-REQUEST" in v.rule_ids


def test_same_day_triggers_are_all_reported(bundled_policy: policykit.Policy) -> None:
    """A withdrawal and an erasure request on the same day are both the trigger."""
    v = verdict(bundled_policy, applications=["2024-02-14"], erasure_requested_on="2024-08-20",
                consent_withdrawn_on="2024-08-20")
    assert set(v.trigger) == {"consent_withdrawn", "erasure_request"}


def test_withdrawal_on_the_application_day_counts(bundled_policy: policykit.Policy) -> None:
    """A trigger on the same day as the latest application ends that consent."""
    v = verdict(bundled_policy, applications=["2024-02-14"], consent_withdrawn_on="2024-02-14")
    assert v.retention_mode == "evidence_window"
    assert v.trigger_date == dt.date(2024, 2, 14)


def test_pending_dispute_opened_after_as_of_does_not_hold(bundled_policy: policykit.Policy) -> None:
    """A dispute is judged as of as_of: one opened later does not hold the record yet, and the verdict says so."""
    v = verdict(bundled_policy, applications=["2023-01-10"], consent_withdrawn_on="2023-06-01",
                disputes=[{"opened_on": "2024-09-01", "status": "pending"}], as_of="2024-08-01")
    assert v.retention_mode == "evidence_window"
    assert any("does not hold the record yet" in r for r in v.reasons)


def test_dispute_resolved_after_as_of_is_still_pending(bundled_policy: policykit.Policy) -> None:
    """As of a day before its resolution, a resolved dispute was pending."""
    v = verdict(bundled_policy, applications=["2023-01-10"], consent_withdrawn_on="2023-06-01",
                disputes=[{"opened_on": "2024-09-01", "status": "resolved", "resolved_on": "2025-09-01"}],
                as_of="2025-03-01")
    assert v.retention_mode == "legal_hold"
    assert v.anonymise_on is None


def test_legal_hold_overrides_an_expired_window(bundled_policy: policykit.Policy) -> None:
    """Even when consent ended after the window, a pending dispute keeps the record."""
    v = verdict(bundled_policy, applications=["2020-01-10"], consent_withdrawn_on="2024-03-05",
                disputes=[{"opened_on": "2024-03-01", "status": "pending"}], as_of="2024-04-01")
    assert (v.retention_mode, v.anonymise_on, v.deadline, v.legal_hold) == ("legal_hold", None, None, True)
    assert v.retain_until == dt.date(2022, 1, 10)


def test_resolution_after_an_expired_window_and_trigger(bundled_policy: policykit.Policy) -> None:
    """Anonymise on the later of the trigger and a resolution that kept the data."""
    v = verdict(bundled_policy, applications=["2020-01-10"], consent_withdrawn_on="2024-03-05",
                disputes=[{"opened_on": "2024-03-01", "status": "resolved", "resolved_on": "2024-06-10"}])
    assert (v.retention_mode, v.anonymise_on) == ("anonymise_now", dt.date(2024, 6, 10))
    assert v.deadline == dt.date(2024, 7, 10)


def test_resolution_before_a_late_trigger_moves_nothing(bundled_policy: policykit.Policy) -> None:
    """A dispute resolved after the window but before consent ended does not move the date."""
    v = verdict(bundled_policy, applications=["2020-01-10"], consent_withdrawn_on="2024-03-05",
                disputes=[{"opened_on": "2022-03-01", "status": "resolved", "resolved_on": "2023-06-10"}])
    assert (v.retention_mode, v.anonymise_on) == ("anonymise_now", dt.date(2024, 3, 5))
    assert v.rule_ids == ("RET-ANONYMISE-NOW",)


def test_due_flips_on_anonymise_on_and_erase_now_follows_the_facts(bundled_policy: policykit.Policy) -> None:
    """due turns true on anonymise_on; erase_now stays what the rules erase at once, and the whole
    identifying set is named as what goes on anonymisation."""
    before = verdict(bundled_policy, **BASE, as_of="2025-12-31")
    after = verdict(bundled_policy, **BASE, as_of="2026-01-01")
    assert (before.due, after.due) == (False, True)
    assert before.retention_mode == after.retention_mode == "evidence_window"
    assert before.erase_now == after.erase_now == ("linkedin_profile", "talent_pool_tags", "marketing_attributes")
    vocab = bundled_policy.rules.vocabulary
    identifying = tuple(c.id for c in vocab.data_categories if c.identifying)
    assert after.erase_on_anonymisation == identifying
    assert "bookkeeping_record" not in after.erase_on_anonymisation
    assert any("anonymise now" in r for r in after.reasons)
    assert not any("anonymise now" in r for r in before.reasons)


def test_special_items_before_the_process_closes(bundled_policy: policykit.Policy) -> None:
    """Special-category data with consent in an open process have no erase date yet, and the verdict says why."""
    v = verdict(bundled_policy, applications=["2024-01-10"],
                special_category_items=[{"category": "health", "explicit_consent": True}])
    assert v.special_category_erase_on is None
    assert any("process has not closed" in r for r in v.reasons)


def test_special_items_with_their_own_process_end(bundled_policy: policykit.Policy) -> None:
    """An item's own process_closed_on wins; the verdict reports the earliest erase date."""
    v = verdict(bundled_policy, applications=["2024-01-10"], process_closed_on="2024-09-01", as_of="2024-06-01",
                special_category_items=[
                    {"category": "health", "explicit_consent": True, "process_closed_on": "2024-05-01"},
                    {"category": "religion", "explicit_consent": True},
                ])
    assert [s.erase_on for s in v.special_category] == [dt.date(2024, 5, 1), dt.date(2024, 9, 1)]
    assert [s.due for s in v.special_category] == [True, False]
    assert v.special_category_erase_on == dt.date(2024, 5, 1)
    assert v.erase_now == ("special_category_data",)


def test_special_items_go_when_consent_ends(bundled_policy: policykit.Policy) -> None:
    """With consent ended and no dispute, special-category data go on the trigger date at the latest."""
    v = verdict(bundled_policy, applications=["2024-01-10"], consent_withdrawn_on="2024-03-01",
                special_category_items=[{"category": "health", "explicit_consent": True}])
    assert v.special_category_erase_on == dt.date(2024, 3, 1)
    assert "RET-SPECIAL-CATEGORY-CONSENT-ENDED" in v.rule_ids


def test_only_special_items(bundled_policy: policykit.Policy) -> None:
    """Special-category items can be judged without an application on file."""
    v = verdict(bundled_policy, special_category_items=[{"category": "health", "explicit_consent": False}],
                as_of="2024-01-01")
    assert v.retention_mode == "indefinite_while_relevant"
    assert v.special_category_erase_on == dt.date(2024, 1, 1)
    assert v.latest_application_date is None


def test_bookkeeping_assumptions_are_explained(bundled_policy: policykit.Policy) -> None:
    """A record with only a date is read with a calendar financial year, and the explanation says so."""
    v = verdict(bundled_policy, bookkeeping_records=[{"dated": "2022-03-15"}, {"financial_year_start": "2022-07-01"}])
    assert [b.financial_year_end for b in v.bookkeeping] == [dt.date(2022, 12, 31), dt.date(2023, 6, 30)]
    assert v.bookkeeping_retain_until == dt.date(2030, 12, 31)
    text = v.explain()
    assert "calendar financial year" in text
    assert "12-month financial year" in text


def test_bookkeeping_is_never_erased_with_the_record(bundled_policy: policykit.Policy) -> None:
    """Anonymising the recruitment record leaves accounting records alone until their own date."""
    v = verdict(bundled_policy, applications=["2020-01-10"], consent_withdrawn_on="2024-03-05",
                bookkeeping_records=[{"financial_year_end": "2023-12-31"}], as_of="2024-03-06")
    assert v.due
    assert "bookkeeping_record" not in v.erase_now
    assert v.bookkeeping_retain_until == dt.date(2030, 12, 31)


# ---- the verdict ------------------------------------------------------------------------------------


def test_verdict_is_immutable(bundled_policy: policykit.Policy) -> None:
    """Verdicts cannot be changed after the fact."""
    v = verdict(bundled_policy, **BASE)
    with pytest.raises(AttributeError):
        v.retention_mode = "anonymise_now"


def test_verdict_to_dict_is_json(bundled_policy: policykit.Policy) -> None:
    """to_dict() is JSON-ready, with ISO dates."""
    data = verdict(bundled_policy, **BASE).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["anonymise_on"] == "2026-01-01"
    assert data["clauses"] == ["P-RET-3", "P-RET-4"]


def test_explanation_cites_and_quotes_clauses(bundled_policy: policykit.Policy) -> None:
    """explain() names the mode, the dates, the rule and quotes the clauses in Swedish and English."""
    text = verdict(bundled_policy, **BASE).explain()
    for needle in ("evidence_window", "2025-12-31", "2026-01-01", "RET-EVIDENCE-WINDOW", "P-RET-3",
                   "Därefter anonymiseras", "Lag 1930:173"):
        assert needle in text


def test_explanation_of_a_legal_hold(bundled_policy: policykit.Policy) -> None:
    """A hold explains that no anonymisation may happen while the dispute is pending."""
    v = verdict(bundled_policy, applications=["2024-01-10"],
                disputes=[{"opened_on": "2024-04-01", "status": "pending"}])
    assert "LEGAL HOLD" in v.explain()
    assert "RET-DISPUTE-WHILE-ACTIVE" in v.rule_ids


def test_alias_of_permitted_purposes(bundled_policy: policykit.Policy) -> None:
    """permitted_purposes_during_window is permitted_purposes, in the order of the worked example."""
    v = verdict(bundled_policy, **BASE)
    assert v.permitted_purposes_during_window == v.permitted_purposes == (
        "discrimination_disputes", "bookkeeping", "respond_to_requests")


def test_policy_parameter_sets_the_default_anchor(tmp_path: Any) -> None:
    """The anchor in policy.yaml applies when the call gives none."""
    rules = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), rules)
    text = (rules / "policy.yaml").read_text(encoding="utf-8")
    (rules / "policy.yaml").write_text(
        text.replace("retention_anchor: latest_application", "retention_anchor: latest_application_or_process_closed"),
        encoding="utf-8",
    )
    with policykit.load_policy(rules) as policy:
        v = policy.retention({**BASE, "process_closed_on": "2024-02-15"})
        assert v.window_anchor == dt.date(2024, 2, 15)
        plain = policy.retention({**BASE, "process_closed_on": "2024-02-15"}, anchor="latest_application")
        assert plain.retain_until == dt.date(2025, 12, 31)


# ---- the engine and the memo -----------------------------------------------------------------------


def _points(policy: policykit.Policy) -> list[dict[str, bool]]:
    names = list(policy.rules.retention.facts)
    return [dict(zip(names, values, strict=True)) for values in itertools.product((False, True), repeat=len(names))]


def test_engine_agrees_with_the_reference_evaluator_everywhere(bundled_policy: policykit.Policy) -> None:
    """For every combination of retention facts, durable-rules fires exactly the rules whose conditions hold."""
    rules = bundled_policy.rules.retention.rules
    for point in _points(bundled_policy):
        expected = tuple(r.id for r in rules if evaluate(r.when, point))
        assert bundled_policy.evaluate_retention_facts(point).rule_ids == expected, point


def test_exactly_one_mode_everywhere(bundled_policy: policykit.Policy) -> None:
    """Every combination of facts gets exactly one mode from the engine."""
    for point in _points(bundled_policy):
        outcome = bundled_policy.evaluate_retention_facts(point)
        assert sum(r.decides == "mode" for r in outcome.rules) == 1


def test_memo_agrees_with_the_engine(bundled_policy: policykit.Policy) -> None:
    """A memoised outcome is the one the engine gives for the same facts, and repeats are memo hits."""
    samples = [
        BASE,
        {"applications": ["2020-01-10"], "consent_withdrawn_on": "2024-03-05"},
        {"applications": ["2024-01-10"]},
        {"applications": ["2023-06-15"], "consent_withdrawn_on": "2023-09-01",
         "disputes": [{"opened_on": "2024-10-01", "status": "pending"}], "as_of": "2025-07-01"},
        {"bookkeeping_records": [{"financial_year_end": "2023-12-31"}]},
    ]
    with policykit.load_policy() as policy:
        for facts in samples:
            first = policy.retention(facts)
            second = policy.retention(facts)
            engine = policy.evaluate_retention_facts(first.reading.facts)
            assert first.outcome is second.outcome
            assert first.outcome == engine
            assert first.rule_ids == engine.rule_ids
        info = policy.retention_memo_info()
        assert info["misses"] == len(samples)
        assert info["hits"] == len(samples)
        policy.clear_memo()
        assert policy.retention_memo_info()["size"] == 0


def test_memo_is_keyed_by_facts_not_dates(bundled_policy: policykit.Policy) -> None:
    """Two candidates with different dates but the same facts share one engine answer."""
    with policykit.load_policy() as policy:
        a = policy.retention({"applications": ["2021-05-01"], "consent_withdrawn_on": "2021-06-01"})
        b = policy.retention({"applications": ["2023-12-31"], "consent_withdrawn_on": "2024-04-02"})
        assert a.outcome is b.outcome
        assert a.retain_until != b.retain_until
        assert policy.retention_memo_info()["misses"] == 1


def test_closed_policy_fails_closed_without_memo() -> None:
    """After close(), a question the memo cannot answer raises EngineError rather than guessing."""
    policy = policykit.load_policy()
    policy.close()
    with pytest.raises(policykit.EngineError):
        policy.retention(BASE)


def test_default_objection_fields_may_be_spelt_out(bundled_policy: policykit.Policy) -> None:
    """A template that spells out the defaults (form email, no date) is accepted; a documented flag
    without a date is not."""
    v = bundled_policy.retention({"applications": ["2024-01-10"], "objection_received_on": None,
                                  "objection_form": "email", "consent_withdrawn_on": None, "disputes": []})
    assert v.retention_mode == "indefinite_while_relevant"
    with pytest.raises(RequestValidationError, match="since objection_documented_in_writing_by_controller is given"):
        bundled_policy.retention({"applications": ["2024-01-10"], "objection_documented_in_writing_by_controller": True})


def test_anonymise_now_erases_the_identifying_set(bundled_policy: policykit.Policy) -> None:
    """When consent ends after the window, erase_now is exactly the vocabulary's identifying categories."""
    v = verdict(bundled_policy, applications=["2020-01-10"], consent_withdrawn_on="2024-03-05")
    identifying = tuple(c.id for c in bundled_policy.rules.vocabulary.data_categories if c.identifying)
    assert v.erase_now == identifying
