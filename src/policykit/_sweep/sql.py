"""The retention sweep on SQLAlchemy Core: SQLite (embedded) and PostgreSQL (psycopg 3).

Only ``_sweep.job.sweep`` imports this module, so SQLAlchemy is loaded only when a sweep runs. The user's
tables are addressed with lightweight ``sa.table()`` constructs whose columns carry no type: values
come back as the driver gives them (ISO text on SQLite, ``date``/``datetime`` on PostgreSQL) and are
parsed here, one value at a time, so that a malformed value is reported with its table, row and
column instead of failing a whole batch. The audit table is policykit's own and fully typed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import time
import uuid
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from policykit._dates import Clock, _zone, local_date
from policykit._records.anonymise import _structured
from policykit._retention.evaluator import RetentionEvaluator
from policykit._retention.verdict import WRITTEN_FORMS, RetentionVerdict
from policykit._ruleset.ruleset import load_rules
from policykit._sweep.mapping import ChildTable, SweepMapping, TableSpec, load_mapping
from policykit._sweep.report import CandidateAction, SweepPolicy, SweepProblem, SweepProgress, SweepReport
from policykit.errors import (
    DatabaseUnreachableError,
    InvalidDateError,
    MappingError,
    PolicyKitError,
    QueryError,
    SweepError,
    did_you_mean,
    short_repr,
)

__all__ = ["audit_table", "open_engine", "run_sweep"]

IN_CHUNK = 500  # ids per IN list: far below every driver's limit on bound parameters
MAX_PROBLEMS = 1000
APPLICATION_NAME = "policykit-sweep"


# ------------------------------------------------------------------------------------------------
# connecting


def _masked(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def open_engine(db: str | Engine, *, write: bool) -> Engine:
    """An engine for ``db``, checked by connecting once. SQLite transactions are begun explicitly
    (``BEGIN IMMEDIATE`` for writing: the write lock is taken up front, never upgraded mid-way)."""
    if isinstance(db, Engine):
        engine = db
    else:
        try:
            url = sa.make_url(db)
        except sa.exc.ArgumentError:
            raise DatabaseUnreachableError(
                f"expected a database URL such as sqlite:///candidates.db or postgresql+psycopg://user@host/db, "
                f"got {db!r}"
            ) from None
        kwargs: dict[str, Any] = {}
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database not in ("", ":memory:") and not database.startswith("file:") and not Path(database).is_file():
                raise DatabaseUnreachableError(f"cannot open {_masked(url)}: no such database file {database!r}")
            kwargs["connect_args"] = {"timeout": 60}
        elif url.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"application_name": APPLICATION_NAME, "connect_timeout": 10}
        try:
            engine = sa.create_engine(url, **kwargs)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise DatabaseUnreachableError(f"cannot use {_masked(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine, write=write)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise DatabaseUnreachableError(f"cannot reach {_masked(engine.url)}: {_first_line(exc)}") from None
    return engine


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _sqlite_begin(conn: sa.Connection) -> None:
    driver = conn.connection.driver_connection
    if driver is not None and driver.isolation_level is not None:
        driver.isolation_level = None  # the driver begins nothing on its own: the BEGIN below is the only one
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _WRITING.get(conn.engine) else "BEGIN")


def _sqlite_transactions(engine: Engine, *, write: bool) -> None:
    """SQLite: begin every transaction explicitly (the recipe of SQLAlchemy's pysqlite notes)."""
    if not event.contains(engine, "begin", _sqlite_begin):
        event.listen(engine, "begin", _sqlite_begin)
    _WRITING[engine] = write


_WRITING: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------------------------------------
# the mapping, checked against the live database


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """What the database says about a column."""

    nullable: bool
    text: bool  # holds text (every date column on SQLite holds ISO text)
    kind: str  # "datetime", "date" or "other" (native types; SQLite reports "other")


@dataclass
class Schema:
    """The mapping, checked: the column facts of every mapped table, and the erasable columns."""

    mapping: SweepMapping
    dialect: str
    columns: dict[str, dict[str, ColumnInfo]]

    def info(self, table: str, column: str) -> ColumnInfo:
        """The facts of one column."""
        return self.columns[table][column]

    def empty(self, table: str, column: str) -> Any:
        """What an erased value becomes: NULL, or '' in a NOT NULL text column."""
        info = self.info(table, column)
        return None if info.nullable else ""


def _kind(coltype: Any, dialect: str) -> tuple[bool, str]:
    if dialect == "sqlite":
        return True, "other"
    if isinstance(coltype, sa.DateTime):
        return False, "datetime"
    if isinstance(coltype, sa.Date):
        return False, "date"
    return isinstance(coltype, sa.String), "other"


def check_schema(engine: Engine, mapping: SweepMapping) -> Schema:
    """Check that every table and column the mapping names exists, that every other column of a
    mapped table carries a category, and that erased columns can be erased. Raises
    :class:`MappingError` naming the first problem."""
    where = f" (mapping {mapping.source})" if mapping.source else ""
    try:
        inspector = sa.inspect(engine)
        existing = set(inspector.get_table_names(schema=mapping.schema_))
    except sa.exc.DBAPIError as exc:
        raise DatabaseUnreachableError(f"cannot read the schema of {_masked(engine.url)}: {_first_line(exc)}") from None

    tables: list[tuple[str, str, TableSpec | None, dict[str, str]]] = []
    tables.append(("candidates", mapping.candidates.table, mapping.candidates, mapping.candidates.keys()))
    for role, child in mapping.fact_tables():
        tables.append((role, child.table, child, child.keys()))
    for i, rows in enumerate(mapping.delete_rows):
        tables.append((f"delete_rows[{i}]", rows.table, None, {"candidate_id": rows.candidate_id}))
    for i, kept in enumerate(mapping.kept):
        tables.append((f"kept[{i}]", kept.table, None, {}))

    columns: dict[str, dict[str, ColumnInfo]] = {}
    for role, table, spec, keys in tables:
        if table not in existing:
            raise MappingError(
                f"{role}.table: expected a table named {table!r} in the database, found none"
                + _close(table, existing) + where
            )
        reflected = inspector.get_columns(table, schema=mapping.schema_)
        infos = {}
        for col in reflected:
            text, kind = _kind(col["type"], engine.dialect.name)
            infos[str(col["name"])] = ColumnInfo(bool(col.get("nullable", True)), text, kind)
        columns[table] = infos
        for key, column in keys.items():
            if column not in infos:
                raise MappingError(
                    f"{role}.{key}: expected a column named {column!r} in table {table!r}, found none"
                    + _close(column, infos) + where
                )
        if spec is None:
            continue
        for column in spec.columns:
            if column not in infos:
                raise MappingError(
                    f"{role}.columns.{column}: expected a column named {column!r} in table {table!r}, found none"
                    + _close(column, infos) + where
                )
        accounted = set(keys.values()) | set(spec.columns)
        unmapped = [c for c in infos if c not in accounted]
        if unmapped:
            raise MappingError(
                f"{role}.columns: table {table!r} has column(s) {', '.join(map(repr, unmapped))} with no data "
                f"category in the mapping; add each under {role}.columns with the category it holds (and "
                f"non_identifying: true only for a structured attribute that identifies no one){where}"
            )
        for column, col_spec in spec.columns.items():
            info = infos[column]
            if not col_spec.non_identifying and not info.nullable and not info.text:
                raise MappingError(
                    f"{role}.columns.{column}: column {table}.{column} is NOT NULL and not text, so it cannot be "
                    f"erased; make it nullable{where}"
                )
        if (role != "candidates" and any(c.non_identifying for c in spec.columns.values())
                and (not isinstance(spec, ChildTable) or spec.id is None)):
            raise MappingError(
                f"{role}.id: expected the row id column, since {role} has non_identifying columns whose free "
                f"text must be erased row by row{where}"
            )
    cand = mapping.candidates
    if not columns[cand.table][cand.anonymised_at].nullable:
        raise MappingError(
            f"candidates.anonymised_at: column {cand.table}.{cand.anonymised_at} must be nullable: NULL means "
            f"not yet anonymised{where}"
        )
    return Schema(mapping, engine.dialect.name, columns)


def _close(word: str, choices: Iterable[str]) -> str:
    return did_you_mean(word, choices)


# ------------------------------------------------------------------------------------------------
# the audit log


AUDIT_COLUMNS = (
    "id", "run_id", "candidate_id", "as_of", "policy_version", "retention_mode", "anonymise_on", "rule_ids",
    "clauses", "erased", "deleted_rows", "recorded_at",
)


def audit_table(name: str, schema: str | None = None) -> sa.Table:
    """The append-only audit log: one row per anonymised candidate. It holds the candidate's id (a
    surrogate key), dates, the policy version, rule and clause ids, and the names of the erased
    columns: no personal data."""
    metadata = sa.MetaData(schema=schema)
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("candidate_id", sa.Text, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("retention_mode", sa.Text, nullable=False),
        sa.Column("anonymise_on", sa.Date),
        sa.Column("rule_ids", sa.Text, nullable=False),  # JSON list
        sa.Column("clauses", sa.Text, nullable=False),  # JSON list
        sa.Column("erased", sa.Text, nullable=False),  # JSON list of table.column
        sa.Column("deleted_rows", sa.Text, nullable=False),  # JSON object: table -> rows
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),  # UTC
        sa.Index(f"{name}_candidate_id", "candidate_id"),
    )


def make_append_only(conn: sa.Connection, table: sa.Table, message: str) -> None:
    """Make ``table`` append-only in the database itself: triggers that refuse UPDATE and DELETE (and,
    on PostgreSQL, TRUNCATE) with ``message``. Used by the sweep's audit table and the decision log."""
    name = conn.dialect.identifier_preparer.format_table(table)
    text = message.replace("'", "''")
    if conn.dialect.name == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f'CREATE TRIGGER IF NOT EXISTS "{table.name}_no_{op.lower()}" BEFORE {op} ON "{table.name}" '
                f"BEGIN SELECT RAISE(ABORT, '{text}'); END"
            )
    elif conn.dialect.name == "postgresql":
        function = f'"{table.name}_append_only"'
        if table.schema is not None:
            function = f'"{table.schema}".{function}'
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{text}'; END $$"
        )
        conn.exec_driver_sql(
            f'CREATE TRIGGER "{table.name}_no_change" BEFORE UPDATE OR DELETE ON {name} '
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
        conn.exec_driver_sql(
            f'CREATE TRIGGER "{table.name}_no_truncate" BEFORE TRUNCATE ON {name} '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def ensure_audit_table(engine: Engine, mapping: SweepMapping) -> sa.Table:
    """Create the audit table if absent (check its columns if present), and make sure the triggers
    that keep it append-only are there, in both cases.

    Every identifier in the DDL is quoted by the dialect's identifier preparer. SQLite: BEFORE UPDATE
    and BEFORE DELETE triggers, and a BEFORE INSERT trigger that refuses a row whose id is taken (a
    REPLACE, INSERT OR REPLACE or upsert would otherwise delete the old row without firing the delete
    trigger). PostgreSQL: a row trigger on UPDATE and DELETE (an INSERT ... ON CONFLICT DO UPDATE is
    an update) and a statement trigger on TRUNCATE."""
    table = audit_table(mapping.audit_table, mapping.schema_)
    inspector = sa.inspect(engine)
    if inspector.has_table(table.name, schema=mapping.schema_):
        found = {c["name"] for c in inspector.get_columns(table.name, schema=mapping.schema_)}
        missing = [c for c in AUDIT_COLUMNS if c not in found]
        if missing:
            raise MappingError(
                f"audit_table: table {table.name!r} exists but lacks column(s) {', '.join(missing)}; name another "
                "audit_table in the mapping"
            )
    prep = engine.dialect.identifier_preparer
    name = prep.format_table(table)
    refuse = "'the policykit audit log is append-only'"

    def ident(suffix: str) -> str:
        trigger = prep.quote(f"{table.name}_{suffix}")
        return f"{prep.quote_schema(table.schema)}.{trigger}" if table.schema is not None else trigger

    with engine.begin() as conn:
        table.create(conn, checkfirst=True)
        if engine.dialect.name == "sqlite":
            for op in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {ident('no_' + op.lower())} BEFORE {op} ON {name} "
                    f"BEGIN SELECT RAISE(ABORT, {refuse}); END"
                )
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {ident('no_replace')} BEFORE INSERT ON {name} "
                f"WHEN NEW.{prep.quote('id')} IS NOT NULL AND EXISTS "
                f"(SELECT 1 FROM {name} WHERE {prep.quote('id')} = NEW.{prep.quote('id')}) "
                f"BEGIN SELECT RAISE(ABORT, {refuse}); END"
            )
        elif engine.dialect.name == "postgresql":
            function = ident("append_only")
            conn.exec_driver_sql(
                f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"RAISE EXCEPTION {refuse}; END $$"
            )
            for suffix, when in (("no_change", "BEFORE UPDATE OR DELETE"), ("no_truncate", "BEFORE TRUNCATE")):
                trigger = prep.quote(f"{table.name}_{suffix}")
                level = "STATEMENT" if suffix == "no_truncate" else "ROW"
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger} ON {name}")
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {trigger} {when} ON {name} FOR EACH {level} EXECUTE FUNCTION {function}()"
                )
    return table


# ------------------------------------------------------------------------------------------------
# reading values


class _BadRowError(Exception):
    def __init__(self, problem: SweepProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _ident(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(slots=True)
class _Reader:
    """Turns raw column values into dates, reporting a bad one with its table, row and column."""

    zone: str
    as_of: dt.date
    tzinfo: dt.tzinfo = field(init=False)

    def __post_init__(self) -> None:
        self.tzinfo = _zone(self.zone)

    def bad(self, table: str, row: Any, cid: Any, column: str | None, message: str, *,
            code: str = InvalidDateError.code) -> _BadRowError:
        return _BadRowError(SweepProblem(table, _ident(row), _ident(cid), column, message, code))

    def local(self, value: Any, table: str, row: Any, cid: Any, column: str) -> dt.date:
        """The calendar date, in the mapping's zone, of a date or a timestamp with a zone (native, or ISO
        8601 text)."""
        # the common forms, quickly: an ISO date, an ISO timestamp with an offset, native values
        kind = type(value)
        if kind is str:
            if len(value) == 10:
                with contextlib.suppress(ValueError):
                    return dt.date.fromisoformat(value)
            else:
                # out of range (0001-01-01T00:30:00+05:00 in Stockholm): the slow path reports it
                with contextlib.suppress(ValueError, OverflowError):
                    stamp = dt.datetime.fromisoformat(value)
                    if stamp.tzinfo is not None and stamp.utcoffset() is not None:
                        return stamp.astimezone(self.tzinfo).date()
        elif kind is dt.date:
            return value  # type: ignore[no-any-return]
        elif kind is dt.datetime and value.tzinfo is not None and value.utcoffset() is not None:
            with contextlib.suppress(OverflowError):
                return value.astimezone(self.tzinfo).date()  # type: ignore[no-any-return]
        # anything else goes through the library's parser, which says what is wrong with it
        try:
            if isinstance(value, str) and len(value) > 10:
                with contextlib.suppress(ValueError):  # if not, the library's parser says what is wrong
                    value = dt.datetime.fromisoformat(value)
            if not isinstance(value, (str, dt.date)):
                raise InvalidDateError(
                    f": expected a date or a timestamp with a zone, got {type(value).__name__} {short_repr(value)}"
                )
            return local_date(value, self.zone, field="")
        except InvalidDateError as exc:
            raise self.bad(table, row, cid, column, exc.message.removeprefix(": ")) from None

    def moment(self, value: Any, table: str, row: Any, cid: Any, column: str) -> dt.date:
        """An event's date: required, and on or before ``as_of``."""
        if value is None:
            raise self.bad(table, row, cid, column, "expected a date or timestamp, found NULL")
        day = self.local(value, table, row, cid, column)
        if day > self.as_of:
            raise self.bad(table, row, cid, column,
                           f"expected a date on or before as_of ({self.as_of}), got {day}: the sweep judges as of "
                           f"{self.as_of} and cannot know later events")
        return day

    def day(self, value: Any, table: str, row: Any, cid: Any, column: str) -> dt.date | None:
        """An optional date (NULL is None)."""
        return None if value is None else self.local(value, table, row, cid, column)


# ------------------------------------------------------------------------------------------------
# the plan of what anonymisation erases, per set of categories


@dataclass(frozen=True, slots=True)
class _TableErase:
    role: str
    table: str
    key: str  # the column that finds the candidate's rows (id in candidates, candidate_id elsewhere)
    row_id: str | None
    erase: tuple[str, ...]  # columns erased outright
    check: tuple[str, ...]  # non-identifying columns of an erased category: erased only if free text


@dataclass(frozen=True, slots=True)
class _Plan:
    tables: tuple[_TableErase, ...]
    deletes: tuple[tuple[str, str], ...]  # (table, candidate_id column)
    erased: tuple[str, ...]


def _plan(schema: Schema, categories: frozenset[str]) -> _Plan:
    m = schema.mapping
    tables = []
    erased: list[str] = []
    specs: list[tuple[str, TableSpec, str, str | None]] = [
        ("candidates", m.candidates, m.candidates.id, m.candidates.id)
    ]
    for role, child in m.fact_tables():
        specs.append((role, child, child.candidate_id, child.id))
    for role, spec, key, row_id in specs:
        erase = tuple(c for c, s in spec.columns.items() if s.category in categories and not s.non_identifying)
        check = tuple(c for c, s in spec.columns.items() if s.category in categories and s.non_identifying)
        if erase or check:
            tables.append(_TableErase(role, spec.table, key, row_id, erase, check))
            erased.extend(f"{spec.table}.{c}" for c in erase)
    deletes = tuple((d.table, d.candidate_id) for d in m.delete_rows if d.category in categories)
    return _Plan(tuple(tables), deletes, tuple(erased))


def _categories(verdict: RetentionVerdict) -> frozenset[str]:
    """What anonymisation erases for this verdict, never the accounting records (A-08)."""
    return frozenset(verdict.erase_on_anonymisation) | frozenset(verdict.erase_now) - {"bookkeeping_record"}


# ------------------------------------------------------------------------------------------------
# the sweep


@dataclass
class _Due:
    cid: Any
    verdict: RetentionVerdict
    plan: _Plan
    free_text: list[tuple[str, str, Any, str]] = field(default_factory=list)  # (role, table, row id, column)


@dataclass
class _Stats:
    examined: int = 0
    due: int = 0
    anonymised: int = 0
    by_mode: Counter[tuple[str, str]] = field(default_factory=Counter)
    due_by_mode: Counter[tuple[str, str]] = field(default_factory=Counter)
    erases: Counter[str] = field(default_factory=Counter)
    problems: list[SweepProblem] = field(default_factory=list)
    problem_count: int = 0
    sample: list[CandidateAction] = field(default_factory=list)


class _Sweeper:
    def __init__(self, engine: Engine, schema: Schema, policy: SweepPolicy, as_of: dt.date, *, apply: bool,
                 batch_size: int, preselect: bool) -> None:
        self.engine = engine
        self.schema = schema
        self.m = schema.mapping
        self.policy = policy
        self.as_of = as_of
        self.apply = apply
        self.batch_size = batch_size
        self.preselect = preselect
        self.dialect = engine.dialect.name
        self.reader = _Reader(self.m.timezone or policy.rules.parameters.timezone, as_of)
        self.plans: dict[frozenset[str], _Plan] = {}
        self.tables: dict[str, sa.TableClause] = {}
        self.as_text: set[tuple[str, str]] = set()  # (table, column) read as text (PostgreSQL dates)
        # the key that pseudonymises candidate ids in the audit log (docs/security.md)
        key = os.environ.get(AUDIT_KEY_ENV)
        self.audit_key: bytes | None = key.encode("utf-8") if key else None
        self.cand = self.table(self.m.candidates.table)
        # non-identifying columns, read with each row: a free-text value in one is erased all the same
        self.kept: dict[str, list[str]] = {
            role: [c for c, spec in table.columns.items() if spec.non_identifying]
            for role, table in self.m.categorised()
        }
        cand = self.m.candidates
        self.kept_at: dict[str, int] = {"candidates": 2 if cand.process_closed_on else 1}

    # -- table constructs: untyped columns, so values come back exactly as the driver gives them
    def table(self, name: str) -> sa.TableClause:
        clause = self.tables.get(name)
        if clause is None:
            clause = sa.table(name, *(sa.column(c) for c in self.schema.columns[name]), schema=self.m.schema_)
            self.tables[name] = clause
        return clause

    # -- selection
    def window_days(self) -> int:
        """The fewest days the evidence window can last (a year counts 365 days, a month 28)."""
        spec = self.policy.rules.retention.evidence_window
        return int(spec.years) * 365 + int(spec.months) * 28 + int(spec.days)

    def recent(self, column: sa.ColumnClause[Any], info: ColumnInfo, bound: dt.date) -> sa.ColumnElement[bool] | None:
        """``column`` holds a date on or after ``bound`` (compared conservatively), or None when this
        cannot be said in SQL for this column type."""
        if info.kind == "datetime":
            return column >= dt.datetime.combine(bound, dt.time(0), dt.UTC)
        if info.kind == "date":
            return column >= bound
        if not info.text:
            return None
        prefix = sa.func.substr(column, 1, 10)
        if self.dialect == "sqlite":
            valid = sa.func.date(prefix) == prefix
            return sa.and_(valid, column >= bound.isoformat())
        if self.dialect == "postgresql":
            return sa.and_(column.op("~")(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"), column.collate("C") >= bound.isoformat())
        return None

    def column(self, t: sa.TableClause, table: str, name: str) -> sa.ColumnElement[Any]:
        """A column to read. On PostgreSQL a date or timestamp column is read as text and parsed here:
        psycopg cannot convert 'infinity', BC dates or year-9999 timestamps with an offset, and one
        such value would stop the whole batch instead of one candidate."""
        col = t.c[name]
        if self.dialect == "postgresql" and self.schema.info(table, name).kind in ("date", "datetime"):
            self.as_text.add((table, name))
            return sa.cast(col, sa.Text).label(name)
        return col

    def page_query(self, after: Any, *, lock: bool) -> sa.Select[Any]:
        cand = self.m.candidates
        c = self.cand.c
        ct = self.m.candidates.table
        cols: list[sa.ColumnElement[Any]] = [c[cand.id]]
        if cand.process_closed_on:
            cols.append(self.column(self.cand, ct, cand.process_closed_on))
        cols += [self.column(self.cand, ct, k) for k in self.kept["candidates"]]
        q = sa.select(*cols).where(c[cand.anonymised_at].is_(None))
        if after is not None:
            q = q.where(c[cand.id] > after)
        if self.preselect:
            triggers = [
                sa.exists().where(self.table(t.table).c[t.candidate_id] == c[cand.id]) for t in self.m.trigger_tables()
            ]
            q = q.where(sa.or_(*triggers) if triggers else sa.false())
            days = self.window_days() - 2
            if days > 0:
                apps = self.m.applications
                a = self.table(apps.table)
                bound = self.as_of - dt.timedelta(days=days)
                recent = self.recent(a.c[apps.submitted_at], self.schema.info(apps.table, apps.submitted_at), bound)
                if recent is not None:
                    q = q.where(~sa.exists().where(a.c[apps.candidate_id] == c[cand.id], recent))
        q = q.order_by(c[cand.id]).limit(self.batch_size)
        if lock and self.dialect == "postgresql":
            q = q.with_for_update(of=self.cand)
        return q

    # -- facts
    def fetch(self, conn: sa.Connection, role: str, spec: ChildTable, columns: Sequence[str | None],
              ids: Sequence[Any]) -> dict[Any, list[Sequence[Any]]]:
        """The rows of a fact table for these candidates: candidate id, row id, ``columns``, then the
        table's non-identifying columns (checked for free text if the candidate is due)."""
        t = self.table(spec.table)
        wanted = [spec.candidate_id, spec.id, *columns, *self.kept[role]]
        self.kept_at[role] = 2 + len(columns)
        cols = [sa.null() if c is None else self.column(t, spec.table, c) if i >= 2 else t.c[c]
                for i, c in enumerate(wanted)]
        out: dict[Any, list[Sequence[Any]]] = defaultdict(list)
        for chunk in _chunks(ids):
            for row in conn.execute(sa.select(*cols).where(t.c[spec.candidate_id].in_(chunk))):
                out[row[0]].append(row)
        return out

    def gather(self, conn: sa.Connection, ids: Sequence[Any]) -> dict[str, dict[Any, list[Sequence[Any]]]]:
        m = self.m
        raw: dict[str, dict[Any, list[Sequence[Any]]]] = {}
        raw["applications"] = self.fetch(conn, "applications", m.applications, [m.applications.submitted_at], ids)
        if m.consent_withdrawals is not None:
            w = m.consent_withdrawals
            raw["consent_withdrawals"] = self.fetch(conn, "consent_withdrawals", w, [w.date], ids)
        if m.objections is not None:
            o = m.objections
            raw["objections"] = self.fetch(conn, "objections", o, [o.date, o.form, o.documented_in_writing], ids)
        if m.erasure_requests is not None:
            e = m.erasure_requests
            raw["erasure_requests"] = self.fetch(conn, "erasure_requests", e, [e.date], ids)
        if m.disputes is not None:
            d = m.disputes
            raw["disputes"] = self.fetch(conn, "disputes", d, [d.opened_on, d.status, d.resolved_on], ids)
        return raw

    def facts(self, cid: Any, closed: Any, raw: dict[str, dict[Any, list[Sequence[Any]]]]) -> dict[str, Any]:
        """The retention facts of one candidate; raises _BadRowError for a value that cannot be read."""
        m, r = self.m, self.reader
        apps = m.applications
        days = [
            r.moment(row[2], apps.table, row[1], cid, apps.submitted_at) for row in raw["applications"].get(cid, ())
        ]
        facts: dict[str, Any] = {"applications": days, "as_of": self.as_of}
        latest = max(days) if days else None
        if m.consent_withdrawals is not None:
            w = m.consent_withdrawals
            withdrawn = [
                r.moment(row[2], w.table, row[1], cid, w.date) for row in raw["consent_withdrawals"].get(cid, ())
            ]
            if withdrawn:
                facts["consent_withdrawn_on"] = withdrawn
        if m.objections is not None:
            self._objection(cid, raw["objections"].get(cid, ()), latest, facts)
        if m.erasure_requests is not None:
            e = m.erasure_requests
            asked = [r.moment(row[2], e.table, row[1], cid, e.date) for row in raw["erasure_requests"].get(cid, ())]
            if asked:
                facts["erasure_requested_on"] = _first_from(asked, latest)
        if m.disputes is not None:
            facts["disputes"] = [self._dispute(cid, row) for row in raw["disputes"].get(cid, ())]
        if m.candidates.process_closed_on is not None:
            day = r.day(closed, m.candidates.table, cid, cid, m.candidates.process_closed_on)
            if day is not None:
                facts["process_closed_on"] = day
        return facts

    def _objection(self, cid: Any, rows: Iterable[Sequence[Any]], latest: dt.date | None,
                   facts: dict[str, Any]) -> None:
        """The objection that counts: the first written (or documented) one on or after the latest
        application, else the latest one (which the policy then notes and disregards)."""
        o = self.m.objections
        assert o is not None
        read = []
        for row in rows:
            day = self.reader.moment(row[2], o.table, row[1], cid, o.date)
            form = row[3] if o.form is not None else "email"
            if form not in ("email", "letter", "portal", "phone", "in_person"):
                raise self.reader.bad(o.table, row[1], cid, o.form,
                                      f"expected an objection form (email, letter, portal, phone, in_person), got "
                                      f"{form!r}", code=QueryError.code)
            documented = row[4] if o.documented_in_writing is not None else False
            if documented in (0, 1, None):
                documented = bool(documented)
            if not isinstance(documented, bool):
                raise self.reader.bad(o.table, row[1], cid, o.documented_in_writing,
                                      f"expected true or false, got {documented!r}", code=QueryError.code)
            read.append((day, form, documented))
        if not read:
            return
        written = sorted(x for x in read if (x[1] in WRITTEN_FORMS or x[2]) and (latest is None or x[0] >= latest))
        day, form, documented = written[0] if written else max(read)
        facts["objection_received_on"] = day
        facts["objection_form"] = form
        facts["objection_documented_in_writing_by_controller"] = documented

    def _dispute(self, cid: Any, row: Sequence[Any]) -> dict[str, Any]:
        d = self.m.disputes
        assert d is not None
        opened = self.reader.day(row[2], d.table, row[1], cid, d.opened_on)
        if opened is None:
            raise self.reader.bad(d.table, row[1], cid, d.opened_on, "expected the date the dispute was opened, "
                                  "found NULL")
        status = row[3]
        if status not in ("pending", "resolved"):
            raise self.reader.bad(d.table, row[1], cid, d.status,
                                  f"expected a dispute status (pending, resolved), got {status!r}",
                                  code=QueryError.code)
        return {"opened_on": opened, "status": status,
                "resolved_on": self.reader.day(row[4], d.table, row[1], cid, d.resolved_on)}

    # -- judging a page
    def judge(self, conn: sa.Connection, rows: Sequence[Sequence[Any]], stats: _Stats,
              report: Callable[[SweepProblem], None]) -> list[_Due]:
        ids = [row[0] for row in rows]
        raw = self.gather(conn, ids)
        closed_at = 1 if self.m.candidates.process_closed_on else None
        due: list[_Due] = []
        for row in rows:
            cid = row[0]
            stats.examined += 1
            try:
                facts = self.facts(cid, row[closed_at] if closed_at else None, raw)
                verdict = self.policy.retention(facts)
            except _BadRowError as bad:
                report(bad.problem)
                continue
            except PolicyKitError as exc:
                report(SweepProblem(self.m.candidates.table, _ident(cid), _ident(cid), None, exc.message,
                                    exc.code))
                continue
            key = (verdict.retention_mode, verdict.mode_rule)
            stats.by_mode[key] += 1
            if verdict.due and not verdict.legal_hold:
                stats.due_by_mode[key] += 1
                cats = _categories(verdict)
                plan = self.plans.get(cats)
                if plan is None:
                    plan = self.plans[cats] = _plan(self.schema, cats)
                if self.apply and self.audit_key is None and not _surrogate(cid):
                    report(SweepProblem(
                        self.m.candidates.table, None, None, self.m.candidates.id,
                        f"expected a surrogate key (a whole number or a UUID) in {self.m.candidates.id}, the id the "
                        f"append-only audit log keeps: this one may be personal data (an e-mail address, say); set "
                        f"{AUDIT_KEY_ENV} to keep a keyed hash (HMAC-SHA256) of it instead. Not anonymised.",
                        MappingError.code,
                    ))
                    continue
                d = _Due(cid, verdict, plan)
                self.free_text(d, row, raw)
                due.append(d)
        return due

    def free_text(self, d: _Due, row: Sequence[Any], raw: dict[str, dict[Any, list[Sequence[Any]]]]) -> None:
        """Values of non-identifying columns that are free text after all: erased too (A-07)."""
        for te in d.plan.tables:
            if not te.check:
                continue
            rows, rid = ([row], 0) if te.role == "candidates" else (raw[te.role].get(d.cid, []), 1)
            names, at = self.kept[te.role], self.kept_at[te.role]
            for r in rows:
                for column in te.check:
                    if (te.table, column) in self.as_text:  # a date or timestamp, read as text
                        continue
                    if not _structured(r[at + names.index(column)]):
                        d.free_text.append((te.role, te.table, r[rid], column))

    # -- writing a page
    def write(
        self, conn: sa.Connection, due: list[_Due], audit: sa.Table, run_id: str
    ) -> list[tuple[_Due, dict[str, int]]]:
        cand = self.m.candidates
        c = self.cand.c
        now = dt.datetime.now(dt.UTC)
        stamp = self.value_for(cand.table, cand.anonymised_at, now)
        done: list[tuple[_Due, dict[str, int]]] = []
        audit_rows = []
        for d in due:
            values = {col: self.schema.empty(cand.table, col) for te in d.plan.tables if te.role == "candidates"
                      for col in te.erase}
            values[cand.anonymised_at] = stamp
            result = conn.execute(
                sa.update(self.cand).where(c[cand.id] == d.cid, c[cand.anonymised_at].is_(None)).values(values)
            )
            if result.rowcount != 1:  # anonymised meanwhile by someone else: leave it alone
                continue
            for te in d.plan.tables:
                if te.role == "candidates" or not te.erase:
                    continue
                t = self.table(te.table)
                conn.execute(sa.update(t).where(t.c[te.key] == d.cid)
                             .values({col: self.schema.empty(te.table, col) for col in te.erase}))
            for _role, table, row_id, column in d.free_text:
                t = self.table(table)
                rid = next(te.row_id or te.key for te in d.plan.tables if te.table == table)
                conn.execute(sa.update(t).where(t.c[rid] == row_id).values({column: self.schema.empty(table, column)}))
            deleted: dict[str, int] = {}
            for table, key in d.plan.deletes:
                t = self.table(table)
                deleted[table] = conn.execute(sa.delete(t).where(t.c[key] == d.cid)).rowcount
            v = d.verdict
            audit_rows.append({
                "run_id": run_id, "candidate_id": self.audit_id(d.cid), "as_of": self.as_of,
                "policy_version": v.policy_version, "retention_mode": v.retention_mode,
                "anonymise_on": v.anonymise_on, "rule_ids": json.dumps(list(v.rule_ids)),
                "clauses": json.dumps(list(v.clauses)), "erased": json.dumps(list(_erased(d))),
                "deleted_rows": json.dumps(deleted), "recorded_at": now,
            })
            done.append((d, deleted))
        if audit_rows:
            conn.execute(audit.insert(), audit_rows)
        return done

    def audit_id(self, cid: Any) -> str:
        """The candidate's id as the audit log keeps it: an HMAC-SHA256 of it under the audit key when
        one is set (POLICYKIT_AUDIT_KEY), else the id itself, which ``judge`` has checked to be a
        surrogate key (a whole number or a UUID), never a natural key such as an e-mail address."""
        if self.audit_key is not None:
            return "hmac-sha256:" + hmac.new(self.audit_key, str(cid).encode("utf-8", "surrogatepass"),
                                             hashlib.sha256).hexdigest()
        return str(cid)

    def value_for(self, table: str, column: str, moment: dt.datetime) -> Any:
        """A timestamp as the column takes it: ISO text on SQLite or in a text column, else native."""
        info = self.schema.info(table, column)
        if self.dialect == "sqlite" or info.text:
            return moment.isoformat().replace("+00:00", "Z")
        if info.kind == "date":
            return moment.date()
        return moment

    def deleted_counts(self, conn: sa.Connection, due: list[_Due]) -> dict[Any, dict[str, int]]:
        """For a dry run: how many dependent rows anonymisation would delete, per candidate."""
        out: dict[Any, dict[str, int]] = defaultdict(dict)
        tables = {pair for d in due for pair in d.plan.deletes}
        for table, key in tables:
            t = self.table(table)
            ids = [d.cid for d in due if (table, key) in d.plan.deletes]
            for chunk in _chunks(ids):
                q = sa.select(t.c[key], sa.func.count()).where(t.c[key].in_(chunk)).group_by(t.c[key])
                for cid, n in conn.execute(q):
                    out[cid][table] = int(n)
            for cid in ids:
                out[cid].setdefault(table, 0)
        return out


AUDIT_KEY_ENV = "POLICYKIT_AUDIT_KEY"
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def _surrogate(cid: Any) -> bool:
    """A whole number (or its digits) or a UUID: a key that names no one by itself."""
    if isinstance(cid, int) and not isinstance(cid, bool):
        return True
    if isinstance(cid, uuid.UUID):
        return True
    return isinstance(cid, str) and ((cid.isascii() and cid.isdigit()) or _UUID.fullmatch(cid) is not None)


def _erased(d: _Due) -> tuple[str, ...]:
    extra = [f"{table}.{column}" for _role, table, _row, column in d.free_text]
    return tuple(dict.fromkeys([*d.plan.erased, *extra]))


def _first_from(days: list[dt.date], latest: dt.date | None) -> dt.date:
    after = sorted(d for d in days if latest is None or d >= latest)
    return after[0] if after else max(days)


def _chunks(ids: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(ids), IN_CHUNK):
        yield ids[i:i + IN_CHUNK]


def _as_of(value: dt.date | str | None, policy: SweepPolicy) -> dt.date:
    if value is None:
        day: dt.date = policy.today()
        return day
    if isinstance(value, dt.datetime):
        raise InvalidDateError(f"as_of: expected a calendar date, got the timestamp {value.isoformat()}")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidDateError(f"as_of: expected a date as YYYY-MM-DD, got {value!r}") from None


def run_sweep(
    db: Any, *, as_of: dt.date | str | None, apply: bool, mapping: SweepMapping | str | Path | None,
    policy: SweepPolicy | None,
    batch_size: int, preselect: bool, keep: int, pause: float,
    on_candidate: Callable[[CandidateAction], None] | None,
    on_problem: Callable[[SweepProblem], None] | None,
    progress: Callable[[SweepProgress], None] | None,
) -> SweepReport:
    """The sweep (see ``_sweep.job.sweep``)."""
    started = time.perf_counter()
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise SweepError(f"batch_size: expected a whole number of candidates from 1 up, got {batch_size!r}")
    if policy is None:
        # the bundled policy's retention family is all the sweep needs
        rules = load_rules()
        policy = RetentionEvaluator(rules, Clock(rules.parameters.timezone))
    day = _as_of(as_of, policy)
    m = mapping if isinstance(mapping, SweepMapping) else load_mapping(mapping)
    engine = open_engine(db, write=apply)
    owned = not isinstance(db, Engine)
    try:
        schema = check_schema(engine, m)
        audit = ensure_audit_table(engine, m) if apply else None
        sweeper = _Sweeper(engine, schema, policy, day, apply=apply, batch_size=batch_size, preselect=preselect)
        return _run(sweeper, audit, started=started, keep=keep, pause=pause, on_candidate=on_candidate,
                    on_problem=on_problem, progress=progress)
    except sa.exc.OperationalError as exc:
        raise DatabaseUnreachableError(
            f"the database failed during the sweep: {_first_line(exc)}; every finished batch is committed and the "
            "current one rolled back: run the sweep again to finish"
        ) from None
    except sa.exc.DBAPIError as exc:
        raise SweepError(
            f"the database refused a statement of the sweep: {_first_line(exc)}; every finished batch is committed "
            "and the current one rolled back"
        ) from None
    finally:
        if owned:
            engine.dispose()


def _run(  # noqa: PLR0915 - one sequence of steps, not yet split into named ones
    s: _Sweeper, audit: sa.Table | None, *, started: float, keep: int, pause: float,
    on_candidate: Callable[[CandidateAction], None] | None,
    on_problem: Callable[[SweepProblem], None] | None,
    progress: Callable[[SweepProgress], None] | None,
) -> SweepReport:
    m = s.m
    cand = m.candidates
    stats = _Stats()
    run_id = str(uuid.uuid4())
    c = s.cand.c
    with s.engine.connect() as conn:
        total, anonymised_before, low, high = conn.execute(
            sa.select(sa.func.count(), sa.func.count(c[cand.anonymised_at]), sa.func.min(c[cand.id]),
                      sa.func.max(c[cand.id]))
        ).one()
    numeric = isinstance(low, int) and isinstance(high, int) and high > low

    def report(problem: SweepProblem) -> None:
        stats.problem_count += 1
        if len(stats.problems) < MAX_PROBLEMS:
            stats.problems.append(problem)
        if on_problem is not None:
            on_problem(problem)

    after: Any = None
    while True:
        if s.apply:
            assert audit is not None
            with s.engine.begin() as conn:
                rows = conn.execute(s.page_query(after, lock=True)).all()
                if not rows:
                    break
                due = s.judge(conn, rows, stats, report)
                written = s.write(conn, due, audit, run_id) if due else []
            # committed: only now are the candidates reported as anonymised
            results = [(d, deleted, True) for d, deleted in written]
            stats.anonymised += len(written)
        else:
            with s.engine.connect() as conn, conn.begin():
                rows = conn.execute(s.page_query(after, lock=False)).all()
                if not rows:
                    break
                due = s.judge(conn, rows, stats, report)
                counts = s.deleted_counts(conn, due) if due else {}
            results = [(d, counts.get(d.cid, {}), False) for d in due]
        after = rows[-1][0]
        stats.due += len(due)
        for d, deleted, applied in results:
            v = d.verdict
            action = CandidateAction(
                candidate_id=str(d.cid), retention_mode=v.retention_mode, mode_rule=v.mode_rule, rule_ids=v.rule_ids,
                clauses=v.clauses, anonymise_on=v.anonymise_on, deadline=v.deadline, erased=_erased(d),
                deleted_rows=deleted, applied=applied,
            )
            for name in action.erased:
                stats.erases[name] += 1
            for table, n in deleted.items():
                stats.erases[f"{table} (rows deleted)"] += n
            if len(stats.sample) < keep:
                stats.sample.append(action)
            if on_candidate is not None:
                on_candidate(action)
        if progress is not None:
            fraction = (after - low) / (high - low) if numeric and isinstance(after, int) else None
            progress(SweepProgress(stats.examined, stats.due, fraction))
        if len(rows) < s.batch_size:
            break
        if pause > 0:
            time.sleep(pause)
    if progress is not None:
        progress(SweepProgress(stats.examined, stats.due, 1.0 if numeric else None))
    by_mode = {k: (n, stats.due_by_mode.get(k, 0)) for k, n in stats.by_mode.items()}
    return SweepReport(
        database=_masked(s.engine.url), as_of=s.as_of, policy_version=s.policy.rules.meta.version, applied=s.apply,
        preselect=s.preselect, batch_size=s.batch_size, run_id=run_id, candidates=int(total),
        already_anonymised=int(anonymised_before), examined=stats.examined, due=stats.due,
        anonymised=stats.anonymised, by_mode=by_mode, problems=tuple(stats.problems),
        problem_count=stats.problem_count, sample=tuple(stats.sample), seconds=time.perf_counter() - started,
        erases=dict(stats.erases),
    )

