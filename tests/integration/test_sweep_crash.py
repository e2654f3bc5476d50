"""The crash guarantee: kill ``policykit sweep --apply`` (SIGKILL, no chance to clean up) in the
middle of a transaction, and every candidate is still either fully anonymised and audited or
untouched; a rerun finishes the job, and the result equals a single clean run's.

To kill the sweep *inside* a transaction rather than between two, the test makes it wait there:
on SQLite it holds a read lock, so the sweep's commit cannot take the exclusive lock it needs
(its changes are in the rollback journal: the test checks the journal is left behind, "hot");
on PostgreSQL it locks the audit table, so the sweep blocks on its audit insert after erasing the
batch's candidates (the test sees it waiting in pg_stat_activity). A second test kills the sweep at
random moments, several times over.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from examples.sweep.generate import generate

from tests.sweep_support import audit_rows, check_all_or_nothing, snapshot

pytestmark = pytest.mark.slow

AS_OF = "2026-11-29"
CANDIDATES = 4000
SEED = 5


def start_sweep(url: str, *, batch_size: int = 40, pause: float = 0.0) -> subprocess.Popen[bytes]:
    """``policykit sweep --apply`` in a subprocess, as a nightly job would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "policykit.cli", "sweep", "--db", url, "--as-of", AS_OF, "--apply",
         "--batch-size", str(batch_size), "--pause", str(pause)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def finish_sweep(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "policykit.cli", "sweep", "--db", url, "--as-of", AS_OF, "--apply"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def audited(url: str) -> int:
    engine = sa.create_engine(url, connect_args={"timeout": 60} if url.startswith("sqlite") else {})
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("policykit_audit"):
                return 0
            return int(conn.execute(sa.text("SELECT count(*) FROM policykit_audit")).scalar_one())
    finally:
        engine.dispose()


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture
def databases(new_database: Callable[[], str]) -> tuple[str, str]:
    """Two identical generated databases: one to crash, one for a clean single run."""
    crashed, clean = new_database(), new_database()
    for url in (crashed, clean):
        generate(url, CANDIDATES, seed=SEED)
    return crashed, clean


def finish_and_compare(crashed: str, clean: str, pristine: dict[str, Any]) -> None:
    finish_sweep(crashed)
    finish_sweep(clean)
    anonymised, _ = check_all_or_nothing(crashed, pristine)
    assert anonymised == len(audit_rows(crashed, "anonymise")) > 0
    assert snapshot(crashed) == snapshot(clean)
    before = snapshot(crashed)
    finish_sweep(crashed)  # and once more: nothing changes
    assert snapshot(crashed) == before


def test_killed_inside_a_transaction_leaves_all_or_nothing(backend: str, databases: tuple[str, str]) -> None:
    """SIGKILL while a batch's changes are written but not committed: the batch is rolled back whole."""
    crashed, clean = databases
    pristine = snapshot(crashed)
    process = start_sweep(crashed, pause=0.05)  # leaves time to take the lock before it is done
    try:
        wait_for(lambda: audited(crashed) >= 40, "the first batches to commit")
        if backend == "sqlite":
            _kill_while_committing_sqlite(crashed, process)
        else:
            _kill_while_inserting_audit_postgres(crashed, process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    partial = len(audit_rows(crashed, "anonymise"))  # the audit log also holds the sweep's other actions
    anonymised, untouched = check_all_or_nothing(crashed, pristine)
    assert anonymised == partial and partial > 0 and untouched > 0
    finish_and_compare(crashed, clean, pristine)


def _kill_while_committing_sqlite(url: str, process: subprocess.Popen[bytes]) -> None:
    path = Path(sa.make_url(url).database or "")
    journal = Path(f"{path}-journal")
    reader = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM candidates").fetchone()  # a shared lock until the reader ends
        wait_for(lambda: journal.exists() and journal.stat().st_size > 0, "the sweep to write a batch")
        time.sleep(0.5)  # its updates are done; it waits for the lock to commit
        kill(process)
        assert journal.exists() and journal.stat().st_size > 0, "expected a hot journal: killed mid-transaction"
    finally:
        reader.close()


def _kill_while_inserting_audit_postgres(url: str, process: subprocess.Popen[bytes]) -> None:
    engine = sa.create_engine(url)
    watcher = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'policykit-sweep' "
        "AND wait_event_type = 'Lock' AND datname = current_database()"
    )
    alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'policykit-sweep' "
                    "AND datname = current_database()")
    try:
        with engine.connect() as locker, watcher.connect() as watch:
            with locker.begin():
                locker.exec_driver_sql("LOCK TABLE policykit_audit IN EXCLUSIVE MODE")
                wait_for(lambda: watch.execute(waiting).scalar_one() > 0, "the sweep to block on its audit insert")
                kill(process)
            # the lock is released: the orphaned server process notices its client is gone and rolls back
            wait_for(lambda: watch.execute(alive).scalar_one() == 0, "the sweep's connection to end")
    finally:
        engine.dispose()
        watcher.dispose()


def test_killed_at_random_moments_then_finished(backend: str, databases: tuple[str, str]) -> None:
    """Several runs killed at random moments (between or inside transactions); after each the database
    is consistent, and the last run finishes the job."""
    crashed, clean = databases
    pristine = snapshot(crashed)
    rng = random.Random(int(os.environ.get("PYTEST_SWEEP_KILL_SEED", "3")))
    killed = 0
    for _ in range(4):
        done = audited(crashed)
        process = start_sweep(crashed, batch_size=10)
        wait_for(lambda: audited(crashed) > done or process.poll() is not None, "a batch to commit")  # noqa: B023
        time.sleep(rng.uniform(0.0, 0.25))
        if process.poll() is None:
            kill(process)
            killed += 1
        if backend == "postgresql":
            _wait_for_disconnect(crashed)
        check_all_or_nothing(crashed, pristine)
    assert killed, "expected at least one run to be killed before it finished"
    finish_and_compare(crashed, clean, pristine)


def _wait_for_disconnect(url: str) -> None:
    watcher = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'policykit-sweep' "
                    "AND datname = current_database()")
    try:
        with watcher.connect() as watch:
            wait_for(lambda: watch.execute(alive).scalar_one() == 0, "the sweep's connection to end")
    finally:
        watcher.dispose()
