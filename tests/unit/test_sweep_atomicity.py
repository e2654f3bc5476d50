"""The sweep's apply path on SQLite, without PostgreSQL: a batch's erasures and its audit rows are
one transaction. The audit insert of the second batch is made to fail (a trigger on the audit table
aborts it, after the batch's candidates were erased): the whole batch is rolled back, so no candidate
is ever anonymised without its audit row, and the batches before it stay committed."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

import policykit
from policykit.errors import PolicyKitError
from tests.sweep_support import add_people, audit_rows, check_all_or_nothing, snapshot
from tests.unit.test_sweep import AS_OF, DUE, PEOPLE

FAILING_ID = "7"  # due, and not in the first batch


def _database(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "people.sqlite"
    sqlite3.connect(path).close()
    url = f"sqlite:///{path}"
    add_people(url, [])
    with policykit.load_policy() as policy:  # an --apply run on no one creates the audit table
        assert policykit.sweep(url, as_of=AS_OF, apply=True, policy=policy).anonymised == 0
    add_people(url, PEOPLE)
    return url, path


def _fail_audit_insert_of(path: Path, candidate_id: str) -> None:
    # closing(): a connection's own context manager commits but does not close it (Python 3.13 warns)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "CREATE TRIGGER fail_audit BEFORE INSERT ON policykit_audit "
            f"WHEN NEW.candidate_id = '{candidate_id}' BEGIN SELECT RAISE(ABORT, 'audit insert failed'); END"
        )


@pytest.mark.parametrize("batch_size", [1, 3, 5])
def test_a_failed_audit_insert_rolls_back_the_batchs_erasures(tmp_path: Path, batch_size: int) -> None:
    url, path = _database(tmp_path)
    pristine = snapshot(url)
    _fail_audit_insert_of(path, FAILING_ID)
    with policykit.load_policy() as policy, pytest.raises(PolicyKitError, match="audit insert failed"):
        policykit.sweep(url, as_of=AS_OF, apply=True, batch_size=batch_size, policy=policy)
    # every candidate is anonymised with its audit row or untouched; the failing one is untouched
    # (its erasures were rolled back with the audit insert), and earlier batches stayed committed
    anonymised, untouched = check_all_or_nothing(url, pristine)
    audited = {r["candidate_id"] for r in audit_rows(url, "anonymise")}
    assert FAILING_ID not in audited
    assert {"1", "2"} <= audited < DUE and anonymised == len(audited) and untouched == 12 - anonymised
    after = {str(row[0]): row for row in snapshot(url, audit=False)["candidates"]}
    before = {str(row[0]): row for row in pristine["candidates"]}
    assert after[FAILING_ID] == before[FAILING_ID]

    # once the audit log accepts rows again, a rerun finishes the job
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TRIGGER fail_audit")
    with policykit.load_policy() as policy:
        report = policykit.sweep(url, as_of=AS_OF, apply=True, batch_size=batch_size, policy=policy)
    assert report.anonymised == len(DUE) - len(audited)
    assert {r["candidate_id"] for r in audit_rows(url, "anonymise")} == DUE
    assert check_all_or_nothing(url, pristine) == (len(DUE), 12 - len(DUE))


def test_a_failed_first_batch_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    """The audit insert of the very first batch fails: no candidate is changed, no row audited."""
    url, path = _database(tmp_path)
    pristine = snapshot(url)
    _fail_audit_insert_of(path, "1")
    with policykit.load_policy() as policy, pytest.raises(PolicyKitError):
        policykit.sweep(url, as_of=AS_OF, apply=True, batch_size=100, policy=policy)
    assert snapshot(url) == pristine


def test_an_erasure_at_once_and_its_audit_row_are_one_transaction(tmp_path: Path) -> None:
    """The audit insert of an erase_now action (candidate 5, in the evidence window: its LinkedIn
    column goes at once) fails: the whole batch is rolled back, the LinkedIn value included; a rerun
    erases it and audits it once."""
    url, path = _database(tmp_path)
    pristine = snapshot(url)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "CREATE TRIGGER fail_audit BEFORE INSERT ON policykit_audit WHEN NEW.action = 'erase_now' "
            "AND NEW.candidate_id = '5' BEGIN SELECT RAISE(ABORT, 'audit insert failed'); END"
        )
    with policykit.load_policy() as policy, pytest.raises(PolicyKitError, match="audit insert failed"):
        policykit.sweep(url, as_of=AS_OF, apply=True, batch_size=100, policy=policy)
    assert snapshot(url) == pristine
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TRIGGER fail_audit")
    with policykit.load_policy() as policy:
        report = policykit.sweep(url, as_of=AS_OF, apply=True, batch_size=100, policy=policy)
    assert "5" in {a.candidate_id for a in report.action_sample if a.action == "erase_now"}
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT linkedin_url, name FROM candidates WHERE id = 5").fetchone() == (None, "Person 5")
    assert [r["erased"] for r in audit_rows(url, "erase_now") if r["candidate_id"] == "5"] == [
        ["candidates.linkedin_url"]]
