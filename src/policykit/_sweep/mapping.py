"""Where a candidate database keeps what the retention sweep needs: the mapping file.

A mapping (YAML) names the tables and columns that hold the candidate id, the application dates,
the withdrawals, objections, erasure requests and disputes, and says which data category every
other column holds (``rules/vocabulary.yaml``). ``default_mapping.yaml`` beside this module is the
built-in default; it fits the example schema of ``examples/sweep/`` and documents every key::

    candidates:                     # one row per candidate
      table: candidates
      id: id                        # a surrogate key: it is written to the audit log
      anonymised_at: anonymised_at  # NULL until anonymised; the sweep sets it
      process_closed_on: null       # optional fact column (the A-04 anchor)
      columns:                      # every other column, with the category it holds
        name: name                  # shorthand for {category: name}
        test_score_band: {category: test_results, non_identifying: true}
    applications: {table: applications, candidate_id: candidate_id, submitted_at: submitted_at, ...}
    consent_withdrawals: {table: ..., date: withdrawn_at}          # optional
    objections: {table: ..., date: received_on, form: form, documented_in_writing: ...}
    erasure_requests: {table: ..., date: requested_on}             # optional
    disputes: {table: ..., opened_on: ..., status: ..., resolved_on: ...}
    delete_rows: [{table: reference_notes, category: reference_notes}]   # rows erased whole
    kept: [{table: bookkeeping_records, reason: ...}]              # never touched (A-08)
    items:                          # optional: what retention() erases at once that is not a category
      - {item: talent_pool_tags, table: talent_pool_tags}          # rows deleted
      - {item: marketing_attributes, table: candidates, columns: [newsletter_segment]}  # columns erased
    special_category_items:         # optional: Art. 9 items, each erased on its own date
      {table: ..., category: category, explicit_consent: explicit_consent, process_closed_on: ...}
    audit_table: policykit_audit

Every key added after the first release is optional, so an older mapping file means what it meant.

Loading checks the file itself (shape, categories, ``non_identifying`` only where allowed) and
raises :class:`~policykit.errors.MappingError` naming the file and line. Whether the database has
those tables and columns, and whether every column of a mapped table carries a category, is checked
against the live database before the sweep reads a row (``_sweep.job``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError

from policykit._dates import today_in
from policykit._input import InputModel, problem
from policykit._records.annotations import Category
from policykit._ruleset.reading import load_yaml
from policykit.errors import DefinitionError, InvalidDateError, MappingError, RuleFileError, short_repr

__all__ = [
    "DEFAULT_MAPPING",
    "ColumnSpec",
    "SweepMapping",
    "TableSpec",
    "load_mapping",
]

DEFAULT_MAPPING = Path(__file__).with_name("default_mapping.yaml")
MAX_NAMES = 200  # columns per item target, item targets per mapping: a mapping is hand-written


class ColumnSpec(InputModel):
    """The data category a column holds; ``non_identifying`` columns survive anonymisation."""

    category: str
    non_identifying: bool = False


def _column(value: Any) -> Any:
    return {"category": value} if isinstance(value, str) else value


# a category name is shorthand for {category: name}; the JSON Schema says so too
Columns = dict[str, Annotated[ColumnSpec, BeforeValidator(_column, json_schema_input_type=str | ColumnSpec)]]


class TableSpec(InputModel):
    """A mapped table: its name, the columns the sweep reads, and the categories of the others."""

    table: str
    columns: Columns = Field(default={})

    def keys(self) -> dict[str, str]:
        """Role → column name, for the columns the sweep reads (ids and facts), set ones only."""
        skip = {"table", "columns", "category", "reason"}
        return {
            name: value for name, value in self if name not in skip and isinstance(value, str)
        }


class CandidatesTable(TableSpec):
    """One row per candidate."""

    id: str = "id"
    anonymised_at: str = "anonymised_at"
    process_closed_on: str | None = None


class ChildTable(TableSpec):
    """Rows about a candidate, found by ``candidate_id``; ``id`` names the row in reports."""

    candidate_id: str = "candidate_id"
    id: str | None = "id"


class ApplicationsTable(ChildTable):
    """One row per application; ``submitted_at`` is a date, or a timestamp with a zone."""

    submitted_at: str = "submitted_at"


class EventTable(ChildTable):
    """One row per withdrawal of consent, or per erasure request: ``date`` says when."""

    date: str


class ObjectionsTable(EventTable):
    """One row per objection. ``form`` (email, letter, portal, phone, in_person) and
    ``documented_in_writing`` are optional columns; without ``form`` every objection is written."""

    form: str | None = None
    documented_in_writing: str | None = None


class DisputesTable(ChildTable):
    """One row per discrimination dispute: opened, pending or resolved (and when)."""

    opened_on: str = "opened_on"
    status: str = "status"
    resolved_on: str = "resolved_on"


class DeletedRowsTable(InputModel):
    """Rows that are about the candidate as a whole (reference-call notes, say): deleted on
    anonymisation when their category is erased."""

    table: str
    candidate_id: str = "candidate_id"
    category: str


class ItemTarget(InputModel):
    """Where an item of ``erase_now`` that is not a data category is kept (``rules/retention.yaml``:
    talent-pool tags, marketing attributes). With ``columns``, those columns of ``table`` are erased
    (``table`` is the candidates table, found by its id, or another table found by ``candidate_id``);
    without, the candidate's rows of ``table`` are deleted."""

    item: str
    table: str
    candidate_id: str = "candidate_id"
    columns: Annotated[tuple[str, ...], Field(max_length=MAX_NAMES)] = ()


class SpecialItemsTable(ChildTable):
    """One row per special-category (Art. 9) item held about a candidate (a health adjustment, say):
    its free ``category`` label, whether it came with the candidate's explicit consent, and optionally
    when its own recruitment process closed and which process. A row whose erasure date has come
    (``retention()``'s ``special_category``) is deleted; the data columns carry categories like any
    other mapped table's."""

    id: str = "id"
    category: str = "category"
    explicit_consent: str = "explicit_consent"
    process_id: str | None = None
    process_closed_on: str | None = None

    def keys(self) -> dict[str, str]:
        """Role → column name, the ``category`` column included."""
        return {**super().keys(), "category": self.category}


class KeptTable(InputModel):
    """A table the sweep never touches, and why (accounting records: Bokföringslagen, A-08)."""

    table: str
    reason: str


def _plain_name(value: Any) -> Any:
    if isinstance(value, str) and not _PLAIN_NAME.fullmatch(value):
        raise ValueError(
            "expected a plain table name (letters, digits and _, starting with a letter or _, at most 63 "
            f"characters), got {short_repr(value)}"
        )
    return value


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class SweepMapping(InputModel):
    """The whole mapping. ``source`` is the file it came from (for messages)."""

    schema_: str | None = None
    timezone: str | None = None
    candidates: CandidatesTable
    applications: ApplicationsTable
    consent_withdrawals: EventTable | None = None
    objections: ObjectionsTable | None = None
    erasure_requests: EventTable | None = None
    disputes: DisputesTable | None = None
    delete_rows: tuple[DeletedRowsTable, ...] = ()
    kept: tuple[KeptTable, ...] = ()
    items: Annotated[tuple[ItemTarget, ...], Field(max_length=MAX_NAMES)] = ()
    special_category_items: SpecialItemsTable | None = None
    # the audit table's name goes into DDL (quoted there as well): a plain SQL name only
    audit_table: Annotated[str, BeforeValidator(_plain_name)] = "policykit_audit"
    source: str | None = None

    def fact_tables(self) -> Iterator[tuple[str, ChildTable]]:
        """``(role, table)`` for the applications and each mapped event table."""
        yield "applications", self.applications
        for role in ("consent_withdrawals", "objections", "erasure_requests", "disputes"):
            spec = getattr(self, role)
            if spec is not None:
                yield role, spec

    def trigger_tables(self) -> Iterator[EventTable]:
        """The tables whose rows can end consent (withdrawals, objections, erasure requests)."""
        for spec in (self.consent_withdrawals, self.objections, self.erasure_requests):
            if spec is not None:
                yield spec

    def categorised(self) -> Iterator[tuple[str, TableSpec]]:
        """Every mapped table that carries categorised columns: the candidates, the fact tables and
        the special-category items."""
        yield "candidates", self.candidates
        yield from self.fact_tables()
        if self.special_category_items is not None:
            yield "special_category_items", self.special_category_items

    def item_columns(self, table: str) -> set[str]:
        """The columns of ``table`` that hold an item (accounted for by the item, not a category)."""
        return {c for target in self.items if target.table == table for c in target.columns}


def _parse(data: Any, *, file: str, line_of: Any) -> SweepMapping:
    if not isinstance(data, Mapping):
        raise MappingError(f"expected a mapping of keys (candidates, applications, ...), got {type(data).__name__}",
                           file=file, line=1)
    raw = dict(data)
    if "schema" in raw:
        raw["schema_"] = raw.pop("schema")
    raw["source"] = file
    try:
        mapping = SweepMapping.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple("schema" if p == "schema_" else p for p in err["loc"])
        message = problem({**err, "loc": loc}, unexpected="key")
        raise MappingError(message, file=file, line=line_of(loc)) from None
    _check_categories(mapping, file=file, line_of=line_of)
    _check_items(mapping, file=file, line_of=line_of)
    try:
        if mapping.timezone is not None:
            today_in(mapping.timezone)
    except InvalidDateError as exc:
        raise MappingError(exc.message, file=file, line=line_of(("timezone",))) from None
    return mapping


def _check_categories(mapping: SweepMapping, *, file: str, line_of: Any) -> None:
    for role, spec in mapping.categorised():
        for column, col in spec.columns.items():
            try:
                Category(col.category, col.non_identifying)
            except DefinitionError as exc:
                raise MappingError(
                    f"{role}.columns.{column}: {exc.detail}", file=file, line=line_of((role, "columns", column))
                ) from None
    for i, rows in enumerate(mapping.delete_rows):
        try:
            Category(rows.category)
        except DefinitionError as exc:
            raise MappingError(
                f"delete_rows[{i}].category: {exc.detail}", file=file, line=line_of(("delete_rows", i, "category"))
            ) from None


def _check_items(mapping: SweepMapping, *, file: str, line_of: Any) -> None:
    """An item's columns: needed in the candidates table, never also a categorised column."""
    tables = dict(mapping.categorised())
    by_name = {spec.table: spec for spec in tables.values()}
    for i, target in enumerate(mapping.items):
        if target.table == mapping.candidates.table and not target.columns:
            raise MappingError(
                f"items[{i}].columns: expected the columns of {target.table!r} that hold {target.item} (the "
                "candidates' own rows are never deleted), found none", file=file, line=line_of(("items", i)),
            )
        spec = by_name.get(target.table)
        for j, column in enumerate(target.columns):
            if spec is not None and column in spec.columns:
                raise MappingError(
                    f"items[{i}].columns[{j}]: {target.table}.{column} also has a data category under columns; "
                    "name it in one place only", file=file, line=line_of(("items", i, "columns", j)),
                )
    special = mapping.special_category_items
    if special is not None and any(special.table == spec.table for role, spec in tables.items()
                                   if role != "special_category_items"):
        raise MappingError(
            f"special_category_items.table: {special.table!r} is mapped already under another key; the items "
            "need a table of their own (one row per item)", file=file, line=line_of(("special_category_items",)),
        )


def load_mapping(path: str | Path | None = None) -> SweepMapping:
    """Load a mapping file; ``None`` loads the built-in default (``default_mapping.yaml``), which fits
    the example schema. A malformed file raises :class:`~policykit.errors.MappingError` naming the
    file and line."""
    file = Path(path) if path is not None else DEFAULT_MAPPING
    try:
        located = load_yaml(file)
    except RuleFileError as exc:
        detail = "expected a mapping file here, found none" if "found none" in exc.detail else exc.detail
        raise MappingError(detail, file=file, line=exc.line) from None
    return _parse(located.data, file=str(file), line_of=located.line)
