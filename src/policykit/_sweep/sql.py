"""The retention sweep on SQLAlchemy Core: SQLite (embedded) and PostgreSQL (psycopg 3).

Only ``_sweep.job.sweep`` imports this module, so SQLAlchemy is loaded only when a sweep runs. The user's
tables are addressed with lightweight ``sa.table()`` constructs whose columns carry no type: values
come back as the driver gives them (ISO text on SQLite, ``date``/``datetime`` on PostgreSQL) and are
parsed here, one value at a time, so that a malformed value is reported with its table, row and
column instead of failing a whole batch. The audit table is policykit's own and fully typed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import uuid
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from policykit._append_only import make_append_only
from policykit._dates import Clock
from policykit._records.anonymise import _structured
from policykit._retention.evaluator import RetentionEvaluator
from policykit._retention.verdict import RetentionVerdict
from policykit._ruleset.ruleset import load_rules
from policykit._sweep.mapping import ChildTable, SweepMapping, load_mapping
from policykit._sweep.reading import (
    BadRowError,
    ColumnInfo,
    FactReader,
    NowPlan,
    Plan,
    audit_id,
    audit_key,
    check_items,
    check_tables,
    due_special_rows,
    erase_plan,
    erased_categories,
    ident,
    kept_record_erasures,
    not_surrogate,
    now_plan,
    review_due_on,
    special_grounds,
    special_rows,
    surrogate,
)
from policykit._sweep.report import (
    OTHER_ACTIONS,
    CandidateAction,
    SweepPolicy,
    SweepProblem,
    SweepProgress,
    SweepReport,
    chosen_actions,
    sweep_context,
)
from policykit.errors import (
    DatabaseUnreachableError,
    DecisionLogError,
    InvalidDateError,
    MappingError,
    PolicyKitError,
    SweepError,
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
    try:
        inspector = sa.inspect(engine)
        existing = set(inspector.get_table_names(schema=mapping.schema_))
    except sa.exc.DBAPIError as exc:
        raise DatabaseUnreachableError(f"cannot read the schema of {_masked(engine.url)}: {_first_line(exc)}") from None

    def reflect(table: str) -> dict[str, ColumnInfo]:
        infos = {}
        for col in inspector.get_columns(table, schema=mapping.schema_):
            text, kind = _kind(col["type"], engine.dialect.name)
            infos[str(col["name"])] = ColumnInfo(bool(col.get("nullable", True)), text, kind)
        return infos

    return Schema(mapping, engine.dialect.name, check_tables(mapping, existing, reflect))


# ------------------------------------------------------------------------------------------------
# the audit log


AUDIT_COLUMNS = (
    "id", "run_id", "candidate_id", "as_of", "policy_version", "retention_mode", "anonymise_on", "rule_ids",
    "clauses", "erased", "deleted_rows", "recorded_at",
)
# added later: an audit table made before them gets them (ALTER TABLE ... ADD COLUMN, which changes no
# row, so the append-only triggers do not fire); its earlier rows are anonymisations
ADDED_AUDIT_COLUMNS = ("action", "due_on")
ACTIONS = ("anonymise", "erase_now", "special_category", "review_due")


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
        # anonymise, erase_now, special_category or review_due; due_on: the day the action became due
        sa.Column("action", sa.Text, nullable=False, server_default="anonymise"),
        sa.Column("due_on", sa.Date),
        sa.Index(f"{name}_candidate_id", "candidate_id"),
    )


def ensure_audit_table(engine: Engine, mapping: SweepMapping) -> sa.Table:
    """Create the audit table if absent (check its columns if present), and make sure the triggers
    that keep it append-only are there, in both cases (``policykit._append_only``: quoted identifiers;
    on SQLite a BEFORE INSERT trigger refuses a row whose id is taken, as REPLACE would delete the old
    row without firing the delete trigger; on PostgreSQL TRUNCATE is refused too)."""
    table = audit_table(mapping.audit_table, mapping.schema_)
    inspector = sa.inspect(engine)
    prep = engine.dialect.identifier_preparer
    name = prep.format_table(table)
    added: list[str] = []
    if inspector.has_table(table.name, schema=mapping.schema_):
        found = {c["name"] for c in inspector.get_columns(table.name, schema=mapping.schema_)}
        missing = [c for c in AUDIT_COLUMNS if c not in found]
        if missing:
            raise MappingError(
                f"audit_table: table {table.name!r} exists but lacks column(s) {', '.join(missing)}; name another "
                "audit_table in the mapping"
            )
        added = [c for c in ADDED_AUDIT_COLUMNS if c not in found]
    with engine.begin() as conn:
        table.create(conn, checkfirst=True)
        for column in added:  # an audit table of an earlier release: its rows are anonymisations
            kind = "TEXT NOT NULL DEFAULT 'anonymise'" if column == "action" else "DATE"
            conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {prep.quote(column)} {kind}")
        make_append_only(conn, table, "the policykit audit log is append-only", key="id")
    return table


# ------------------------------------------------------------------------------------------------
# reading values


# ------------------------------------------------------------------------------------------------
# the plan of what anonymisation erases, per set of categories


# ------------------------------------------------------------------------------------------------
# the sweep


@dataclass
class _Due:
    cid: Any
    verdict: RetentionVerdict
    plan: Plan
    free_text: list[tuple[str, str, Any, str]] = field(default_factory=list)  # (role, table, row id, column)


@dataclass
class _Kept:
    """A judged candidate who is not anonymised now: what else the verdict may make due."""

    cid: Any
    verdict: RetentionVerdict
    special_ids: list[Any]  # the special-category item rows, in the order given to retention()


@dataclass
class _Left:
    """What a candidate's ``erase_now`` names that the database still holds."""

    columns: list[tuple[str, str, str]] = field(default_factory=list)  # (table, key column, column)
    rows: dict[tuple[str, str], int] = field(default_factory=dict)  # (table, candidate_id column) -> rows


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
    actions: Counter[str] = field(default_factory=Counter)
    action_sample: list[CandidateAction] = field(default_factory=list)


class _Sweeper:
    def __init__(self, engine: Engine, schema: Schema, policy: SweepPolicy, as_of: dt.date, *, apply: bool,
                 batch_size: int, preselect: bool, audit_read: sa.Table | None = None,
                 actions: frozenset[str] = frozenset(OTHER_ACTIONS)) -> None:
        self.engine = engine
        self.schema = schema
        self.m = schema.mapping
        self.policy = policy
        self.as_of = as_of
        self.apply = apply
        self.batch_size = batch_size
        self.preselect = preselect
        self.dialect = engine.dialect.name
        self.fact_reader = FactReader(self.m, as_of, self.m.timezone or policy.rules.parameters.timezone)
        self.facts = self.fact_reader.facts
        self.plans: dict[frozenset[str], Plan] = {}
        self.tables: dict[str, sa.TableClause] = {}
        self.as_text: set[tuple[str, str]] = set()  # (table, column) read as text (PostgreSQL dates)
        # the key that pseudonymises candidate ids in the audit log (docs/security.md)
        self.audit_key: bytes | None = audit_key()
        self.cand = self.table(self.m.candidates.table)
        # non-identifying columns, read with each row: a free-text value in one is erased all the same
        self.kept: dict[str, list[str]] = {
            role: [c for c, spec in table.columns.items() if spec.non_identifying]
            for role, table in self.m.categorised()
        }
        cand = self.m.candidates
        self.kept_at: dict[str, int] = {"candidates": 2 if cand.process_closed_on else 1}
        # what may be erased while the record is kept, and the audit log to look earlier reviews up in
        self.kept_erasures = now_plan(self.m, kept_record_erasures(policy.rules))
        self.now_plans: dict[frozenset[str], NowPlan] = {}
        self.audit_read = audit_read
        self.actions = actions
        self.review_days = int(policy.rules.parameters.review_interval_months) * 28 - 2
        # a policy with a decision log records each answer with the sweep as the service and the
        # candidate's id as the subject (stored as a keyed HMAC, see docs/decision-log.md)
        self.logged = getattr(policy, "decision_log", None) is not None

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
            q = q.where(self.preselection())
        q = q.order_by(c[cand.id]).limit(self.batch_size)
        if lock and self.dialect == "postgresql":
            q = q.with_for_update(of=self.cand)
        return q

    def applied_since(self, days: int) -> sa.ColumnElement[bool] | None:
        """The candidate has an application dated ``as_of`` minus ``days`` or later (conservatively),
        or None when the column type cannot say."""
        apps = self.m.applications
        a = self.table(apps.table)
        bound = self.as_of - dt.timedelta(days=days)
        recent = self.recent(a.c[apps.submitted_at], self.schema.info(apps.table, apps.submitted_at), bound)
        if recent is None:
            return None
        return sa.exists().where(a.c[apps.candidate_id] == self.cand.c[self.m.candidates.id], recent)

    def nonempty(self, table: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        """A value is left in this column: not NULL (and not '' in a text column)."""
        name = column.name if isinstance(column, sa.ColumnClause) else None
        if name is not None and self.schema.info(table, name).text:
            return sa.and_(column.is_not(None), column != "")
        return column.is_not(None)

    def preselection(self) -> sa.ColumnElement[bool]:
        """The candidates who can have something due, in SQL (conservative: never drops one):

        - anonymisation: consent ended, and no application within the evidence window (less two days);
        - an erasure while the record is kept: consent ended, and something that such a verdict erases
          is still there (the LinkedIn column, a talent-pool tag);
        - a special-category item: one is on file;
        - a relevance review (A-33): no application within the review interval (less two days), and no
          review recorded in the audit log within it."""
        c, cand = self.cand.c, self.m.candidates
        triggers = [
            sa.exists().where(self.table(t.table).c[t.candidate_id] == c[cand.id]) for t in self.m.trigger_tables()
        ]
        ended = sa.or_(*triggers) if triggers else sa.false()
        days = self.window_days() - 2
        recent = self.applied_since(days) if days > 0 else None
        branches = [ended if recent is None else sa.and_(ended, ~recent)]
        left: list[sa.ColumnElement[bool]] = []
        for table, key, column in self.kept_erasures.columns:
            if table == cand.table:
                left.append(self.nonempty(table, c[column]))
            else:
                t = self.table(table)
                left.append(sa.exists().where(t.c[key] == c[cand.id], self.nonempty(table, t.c[column])))
        for table, key in self.kept_erasures.deletes:
            t = self.table(table)
            left.append(sa.exists().where(t.c[key] == c[cand.id]))
        if left and "erase_now" in self.actions:
            branches.append(sa.and_(ended, sa.or_(*left)))
        special = self.m.special_category_items
        if special is not None and "special_category" in self.actions:
            t = self.table(special.table)
            branches.append(sa.exists().where(t.c[special.candidate_id] == c[cand.id]))
        if self.review_days > 0 and "review_due" in self.actions:
            review = self.applied_since(self.review_days)
            condition = sa.true() if review is None else ~review
            if self.audit_read is not None and self.audit_key is None:
                a = self.audit_read.c
                condition = sa.and_(condition, ~sa.exists().where(
                    a.candidate_id == sa.cast(c[cand.id], sa.Text), a.action == "review_due",
                    a.as_of >= self.as_of - dt.timedelta(days=self.review_days),
                ))
            branches.append(condition)
        return sa.or_(*branches)

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
        if m.special_category_items is not None:
            sp = m.special_category_items
            raw["special_category_items"] = self.fetch(
                conn, "special_category_items", sp, [sp.category, sp.explicit_consent, sp.process_id,
                                                     sp.process_closed_on], ids)
        return raw

    # -- judging a page
    def judge(self, conn: sa.Connection, rows: Sequence[Sequence[Any]], stats: _Stats,
              report: Callable[[SweepProblem], None]) -> tuple[list[_Due], list[_Kept]]:
        """The candidates of a page due for anonymisation, and the others (whose verdicts may make
        other actions due); a candidate that cannot be judged is reported and in neither."""
        ids = [row[0] for row in rows]
        raw = self.gather(conn, ids)
        closed_at = 1 if self.m.candidates.process_closed_on else None
        due: list[_Due] = []
        kept: list[_Kept] = []
        for row in rows:
            cid = row[0]
            stats.examined += 1
            try:
                facts = self.facts(cid, row[closed_at] if closed_at else None, raw)
                verdict = (self.policy.retention(facts, context=sweep_context(cid))  # type: ignore[call-arg]
                           if self.logged else self.policy.retention(facts))
            except BadRowError as bad:
                report(bad.problem)
                continue
            except DecisionLogError:
                raise  # the policy's decision log cannot record answers: the sweep stops, this batch rolls back
            except PolicyKitError as exc:
                report(SweepProblem(self.m.candidates.table, ident(cid), ident(cid), None, exc.message,
                                    exc.code))
                continue
            key = (verdict.retention_mode, verdict.mode_rule)
            stats.by_mode[key] += 1
            if verdict.due and not verdict.legal_hold:
                stats.due_by_mode[key] += 1
                cats = erased_categories(verdict)
                plan = self.plans.get(cats)
                if plan is None:
                    plan = self.plans[cats] = erase_plan(self.m, cats)
                if self.apply and self.audit_key is None and not surrogate(cid):
                    report(not_surrogate(self.m, "Not anonymised."))
                    continue
                d = _Due(cid, verdict, plan)
                self.free_text(d, row, raw)
                due.append(d)
            else:
                kept.append(_Kept(cid, verdict, [r[1] for r in special_rows(raw, cid)]))
        return due, kept

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
                "deleted_rows": json.dumps(deleted), "recorded_at": now, "action": "anonymise",
                "due_on": v.anonymise_on,
            })
            done.append((d, deleted))
        if audit_rows:
            conn.execute(audit.insert(), audit_rows)
        return done

    # -- the actions due before anonymisation: erase_now, special-category items, relevance reviews
    def act(self, conn: sa.Connection, kept: list[_Kept], audit: sa.Table | None, run_id: str,
            report: Callable[[SweepProblem], None]) -> list[CandidateAction]:
        """For the judged candidates not anonymised now: what their verdicts make due and is not yet
        done (a value still there, an item row, a review not yet recorded). With ``audit`` (applying)
        it is done and audited, in the page's transaction; without, only reported. Nothing left to do
        means no action and no audit row, so a rerun changes nothing."""
        found = self.find_left(conn, kept)
        recorded = self.recorded_reviews(conn, kept)
        sp = self.m.special_category_items
        actions: list[tuple[_Kept, CandidateAction]] = []
        for k in kept:
            v = k.verdict
            left = found.get(k.cid)
            todo: list[CandidateAction] = []
            if left is not None and (left.columns or left.rows) and "erase_now" in self.actions:
                todo.append(self.action(
                    "erase_now", k, v.rule_ids, v.clauses, erased=tuple(f"{t}.{c}" for t, _, c in left.columns),
                    deleted={t: n for (t, _), n in left.rows.items()}, due_on=v.trigger_date,
                ))
            wanted = sp is not None and "special_category" in self.actions
            specials = due_special_rows(v, k.special_ids) if wanted else []
            if specials and sp is not None:
                rule_ids, clauses, due_on = special_grounds(v, specials)
                todo.append(self.action(
                    "special_category", k, rule_ids, clauses, deleted={sp.table: len(specials)}, due_on=due_on,
                ))
            review_on = review_due_on(v, self.as_of) if "review_due" in self.actions else None
            if review_on is not None and (self.audit_id(k.cid), review_on) not in recorded:
                rule = v.outcome.mode_rule
                todo.append(self.action("review_due", k, (rule.id,), rule.clauses, due_on=review_on))
            if not todo:
                continue
            if self.apply and self.audit_key is None and not surrogate(k.cid):
                report(self.not_surrogate())
                continue
            actions.extend((k, a) for a in todo)
        if audit is None or not actions:
            return [a for _, a in actions]
        self.do(conn, actions, found)
        now = dt.datetime.now(dt.UTC)
        conn.execute(audit.insert(), [{
            "run_id": run_id, "candidate_id": self.audit_id(k.cid), "as_of": self.as_of,
            "policy_version": k.verdict.policy_version, "retention_mode": k.verdict.retention_mode,
            "anonymise_on": k.verdict.anonymise_on, "rule_ids": json.dumps(list(a.rule_ids)),
            "clauses": json.dumps(list(a.clauses)), "erased": json.dumps(list(a.erased)),
            "deleted_rows": json.dumps(dict(a.deleted_rows)), "recorded_at": now, "action": a.action,
            "due_on": a.due_on,
        } for k, a in actions])
        return [dataclasses.replace(a, applied=True) for _, a in actions]

    def action(self, kind: str, k: _Kept, rule_ids: tuple[str, ...], clauses: tuple[str, ...], *,
               erased: tuple[str, ...] = (), deleted: dict[str, int] | None = None,
               due_on: dt.date | None) -> CandidateAction:
        v = k.verdict
        return CandidateAction(
            candidate_id=str(k.cid), retention_mode=v.retention_mode, mode_rule=v.mode_rule, rule_ids=rule_ids,
            clauses=clauses, anonymise_on=v.anonymise_on, deadline=v.deadline, erased=erased,
            deleted_rows=deleted or {}, applied=False, action=kind, due_on=due_on,
        )

    def not_surrogate(self) -> SweepProblem:
        return not_surrogate(self.m, "Not changed.")

    def find_left(self, conn: sa.Connection, kept: list[_Kept]) -> dict[Any, _Left]:
        """Per candidate, what its ``erase_now`` names and the database still holds: the columns with
        a value left, and the rows left per table."""
        columns: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
        rows: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for k in kept:
            names = frozenset(k.verdict.erase_now)
            if not names:
                continue
            plan = self.now_plans.get(names)
            if plan is None:
                plan = self.now_plans[names] = now_plan(self.m, names)
            for column_target in plan.columns:
                columns[column_target].append(k.cid)
            for row_target in plan.deletes:
                rows[row_target].append(k.cid)
        out: dict[Any, _Left] = defaultdict(_Left)
        for (table, key, column), ids in columns.items():
            t = self.table(table)
            for chunk in _chunks(ids):
                q = sa.select(t.c[key]).where(t.c[key].in_(chunk), self.nonempty(table, t.c[column])).distinct()
                for (cid,) in conn.execute(q):
                    out[cid].columns.append((table, key, column))
        for (table, key), ids in rows.items():
            t = self.table(table)
            for chunk in _chunks(ids):
                q = sa.select(t.c[key], sa.func.count()).where(t.c[key].in_(chunk)).group_by(t.c[key])
                for cid, n in conn.execute(q):
                    if n:
                        out[cid].rows[(table, key)] = int(n)
        return out

    def recorded_reviews(self, conn: sa.Connection, kept: list[_Kept]) -> set[tuple[str, dt.date]]:
        """The reviews the audit log already holds, as ``(audit id, review date)``."""
        if self.audit_read is None:
            return set()
        ids = [self.audit_id(k.cid) for k in kept if k.verdict.review_on is not None
               and k.verdict.review_on <= self.as_of]
        a = self.audit_read.c
        out: set[tuple[str, dt.date]] = set()
        for chunk in _chunks(ids):
            q = sa.select(a.candidate_id, a.due_on).where(a.action == "review_due", a.candidate_id.in_(chunk))
            for cid, day in conn.execute(q):
                if day is not None:
                    out.add((cid, day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])))
        return out

    def do(self, conn: sa.Connection, actions: list[tuple[_Kept, CandidateAction]],
           found: dict[Any, _Left]) -> None:
        """Erase and delete what the actions name, each statement for every candidate it concerns,
        and only where a value is still there."""
        columns: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
        deletes: dict[tuple[str, str], list[Any]] = defaultdict(list)
        special: list[Any] = []
        for k, a in actions:
            if a.action == "erase_now":
                left = found[k.cid]
                for column_target in left.columns:
                    columns[column_target].append(k.cid)
                for row_target in left.rows:
                    deletes[row_target].append(k.cid)
            elif a.action == "special_category":
                special.extend(row for row, _ in due_special_rows(k.verdict, k.special_ids))
        for (table, key, column), ids in columns.items():
            t = self.table(table)
            for chunk in _chunks(ids):
                conn.execute(sa.update(t).where(t.c[key].in_(chunk), self.nonempty(table, t.c[column]))
                             .values({column: self.schema.empty(table, column)}))
        for (table, key), ids in deletes.items():
            t = self.table(table)
            for chunk in _chunks(ids):
                conn.execute(sa.delete(t).where(t.c[key].in_(chunk)))
        sp = self.m.special_category_items
        if special and sp is not None:
            t = self.table(sp.table)
            for chunk in _chunks(special):
                conn.execute(sa.delete(t).where(t.c[sp.id].in_(chunk)))

    def audit_id(self, cid: Any) -> str:
        """The candidate's id as the audit log keeps it (``reading.audit_id``): a keyed hash under
        POLICYKIT_AUDIT_KEY, else the id itself, which ``judge`` has checked to be a surrogate key."""
        return audit_id(cid, self.audit_key)

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


def _erased(d: _Due) -> tuple[str, ...]:
    extra = [f"{table}.{column}" for _role, table, _row, column in d.free_text]
    return tuple(dict.fromkeys([*d.plan.erased, *extra]))


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
    on_action: Callable[[CandidateAction], None] | None = None,
    actions: Collection[str] | None = None,
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
    taken = chosen_actions(actions)
    m = mapping if isinstance(mapping, SweepMapping) else load_mapping(mapping)
    check_items(m, policy.rules)
    engine = open_engine(db, write=apply)
    owned = not isinstance(db, Engine)
    try:
        schema = check_schema(engine, m)
        audit = ensure_audit_table(engine, m) if apply else None
        sweeper = _Sweeper(engine, schema, policy, day, apply=apply, batch_size=batch_size, preselect=preselect,
                           audit_read=audit if audit is not None else _existing_audit(engine, m), actions=taken)
        return _run(sweeper, audit, started=started, keep=keep, pause=pause, on_candidate=on_candidate,
                    on_problem=on_problem, progress=progress, on_action=on_action)
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



def _existing_audit(engine: Engine, m: SweepMapping) -> sa.Table | None:
    """The audit table, for a dry run to look earlier reviews up in: only if it exists with the
    ``action`` column (a dry run changes nothing, so it adds no column)."""
    inspector = sa.inspect(engine)
    if not inspector.has_table(m.audit_table, schema=m.schema_):
        return None
    found = {c["name"] for c in inspector.get_columns(m.audit_table, schema=m.schema_)}
    if not set(AUDIT_COLUMNS) | set(ADDED_AUDIT_COLUMNS) <= found:
        return None
    return audit_table(m.audit_table, m.schema_)


_Result = tuple["_Due", Mapping[str, int], bool]  # a due candidate, the rows deleted per table, applied


def _run(
    s: _Sweeper, audit: sa.Table | None, *, started: float, keep: int, pause: float,
    on_candidate: Callable[[CandidateAction], None] | None,
    on_problem: Callable[[SweepProblem], None] | None,
    progress: Callable[[SweepProgress], None] | None,
    on_action: Callable[[CandidateAction], None] | None = None,
) -> SweepReport:
    """The sweep, a batch at a time: judge, act (or count, in a dry run), report."""
    stats = _Stats()
    run_id = str(uuid.uuid4())
    c = s.cand.c
    id_column = c[s.m.candidates.id]
    with s.engine.connect() as conn:
        total, anonymised_before, low, high = conn.execute(
            sa.select(sa.func.count(), sa.func.count(c[s.m.candidates.anonymised_at]), sa.func.min(id_column),
                      sa.func.max(id_column))
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
        batch = _batch(s, audit, after, stats, report=report, run_id=run_id)
        if batch is None:
            break
        rows, results, acted = batch
        after = rows[-1][0]
        _tally(stats, results, acted, keep=keep, on_candidate=on_candidate, on_action=on_action)
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
        erases=dict(stats.erases), actions=dict(stats.actions), action_sample=tuple(stats.action_sample),
        skipped_actions=tuple(k for k in OTHER_ACTIONS if k not in s.actions),
    )


def _batch(
    s: _Sweeper, audit: sa.Table | None, after: Any, stats: _Stats, *, report: Callable[[SweepProblem], None],
    run_id: str,
) -> tuple[Sequence[Any], list[_Result], list[CandidateAction]] | None:
    """The next batch after ``after``, judged and, with ``apply``, anonymised and acted on in one
    transaction: its rows, the due candidates and the other actions; ``None`` when no row is left."""
    if s.apply:
        assert audit is not None
        with s.engine.begin() as conn:
            rows = conn.execute(s.page_query(after, lock=True)).all()
            if not rows:
                return None
            due, kept = s.judge(conn, rows, stats, report)
            written = s.write(conn, due, audit, run_id) if due else []
            acted = s.act(conn, kept, audit, run_id, report)
        # committed: only now are the candidates reported as anonymised
        stats.anonymised += len(written)
        stats.due += len(due)
        return rows, [(d, deleted, True) for d, deleted in written], acted
    with s.engine.connect() as conn, conn.begin():
        rows = conn.execute(s.page_query(after, lock=False)).all()
        if not rows:
            return None
        due, kept = s.judge(conn, rows, stats, report)
        counts = s.deleted_counts(conn, due) if due else {}
        acted = s.act(conn, kept, None, run_id, report)
    stats.due += len(due)
    return rows, [(d, counts.get(d.cid, {}), False) for d in due], acted


def _tally(
    stats: _Stats, results: list[_Result], acted: list[CandidateAction], *, keep: int,
    on_candidate: Callable[[CandidateAction], None] | None, on_action: Callable[[CandidateAction], None] | None,
) -> None:
    """Count a batch's due candidates and other actions, keep the first ones, and pass each on."""
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
    for a in acted:
        stats.actions[a.action] += 1
        if len(stats.action_sample) < keep:
            stats.action_sample.append(a)
        if on_action is not None:
            on_action(a)

