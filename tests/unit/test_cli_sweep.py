"""The ``policykit sweep`` command, on SQLite and PostgreSQL: report, JSON lines, apply, exit status."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import policykit
from policykit.cli import main
from policykit.errors import DecisionLogError
from policykit.log import DecisionLog, Sink, subject_hmac
from tests.sweep_support import Person, add_people, audit_rows

UTC = dt.UTC


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(10), UTC)


PEOPLE = [
    Person(1, applications=[at("2023-12-31")], withdrawals=[at("2024-04-02")], notes=1),
    Person(2, applications=[at("2020-01-10")], erasures=[dt.date(2024, 3, 5)]),
    Person(3, applications=[at("2019-05-01")]),
    Person(4, applications=[at("2022-01-10")], withdrawals=[at("2022-03-01")],
           disputes=[(dt.date(2022, 5, 1), "pending", None)]),
]


@pytest.fixture
def db(new_database: Callable[[], str]) -> str:
    url = new_database()
    add_people(url, PEOPLE)
    return url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sweep", *args])
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_prints_the_report_and_changes_nothing(db: str) -> None:
    """The human table: counts, modes and rules, the due candidates; exit status 0."""
    code, out, _ = run("--db", db, "--as-of", "2026-11-29")
    assert code == 0
    assert "dry run (nothing changed)" in out
    assert "due for anonymisation" in out and "RET-ANONYMISE-NOW" in out and "RET-LEGAL-HOLD" in out
    assert "Run again with --apply to anonymise the 2 due candidate(s)" in out
    assert audit_rows(db) == []


def test_json_lines_one_per_due_candidate_then_a_summary(db: str) -> None:
    """--json writes JSON lines: each due candidate, then the summary."""
    code, out, _ = run("--db", db, "--as-of", "2026-11-29", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [line["type"] for line in lines] == ["candidate", "candidate", "action", "action", "summary"]
    # candidate 3 applied on 2019-05-01 and is active: a review is due 24 months on (A-33); candidate
    # 4 is held by a dispute, and its LinkedIn column goes at once since consent ended (2022-03-01)
    assert [(a["candidate_id"], a["action"], a["due_on"], a["erased"]) for a in lines[2:4]] == [
        ("3", "review_due", "2021-05-01", []), ("4", "erase_now", "2022-03-01", ["candidates.linkedin_url"])]
    assert lines[-1]["actions"] == {"erase_now": 1, "special_category": 0, "review_due": 1}
    first = lines[0]
    assert (first["candidate_id"], first["retention_mode"], first["anonymise_on"], first["applied"]) == (
        "1", "evidence_window", "2026-01-01", False)
    assert first["deleted_rows"] == {"reference_notes": 1}
    assert lines[-1]["due"] == 2 and lines[-1]["exit_status"] == 0


def test_apply_then_apply_again(db: str) -> None:
    """--apply anonymises and audits; the second run finds nothing to do."""
    code, out, _ = run("--db", db, "--as-of", "2026-11-29", "--apply", "--batch-size", "1")
    assert code == 0 and "Anonymised 2 candidate(s)" in out
    assert {r["candidate_id"] for r in audit_rows(db, "anonymise")} == {"1", "2"}
    code, out, _ = run("--db", db, "--as-of", "2026-11-29", "--apply", "--json")
    summary = json.loads(out.splitlines()[-1])
    assert (code, summary["due"], summary["anonymised"], summary["already_anonymised"]) == (0, 0, 0, 2)
    code, out, _ = run("--db", db, "--as-of", "2026-11-29", "--apply")
    assert code == 0 and "Anonymised" not in out
    assert "Nothing to do: no candidate is due for anonymisation as of 2026-11-29" in out
    assert len(audit_rows(db, "anonymise")) == 2   # the runs with nothing to do added no audit rows


def test_no_preselect_judges_everyone_and_finds_the_same(db: str) -> None:
    """--no-preselect reads every candidate not yet anonymised."""
    _, out, _ = run("--db", db, "--as-of", "2026-11-29", "--json", "--no-preselect")
    summary = json.loads(out.splitlines()[-1])
    assert (summary["examined"], summary["due"], summary["preselect"]) == (4, 2, False)


def test_a_bad_row_is_reported_and_the_exit_status_is_1(new_database: Callable[[], str]) -> None:
    """The row is named on stderr and in the report; the rest is done; exit status 1 at the end."""
    url = new_database()
    add_people(url, [*PEOPLE, Person(9, applications=[at("2022-01-10")], withdrawals=[at("2027-01-01")])])
    code, out, err = run("--db", url, "--as-of", "2026-11-29", "--apply")
    assert code == 1
    assert "policykit: skipped consent_withdrawals row 900, column withdrawn_at (candidate 9)" in err
    assert "Anonymised 2 candidate(s)" in out and "1 row(s) could not be judged" in out
    code, out, _ = run("--db", url, "--as-of", "2026-11-29", "--json")
    types = [json.loads(line)["type"] for line in out.splitlines()]
    assert code == 1 and types == ["problem", "summary"]


def test_errors_that_stop_the_sweep_exit_2(db: str, tmp_path: Path) -> None:
    """An unreachable database, a mapping that does not fit, a bad date: one line, exit status 2."""
    code, _, err = run("--db", f"sqlite:///{tmp_path / 'absent.db'}", "--as-of", "2026-11-29")
    assert code == 2 and err.startswith("policykit: error: cannot open") and err.count("\n") == 1
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("candidates: {table: people}\napplications: {table: applications}\n", encoding="utf-8")
    code, _, err = run("--db", db, "--mapping", str(mapping))
    assert code == 2 and "expected a table named 'people'" in err
    code, _, err = run("--db", db, "--as-of", "29/11/2026")
    assert code == 2 and "--as-of: expected a date as YYYY-MM-DD" in err


def test_without_the_sweep_extra_the_error_names_it(tmp_path: Path) -> None:
    """Without SQLAlchemy the command says which extra to install, in one line, exit status 2."""
    code = (
        "import sys; sys.modules['sqlalchemy'] = None\n"
        "from policykit.cli import main\n"
        f"main(['sweep', '--db', 'sqlite:///{tmp_path / 'c.db'}'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "pip install 'policykit[sweep]'" in done.stderr and done.stderr.count("\n") == 1


def test_log_records_every_retention_answer_of_the_sweep(db: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """--log: one retention record per candidate judged, with the sweep's date, the sweep as the
    service and the candidate's id as the subject (as a keyed HMAC only), and a chain that verifies;
    the due candidates of the report are the answers whose anonymisation date has come."""
    key = "k" * 32
    monkeypatch.setenv("POLICYKIT_LOG_KEY", key)
    log = tmp_path / "decisions.jsonl"
    code, out, _ = run("--db", db, "--as-of", "2026-11-29", "--json", "--apply", "--log", str(log))
    lines = [json.loads(line) for line in out.splitlines()]
    summary = lines[-1]
    assert code == 0 and summary["examined"] >= 3
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(records) == summary["examined"]
    assert {r["family"] for r in records} == {"retention"}
    assert {r["question"]["as_of"] for r in records} == {"2026-11-29"}
    assert {r["context"]["service"] for r in records} == {"policykit-sweep"}
    assert sorted(r["context"]["subject_ref"] for r in records) == sorted(
        subject_hmac(str(p.id), key.encode()) for p in PEOPLE)
    due = [r for r in records if r["answer"]["due"] and not r["answer"]["legal_hold"]]
    anonymised = [a for a in audit_rows(db) if a.get("action", "anonymise") == "anonymise"]
    assert len(due) == summary["due"] == len(anonymised) == 2
    assert sorted(r["answer"]["anonymise_on"] for r in due) == sorted(str(a["anonymise_on"]) for a in anonymised)
    verified = CliRunner().invoke(main, ["log", "verify", str(log)])
    assert verified.exit_code == 0 and f"intact: {len(records)} records" in verified.stdout


def test_a_log_that_cannot_be_written_stops_the_sweep(db: str) -> None:
    """A failing decision log raises out of the sweep: the batch in progress is rolled back, nothing is
    anonymised without its answer recorded."""
    class Full(Sink):
        def tail(self) -> None:
            return None

        def write(self, records: object) -> None:
            raise OSError("No space left on device")

    policy = policykit.load_policy(decision_log=DecisionLog(Full(), durability="record"))
    with pytest.raises(DecisionLogError, match="No space left"):
        policykit.sweep(db, policy=policy, as_of="2026-11-29", apply=True)
    with contextlib.suppress(DecisionLogError):
        policy.close()
    assert audit_rows(db) == []


def test_log_takes_one_rules_directory_with_either_engine(tmp_path: Path) -> None:
    """A decision log records the answers of one policy: with two rules directories (a history) --log
    is refused before anything is judged, by either engine (the Spark pass's log: tests/spark)."""
    rules = ["--rules", str(policykit.bundled_rules_dir()), "--rules", str(policykit.bundled_rules_dir())]
    for engine in (["--engine", "spark", "--input", str(tmp_path)], ["--db", f"sqlite:///{tmp_path / 'c.db'}"]):
        code, _, err = run(*engine, *rules, "--log", str(tmp_path / "d.jsonl"))
        assert code == 2 and "--log records the answers of one rules directory" in err, err
    assert not (tmp_path / "d.jsonl").exists()
