"""``policykit.spark.anonymise`` does to DataFrames what the SQL sweep does to a database.

The same generated population (examples/sweep/generate.py) goes into SQLite, swept there by
``policykit.sweep(..., apply=True)``, and into Spark DataFrames, anonymised by the Spark pass. The
SQL sweep is the oracle: the same candidates anonymised, the same values erased, the same rows
deleted, the same audit entries, the same report counts; and a second Spark run on its own output
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.spark.support import require_spark

require_spark()

pytestmark = pytest.mark.slow  # a local Spark session: minutes, not seconds

import sqlalchemy as sa  # noqa: E402
from examples.sweep.generate import COLUMNS, Population, population, write  # noqa: E402
from examples.sweep.schema import create_schema  # noqa: E402

import policykit  # noqa: E402
import policykit.spark  # noqa: E402
from policykit.errors import MappingError, SweepError  # noqa: E402

AS_OF = dt.date(2026, 11, 29)
TYPES = {
    "candidates": "id long, name string, email string, phone string, birth_date date, photo_url string, "
                  "linkedin_url string, cv_text string, interview_notes string, test_report string, "
                  "test_score_band string, position_family string, process_closed_on date, anonymised_at timestamp",
    "applications": "id long, candidate_id long, submitted_at timestamp, position_family string, outcome string, "
                    "cover_letter string",
    "consent_withdrawals": "id long, candidate_id long, withdrawn_at timestamp",
    "objections": "id long, candidate_id long, received_on date, form string, documented_in_writing boolean",
    "erasure_requests": "id long, candidate_id long, requested_on date",
    "disputes": "id long, candidate_id long, opened_on date, status string, resolved_on date",
    "reference_notes": "id long, candidate_id long, referee_name string, referee_phone string, statement string",
    "bookkeeping_records": "id long, candidate_id long, kind string, payee_name string, amount_sek long, dated date, "
                           "financial_year_end date",
}
ERASABLE = {  # the columns anonymisation may change, per table (the mapping's categorised columns)
    "candidates": COLUMNS["candidates"][1:12],
    "applications": ("position_family", "outcome", "cover_letter"),
}


def _population() -> Population:
    pop = population(1500, seed=11, until=AS_OF)
    # a row neither pass can read: an objection by fax (both report it and skip the candidate)
    victim = next(c[0] for c in pop.candidates if c[13] is None)
    pop.objections.append((10**6, victim, dt.date(2025, 1, 1), "fax", False))
    # free text in a non-identifying column: erased with the candidate
    row = next(r for r in pop.applications if r[1] == pop.candidates[7][0] and r[5] is not None)
    pop.applications[pop.applications.index(row)] = (*row[:3], "wrote: I love this job, call me", *row[4:])
    return pop


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> dict[str, Any]:
    """The population swept both ways: the SQLite database after the SQL sweep, its dry-run and apply
    reports, and the Spark pass's dry run and written output."""
    pop = _population()
    folder = tmp_path_factory.mktemp("anonymise")
    url = f"sqlite:///{folder / 'candidates.db'}"
    engine = sa.create_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        write(conn, pop)
    engine.dispose()
    frames = {name: spark.createDataFrame(rows, TYPES[name]) for name, rows in pop.tables()}
    # every action: anonymisation, the LinkedIn column erased at once, relevance reviews
    sql_dry = policykit.sweep(url, as_of=AS_OF, preselect=False)
    spark_dry = policykit.spark.anonymise(frames, as_of=AS_OF)
    sql_report = policykit.sweep(url, as_of=AS_OF, apply=True, preselect=False)
    out = folder / "out"
    spark_applied = policykit.spark.anonymise(frames, as_of=AS_OF, output=str(out))
    return {"url": url, "sql_dry": sql_dry, "spark_dry": spark_dry, "sql": sql_report, "spark": spark_applied,
            "out": out, "pop": pop}


def _plain(value: Any) -> Any:
    if value == "":
        return None  # an erased NOT NULL text column holds '' in SQL, NULL in Parquet
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _sql_rows(url: str, table: str, columns: tuple[str, ...]) -> dict[Any, tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table}")).all()
    engine.dispose()
    return {r[0]: tuple(_plain(v) for v in r[1:]) for r in rows}


def _spark_rows(spark: Any, path: Path, table: str, columns: tuple[str, ...]) -> dict[Any, tuple[Any, ...]]:
    rows = spark.read.parquet(str(path / table)).select("id", *columns).collect()
    return {r[0]: tuple(_plain(v) for v in r[1:]) for r in rows}


def test_the_reports_agree(swept: dict[str, Any]) -> None:
    """Dry run and apply: the same candidates judged, due and anonymised, per mode and rule, the same
    problem, the same counts of erased columns and deleted rows."""
    for sql, spk in ((swept["sql_dry"], swept["spark_dry"].report), (swept["sql"], swept["spark"].report)):
        assert (spk.candidates, spk.already_anonymised, spk.examined, spk.due, spk.anonymised) == (
            sql.candidates, sql.already_anonymised, sql.examined, sql.due, sql.anonymised)
        assert dict(spk.by_mode) == dict(sql.by_mode)
        assert dict(spk.erases) == dict(sql.erases)
        assert [p.to_dict() for p in spk.problems] == [p.to_dict() for p in sql.problems]
        assert [a.to_dict() for a in spk.sample] == [a.to_dict() for a in sql.sample]
        assert spk.skipped_actions == sql.skipped_actions == ()
        assert dict(spk.actions) == dict(sql.actions)
        assert [a.to_dict() for a in spk.action_sample] == [a.to_dict() for a in sql.action_sample]
    assert swept["sql"].actions["erase_now"] > 10 and swept["sql"].actions["review_due"] > 10
    assert swept["sql"].due > 50 and swept["sql"].problem_count == 1
    assert swept["spark_dry"].report.applied is False and swept["spark"].report.applied is True


@pytest.mark.parametrize("table", ["candidates", "applications"])
def test_the_anonymised_tables_agree(swept: dict[str, Any], spark: Any, table: str) -> None:
    """Every row of the output has the values the SQL sweep left in the database."""
    columns = ERASABLE[table]
    assert _spark_rows(spark, swept["out"], table, columns) == _sql_rows(swept["url"], table, columns)


def test_the_same_candidates_are_marked_anonymised(swept: dict[str, Any], spark: Any) -> None:
    sql = {k for k, v in _sql_rows(swept["url"], "candidates", ("anonymised_at",)).items() if v[0] is not None}
    out = {k for k, v in _spark_rows(spark, swept["out"], "candidates", ("anonymised_at",)).items() if v[0] is not None}
    assert sql == out and len(out) > swept["sql"].due


def test_deleted_and_kept_tables_agree(swept: dict[str, Any], spark: Any) -> None:
    """Reference notes of anonymised candidates are gone; accounting records are all still there."""
    for table in ("reference_notes", "bookkeeping_records", "disputes", "objections"):
        columns = COLUMNS[table][1:]
        assert _spark_rows(spark, swept["out"], table, columns) == _sql_rows(swept["url"], table, columns), table
    assert len(_spark_rows(spark, swept["out"], "reference_notes", ())) < len(swept["pop"].reference_notes)


def test_the_audit_logs_agree(swept: dict[str, Any], spark: Any) -> None:
    """One audit row per action taken (per anonymised candidate, per erasure at once, per review),
    with the SQL audit table's columns and values."""
    engine = sa.create_engine(swept["url"])
    with engine.connect() as conn:
        sql_rows = conn.execute(sa.text(
            "SELECT candidate_id, as_of, policy_version, retention_mode, anonymise_on, rule_ids, clauses, erased, "
            "deleted_rows, action, due_on FROM policykit_audit")).all()
    engine.dispose()
    want = {(r[0], r[9]): (r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), json.loads(r[7]), json.loads(r[8]),
                   r[9], r[10]) for r in sql_rows}
    audit = spark.read.parquet(str(swept["out"] / "policykit_audit"))
    assert set(audit.columns) == {"id", "run_id", "candidate_id", "as_of", "policy_version", "retention_mode",
                                  "anonymise_on", "rule_ids", "clauses", "erased", "deleted_rows", "recorded_at",
                                  "action", "due_on"}
    got = {(r["candidate_id"], r["action"]): (r["as_of"].isoformat(), r["policy_version"], r["retention_mode"], _plain(r["anonymise_on"]),
                               r["rule_ids"], r["clauses"], r["erased"], dict(r["deleted_rows"]), r["action"],
                               _plain(r["due_on"]))
           for r in audit.collect()}
    assert got == want
    assert audit.select("run_id").distinct().count() == 1
    assert audit.count() == swept["spark"].audit.count() == len(sql_rows)
    assert len(sql_rows) == swept["sql"].anonymised + sum(swept["sql"].actions.values())


def test_a_second_run_on_the_output_changes_nothing(swept: dict[str, Any], spark: Any, tmp_path: Path) -> None:
    """Run again on its own output: nothing is due, no audit row is added, every table is the same."""
    again = policykit.spark.anonymise(str(swept["out"]), as_of=AS_OF, output=str(tmp_path / "again"))
    assert again.report.due == 0 and again.audit.count() == 0
    for table in [*COLUMNS, "policykit_audit"]:
        first = spark.read.parquet(str(swept["out"] / table))
        second = spark.read.parquet(str(tmp_path / "again" / table))
        assert first.schema == second.schema, table
        assert sorted(map(tuple, first.collect())) == sorted(map(tuple, second.collect())), table


def test_the_output_appears_only_complete_and_is_never_overwritten(swept: dict[str, Any]) -> None:
    """The output directory holds every table and the report, and no staging directory is left; a
    second pass refuses to write over it."""
    out: Path = swept["out"]
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} >= {*COLUMNS, "policykit_audit",
                                                                            "_policykit_report.json"}
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    report = json.loads((out / "_policykit_report.json").read_text())
    assert report["due"] == swept["sql"].due and report["applied"] is True
    with pytest.raises(SweepError, match="exists already"):
        policykit.spark.anonymise(str(out), as_of=AS_OF, output=str(out))


def test_a_table_the_mapping_names_must_be_there(spark: Any) -> None:
    frames = {"candidates": spark.createDataFrame([], TYPES["candidates"])}
    with pytest.raises(MappingError, match="applications.table: expected a table named 'applications' in the input"):
        policykit.spark.anonymise(frames, as_of=AS_OF)


def test_the_command_line_sweeps_parquet_files(swept: dict[str, Any], spark: Any, tmp_path: Path) -> None:
    """``policykit sweep --engine spark``: a dry run by default (same count as the SQL sweep's, nothing
    written), ``--apply`` writes the output directory; the report has the SQL sweep's shape."""
    from click.testing import CliRunner  # noqa: PLC0415

    from policykit.cli import main  # noqa: PLC0415

    source = tmp_path / "in"
    for name, rows in swept["pop"].tables():
        spark.createDataFrame(rows, TYPES[name]).write.parquet(str(source / name))
    runner = CliRunner()
    dry = runner.invoke(main, ["sweep", "--engine", "spark", "--input", str(source), "--as-of", str(AS_OF),
                               "--master", "local[2]", "--json", "--skip", "review_due"])
    assert dry.exit_code == 1, dry.output  # the unreadable objection
    summary = json.loads(dry.stdout.splitlines()[-1])
    assert summary["type"] == "summary" and summary["applied"] is False
    assert summary["skipped_actions"] == ["review_due"] and summary["actions"]["review_due"] == 0
    assert summary["actions"]["erase_now"] == swept["sql_dry"].actions["erase_now"]
    assert set(summary) >= set(swept["sql_dry"].to_dict())
    assert summary["due"] == swept["sql_dry"].due and summary["problem_count"] == 1
    assert not (tmp_path / "out").exists()
    applied = runner.invoke(main, ["sweep", "--engine", "spark", "--input", str(source), "--as-of", str(AS_OF),
                                   "--apply", "--output", str(tmp_path / "out")])
    assert applied.exit_code == 1, applied.output
    assert f"Anonymised {swept['sql'].anonymised:,} candidate(s)" in applied.stdout
    assert (tmp_path / "out" / "policykit_audit").is_dir()
    missing = runner.invoke(main, ["sweep", "--engine", "spark", "--input", str(source), "--apply"])
    assert missing.exit_code == 2 and "--output" in missing.output
    # two versions: the pass uses the one in force on its date, 2026-07-01 (whose evidence window is
    # anchored on the later of the application and the end of the process), as the overlay alone does
    revision = Path(__file__).resolve().parents[2] / "examples" / "policies" / "we-select-2026-07-01"
    both = runner.invoke(main, ["sweep", "--engine", "spark", "--input", str(source), "--as-of", str(AS_OF),
                                "--rules", str(policykit.bundled_rules_dir()), "--rules", str(revision), "--json"])
    assert both.exit_code == 1, both.output
    in_force = json.loads(both.stdout.splitlines()[-1])
    alone = policykit.spark.anonymise(str(source), as_of=AS_OF, rules=revision, spark=spark).report
    assert in_force["policy_version"] == alone.policy_version == "2026-07-01"
    assert in_force["due"] == alone.due and in_force["examined"] == alone.examined


def test_the_command_line_logs_the_passes_answers_as_the_sql_sweep_does(
    swept: dict[str, Any], spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--engine spark --log``: one retention record per candidate judged, the same records (question,
    answer, context: the sweep as the service, the candidate's id as a keyed HMAC) as the SQL sweep's
    ``--log`` gives for the same population, and a chain that verifies. A candidate the pass cannot
    judge (the unreadable objection) has no record, in either."""
    from click.testing import CliRunner  # noqa: PLC0415

    from policykit.cli import main  # noqa: PLC0415
    from policykit.log import verify  # noqa: PLC0415

    monkeypatch.setenv("POLICYKIT_LOG_KEY", "a key of at least sixteen bytes")
    source = tmp_path / "in"
    for name, rows in swept["pop"].tables():
        spark.createDataFrame(rows, TYPES[name]).write.parquet(str(source / name))
    url = f"sqlite:///{tmp_path / 'candidates.db'}"
    engine = sa.create_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        write(conn, swept["pop"])
    engine.dispose()
    runner = CliRunner()
    logs = {"sql": tmp_path / "sql.jsonl", "spark": tmp_path / "spark.jsonl"}
    sql = runner.invoke(main, ["sweep", "--db", url, "--as-of", str(AS_OF), "--no-preselect", "--json",
                               "--log", str(logs["sql"])])
    on_spark = runner.invoke(main, ["sweep", "--engine", "spark", "--input", str(source), "--as-of", str(AS_OF),
                                    "--master", "local[2]", "--json", "--log", str(logs["spark"])])
    assert sql.exit_code == on_spark.exit_code == 1, on_spark.output  # the unreadable objection
    examined = json.loads(on_spark.stdout.splitlines()[-1])["examined"]

    def records(path: Path) -> dict[str, tuple[Any, ...]]:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert verify(path).ok
        return {r["context"]["subject_ref"]: (r["family"], r["question"], r["answer"], r["context"]["service"])
                for r in lines}

    on_sql, by_spark = records(logs["sql"]), records(logs["spark"])
    assert len(by_spark) == examined - 1 == len(on_sql)  # one per candidate judged, each candidate once
    assert by_spark == on_sql
    assert {r[3] for r in by_spark.values()} == {"policykit-sweep"}
