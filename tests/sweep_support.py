"""Databases for the sweep tests: SQLite files, and PostgreSQL databases on the server named by
``POLICYKIT_TEST_POSTGRES_URL`` (``.ci/run`` starts a throwaway cluster and sets it).

``Person`` builds one candidate's rows for the example schema; ``snapshot`` reads a database back
into comparable plain data; ``check_all_or_nothing`` asserts the crash guarantee.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from examples.sweep.generate import COLUMNS, Population, write
from examples.sweep.schema import create_schema

PG_ENV = "POLICYKIT_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")
IDENTIFYING = ("email", "phone", "birth_date", "photo_url", "linkedin_url", "cv_text", "interview_notes",
               "test_report")


def postgres_url() -> str | None:
    """The PostgreSQL server for tests, if one was started."""
    return os.environ.get(PG_ENV) or None


@dataclass
class Person:
    """One candidate of the example schema. Dates are ``date``s, ``datetime``s or (to plant a bad value
    on SQLite) raw strings."""

    id: int
    applications: Sequence[Any] = ()
    withdrawals: Sequence[Any] = ()
    objections: Sequence[tuple[Any, str, bool]] = ()
    erasures: Sequence[Any] = ()
    disputes: Sequence[tuple[Any, str, Any]] = ()
    notes: int = 0
    bookkeeping: bool = False
    closed: Any = None
    family: str = "finance"
    band: str = "band-3"
    extra: dict[str, Any] = field(default_factory=dict)

    def rows(self, pop: Population) -> None:
        """Add this candidate's rows to ``pop`` (child ids derived from the candidate id)."""
        cid = self.id
        base = cid * 100
        pop.candidates.append((
            cid, f"Person {cid}", f"person{cid}@example.se", "+46 70 123 45 67", dt.date(1990, 5, 17),
            f"https://files.example.se/{cid}.jpg", f"https://www.linkedin.com/in/person{cid}", "CV text, ten years",
            "Interview went well.", "Reasoning 8/10.", self.band, self.family, self.closed,
            self.extra.get("anonymised_at"),
        ))
        for i, a in enumerate(self.applications):
            pop.applications.append((base + i, cid, a, self.family, "rejected", "Dear We Select, I apply."))
        for i, w in enumerate(self.withdrawals):
            pop.consent_withdrawals.append((base + i, cid, w))
        for i, (day, form, documented) in enumerate(self.objections):
            pop.objections.append((base + i, cid, day, form, documented))
        for i, e in enumerate(self.erasures):
            pop.erasure_requests.append((base + i, cid, e))
        for i, (opened, status, resolved) in enumerate(self.disputes):
            pop.disputes.append((base + i, cid, opened, status, resolved))
        for i in range(self.notes):
            pop.reference_notes.append((base + i, cid, "Referee Name", "+46 8 123 456", "Recommends them."))
        if self.bookkeeping:
            pop.bookkeeping_records.append((base, cid, "expense_refund", f"Person {cid}", 450,
                                            dt.date(2023, 3, 1), dt.date(2023, 12, 31)))


def add_people(url: str, people: Sequence[Person]) -> None:
    """Create the example schema (if absent) and insert these candidates."""
    engine = sa.create_engine(url)
    try:
        create_schema(engine)
        pop = Population()
        for person in people:
            person.rows(pop)
        with engine.begin() as conn:
            write(conn, pop)
    finally:
        engine.dispose()


def new_postgres_database() -> tuple[str, str]:
    """A fresh, empty database on the test server: ``(url, name)``."""
    admin = postgres_url()
    assert admin is not None
    name = f"pk_{uuid.uuid4().hex[:16]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    url = sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    return url, name


def drop_postgres_database(name: str) -> None:
    """Drop a test database, closing any connection still open to it."""
    admin = postgres_url()
    assert admin is not None
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "as_integer_ratio") and not isinstance(value, int):
        return float(value)
    return value


def snapshot(url: str, *, audit: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the example schema as sorted plain tuples; ``anonymised_at`` reduced to
    whether it is set, and the audit log to the columns that do not depend on the run or the clock."""
    engine = sa.create_engine(url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as conn:
            for table, cols in COLUMNS.items():
                rows = conn.execute(sa.text(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id")).all()
                plain = [tuple(_plain(v) for v in row) for row in rows]
                if table == "candidates":
                    plain = [(*row[:-1], row[-1] is not None) for row in plain]
                out[table] = plain
            if audit and sa.inspect(conn).has_table("policykit_audit"):
                rows = conn.execute(sa.text(
                    "SELECT candidate_id, as_of, policy_version, retention_mode, anonymise_on, rule_ids, clauses, "
                    "erased, deleted_rows, action, due_on FROM policykit_audit ORDER BY candidate_id"
                )).all()
                out["policykit_audit"] = sorted(tuple(_plain(v) for v in row) for row in rows)
    finally:
        engine.dispose()
    return out


def audit_rows(url: str, action: str | None = None) -> list[dict[str, Any]]:
    """The audit log as dictionaries (JSON columns decoded); only the rows of ``action`` if given
    (anonymise, erase_now, special_category, review_due)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("policykit_audit"):
                return []
            rows = conn.execute(sa.text("SELECT * FROM policykit_audit ORDER BY id")).mappings().all()
    finally:
        engine.dispose()
    out = []
    for row in rows:
        item = dict(row)
        for key in ("rule_ids", "clauses", "erased", "deleted_rows"):
            item[key] = json.loads(item[key])
        if action is None or item["action"] == action:
            out.append(item)
    return out


def check_all_or_nothing(url: str, pristine: dict[str, list[tuple[Any, ...]]]) -> tuple[int, int]:
    """Every candidate is either fully anonymised (identifying columns empty, cover letters gone,
    reference notes deleted, exactly one audit row) or as it was, but for the columns an ``erase_now``
    audit row says were erased at once (and are empty). Returns ``(anonymised, untouched)`` counts of
    the candidates that were not anonymised before."""
    now = snapshot(url, audit=False)
    audited = [r["candidate_id"] for r in audit_rows(url, "anonymise")]
    erased_now: dict[str, set[str]] = {}
    for r in audit_rows(url, "erase_now"):
        erased_now.setdefault(r["candidate_id"], set()).update(r["erased"])
    assert len(audited) == len(set(audited)), "a candidate was audited twice"
    audited_set = set(audited)
    cols = COLUMNS["candidates"]
    before = {row[0]: row for row in pristine["candidates"]}
    letters = _by_candidate(now["applications"])
    notes = _by_candidate(now["reference_notes"])
    letters_before = _by_candidate(pristine["applications"])
    notes_before = _by_candidate(pristine["reference_notes"])
    anonymised = untouched = 0
    for row in now["candidates"]:
        cid, was = row[0], before[row[0]]
        if was[-1]:  # anonymised before the sweep: left as it was
            assert row == was
            continue
        record = dict(zip(cols, row, strict=True))
        if record["anonymised_at"]:
            assert str(cid) in audited_set, f"candidate {cid} anonymised without an audit row"
            assert record["name"] == ""
            assert all(record[c] is None for c in IDENTIFYING), f"candidate {cid} half anonymised: {record}"
            assert record["test_score_band"] == was[10]
            assert record["position_family"] == was[11] or " " in str(was[11])  # free text is erased
            assert all(app[5] is None for app in letters.get(cid, ())), f"candidate {cid}: a cover letter is left"
            assert cid not in notes, f"candidate {cid}: reference notes are left"
            anonymised += 1
        else:
            assert str(cid) not in audited_set, f"candidate {cid} audited but not anonymised"
            gone = {name.split(".", 1)[1] for name in erased_now.get(str(cid), ()) if name.startswith("candidates.")}
            assert all(record[c] is None for c in gone), f"candidate {cid}: an erasure audited but not done"
            assert [v for c, v in zip(cols, row, strict=True) if c not in gone] == [
                v for c, v in zip(cols, was, strict=True) if c not in gone
            ], f"candidate {cid} changed without being anonymised"
            assert letters.get(cid, []) == letters_before.get(cid, [])
            assert notes.get(cid, []) == notes_before.get(cid, [])
            untouched += 1
    assert now["bookkeeping_records"] == pristine["bookkeeping_records"]
    assert audited_set <= {str(row[0]) for row in now["candidates"]}
    return anonymised, untouched


def _by_candidate(rows: list[tuple[Any, ...]]) -> dict[Any, list[tuple[Any, ...]]]:
    out: dict[Any, list[tuple[Any, ...]]] = {}
    for row in rows:
        out.setdefault(row[1], []).append(row)
    return out
