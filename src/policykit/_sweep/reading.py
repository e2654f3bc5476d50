"""What the sweep reads and decides, wherever the rows come from: a database (``sql``) or Spark.

- ``check_tables``: the mapping against the tables at hand (names, columns, categories).
- ``Reader`` and ``FactReader``: raw column values to one candidate's retention facts, a value that
  cannot be read reported with its table, row and column (``BadRowError``).
- ``erase_plan``: what anonymisation erases and deletes for a verdict's erased categories.

No SQLAlchemy here: ``policykit.spark`` uses the same reading and the same plan as the SQL sweep.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from policykit._dates import _zone, local_date
from policykit._retention.verdict import WRITTEN_FORMS, RetentionVerdict
from policykit._sweep.mapping import ChildTable, SweepMapping, TableSpec
from policykit._sweep.report import SweepProblem
from policykit.errors import InvalidDateError, MappingError, QueryError, did_you_mean, short_repr

__all__ = [
    "AUDIT_KEY_ENV",
    "BadRowError",
    "ColumnInfo",
    "FactReader",
    "NowPlan",
    "Plan",
    "Reader",
    "TableErase",
    "audit_id",
    "audit_key",
    "check_items",
    "check_tables",
    "due_special_rows",
    "erase_plan",
    "erased_categories",
    "first_from",
    "ident",
    "kept_record_erasures",
    "not_surrogate",
    "now_plan",
    "review_due_on",
    "row_tables",
    "special_grounds",
    "special_rows",
    "surrogate",
]


# ------------------------------------------------------------------------------------------------
# the mapping, checked against the tables


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """What the database says about a column."""

    nullable: bool
    text: bool  # holds text (every date column on SQLite holds ISO text)
    kind: str  # "datetime", "date" or "other" (native types; SQLite reports "other")


def check_tables(
    mapping: SweepMapping, existing: Iterable[str], reflect: Callable[[str], dict[str, ColumnInfo]], *,
    place: str = "the database",
) -> dict[str, dict[str, ColumnInfo]]:
    """Check the mapping against the tables of ``place`` (``existing`` names them, ``reflect`` gives a
    table's columns): every table and column the mapping names exists, every other column of a mapped
    table carries a category, and erased columns can be erased. Returns the columns of every mapped
    table. Raises :class:`MappingError` naming the first problem."""
    where = f" (mapping {mapping.source})" if mapping.source else ""
    existing = set(existing)

    tables: list[tuple[str, str, TableSpec | None, dict[str, str]]] = []
    tables.append(("candidates", mapping.candidates.table, mapping.candidates, mapping.candidates.keys()))
    for role, child in mapping.fact_tables():
        tables.append((role, child.table, child, child.keys()))
    if mapping.special_category_items is not None:
        special = mapping.special_category_items
        tables.append(("special_category_items", special.table, special, special.keys()))
    for i, target in enumerate(mapping.items):
        keys = {f"columns[{j}]": c for j, c in enumerate(target.columns)}
        if target.table != mapping.candidates.table:
            keys["candidate_id"] = target.candidate_id
        tables.append((f"items[{i}]", target.table, None, keys))
    for i, rows in enumerate(mapping.delete_rows):
        tables.append((f"delete_rows[{i}]", rows.table, None, {"candidate_id": rows.candidate_id}))
    for i, kept in enumerate(mapping.kept):
        tables.append((f"kept[{i}]", kept.table, None, {}))

    columns: dict[str, dict[str, ColumnInfo]] = {}
    for role, table, spec, keys in tables:
        if table not in existing:
            raise MappingError(
                f"{role}.table: expected a table named {table!r} in {place}, found none"
                + did_you_mean(table, existing) + where
            )
        infos = reflect(table)
        columns[table] = infos
        for key, column in keys.items():
            if column not in infos:
                raise MappingError(
                    f"{role}.{key}: expected a column named {column!r} in table {table!r}, found none"
                    + did_you_mean(column, infos) + where
                )
        if spec is None:
            continue
        for column in spec.columns:
            if column not in infos:
                raise MappingError(
                    f"{role}.columns.{column}: expected a column named {column!r} in table {table!r}, found none"
                    + did_you_mean(column, infos) + where
                )
        accounted = set(keys.values()) | set(spec.columns) | mapping.item_columns(table)
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
    return columns


# ------------------------------------------------------------------------------------------------
# reading values


class BadRowError(Exception):
    """A value that cannot be read: carries the problem, with its table, row and column."""

    def __init__(self, problem: SweepProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def ident(value: Any) -> str | None:
    """An id as text (None stays None)."""
    return None if value is None else str(value)


@dataclass(slots=True)
class Reader:
    """Turns raw column values into dates, reporting a bad one with its table, row and column."""

    zone: str
    as_of: dt.date
    tzinfo: dt.tzinfo = field(init=False)

    def __post_init__(self) -> None:
        self.tzinfo = _zone(self.zone)

    def bad(self, table: str, row: Any, cid: Any, column: str | None, message: str, *,
            code: str = InvalidDateError.code) -> BadRowError:
        return BadRowError(SweepProblem(table, ident(row), ident(cid), column, message, code))

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
# one candidate's facts


class FactReader:
    """One candidate's retention facts from the raw rows of the mapped tables; timestamps become
    dates in ``zone`` (the mapping's ``timezone``, else the policy's).

    ``raw[role][candidate id]`` lists the rows of a fact table about the candidate, each as
    ``(candidate id, row id, *the role's columns, ...)``: applications ``(submitted_at,)``,
    withdrawals and erasure requests ``(date,)``, objections ``(date, form, documented)``, disputes
    ``(opened_on, status, resolved_on)``.
    """

    def __init__(self, mapping: SweepMapping, as_of: dt.date, zone: str) -> None:
        self.m = mapping
        self.as_of = as_of
        self.reader = Reader(zone, as_of)

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
                facts["erasure_requested_on"] = first_from(asked, latest)
        if m.disputes is not None:
            facts["disputes"] = [self._dispute(cid, row) for row in raw["disputes"].get(cid, ())]
        if m.candidates.process_closed_on is not None:
            day = r.day(closed, m.candidates.table, cid, cid, m.candidates.process_closed_on)
            if day is not None:
                facts["process_closed_on"] = day
        if m.special_category_items is not None:
            items = [self._special(cid, row) for row in special_rows(raw, cid)]
            if items:
                facts["special_category_items"] = items
        return facts

    def _special(self, cid: Any, row: Sequence[Any]) -> dict[str, Any]:
        """One special-category item: ``(candidate id, row id, category, explicit_consent, process_id,
        process_closed_on, ...)``."""
        s = self.m.special_category_items
        assert s is not None
        category, consent, process, closed = row[2], row[3], row[4], row[5]
        if not isinstance(category, str) or not category.strip() or len(category) > MAX_LABEL:
            raise self.reader.bad(s.table, row[1], cid, s.category,
                                  f"expected a category label (text, 1 to {MAX_LABEL} characters), got "
                                  f"{short_repr(category)}", code=QueryError.code)
        if consent in (0, 1):
            consent = bool(consent)
        if not isinstance(consent, bool):
            raise self.reader.bad(s.table, row[1], cid, s.explicit_consent,
                                  f"expected true or false, got {short_repr(consent)}", code=QueryError.code)
        item: dict[str, Any] = {"category": category, "explicit_consent": consent}
        if s.process_id is not None and process is not None:
            item["process_id"] = str(process)[:MAX_LABEL]
        if s.process_closed_on is not None:
            day = self.reader.day(closed, s.table, row[1], cid, s.process_closed_on)
            if day is not None:
                item["process_closed_on"] = day
        return item

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


MAX_LABEL = 200  # a special-category item's label, as read from a row


def special_rows(raw: dict[str, dict[Any, list[Sequence[Any]]]], cid: Any) -> list[Sequence[Any]]:
    """A candidate's special-category item rows, in row-id order: the order their items are given to
    ``retention()``, whose ``special_category[i]`` is the i-th row."""
    rows = raw.get("special_category_items", {}).get(cid, [])
    return sorted(rows, key=lambda r: (str(type(r[1])), r[1]))


def first_from(days: list[dt.date], latest: dt.date | None) -> dt.date:
    """The first day on or after ``latest``, else the last day (superseded by a later application)."""
    after = sorted(d for d in days if latest is None or d >= latest)
    return after[0] if after else max(days)


# ------------------------------------------------------------------------------------------------
# the plan of what anonymisation erases, per set of categories


@dataclass(frozen=True, slots=True)
class TableErase:
    """What anonymisation does to one mapped table."""


    role: str
    table: str
    key: str  # the column that finds the candidate's rows (id in candidates, candidate_id elsewhere)
    row_id: str | None
    erase: tuple[str, ...]  # columns erased outright
    check: tuple[str, ...]  # non-identifying columns of an erased category: erased only if free text


@dataclass(frozen=True, slots=True)
class Plan:
    """What anonymisation erases and deletes, for one set of erased categories."""


    tables: tuple[TableErase, ...]
    deletes: tuple[tuple[str, str], ...]  # (table, candidate_id column)
    erased: tuple[str, ...]


def erase_plan(m: SweepMapping, categories: frozenset[str]) -> Plan:
    """The plan for a set of erased categories (the same for every candidate with that set)."""
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
            tables.append(TableErase(role, spec.table, key, row_id, erase, check))
            erased.extend(f"{spec.table}.{c}" for c in erase)
    deletes = [(d.table, d.candidate_id) for d in m.delete_rows if d.category in categories]
    special = m.special_category_items
    if special is not None and categories & ({SPECIAL} | {c.category for c in special.columns.values()}):
        deletes.append((special.table, special.candidate_id))  # every item row: it is about the person
    for target in m.items:  # every item the mapping names goes with anonymisation
        if not target.columns:
            deletes.append((target.table, target.candidate_id))
            continue
        own = target.table == m.candidates.table
        role = "candidates" if own else f"items:{target.table}"
        key = m.candidates.id if own else target.candidate_id
        tables.append(TableErase(role, target.table, key, None, target.columns, ()))
        erased.extend(f"{target.table}.{c}" for c in target.columns)
    return Plan(tuple(tables), tuple(dict.fromkeys(deletes)), tuple(dict.fromkeys(erased)))


SPECIAL = "special_category_data"


def row_tables(m: SweepMapping) -> list[tuple[str, str]]:
    """Every ``(table, candidate_id column)`` whose rows anonymisation may delete: ``delete_rows``,
    the special-category items and the items kept as rows."""
    out = [(d.table, d.candidate_id) for d in m.delete_rows]
    if m.special_category_items is not None:
        out.append((m.special_category_items.table, m.special_category_items.candidate_id))
    out += [(t.table, t.candidate_id) for t in m.items if not t.columns]
    return list(dict.fromkeys(out))


def erased_categories(verdict: RetentionVerdict) -> frozenset[str]:
    """What anonymisation erases for this verdict, never the accounting records (A-08)."""
    return frozenset(verdict.erase_on_anonymisation) | frozenset(verdict.erase_now) - {"bookkeeping_record"}


# ------------------------------------------------------------------------------------------------
# what is erased before anonymisation: retention()'s erase_now, and special-category items


@dataclass(frozen=True, slots=True)
class NowPlan:
    """What ``erase_now`` erases in the mapped tables while the record is kept: columns (found by
    ``key`` = the candidate's id) set empty, and the candidate's rows of some tables deleted.
    Special-category item rows are not here: each goes on its own date (``due_special_rows``)."""

    columns: tuple[tuple[str, str, str], ...]  # (table, key column, column)
    deletes: tuple[tuple[str, str], ...]  # (table, candidate_id column)

    def __bool__(self) -> bool:
        return bool(self.columns or self.deletes)


def now_plan(m: SweepMapping, erase_now: frozenset[str]) -> NowPlan:
    """The plan for a verdict's ``erase_now`` (categories and items; never accounting records, A-08).
    A column of an erased category goes even if marked ``non_identifying``: that mark lets a value
    survive anonymisation, once detached from the person, and here the person is still named."""
    names = erase_now - {"bookkeeping_record"}
    columns: list[tuple[str, str, str]] = []
    specs: list[tuple[TableSpec, str]] = [(m.candidates, m.candidates.id)]
    specs += [(spec, spec.candidate_id) for _, spec in m.fact_tables()]
    for spec, key in specs:
        columns += [(spec.table, key, c) for c, col in spec.columns.items() if col.category in names]
    deletes = [(d.table, d.candidate_id) for d in m.delete_rows if d.category in names]
    for target in m.items:
        if target.item not in names:
            continue
        if not target.columns:
            deletes.append((target.table, target.candidate_id))
            continue
        key = m.candidates.id if target.table == m.candidates.table else target.candidate_id
        columns += [(target.table, key, c) for c in target.columns]
    return NowPlan(tuple(dict.fromkeys(columns)), tuple(dict.fromkeys(deletes)))


def check_items(mapping: SweepMapping, rules: Any) -> None:
    """Every item the mapping names is one some retention rule erases at once; else a
    :class:`MappingError` naming it (a misspelt item would never be erased)."""
    known = sorted({i for rule in rules.retention.rules for i in rule.erase_now.items})
    where = f" (mapping {mapping.source})" if mapping.source else ""
    for i, target in enumerate(mapping.items):
        if target.item not in known:
            raise MappingError(
                f"items[{i}].item: expected an item that a retention rule erases at once ({', '.join(known)}), "
                f"got {short_repr(target.item)}" + did_you_mean(target.item, known) + where
            )


def kept_record_erasures(rules: Any) -> frozenset[str]:
    """What a verdict may erase at once while the record is still kept (the evidence window, a legal
    hold): the categories some rule's ``erase_now`` names that are not evidence, and every item. A
    verdict that erases evidence at once is one whose anonymisation is due, found anyway. The SQL
    pre-selection lets through every candidate with something of these left."""
    out: set[str] = set()
    for rule in rules.retention.rules:
        out.update(c for c in rule.erase_now.categories if not rules.vocabulary.category(c).evidence)
        out.update(rule.erase_now.items)
    return frozenset(out)


def due_special_rows(verdict: RetentionVerdict, row_ids: Sequence[Any]) -> list[tuple[Any, Any]]:
    """The special-category item rows whose erasure date has come, as ``(row id, status)``;
    ``row_ids`` are the rows in the order their items were given to ``retention()``."""
    return [(row_ids[s.index], s) for s in verdict.special_category if s.due]


def special_grounds(verdict: RetentionVerdict, specials: Sequence[tuple[Any, Any]]) -> tuple[
        tuple[str, ...], tuple[str, ...], dt.date]:
    """What the audit row of a special-category deletion cites (``specials`` from
    :func:`due_special_rows`, not empty): the rules that fired for those items, in the verdict's
    order, their clauses, and the earliest erasure date among them."""
    ids = {s.rule_id for _, s in specials}
    fired = [r for r in verdict.outcome.rules if r.id in ids]
    clauses = tuple(dict.fromkeys(c for r in fired for c in r.clauses))
    return tuple(r.id for r in fired), clauses, min(s.erase_on for _, s in specials if s.erase_on is not None)


def review_due_on(verdict: RetentionVerdict, as_of: dt.date) -> dt.date | None:
    """The day a relevance review (A-33) of an active candidate fell due, if it has by ``as_of`` and
    no legal hold stands; ``None`` otherwise."""
    review_on = verdict.review_on
    if (verdict.retention_mode == "indefinite_while_relevant" and review_on is not None
            and review_on <= as_of and not verdict.legal_hold):
        return review_on
    return None


# ------------------------------------------------------------------------------------------------
# the candidate id the audit log keeps

AUDIT_KEY_ENV = "POLICYKIT_AUDIT_KEY"
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def audit_key() -> bytes | None:
    """The key that pseudonymises candidate ids in the audit log (POLICYKIT_AUDIT_KEY), if set."""
    key = os.environ.get(AUDIT_KEY_ENV)
    return key.encode("utf-8") if key else None


def audit_id(cid: Any, key: bytes | None) -> str:
    """The candidate's id as the audit log keeps it: an HMAC-SHA256 of it under ``key`` when one is
    set, else the id itself (which the sweep checks to be a surrogate key before it writes it)."""
    if key is not None:
        return "hmac-sha256:" + hmac.new(key, str(cid).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return str(cid)


def surrogate(cid: Any) -> bool:
    """A whole number (or its digits) or a UUID: a key that names no one by itself."""
    if isinstance(cid, int) and not isinstance(cid, bool):
        return True
    if isinstance(cid, uuid.UUID):
        return True
    return isinstance(cid, str) and ((cid.isascii() and cid.isdigit()) or _UUID.fullmatch(cid) is not None)


def not_surrogate(m: SweepMapping, outcome: str) -> SweepProblem:
    """The problem of a candidate whose id may be personal data, left alone (``outcome``) because no
    audit key is set to keep a keyed hash of it instead."""
    return SweepProblem(
        m.candidates.table, None, None, m.candidates.id,
        f"expected a surrogate key (a whole number or a UUID) in {m.candidates.id}, the id the "
        f"append-only audit log keeps: this one may be personal data (an e-mail address, say); set "
        f"{AUDIT_KEY_ENV} to keep a keyed hash (HMAC-SHA256) of it instead. {outcome}",
        MappingError.code,
    )
