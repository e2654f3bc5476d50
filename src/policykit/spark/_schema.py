"""Spark types and the policy's input format: the one place where the two meet.

A retention question (docs/retention.md) and a disclosure question (docs/tutorial.md) are mappings of
named fields; in a DataFrame each field is a column of the same name. This module says which Spark
types each field may have, checks a DataFrame's schema against that before a job starts (a column
nobody asked for, or a type that cannot mean the field, is an error naming the column), turns an Arrow
row into the plain mapping ``policy.retention()`` / ``policy.decide()`` take, and defines the
columns of the answers.

Dates may be ``DATE`` columns or ISO text; event dates (applications, withdrawals, objection, erasure
request) may also be ``TIMESTAMP`` (an instant, turned into a calendar date in the question's zone).
``TIMESTAMP_NTZ`` is refused: a timestamp without a zone does not say which day it was (A-27).
Lists are arrays; nested objects (recorded interviews, disputes, bookkeeping records,
special-category items, the recipient, the candidate) are structs, or arrays of structs, with the nested fields' names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import types as T  # noqa: N812 - Spark's own convention

from policykit.errors import InvalidDateError, RequestValidationError, did_you_mean

__all__ = [
    "DECISION_FIELDS",
    "DISCLOSURE_INPUT",
    "RETENTION_INPUT",
    "VERDICT_FIELDS",
    "Field",
    "check_input",
    "decision_schema",
    "plain",
    "verdict_schema",
]

# kinds of value a field may hold, and the Spark types that carry each
_DATE = (T.DateType, T.StringType)
_EVENT = (T.DateType, T.TimestampType, T.StringType)
_TEXT = (T.StringType,)
_BOOL = (T.BooleanType,)
_INT = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)


@dataclass(frozen=True, slots=True)
class Field:
    """One input field: the Spark types its values may have, whether it is a list (an array column,
    or one value), and the fields of a nested object."""

    name: str
    types: tuple[type[T.DataType], ...] = ()
    many: bool = False
    nested: tuple[Field, ...] = ()

    def describe(self) -> str:
        """The accepted types, in words."""
        if self.nested:
            inner = "STRUCT<" + ", ".join(f.name for f in self.nested) + ">"
        else:
            words = (t.typeName().upper() for t in self.types)
            inner = " or ".join(w.replace("TIMESTAMP", "TIMESTAMP (with a zone)") for w in words)
        return f"ARRAY<{inner}> (or one {inner})" if self.many else inner


RETENTION_INPUT: tuple[Field, ...] = (
    Field("applications", _EVENT, many=True),
    Field("timezone", _TEXT),
    Field("consent_withdrawn_on", _EVENT, many=True),
    Field("objection_received_on", _EVENT),
    Field("objection_form", _TEXT),
    Field("objection_documented_in_writing_by_controller", _BOOL),
    Field("erasure_requested_on", _EVENT),
    Field("process_closed_on", _DATE),
    Field("interest_confirmed_on", _EVENT, many=True),
    Field("video_interviews", many=True, nested=(
        Field("interviewed_on", _EVENT), Field("recording_consent_withdrawn_on", _EVENT),
    )),
    Field("disputes", many=True, nested=(
        Field("opened_on", _DATE), Field("status", _TEXT), Field("resolved_on", _DATE),
    )),
    Field("bookkeeping_records", many=True, nested=(
        Field("type", _TEXT), Field("dated", _DATE), Field("financial_year_start", _DATE),
        Field("financial_year_end", _DATE),
    )),
    Field("special_category_items", many=True, nested=(
        Field("category", _TEXT), Field("process_id", _TEXT), Field("explicit_consent", _BOOL),
        Field("process_closed_on", _DATE),
    )),
    Field("as_of", _DATE),
)

DISCLOSURE_INPUT: tuple[Field, ...] = (
    Field("operation", _TEXT),
    Field("data_categories", _TEXT, many=True),
    Field("purpose", _TEXT),
    Field("contains_special_category", _BOOL),
    Field("contains_criminal_data", _BOOL),
    Field("art10_statutory_basis", _BOOL),
    Field("identifiable", _BOOL),
    Field("min_cell_size", _INT),
    Field("disclosed_context", _TEXT, many=True),
    Field("as_of", _DATE),
    Field("recipient", nested=(
        Field("kind", _TEXT), Field("country", _TEXT), Field("active_assignment", _BOOL),
        Field("confidentiality_undertaking", _BOOL), Field("data_agreement_signed", _BOOL),
        Field("relevant_to_candidate_competence", _BOOL), Field("receives_copy", _BOOL),
        Field("specific_process_requirement", _BOOL), Field("legitimate_need_kul", _BOOL),
        Field("legal_obligation", _BOOL), Field("legal_obligation_jurisdiction", _TEXT), Field("role", _TEXT),
        Field("gdpr_transfer_mechanism", _TEXT), Field("subprocessors_in_eea", _BOOL),
    )),
    Field("candidate", nested=(
        Field("consent_status", _TEXT), Field("consent_withdrawn_on", _DATE), Field("objection_in_writing", _BOOL),
        Field("objection_received_on", _DATE), Field("explicit_consent_special_category", _BOOL),
        Field("special_category_relevant", _BOOL), Field("consent_to_sale", _BOOL),
        Field("latest_application", _DATE), Field("anonymised", _BOOL),
        Field("portability_request_on_file", _BOOL),
    )),
)


def _type_error(where: str, field: Field, got: T.DataType) -> RequestValidationError:
    extra = ""
    if isinstance(got, T.TimestampNTZType):
        extra = ": a timestamp without a zone does not say which calendar day it was; cast it to TIMESTAMP"
    return RequestValidationError(
        f"column {where}: expected {field.describe()}, got {got.simpleString().upper()}{extra}"
    )


def _check_type(where: str, field: Field, got: T.DataType) -> None:
    value = got
    if field.many and isinstance(got, T.ArrayType):
        value = got.elementType
    elif field.many and field.nested:
        raise _type_error(where, field, got)
    if field.nested:
        if not isinstance(value, T.StructType):
            raise _type_error(where, field, got)
        known = {f.name: f for f in field.nested}
        for sub in value.fields:
            spec = known.get(sub.name)
            if spec is None:
                raise RequestValidationError(
                    f"column {where}.{sub.name}: unexpected field" + did_you_mean(sub.name, known)
                    + f"; expected some of {', '.join(known)}"
                )
            _check_type(f"{where}.{sub.name}", spec, sub.dataType)
        return
    if not isinstance(value, field.types):
        raise _type_error(where, field, got)


def check_input(schema: T.StructType, fields: Sequence[Field], *, id_column: str, what: str) -> list[str]:
    """Check a DataFrame's schema: the id column exists, every other column is an input field of the
    right type. Returns the input columns, in the DataFrame's order. Raises
    :class:`~policykit.errors.RequestValidationError` naming the first column that does not fit."""
    known = {f.name: f for f in fields}
    names = [f.name for f in schema.fields]
    if id_column not in names:
        raise RequestValidationError(
            f"id_column: expected a column named {id_column!r} in the DataFrame, found none"
            + did_you_mean(id_column, names)
        )
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise RequestValidationError(f"columns: expected each column once, got {', '.join(twice)} more than once")
    used = []
    for sf in schema.fields:
        if sf.name == id_column:
            continue
        spec = known.get(sf.name)
        if spec is None:
            raise RequestValidationError(
                f"column {sf.name}: not a field of a {what}" + did_you_mean(sf.name, known)
                + f"; expected the id column and some of {', '.join(known)} (select only those)"
            )
        _check_type(sf.name, spec, sf.dataType)
        used.append(sf.name)
    return used


def plain(value: Any) -> Any:
    """An Arrow value as the library's input: structs become mappings without their null fields (so
    the field's default applies, as when it is left out of a mapping), lists stay lists."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _strings() -> T.ArrayType:
    return T.ArrayType(T.StringType(), containsNull=False)


# the answer's columns, after the id column, and how each is read from the answer object
VERDICT_FIELDS: tuple[tuple[str, T.DataType], ...] = (
    ("retention_mode", T.StringType()),
    ("mode_rule", T.StringType()),
    ("latest_application_date", T.DateType()),
    ("retain_until", T.DateType()),
    ("anonymise_on", T.DateType()),
    ("deadline", T.DateType()),
    ("review_on", T.DateType()),
    ("video_recording_erase_on", T.DateType()),
    ("due", T.BooleanType()),
    ("erase_now", _strings()),
    ("erase_on_anonymisation", _strings()),
    ("legal_hold", T.BooleanType()),
    ("rule_ids", _strings()),
    ("clauses", _strings()),
    ("as_of", T.DateType()),
    ("policy_version", T.StringType()),
    ("error", T.StringType()),
    ("error_code", T.StringType()),
)

DECISION_FIELDS: tuple[tuple[str, T.DataType], ...] = (
    ("allowed", T.BooleanType()),
    ("reasons", _strings()),
    ("obligations", _strings()),
    ("by_category", T.MapType(T.StringType(), T.BooleanType(), valueContainsNull=False)),
    ("rule_ids", _strings()),
    ("clauses", _strings()),
    ("policy_version", T.StringType()),
    ("error", T.StringType()),
    ("error_code", T.StringType()),
)


def _answer_schema(id_field: T.StructField, fields: Sequence[tuple[str, T.DataType]]) -> T.StructType:
    return T.StructType([id_field, *(T.StructField(name, kind, nullable=True) for name, kind in fields)])


def verdict_schema(id_field: T.StructField) -> T.StructType:
    """The columns of ``retention_verdicts``: the id, then the verdict's fields, then ``error``."""
    return _answer_schema(id_field, VERDICT_FIELDS)


def decision_schema(id_field: T.StructField) -> T.StructType:
    """The columns of ``decide``: the id, then the decision's fields, then ``error``."""
    return _answer_schema(id_field, DECISION_FIELDS)


def verdict_values(verdict: Any) -> dict[str, Any]:
    """A verdict's columns (``retention_verdicts``)."""
    return {
        "retention_mode": verdict.retention_mode, "mode_rule": verdict.mode_rule,
        "latest_application_date": verdict.latest_application_date, "retain_until": verdict.retain_until,
        "anonymise_on": verdict.anonymise_on, "deadline": verdict.deadline, "review_on": verdict.review_on,
        "video_recording_erase_on": verdict.video_recording_erase_on, "due": verdict.due,
        "erase_now": list(verdict.erase_now),
        "erase_on_anonymisation": list(verdict.erase_on_anonymisation), "legal_hold": verdict.legal_hold,
        "rule_ids": list(verdict.rule_ids), "clauses": list(verdict.clauses), "as_of": verdict.as_of,
        "policy_version": verdict.policy_version, "error": None, "error_code": None,
    }


def decision_values(decision: Any) -> dict[str, Any]:
    """A decision's columns (``decide``); ``by_category`` as a list of pairs, Arrow's map form."""
    return {
        "allowed": decision.allowed, "reasons": list(decision.reasons), "obligations": list(decision.obligations),
        "by_category": list(decision.by_category.items()), "rule_ids": list(decision.rule_ids),
        "clauses": list(decision.clauses), "policy_version": decision.policy_version, "error": None,
        "error_code": None,
    }


def as_date(value: dt.date | str | None, what: str = "as_of") -> dt.date | None:
    """A calendar date argument (a date, or ISO text); timestamps are refused."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise InvalidDateError(f"{what}: expected a calendar date, got the timestamp {value.isoformat()}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidDateError(f"{what}: expected a date as YYYY-MM-DD, got {value!r}")
