"""Errors raised by policykit.

Every error has a stable ``code`` (documented in ``docs/errors.md``) and a message in the form
*expected what, got what, where*. Definition-time errors (a rule file or an annotated model that is
wrong) are kept apart from query-time errors (a question that is wrong); a refusal is never an
error, it is a :class:`~policykit.Decision` with ``allowed=False``::

    PolicyKitError
    ├── DefinitionError             the policy or a user's model is wrong; found when loading
    │   ├── RuleFileError           a rule file is missing, unreadable or not valid YAML
    │   ├── RuleSchemaError         a rule file has a missing, extra or mistyped field
    │   ├── UnknownTermError        a term (category, purpose, field, predicate…) is not defined
    │   ├── UnknownClauseError      a clause id is not in the clause register
    │   ├── DuplicateIdError        two rules, terms or clauses share an id
    │   ├── ConditionError          a condition is malformed or can never hold
    │   ├── ClauseCoverageError     a clause is neither enforced by a rule nor documented
    │   ├── AnnotationError         a field of a user's model has no valid data category
    │   └── IncomparableRulesError  two rule sets cannot be diffed: one removes a term or a fact of the other
    ├── QueryError                  a question is wrong; found when it is asked
    │   ├── RequestValidationError  a missing, extra or mistyped field in a question
    │   ├── UnknownRequestTermError a term in a question is not in the vocabulary
    │   ├── InputTooLargeError      a question larger or deeper than the input limits
    │   └── InvalidDateError        an impossible, malformed or inconsistent date
    ├── EngineError                 the rules engine failed; never turned into an allow
    ├── DecisionLogError            the decision log cannot be written or read; no answer goes unrecorded
    ├── InternalError               an unexpected failure inside policykit (a bug); never an allow
    └── SweepError                  the retention sweep cannot run against this database
        ├── MissingDependencyError  the sweep extra (SQLAlchemy, psycopg) is not installed
        ├── DatabaseUnreachableError the database cannot be reached, opened or read
        └── MappingError            the mapping file is wrong, or names a table or column the database lacks
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "AnnotationError",
    "ClauseCoverageError",
    "ConditionError",
    "DatabaseUnreachableError",
    "DecisionLogError",
    "DefinitionError",
    "DuplicateIdError",
    "EngineError",
    "IncomparableRulesError",
    "InputTooLargeError",
    "InternalError",
    "InvalidDateError",
    "MappingError",
    "MissingDependencyError",
    "PolicyKitError",
    "QueryError",
    "RequestValidationError",
    "RuleFileError",
    "RuleSchemaError",
    "SweepError",
    "UnknownClauseError",
    "UnknownRequestTermError",
    "UnknownTermError",
    "did_you_mean",
    "short_repr",
]


def short_repr(value: object, limit: int = 60) -> str:
    """A repr of ``value`` of about ``limit`` characters at most, for error messages.

    Never the ``repr`` of an unbounded input: strings and bytes are cut before their repr is built,
    small flat containers are shown, larger ones by type and size, and other objects by their type
    only (their ``repr`` is caller code, and may be anything)."""
    if isinstance(value, str):
        head = str.__getitem__(value, slice(0, limit + 1))
        text = str.__repr__(head)
        size = str.__len__(value)
        return text if size <= limit else f"{text[:limit]}… ({size:,} characters)"
    if value is None or type(value) is bool:
        return repr(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, int):
        if int.bit_length(value) > 200:
            return f"a {int.bit_length(value):,}-bit integer"
        return int.__repr__(value)
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value[: limit + 1])
        text = bytes.__repr__(raw)
        return text if len(value) <= limit else f"{text[:limit]}… ({len(value):,} bytes)"
    if type(value) in (dt.date, dt.datetime, dt.time, dt.timedelta):
        return repr(value)
    if type(value) in (list, tuple, set, frozenset, dict):
        assert isinstance(value, (list, tuple, set, frozenset, dict))
        items = list(value.items()) if isinstance(value, dict) else None
        flat = (str, int, bool, type(None))
        if len(value) <= 8 and (
            all(isinstance(k, flat) and isinstance(v, flat) for k, v in items) if items is not None
            else all(isinstance(v, flat) for v in value)
        ):
            if items is not None:
                text = "{" + ", ".join(f"{short_repr(k, 20)}: {short_repr(v, 20)}" for k, v in items) + "}"
            else:
                inner = ", ".join(short_repr(v, 20) for v in value)
                text = f"[{inner}]" if type(value) is list else f"({inner})" if type(value) is tuple else f"{{{inner}}}"
            if len(text) <= limit:
                return text
        return f"a {type(value).__name__} of {len(value):,} items"
    return f"a {type(value).__name__} object"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""`` if none is close."""
    if len(str(word)) > 100:  # nothing in a vocabulary is that long; spare difflib the work
        return ""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class PolicyKitError(Exception):
    """Root of every error policykit raises."""

    code = "policykit"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DefinitionError(PolicyKitError):
    """The policy's rule files, or a model annotated with data categories, are wrong."""

    code = "definition"

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        where = ""
        if self.file is not None:
            where = f"{self.file}:{line}: " if line is not None else f"{self.file}: "
        super().__init__(where + message)
        self.detail = message


class RuleFileError(DefinitionError):
    """A rule file is missing, unreadable, or not valid YAML."""

    code = "rules.file"


class RuleSchemaError(DefinitionError):
    """A rule file has a missing, extra or wrongly typed field."""

    code = "rules.schema"


class UnknownTermError(DefinitionError):
    """A rule file uses a term that is not defined (a category, purpose, fact field, predicate…)."""

    code = "rules.unknown_term"


class UnknownClauseError(DefinitionError):
    """A rule or term cites a clause id that is not in the clause register."""

    code = "rules.unknown_clause"


class DuplicateIdError(DefinitionError):
    """Two rules, terms, predicates or clauses share an id."""

    code = "rules.duplicate_id"


class ConditionError(DefinitionError):
    """A rule condition is malformed, or can never hold."""

    code = "rules.condition"


class ClauseCoverageError(DefinitionError):
    """A clause is marked as enforced but no rule cites it, or documented-only but a rule cites it."""

    code = "rules.clause_coverage"


class AnnotationError(DefinitionError):
    """A field of a user's pydantic model carries no data category, or an unknown one."""

    code = "model.annotation"


class IncomparableRulesError(DefinitionError):
    """Two rule sets cannot be compared question by question: a question of the old one has no reading
    in the new (a term or a standard fact removed, or values added to a field that cannot widen)."""

    code = "analysis.incomparable"


class QueryError(PolicyKitError, ValueError):
    """A question put to the policy is malformed. Never answered with an allow."""

    code = "query"


class RequestValidationError(QueryError):
    """A question has a missing, extra or wrongly typed field."""

    code = "query.invalid"


class UnknownRequestTermError(QueryError):
    """A question uses a term (category, recipient kind, country…) that is not in the vocabulary."""

    code = "query.unknown_term"


class InputTooLargeError(QueryError):
    """A question (or a file of questions) is larger, deeper or has longer strings than the limits
    allow (``policykit.Limits``); refused before it is expanded."""

    code = "query.too_large"


class InvalidDateError(QueryError):
    """A date in a question is malformed, impossible, or inconsistent with the other dates."""

    code = "query.invalid_date"


class EngineError(PolicyKitError):
    """The rules engine failed while answering. policykit never turns this into an allow."""

    code = "engine.failure"


class DecisionLogError(PolicyKitError):
    """The decision log cannot be opened, written or read. A log that failed to write refuses every
    later record, so no answer is given that the log does not hold."""

    code = "log"


class InternalError(PolicyKitError):
    """policykit failed in a way it does not expect (a bug): the question is not answered, and the
    failure is reported as this error rather than as whatever Python raised."""

    code = "internal"


class SweepError(PolicyKitError):
    """The retention sweep cannot run: its extra is missing, the database is out of reach, or the
    mapping does not fit the database. Nothing has been changed when one is raised."""

    code = "sweep"


class MissingDependencyError(SweepError):
    """The sweep needs the ``sweep`` extra: ``pip install 'policykit[sweep]'``."""

    code = "sweep.missing_dependency"


class DatabaseUnreachableError(SweepError):
    """The database named by the URL cannot be reached, opened or read."""

    code = "sweep.unreachable"


class MappingError(SweepError):
    """The mapping file is malformed, uses an unknown data category, or names a table or column the
    database does not have (or leaves a column of a mapped table without a data category)."""

    code = "sweep.mapping"

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        where = ""
        if self.file is not None:
            where = f"{self.file}:{line}: " if line is not None else f"{self.file}: "
        super().__init__(where + message)
        self.detail = message
