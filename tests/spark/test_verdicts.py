"""``policykit.spark.retention_verdicts`` and ``decide`` give, row by row, what the library gives.

The library's own answers (``policy.retention()``, ``policy.decide()``, asked in this process with the
original inputs) are the oracle: the claim under test is that Spark only distributes the work. The
acceptance cases are also checked against their expected answers, written from the policy text.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.spark.support import iso, require_spark

require_spark()

pytestmark = pytest.mark.slow  # a local Spark session: minutes, not seconds

from examples.sweep.generate import population  # noqa: E402

import policykit  # noqa: E402
import policykit.spark  # noqa: E402
from policykit.errors import RequestValidationError  # noqa: E402
from tests.acceptance.cases import load_cases, mismatches  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 11, 29)

RETENTION_DDL = (
    "id string, applications array<string>, timezone string, consent_withdrawn_on array<string>, "
    "objection_received_on string, objection_form string, objection_documented_in_writing_by_controller boolean, "
    "erasure_requested_on string, process_closed_on string, "
    "disputes array<struct<opened_on:string,status:string,resolved_on:string>>, "
    "bookkeeping_records array<struct<type:string,dated:string,financial_year_start:string,"
    "financial_year_end:string>>, "
    "special_category_items array<struct<category:string,process_id:string,explicit_consent:boolean,"
    "process_closed_on:string>>, as_of string, interest_confirmed_on array<string>, "
    "video_interviews array<struct<interviewed_on:string,recording_consent_withdrawn_on:string>>"
)
MANY = ("applications", "consent_withdrawn_on", "disputes", "bookkeeping_records", "special_category_items",
        "interest_confirmed_on", "video_interviews")
NESTED = {
    "disputes": ("opened_on", "status", "resolved_on"),
    "bookkeeping_records": ("type", "dated", "financial_year_start", "financial_year_end"),
    "special_category_items": ("category", "process_id", "explicit_consent", "process_closed_on"),
    "video_interviews": ("interviewed_on", "recording_consent_withdrawn_on"),
}


def retention_row(ident: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """A retention question as a row of RETENTION_DDL: text dates, lists for the list fields, every
    struct field present (null where the question leaves it out)."""
    row: dict[str, Any] = {"id": ident}
    for key, given in iso(inputs).items():
        value = [given] if key in MANY and not isinstance(given, list) else given
        if key in NESTED:
            value = [{name: item.get(name) for name in NESTED[key]} for item in value]
        row[key] = value
    return row


def same_as_library(row: Any, verdict: policykit.RetentionVerdict) -> list[str]:
    """Every column of a Spark verdict row that differs from the library's verdict."""
    got = row.asDict()
    problems = [] if got["error"] is None else [f"error: {got['error']}"]
    for name, value in got.items():
        if name in ("id", "error", "error_code"):
            continue
        want = getattr(verdict, name)
        want = list(want) if isinstance(want, tuple) else want
        if value != want:
            problems.append(f"{name}: spark {value!r}, library {want!r}")
    return problems


RETENTION_CASES = [c for c in load_cases("retention") if not c.get("options")]  # options are call parameters


def test_acceptance_cases_row_by_row(spark: Any, bundled_policy: policykit.Policy) -> None:
    """Every retention acceptance case (bar the two that set call options): the Spark verdict equals
    ``policy.retention()`` field by field, and meets the case's expected answer."""
    today = bundled_policy.today()
    rows = [retention_row(c["id"], c["inputs"]) for c in RETENTION_CASES]
    df = spark.createDataFrame(rows, RETENTION_DDL)
    out = {r["id"]: r for r in policykit.spark.retention_verdicts(df, as_of=today).collect()}
    assert set(out) == {c["id"] for c in RETENTION_CASES}
    for case in RETENTION_CASES:
        verdict = bundled_policy.retention(case["inputs"])
        row = out[case["id"]]
        assert same_as_library(row, verdict) == [], case["id"]
        assert mismatches(verdict, {k: v for k, v in case["expected"].items() if k in row.asDict()}) == []


def test_the_shipped_candidates_file(spark: Any, bundled_policy: policykit.Policy) -> None:
    """examples/retention/candidates.jsonl, read by Spark's JSON reader (schema inferred: text dates,
    arrays and structs), gives the library's verdicts."""
    path = ROOT / "examples" / "retention" / "candidates.jsonl"
    df = spark.read.json(str(path))
    out = {r["id"]: r for r in policykit.spark.retention_verdicts(df, as_of=AS_OF).collect()}
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(out) == len(lines)
    for line in lines:
        ident = line.pop("id")
        assert same_as_library(out[ident], bundled_policy.retention({**line, "as_of": AS_OF})) == [], ident


def test_the_example_generators_candidates_with_timestamps(spark: Any, bundled_policy: policykit.Policy) -> None:
    """2,000 candidates of the example generator (examples/sweep/generate.py), with their application
    and withdrawal instants as TIMESTAMP columns (UTC and Stockholm offsets, some just after
    Stockholm midnight), give the library's verdicts on the same facts."""
    pop = population(2000, seed=7, until=AS_OF)
    facts: dict[int, dict[str, Any]] = {c[0]: {"applications": []} for c in pop.candidates}
    for row in pop.applications:
        facts[row[1]]["applications"].append(row[2])
    for row in pop.consent_withdrawals:
        facts[row[1]].setdefault("consent_withdrawn_on", []).append(row[2])
    for row in pop.objections:  # the generator gives a candidate at most one objection
        facts[row[1]].update(objection_received_on=row[2], objection_form=row[3],
                             objection_documented_in_writing_by_controller=row[4])
    for row in pop.erasure_requests:
        facts[row[1]]["erasure_requested_on"] = row[2]
    for row in pop.disputes:
        facts[row[1]].setdefault("disputes", []).append({"opened_on": row[2], "status": row[3], "resolved_on": row[4]})
    for c in pop.candidates:
        if c[12] is not None:
            facts[c[0]]["process_closed_on"] = c[12]
    ddl = (
        "id long, applications array<timestamp>, consent_withdrawn_on array<timestamp>, "
        "objection_received_on date, objection_form string, objection_documented_in_writing_by_controller boolean, "
        "erasure_requested_on date, process_closed_on date, "
        "disputes array<struct<opened_on:date,status:string,resolved_on:date>>"
    )
    names = [p.split(" ")[0] for p in ddl.split(", ") if ":" not in p.split(" ")[0]]
    rows = [tuple([cid] + [f.get(n) for n in names[1:]]) for cid, f in facts.items()]
    df = spark.createDataFrame(rows, ddl).repartition(3)
    out = {r["id"]: r for r in policykit.spark.retention_verdicts(df, as_of=AS_OF).collect()}
    assert len(out) == len(facts)
    modes = set()
    for cid, f in facts.items():
        verdict = bundled_policy.retention({**f, "as_of": AS_OF})
        assert same_as_library(out[cid], verdict) == [], cid
        modes.add(verdict.retention_mode)
    assert modes >= {"indefinite_while_relevant", "evidence_window", "anonymise_now", "legal_hold"}


def test_a_bad_row_gets_its_error_and_the_others_their_verdicts(spark: Any, bundled_policy: policykit.Policy) -> None:
    """One row's impossible date is reported in its ``error`` column, with the library's message and
    code; its neighbours are judged."""
    rows = [
        retention_row("good", {"applications": ["2023-12-31"], "consent_withdrawn_on": "2024-04-02"}),
        retention_row("bad", {"applications": ["2024-02-30"]}),
        retention_row("naive", {"applications": ["2024-01-01T10:00:00"]}),
        retention_row("early", {"applications": ["2024-01-01"], "consent_withdrawn_on": "2023-01-01"}),
    ]
    df = spark.createDataFrame(rows, RETENTION_DDL)
    out = {r["id"]: r for r in policykit.spark.retention_verdicts(df, as_of=AS_OF).collect()}
    assert out["good"]["error"] is None and out["good"]["anonymise_on"] == dt.date(2026, 1, 1)
    for ident in ("bad", "naive", "early"):
        inputs = {k: v for k, v in rows[["good", "bad", "naive", "early"].index(ident)].items()
                  if k != "id" and v is not None}
        with pytest.raises(policykit.QueryError) as caught:
            bundled_policy.retention({**inputs, "as_of": AS_OF})
        assert out[ident]["error"] == caught.value.message
        assert out[ident]["error_code"] == caught.value.code
        assert out[ident]["retention_mode"] is None and out[ident]["due"] is None


def test_a_column_that_is_no_retention_field_is_refused_before_the_job(spark: Any) -> None:
    """A misspelt column names itself and the field it resembles; nothing runs."""
    df = spark.createDataFrame([("a", ["2024-01-01"], "2024-02-01")],
                               "id string, applications array<string>, consent_withdrawn string")
    with pytest.raises(RequestValidationError, match="column consent_withdrawn: not a field.*consent_withdrawn_on"):
        policykit.spark.retention_verdicts(df, as_of=AS_OF)


def test_a_timestamp_without_a_zone_is_refused_before_the_job(spark: Any) -> None:
    """TIMESTAMP_NTZ cannot say which calendar day it was (A-27)."""
    df = spark.createDataFrame([("a", [dt.datetime(2024, 1, 1, 23, 30)])], "id string, applications array<timestamp_ntz>")
    with pytest.raises(RequestValidationError, match="column applications: expected .*TIMESTAMP_NTZ"):
        policykit.spark.retention_verdicts(df, as_of=AS_OF)


def test_the_id_column_must_exist(spark: Any) -> None:
    df = spark.createDataFrame([("a", ["2024-01-01"])], "candidate string, applications array<string>")
    with pytest.raises(RequestValidationError, match="id_column: expected a column named 'id'"):
        policykit.spark.retention_verdicts(df, as_of=AS_OF)
    out = policykit.spark.retention_verdicts(df, as_of=AS_OF, id_column="candidate").collect()
    assert out[0]["candidate"] == "a" and out[0]["retention_mode"] == "indefinite_while_relevant"


# ------------------------------------------------------------------------------------------------
# disclosure

RECIPIENT = ("kind", "country", "active_assignment", "confidentiality_undertaking", "data_agreement_signed",
             "relevant_to_candidate_competence", "receives_copy", "specific_process_requirement",
             "legitimate_need_kul", "legal_obligation", "legal_obligation_jurisdiction", "role",
             "gdpr_transfer_mechanism", "subprocessors_in_eea")
CANDIDATE = ("consent_status", "consent_withdrawn_on", "objection_in_writing", "objection_received_on",
             "explicit_consent_special_category", "special_category_relevant", "consent_to_sale",
             "latest_application", "anonymised", "portability_request_on_file")
BOOLS = {"portability_request_on_file", "active_assignment", "confidentiality_undertaking", "data_agreement_signed",
         "relevant_to_candidate_competence", "receives_copy", "specific_process_requirement", "legitimate_need_kul",
         "legal_obligation", "subprocessors_in_eea", "objection_in_writing", "explicit_consent_special_category",
         "special_category_relevant", "consent_to_sale", "anonymised"}
DISCLOSURE_DDL = (
    "id string, operation string, data_categories array<string>, purpose string, contains_special_category boolean, "
    "contains_criminal_data boolean, art10_statutory_basis boolean, identifiable boolean, min_cell_size int, "
    "disclosed_context array<string>, as_of string, "
    "recipient struct<" + ",".join(f"{n}:{'boolean' if n in BOOLS else 'string'}" for n in RECIPIENT) + ">, "
    "candidate struct<" + ",".join(f"{n}:{'boolean' if n in BOOLS else 'string'}" for n in CANDIDATE) + ">"
)


def disclosure_row(ident: str, inputs: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": ident, **iso(inputs)}
    for key, fields in (("recipient", RECIPIENT), ("candidate", CANDIDATE)):
        if key in row:
            row[key] = {name: row[key].get(name) for name in fields}
    return row


DISCLOSURE_CASES = load_cases("disclosure")


def test_decide_equals_policy_decide_row_by_row(spark: Any, bundled_policy: policykit.Policy) -> None:
    """Every disclosure acceptance case, one per row: the Spark decision equals ``policy.decide()``
    (allowed, reasons, obligations, per-category answers, rules, clauses, version) and meets the
    case's expected answer."""
    rows = [disclosure_row(c["id"], c["inputs"]) for c in DISCLOSURE_CASES]
    df = spark.createDataFrame(rows, DISCLOSURE_DDL).repartition(2)
    out = {r["id"]: r for r in policykit.spark.decide(df).collect()}
    assert set(out) == {c["id"] for c in DISCLOSURE_CASES}
    for case in DISCLOSURE_CASES:
        row = out[case["id"]].asDict()
        assert row["error"] is None, (case["id"], row["error"])
        d = bundled_policy.decide(case["inputs"])
        assert row["allowed"] == d.allowed, case["id"]
        assert row["reasons"] == list(d.reasons)
        assert row["obligations"] == list(d.obligations)
        assert row["by_category"] == dict(d.by_category)
        assert row["rule_ids"] == list(d.rule_ids)
        assert row["clauses"] == list(d.clauses)
        assert row["policy_version"] == d.policy_version == "2022-06-22"
        assert mismatches(d, {k: v for k, v in case["expected"].items() if k in ("allowed", "reason")}) == []


def test_decide_reports_a_bad_question_in_its_row(spark: Any, bundled_policy: policykit.Policy) -> None:
    good = DISCLOSURE_CASES[0]["inputs"]
    bad = {**good, "min_cell_size": -1}
    df = spark.createDataFrame([disclosure_row("good", good), disclosure_row("bad", bad)], DISCLOSURE_DDL)
    out = {r["id"]: r for r in policykit.spark.decide(df).collect()}
    assert out["good"]["error"] is None
    with pytest.raises(policykit.QueryError) as caught:
        bundled_policy.decide(bad)
    assert out["bad"]["error"] == caught.value.message and out["bad"]["allowed"] is None
