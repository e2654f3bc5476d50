"""Anonymising a user's record: erase the identifying set, keep only structured, non-identifying data.

``policy.anonymise(record)`` walks a pydantic model annotated with :class:`~policykit.Category`
(nested models and lists of them included) and returns a copy in which every field is erased unless

* its category is declared ``non_identifying=True`` (a score band, an application year, a position
  family: see the vocabulary page, docs/policy/vocabulary.md), **and**
* its value is structured: ``None``, a number, a boolean, a date, an enum member, or a short code-like
  string (letters, digits, ``_`` and ``-``, no spaces), or a list of those. A string with spaces, an
  ``@``, a ``/`` or other punctuation is free text, and free text cannot be de-identified, so it is
  erased whole even when the field is declared non-identifying (A-07).

An erased field becomes ``None`` where its type allows ``None``; otherwise the empty value of its type
(``""``, ``b""``, ``[]``, ``()``, ``{}``, an empty set). A field that allows neither (a required
``date``, say) cannot be erased, and is reported as an :class:`~policykit.errors.AnnotationError`
naming it: make it optional. A field with no category is an error too, never a silent keep.

Accounting records (``bookkeeping_record``) are kept apart under Bokföringslagen (A-08), not in the
anonymised copy, so fields of that category are erased here as well.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Union, cast, get_args, get_origin

from pydantic import BaseModel

from policykit._records.annotations import DIRECT_IDENTIFIERS, Category, check_model
from policykit._serial import to_data
from policykit.errors import AnnotationError

if TYPE_CHECKING:
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["AnonymisationReport", "Anonymised", "FieldAction", "anonymise_record"]

M = TypeVar("M", bound=BaseModel)

_CODE = re.compile(r"[A-Za-z0-9_\-]{0,64}")


@dataclass(frozen=True, slots=True)
class FieldAction:
    """What anonymisation did with one field: ``erased`` or ``kept``, and why."""

    path: str
    category: str
    action: Literal["erased", "kept"]
    reason: str
    clauses: tuple[str, ...]
    ambiguity: str = "A-07"


@dataclass(frozen=True, slots=True)
class AnonymisationReport:
    """Every field of the record: what was erased and what was kept, with reasons."""

    actions: tuple[FieldAction, ...]
    #: the clauses and interpretation behind anonymisation, as the report cites them
    citation: str

    @property
    def erased(self) -> tuple[FieldAction, ...]:
        """The fields that were erased."""
        return tuple(a for a in self.actions if a.action == "erased")

    @property
    def kept(self) -> tuple[FieldAction, ...]:
        """The fields that were kept (structured and declared non-identifying)."""
        return tuple(a for a in self.actions if a.action == "kept")

    def explain(self) -> str:
        """The report in plain English."""
        lines = [
            f"Anonymisation ({self.citation}): {len(self.erased)} field(s) erased, "
            f"{len(self.kept)} kept.",
            "",
            "Erased:",
        ]
        lines.extend(f"  {a.path} [{a.category}]: {a.reason}" for a in self.erased)
        lines += ["", "Kept:"]
        lines.extend(f"  {a.path} [{a.category}]: {a.reason}" for a in self.kept)
        if not self.kept:
            lines.append("  nothing")
        return "\n".join(lines)

    def to_dict(self) -> list[dict[str, Any]]:
        """The report as JSON-ready data: each field's action, its fields in order."""
        return cast("list[dict[str, Any]]", to_data(self.actions))


class Anonymised(Generic[M]):
    """The anonymised copy of a record (``record``) and the report of what was done (``report``)."""

    __slots__ = ("record", "report")

    def __init__(self, record: M, report: AnonymisationReport) -> None:
        self.record = record
        self.report = report

    def __repr__(self) -> str:
        return (
            f"<Anonymised {type(self.record).__name__}: {len(self.report.erased)} erased, "
            f"{len(self.report.kept)} kept>"
        )


def _structured(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, decimal.Decimal, dt.date, dt.time, enum.Enum)):
        return True
    if isinstance(value, str):
        return _CODE.fullmatch(value) is not None
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_structured(v) for v in value)
    return False


def _allows_none(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _allows_none(get_args(annotation)[0])
    if annotation is None or annotation is type(None) or annotation is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_allows_none(a) for a in get_args(annotation))
    return False


_EMPTY: dict[Any, Any] = {str: "", bytes: b"", list: [], tuple: (), dict: {}, set: set(), frozenset: frozenset()}


def _empty(model: type[BaseModel], name: str) -> Any:
    annotation = model.model_fields[name].annotation
    if _allows_none(annotation):
        return None
    base = get_origin(annotation) or annotation
    if base in _EMPTY:
        empty = _EMPTY[base]
        return type(empty)() if isinstance(empty, (list, dict, set)) else empty
    raise AnnotationError(
        f"{model.__name__}.{name}: cannot erase a field of type {getattr(annotation, '__name__', annotation)!s} "
        "on anonymisation: it allows neither None nor an empty value; make it optional (X | None = None)"
    )


def _why_erased(cat: Category, rules: RuleSet, value: Any) -> str:
    term = rules.vocabulary.category(cat.id)
    if cat.id == "bookkeeping_record":
        return "accounting records are kept apart under Bokföringslagen 7 kap. 2 § (A-08), not in the anonymised record"
    if cat.non_identifying:
        return "declared non-identifying, but the value is free text, which cannot be de-identified and is erased whole"
    if cat.id in DIRECT_IDENTIFIERS:
        return f"{term.en.lower()} identifies the person ({term.identifiability} identifier)"
    if term.free_text:
        return f"{term.en.lower()}: free text or documents cannot be de-identified, so they are erased whole"
    if term.identifying:
        return f"{term.en.lower()} is in the identifying set (rules/vocabulary.yaml)"
    return "not declared non_identifying, so it is not kept"


def anonymise_record(record: M, rules: RuleSet) -> Anonymised[M]:
    """Anonymise ``record`` (see the module docstring); raise AnnotationError for a model that is not
    fully annotated or has a field that cannot be erased."""
    if not isinstance(record, BaseModel):
        raise AnnotationError(f"expected an instance of a pydantic model, got {type(record).__name__}")
    actions: list[FieldAction] = []
    copy = _walk(record, "", rules, actions)
    return Anonymised(copy, AnonymisationReport(tuple(actions), rules.citations("anonymisation_report")))


def _walk(record: M, prefix: str, rules: RuleSet, actions: list[FieldAction]) -> M:
    model = type(record)
    updates: dict[str, Any] = {}
    for spec in check_model(model):
        value = getattr(record, spec.name)
        path = f"{prefix}{spec.name}"
        if not spec.is_leaf:
            if value is None:
                continue
            if spec.many:
                items = [_walk(item, f"{path}[{i}].", rules, actions) for i, item in enumerate(value)]
                updates[spec.name] = tuple(items) if isinstance(value, tuple) else items
            else:
                updates[spec.name] = _walk(value, f"{path}.", rules, actions)
            continue
        cat = spec.category
        assert cat is not None  # check_model guarantees a category on every leaf
        keep = cat.non_identifying and cat.id != "bookkeeping_record" and _structured(value)
        if keep:
            actions.append(
                FieldAction(path, cat.id, "kept", "structured and declared non-identifying",
                            rules.citations.of("anonymisation"))
            )
        else:
            updates[spec.name] = _empty(model, spec.name)
            actions.append(
                FieldAction(path, cat.id, "erased", _why_erased(cat, rules, value), rules.citations.of("anonymisation"))
            )
    return record.model_copy(update=updates)
