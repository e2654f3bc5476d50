"""The retention sweep against real databases: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from examples.sweep.generate import generate

import policykit
from policykit.errors import DatabaseUnreachableError, MappingError
from tests.sweep_support import Person, add_people, audit_rows, check_all_or_nothing, snapshot

AS_OF = dt.date(2026, 11, 29)
UTC = dt.UTC
CET = dt.timezone(dt.timedelta(hours=1))
CEST = dt.timezone(dt.timedelta(hours=2))


@functools.cache
def _policy() -> policykit.Policy:
    return policykit.load_policy()


def sweep(db: str, **options: Any) -> policykit.SweepReport:
    """policykit.sweep() with the policy loaded once for the module."""
    return policykit.sweep(db, policy=_policy(), **options)


def at(day: str, hour: int = 10, minute: int = 0, zone: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), zone)


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


PEOPLE = [
    Person(1, applications=[d("2023-12-31")], withdrawals=[at("2024-04-02", zone=CEST)]),
    Person(2, applications=[at("2024-02-29", 9, zone=CET)], withdrawals=[at("2024-06-01")]),
    Person(3, applications=[at("2019-05-01")]),  # active: consent in force
    Person(4, applications=[at("2022-01-10")], withdrawals=[at("2022-03-01")],
           disputes=[(d("2022-05-01"), "pending", None)]),  # legal hold
    Person(5, applications=[at("2024-11-28", 23, 30)], withdrawals=[at("2025-01-10")]),  # 00:30 in Stockholm
    Person(6, applications=[at("2020-01-10")], erasures=[d("2024-03-05")]),  # anonymise at once
    Person(7, applications=[at("2021-01-10")], withdrawals=[at("2021-02-01")], notes=2, bookkeeping=True),
    Person(8, applications=[at("2020-01-01")], objections=[(d("2021-01-01"), "phone", False)]),  # oral
    Person(9, applications=[at("2020-01-01")], objections=[(d("2021-01-01"), "phone", True)]),  # documented
    Person(10, applications=[at("2019-01-10"), at("2025-06-01")], withdrawals=[at("2020-01-01")]),  # reapplied
    Person(11, applications=[d("2023-12-31")], withdrawals=[at("2024-04-02")], family="Finance, reports to A. Berg"),
    Person(12, applications=[at("2018-01-10")], withdrawals=[at("2018-02-01")],
           extra={"anonymised_at": at("2021-01-01")}),  # anonymised before
    Person(13, applications=[at("2021-01-10")], withdrawals=[at("2021-03-01")],
           disputes=[(d("2021-06-01"), "resolved", d("2024-08-01"))]),  # held past the window, then resolved
]
DUE = {"1", "2", "6", "7", "9", "11", "13"}


@pytest.fixture
def people_db(new_database: Callable[[], str]) -> str:
    url = new_database()
    add_people(url, PEOPLE)
    return url


def has_audit_table(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).has_table("policykit_audit")
    finally:
        engine.dispose()


def due_ids(report: policykit.SweepReport) -> set[str]:
    return {a.candidate_id for a in report.sample}


def test_dry_run_finds_the_due_candidates_and_changes_nothing(people_db: str) -> None:
    """A dry run reports who is due, under which mode and rule, and what would be erased; the
    database is byte-for-byte as it was, and no audit table is created."""
    before = snapshot(people_db)
    report = sweep(people_db, as_of=AS_OF)
    assert due_ids(report) == DUE
    assert (report.due, report.anonymised, report.applied, report.problem_count) == (len(DUE), 0, False, 0)
    assert report.candidates == 13 and report.already_anonymised == 1
    assert snapshot(people_db) == before
    assert not has_audit_table(people_db)
    actions = {a.candidate_id: a for a in report.sample}
    one = actions["1"]
    assert (one.retention_mode, one.mode_rule, one.anonymise_on, one.deadline) == (
        "evidence_window", "RET-EVIDENCE-WINDOW", d("2026-01-01"), None)
    assert set(one.erased) == {
        "candidates.name", "candidates.email", "candidates.phone", "candidates.birth_date", "candidates.photo_url",
        "candidates.linkedin_url", "candidates.cv_text", "candidates.interview_notes", "candidates.test_report",
        "applications.cover_letter",
    }
    assert actions["2"].anonymise_on == d("2026-03-01")  # 2024-02-29 + 2 years = 2026-02-28, then "Därefter"
    six = actions["6"]
    assert (six.retention_mode, six.mode_rule, six.anonymise_on, six.deadline) == (
        "anonymise_now", "RET-ANONYMISE-NOW", d("2024-03-05"), d("2024-04-05"))
    assert actions["7"].deleted_rows == {"reference_notes": 2}
    assert actions["13"].mode_rule == "RET-ANONYMISE-AFTER-RESOLUTION"
    assert report.by_mode[("legal_hold", "RET-LEGAL-HOLD")] == (1, 0)


def test_apply_anonymises_exactly_the_due_candidates_all_or_nothing(people_db: str) -> None:
    """--apply erases the identifying columns, cover letters and reference notes of each due
    candidate, sets anonymised_at and writes one audit row; the others, the legal hold, the active
    candidates and the accounting records are untouched; structured attributes survive."""
    pristine = snapshot(people_db)
    report = sweep(people_db, as_of=AS_OF, apply=True)
    assert (report.due, report.anonymised, report.exit_status) == (len(DUE), len(DUE), 0)
    assert all(a.applied for a in report.sample)
    anonymised, untouched = check_all_or_nothing(people_db, pristine)
    assert (anonymised, untouched) == (len(DUE), 12 - len(DUE))
    assert {r["candidate_id"] for r in audit_rows(people_db, "anonymise")} == DUE


def test_the_audit_log_records_each_anonymisation_and_no_personal_data(people_db: str) -> None:
    """Candidate id, as-of date, policy version, mode, rules, clauses, erased column names, deleted
    row counts and the time; none of the erased values."""
    pristine = snapshot(people_db)
    report = sweep(people_db, as_of=AS_OF, apply=True)
    rows = {r["candidate_id"]: r for r in audit_rows(people_db, "anonymise")}
    seven = rows["7"]
    assert _day(seven["as_of"]) == AS_OF
    assert seven["policy_version"] == "2022-06-22"
    assert seven["retention_mode"] == "evidence_window"
    assert seven["rule_ids"] == ["RET-EVIDENCE-WINDOW"]
    assert "P-RET-4" in seven["clauses"]
    assert "candidates.name" in seven["erased"]
    assert seven["deleted_rows"] == {"reference_notes": 2}
    assert seven["run_id"] == report.run_id
    assert seven["recorded_at"] is not None
    personal = {str(v) for row in pristine["candidates"] for v in row[1:10] if v} | {"Referee Name"}
    for row in rows.values():
        text = " ".join(str(v) for v in row.values())
        assert not [p for p in personal if p in text]


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def test_a_second_run_changes_nothing(people_db: str) -> None:
    """Idempotent: the second --apply finds no one due, changes no row and logs nothing."""
    sweep(people_db, as_of=AS_OF, apply=True)
    after_first = snapshot(people_db)
    second = sweep(people_db, as_of=AS_OF, apply=True)
    assert (second.due, second.anonymised) == (0, 0)
    assert snapshot(people_db) == after_first
    assert len(audit_rows(people_db, "anonymise")) == len(DUE)


def test_free_text_in_a_non_identifying_column_is_erased_too(people_db: str) -> None:
    """position_family is declared non-identifying, but 'Finance, reports to A. Berg' is free text: it is
    erased (A-07), while the score band and the plain family codes of the others stay."""
    sweep(people_db, as_of=AS_OF, apply=True)
    rows = {r[0]: r for r in snapshot(people_db)["candidates"]}
    assert rows[11][11] is None and rows[11][10] == "band-3"
    assert rows[1][11] == "finance"
    audit = {r["candidate_id"]: r for r in audit_rows(people_db, "anonymise")}
    assert {"candidates.position_family", "applications.position_family"} <= set(audit["11"]["erased"])
    assert "candidates.position_family" not in audit["1"]["erased"]


def test_the_audit_log_refuses_updates_and_deletes(people_db: str) -> None:
    """The audit table is append-only: a trigger refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""
    sweep(people_db, as_of=AS_OF, apply=True)
    engine = sa.create_engine(people_db)
    statements = ["UPDATE policykit_audit SET policy_version = 'x'", "DELETE FROM policykit_audit"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE policykit_audit")
    try:
        for statement in statements:
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()
    assert len(audit_rows(people_db, "anonymise")) == len(DUE)


@pytest.mark.parametrize(("as_of", "due"), [
    ("2026-02-28", {"1"}),            # 2024-02-29 + 2 years = 2026-02-28 is the last day kept
    ("2026-03-01", {"1", "2"}),
    ("2026-11-29", {"1", "2"}),       # 2024-11-28T23:30Z is 29 November in Stockholm
    ("2026-11-30", {"1", "2", "5"}),
])
def test_dates_to_the_day(new_database: Callable[[], str], as_of: str, due: set[str]) -> None:
    """Leap day and Stockholm midnight decide the day, with and without pre-selection alike."""
    url = new_database()
    add_people(url, [p for p in PEOPLE if p.id in (1, 2, 5)])
    for preselect in (True, False):
        assert due_ids(sweep(url, as_of=as_of, preselect=preselect)) == due


def test_preselection_never_drops_a_due_candidate_at_the_bound(new_database: Callable[[], str]) -> None:
    """Candidates whose latest application falls on every day around as_of minus two years, at times
    and in zones where the UTC, the written and the Stockholm dates differ: the SQL pre-selection
    finds exactly the due ones that judging everyone finds."""
    url = new_database()
    people = []
    zones = [UTC, CET, CEST, dt.timezone(dt.timedelta(hours=14)), dt.timezone(dt.timedelta(hours=-12))]
    cid = 1
    for back in range(726, 737):
        day = AS_OF - dt.timedelta(days=back)
        for zone in zones:
            for hour, minute in ((0, 15), (12, 0), (23, 45)):
                moment = dt.datetime.combine(day, dt.time(hour, minute), zone)
                people.append(Person(cid, applications=[moment], withdrawals=[moment + dt.timedelta(days=3)]))
                cid += 1
        people.append(Person(cid, applications=[day], objections=[(day + dt.timedelta(days=1), "email", False)]))
        cid += 1
    add_people(url, people)
    full = sweep(url, as_of=AS_OF, preselect=False, keep=10_000)
    pre = sweep(url, as_of=AS_OF, keep=10_000)
    assert due_ids(pre) == due_ids(full)
    assert 0 < pre.due < len(people)
    # every one of them withdrew and has a LinkedIn value, so each is read for the erasure at once too
    assert action_keys(pre) == action_keys(full) and pre.actions == full.actions


def action_keys(report: policykit.SweepReport) -> set[tuple[str, str, Any]]:
    return {(a.candidate_id, a.action, a.due_on) for a in report.action_sample}


@pytest.mark.parametrize("as_of", ["2024-06-30", "2026-11-29"])
def test_preselection_finds_what_judging_everyone_finds(new_database: Callable[[], str], as_of: str) -> None:
    """On a generated population: the same due candidates, modes and rules, fewer rows read."""
    url = new_database()
    generate(url, 1500, seed=7, until=dt.date.fromisoformat(as_of))
    full = sweep(url, as_of=as_of, preselect=False, keep=10_000)
    pre = sweep(url, as_of=as_of, keep=10_000)
    assert due_ids(pre) == due_ids(full)
    assert pre.due == full.due > 0
    assert {k: v[1] for k, v in pre.by_mode.items() if v[1]} == {k: v[1] for k, v in full.by_mode.items() if v[1]}
    assert action_keys(pre) == action_keys(full) and pre.actions == full.actions
    assert pre.examined < full.examined
    assert pre.problem_count == full.problem_count == 0
    # the night after an applied run: the erasures are done and the reviews recorded, so the SQL
    # leaves out most candidates, and the two still agree
    sweep(url, as_of=as_of, apply=True)
    full = sweep(url, as_of=as_of, preselect=False, keep=10_000)
    pre = sweep(url, as_of=as_of, keep=10_000)
    assert (pre.due, pre.actions, full.due, full.actions) == (0, {}, 0, {})
    assert pre.examined < full.examined / 2


def test_batch_size_does_not_change_the_outcome(new_database: Callable[[], str]) -> None:
    """One candidate per transaction or all in one: the same final state."""
    one, many = new_database(), new_database()
    for url in (one, many):
        generate(url, 300, seed=11)
    sweep(one, as_of=AS_OF, apply=True, batch_size=1)
    sweep(many, as_of=AS_OF, apply=True, batch_size=10_000)
    assert snapshot(one) == snapshot(many)


def test_a_row_that_cannot_be_judged_is_reported_and_skipped(new_database: Callable[[], str]) -> None:
    """An inconsistent or future date is reported with its table, row and column; that candidate is
    never anonymised; the others are; the exit status is 1."""
    url = new_database()
    add_people(url, [
        PEOPLE[0],
        Person(20, applications=[at("2022-01-10")], withdrawals=[at("2021-12-01")]),  # before applying
        Person(21, applications=[at("2022-01-10")], withdrawals=[at("2027-01-01")]),  # after as_of
        Person(22, applications=[at("2020-01-10")], objections=[(d("2021-01-01"), "fax", False)]),
    ])
    pristine = snapshot(url)
    seen: list[policykit.SweepProblem] = []
    report = sweep(url, as_of=AS_OF, apply=True, on_problem=seen.append)
    assert report.exit_status == 1 and report.problem_count == 3 and list(report.problems) == seen
    assert report.anonymised == 1 and due_ids(report) == {"1"}
    problems = {p.candidate_id: p for p in report.problems}
    assert (problems["20"].table, problems["20"].row_id, problems["20"].code) == (
        "candidates", "20", "query.invalid_date")
    assert "first application" in problems["20"].message
    assert (problems["21"].table, problems["21"].row_id, problems["21"].column) == (
        "consent_withdrawals", "2100", "withdrawn_at")
    assert "on or before as_of" in problems["21"].message
    assert (problems["22"].table, problems["22"].column) == ("objections", "form")
    assert "consent_withdrawals row 2100, column withdrawn_at (candidate 21)" in str(problems["21"])
    check_all_or_nothing(url, pristine)


def test_malformed_text_dates_are_reported_with_their_row(backend: str, new_database: Callable[[], str]) -> None:
    """Where dates are kept as text (always on SQLite; on PostgreSQL in text columns, made so here,
    since date and timestamptz columns refuse such values), a row may hold an impossible date, a
    timestamp without a zone or garbage: each is reported with its table, row id and column, and
    never read as a date. The pre-selection compares only well-formed text dates."""
    url = new_database()
    if backend == "postgresql":
        add_people(url, [])  # the schema, then its date columns as text
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                for table, column in (("applications", "submitted_at"), ("consent_withdrawals", "withdrawn_at"),
                                      ("erasure_requests", "requested_on")):
                    conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text")
        finally:
            engine.dispose()
    add_people(url, [
        PEOPLE[0],
        Person(30, applications=["2024-02-30T10:00:00Z"], withdrawals=[at("2024-03-10")]),
        Person(31, applications=["2022-01-10 10:00:00"], withdrawals=[at("2022-03-10")]),
        Person(32, applications=[at("2020-01-10")], withdrawals=["soon"]),
        Person(33, applications=[at("2020-01-10")], erasures=["2021-13-01"]),
    ])
    report = sweep(url, as_of=AS_OF, apply=True)
    problems = {p.candidate_id: p for p in report.problems}
    assert set(problems) == {"30", "31", "32", "33"} and report.exit_status == 1
    assert (problems["30"].table, problems["30"].row_id, problems["30"].column) == (
        "applications", "3000", "submitted_at")
    assert "time zone" in problems["31"].message
    assert (problems["32"].table, problems["32"].column) == ("consent_withdrawals", "withdrawn_at")
    assert (problems["33"].table, problems["33"].column) == ("erasure_requests", "requested_on")
    assert due_ids(report) == {"1"}
    assert {r["candidate_id"] for r in audit_rows(url, "anonymise")} == {"1"}


def test_progress_and_callbacks(people_db: str) -> None:
    """progress() after every batch, ending at 1.0; on_candidate() once per due candidate."""
    seen: list[policykit.SweepProgress] = []
    actions: list[policykit.CandidateAction] = []
    report = sweep(people_db, as_of=AS_OF, batch_size=2, progress=seen.append,
                             on_candidate=actions.append, keep=0)
    assert report.sample == () and {a.candidate_id for a in actions} == DUE
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # type: ignore[type-var]
    assert seen[-1].examined == report.examined and seen[-1].due == report.due


def test_the_report_as_text_and_json(people_db: str) -> None:
    """summary() is the human table; to_dict() the JSON summary."""
    report = sweep(people_db, as_of=AS_OF)
    text = report.summary()
    assert "dry run" in text and "RET-EVIDENCE-WINDOW" in text and "--apply" in text
    data = report.to_dict()
    assert (data["due"], data["exit_status"], data["as_of"]) == (len(DUE), 0, "2026-11-29")
    assert {"retention_mode": "legal_hold", "rule": "RET-LEGAL-HOLD", "judged": 1, "due": 0} in data["by_mode"]


def test_policy_sweep_uses_that_policy(people_db: str, bundled_policy: policykit.Policy) -> None:
    """Policy.sweep() is sweep() with the policy given."""
    assert due_ids(bundled_policy.sweep(people_db, as_of=AS_OF)) == DUE


def test_a_mapping_naming_a_missing_column_stops_before_anything_is_read(
    people_db: str, tmp_path: Path,
) -> None:
    """The mapping is checked against the live database first: a missing column is named (with the
    nearest real one), and nothing is created or changed."""
    text = policykit.load_mapping().source
    assert text is not None
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(Path(text).read_text(encoding="utf-8").replace("date: withdrawn_at", "date: withdrawn_on"))
    before = snapshot(people_db)
    with pytest.raises(MappingError, match=r"consent_withdrawals.date: expected a column named 'withdrawn_on' in "
                                           r"table 'consent_withdrawals', found none \(did you mean 'withdrawn_at'"):
        sweep(people_db, as_of=AS_OF, apply=True, mapping=mapping)
    assert snapshot(people_db) == before
    assert not has_audit_table(people_db)


def test_a_column_without_a_category_stops_the_sweep(people_db: str) -> None:
    """A column nobody has classified is an error, never a silent keep."""
    engine = sa.create_engine(people_db)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE candidates ADD COLUMN nickname TEXT")
    finally:
        engine.dispose()
    with pytest.raises(MappingError, match=r"candidates.columns: table 'candidates' has column\(s\) 'nickname' with "
                                           "no data category"):
        sweep(people_db, as_of=AS_OF)


def test_a_missing_table_is_named(new_database: Callable[[], str]) -> None:
    """An empty database has none of the mapped tables."""
    with pytest.raises(MappingError, match="candidates.table: expected a table named 'candidates'"):
        sweep(new_database(), as_of=AS_OF)


@pytest.mark.parametrize("url", [
    "sqlite:////nonexistent/dir/candidates.db",
    "postgresql+psycopg://nobody@127.0.0.1:1/candidates",
    "not a url",
])
def test_an_unreachable_database_is_one_clear_error(url: str) -> None:
    """No such file, nothing listening, no URL at all: DatabaseUnreachableError, nothing created."""
    with pytest.raises(DatabaseUnreachableError) as info:
        sweep(url, as_of=AS_OF)
    assert "\n" not in str(info.value)


def test_import_policykit_does_not_import_sqlalchemy() -> None:
    """The sweep's database layer is loaded only when a sweep runs."""
    code = "import sys, policykit; policykit.load_policy(); print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
