"""The sweep against a hostile or damaged database: unreadable dates are reported and skipped (the
run goes on), the audit log resists every SQL form of rewriting, its DDL quotes identifiers, and the
candidate ids it keeps are surrogate keys or keyed hashes. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import policykit
from policykit._sweep.mapping import DEFAULT_MAPPING
from policykit._sweep.reading import surrogate as is_surrogate
from tests.sweep_support import Person, add_people, audit_rows, snapshot

AS_OF = dt.date(2026, 11, 29)
POLICY = policykit.load_policy()
# due on AS_OF (withdrawn in 2024, two years after the application): the control of every test
DUE = Person(1, applications=[dt.date(2023, 12, 31)], withdrawals=[dt.datetime(2024, 4, 2, 10, tzinfo=dt.UTC)])
WITHDRAWN = [dt.datetime(2024, 4, 2, 10, tzinfo=dt.UTC)]


def _sweep(url: str, **options: Any) -> policykit.SweepReport:
    return policykit.sweep(url, policy=POLICY, as_of=AS_OF, **options)


def test_dates_out_of_range_are_reported_and_the_run_goes_on(backend: str, new_database: Callable[[], str]) -> None:
    """Issue finding 4: a timestamp outside Python's range (OverflowError) stopped the whole sweep on
    SQLite; on PostgreSQL psycopg could not convert 'infinity', BC dates or year 9999 with an offset
    and the run exited 2, at the same row every night. Now each is one reported problem."""
    url = new_database()
    if backend == "sqlite":
        odd = ["0001-01-01T00:30:00+05:00", "9999-12-31T23:30:00-05:00", "9999-12-31T23:30:00+00:00"]
    else:
        odd = ["infinity", "-infinity", "0044-03-15 10:00:00+00 BC", "9999-12-31 23:30:00-05"]
    people = [DUE] + [Person(40 + i, applications=[value], withdrawals=WITHDRAWN) for i, value in enumerate(odd)]
    people.append(Person(60, applications=[dt.date(2020, 1, 1)], withdrawals=WITHDRAWN,
                         closed="infinity" if backend == "postgresql" else "9999-99-99"))
    add_people(url, people)
    report = _sweep(url, apply=True, preselect=False)  # judge everyone (the SQL bound skips year 9999)
    problems = {p.candidate_id for p in report.problems}
    assert problems == {str(40 + i) for i in range(len(odd))} | {"60"}
    assert all(p.code == "query.invalid_date" for p in report.problems)
    assert report.due == 1 and report.anonymised == 1
    assert {r["candidate_id"] for r in audit_rows(url, "anonymise")} == {"1"}


def _rewrites(dialect: str) -> list[str]:
    columns = ("id, run_id, candidate_id, as_of, policy_version, retention_mode, anonymise_on, rule_ids, clauses, "
               "erased, deleted_rows, recorded_at")
    changed = columns.replace("policy_version", "'forged'")
    statements = [
        "UPDATE policykit_audit SET policy_version = 'forged'",
        "DELETE FROM policykit_audit",
        f"INSERT INTO policykit_audit ({columns}) SELECT {changed} FROM policykit_audit WHERE true "
        "ON CONFLICT (id) DO UPDATE SET policy_version = 'forged'",
    ]
    if dialect == "sqlite":
        statements += [
            f"REPLACE INTO policykit_audit ({columns}) SELECT {changed} FROM policykit_audit",
            f"INSERT OR REPLACE INTO policykit_audit ({columns}) SELECT {changed} FROM policykit_audit",
            "UPDATE OR REPLACE policykit_audit SET policy_version = 'forged'",
        ]
    else:
        statements += ["TRUNCATE policykit_audit", "DELETE FROM ONLY policykit_audit"]
    return statements


def test_the_audit_log_refuses_every_form_of_rewriting(backend: str, new_database: Callable[[], str]) -> None:
    """Issue finding 5: REPLACE INTO (and INSERT OR REPLACE) overwrote an audit row on SQLite, which
    fires no delete trigger for the row it replaces. Every rewriting statement is now refused and the
    log is unchanged."""
    url = new_database()
    add_people(url, [DUE])
    _sweep(url, apply=True)
    before = snapshot(url)["policykit_audit"]
    assert len(before) == 1
    engine = sa.create_engine(url)
    try:
        for statement in _rewrites(engine.dialect.name):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()
    assert snapshot(url)["policykit_audit"] == before
    # appending is still allowed: the next sweep's rows are added
    add_people(url, [Person(2, applications=[dt.date(2023, 12, 31)], withdrawals=WITHDRAWN)])
    _sweep(url, apply=True)
    assert len(snapshot(url)["policykit_audit"]) == 2


def _mapping(tmp_path: Path, audit_table: str) -> Path:
    text = Path(str(DEFAULT_MAPPING)).read_text(encoding="utf-8")
    assert "audit_table: policykit_audit" in text
    path = tmp_path / "mapping.yaml"
    path.write_text(text.replace("audit_table: policykit_audit", f"audit_table: '{audit_table}'"), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ['a"b', 'policykit_audit" ON "candidates', "x; DROP TABLE candidates", "a b",
                                  "ämne", "x" * 64, ""])
def test_a_hostile_audit_table_name_is_refused(tmp_path: Path, name: str) -> None:
    """Issue finding 6: a name holding '"' attached the protecting trigger to another table (the sweep
    exited 0 with the log unprotected). A name that is not a plain SQL name is refused."""
    with pytest.raises(policykit.errors.MappingError, match="audit_table"):
        policykit.load_mapping(_mapping(tmp_path, name))


def test_the_audit_ddl_quotes_its_identifiers(backend: str, new_database: Callable[[], str], tmp_path: Path) -> None:
    """A plain name that needs quoting (upper case) gets its table and triggers, and they protect it."""
    url = new_database()
    add_people(url, [DUE])
    _sweep(url, apply=True, mapping=_mapping(tmp_path, "Audit_Log"))
    engine = sa.create_engine(url)
    try:
        assert sa.inspect(engine).has_table("Audit_Log")
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql('UPDATE "Audit_Log" SET policy_version = \'forged\'')
        with engine.begin() as conn:
            assert conn.exec_driver_sql('SELECT count(*) FROM "Audit_Log"').scalar() == 1
    finally:
        engine.dispose()


def test_candidate_ids_are_pseudonymised_with_a_key(
    backend: str, new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With POLICYKIT_AUDIT_KEY set, the audit log keeps HMAC-SHA256(key, id), computed here
    independently, never the id."""
    monkeypatch.setenv("POLICYKIT_AUDIT_KEY", "a secret of the controller")
    url = new_database()
    add_people(url, [DUE])
    _sweep(url, apply=True)
    expected = "hmac-sha256:" + hmac.new(b"a secret of the controller", b"1", hashlib.sha256).hexdigest()
    assert [r["candidate_id"] for r in audit_rows(url)] == [expected]


@pytest.mark.parametrize(("cid", "surrogate"), [
    (1, True), ("42", True), ("3f2b9c1e-8d4a-4b6f-9a1e-2c3d4e5f6a7b", True), (True, False),
    ("anna@example.se", False), ("19900517-1234", False), ("Anna Berg", False), ("٤٢", False),
])
def test_only_surrogate_keys_go_into_the_audit_log_unhashed(cid: Any, surrogate: bool) -> None:
    """Without a key, a candidate id that may be personal data (an e-mail address, a personal number)
    is refused for the audit log; whole numbers and UUIDs are kept."""
    assert is_surrogate(cid) is surrogate
