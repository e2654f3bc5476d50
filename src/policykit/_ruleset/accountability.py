"""The accountability data of a rules directory: the register of interpretations and the record of
processing activities.

``interpretations.yaml`` holds every ambiguity of the policy text (A-01..A-33) and the reading chosen,
with the rules, predicates and parameters that implement it. ``processing.yaml`` holds what GDPR
Art. 30(1) asks of a record of processing activities beyond what the vocabulary and the rules already
say: the data subjects, the categories and retention of each purpose, and the security measures.

Both are loaded with the rest of the rules (``_ruleset.loading.load_rules``), after every rule family, so that
every reference they make (clause ids, rule ids, predicates, parameters, vocabulary terms) is checked
with a file-and-line error like any other rule file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from policykit._ruleset.loading import Parameters, Predicate, _Loader, _validate
from policykit._ruleset.vocabulary import Term, Vocabulary
from policykit.errors import RuleSchemaError, UnknownTermError, did_you_mean

__all__ = [
    "CitingRule",
    "DataSubject",
    "Interpretation",
    "ProcessingActivity",
    "ProcessingRecord",
    "SecurityMeasure",
    "load_interpretations",
    "load_processing_record",
]

INTERPRETATION_ID = re.compile(r"A-\d{2}")
MENTION = re.compile(r"\bA-\d{2}\b")


class CitingRule(Protocol):
    """What the register needs of a rule of any family: its id, its words and the clauses it cites."""

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def clauses(self) -> tuple[str, ...]: ...


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ------------------------------------------------------------------------------------------------
# typed


class Interpretation(_Frozen):
    """One ambiguity or gap of the policy text and the reading policykit applies (docs/policy/interpretations.md)."""

    id: str
    title: str
    clauses: tuple[str, ...]
    issue: str
    interpretation: str
    grounds: str | None = None
    rules: tuple[str, ...] = ()
    predicates: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    note: str | None = None
    line: int | None = None


class DataSubject(Term):
    """A category of data subjects (GDPR Art. 30(1)(c))."""


class SecurityMeasure(Term):
    """A technical or organisational security measure (GDPR Art. 30(1)(g), Art. 32)."""

    rules: tuple[str, ...] = ()


class ProcessingActivity(_Frozen):
    """What one purpose processes, about whom, and for how long."""

    purpose: str
    data_subjects: tuple[str, ...]
    data_categories: tuple[str, ...]
    retention: str


class ProcessingRecord(_Frozen):
    """The hand-kept part of the record of processing activities; one activity per purpose."""

    data_subjects: tuple[DataSubject, ...]
    security_measures: tuple[SecurityMeasure, ...]
    activities: tuple[ProcessingActivity, ...]

    def activity(self, purpose: str) -> ProcessingActivity:
        """The activity of a purpose."""
        for a in self.activities:
            if a.purpose == purpose:
                return a
        raise KeyError(purpose)


# ------------------------------------------------------------------------------------------------
# raw shapes


class _RawInterpretation(_Raw):
    id: str
    title: str
    clauses: list[str]
    issue: str
    interpretation: str
    grounds: str | None = None
    rules: list[str] = []
    predicates: list[str] = []
    parameters: list[str] = []
    note: str | None = None


class _RawInterpretationsFile(_Raw):
    interpretations: list[_RawInterpretation]


class _RawSubject(_Raw):
    id: str
    en: str
    sv: str | None = None
    description: str | None = None
    dpv: list[str] = []
    clauses: list[str] = []


class _RawMeasure(_RawSubject):
    rules: list[str] = []


class _RawActivity(_Raw):
    purpose: str
    data_subjects: list[str]
    data_categories: list[str]
    retention: str


class _RawProcessingFile(_Raw):
    data_subjects: list[_RawSubject]
    security_measures: list[_RawMeasure]
    activities: list[_RawActivity]


# ------------------------------------------------------------------------------------------------
# loading


def _one_line(text: str | None) -> str | None:
    return " ".join(text.split()) if text is not None else None


def load_interpretations(
    loader: _Loader,
    rules: Sequence[CitingRule],
    predicates: dict[str, Predicate],
    parameters: Parameters,
) -> tuple[Interpretation, ...]:
    """Load ``interpretations.yaml``; every clause, rule, predicate and parameter it names must exist."""

    name = "interpretations.yaml"
    raw: _RawInterpretationsFile = _validate(_RawInterpretationsFile, loader.docs[name], name)
    loader.unique([i.id for i in raw.interpretations], "interpretation id", name, ("interpretations",))
    rule_ids = [r.id for r in rules]
    parameter_names = list(type(parameters).model_fields)
    out: list[Interpretation] = []
    for i, entry in enumerate(raw.interpretations):
        path: tuple[str | int, ...] = ("interpretations", i)
        if not INTERPRETATION_ID.fullmatch(entry.id):
            raise RuleSchemaError(
                f"expected an interpretation id such as 'A-07', got {entry.id!r}",
                file=name, line=loader.line(name, (*path, "id")),
            )
        loader.check_clauses(entry.clauses, name, (*path, "clauses"))
        for j, rid in enumerate(entry.rules):
            loader.check_term(rid, rule_ids, "a rule id", name, (*path, "rules", j))
        for j, pname in enumerate(entry.predicates):
            loader.check_term(pname, predicates, "a predicate name", name, (*path, "predicates", j))
        for j, pname in enumerate(entry.parameters):
            loader.check_term(pname, parameter_names, "a parameter of policy.yaml", name, (*path, "parameters", j))
        out.append(
            Interpretation(
                id=entry.id, title=entry.title, clauses=tuple(entry.clauses),
                issue=_one_line(entry.issue) or "", interpretation=_one_line(entry.interpretation) or "",
                grounds=_one_line(entry.grounds), rules=tuple(entry.rules), predicates=tuple(entry.predicates),
                parameters=tuple(entry.parameters), note=_one_line(entry.note),
                line=loader.line(name, path),
            )
        )
    known = [entry.id for entry in out]
    cited: list[tuple[str, str, str | None, int | None]] = []
    for r in rules:
        source = getattr(r, "source", None)
        text = " ".join((r.title, r.description, *getattr(r, "ambiguities", ())))
        cited.append((r.id, text, getattr(source, "file", None), getattr(source, "line", None)))
    cited += [(f"predicate {p.name}", f"{p.title} {p.description}", p.source.file, p.source.line)
              for p in predicates.values()]
    for what, text, file, line in cited:
        for mention in MENTION.findall(text):
            if mention not in known:
                raise UnknownTermError(
                    f"expected {what} to cite an entry of the register of interpretations "
                    f"(interpretations.yaml), got {mention!r}" + did_you_mean(mention, known),
                    file=file, line=line,
                )
    return tuple(sorted(out, key=lambda x: x.id))


def load_processing_record(loader: _Loader, vocab: Vocabulary, rules: Sequence[CitingRule]) -> ProcessingRecord:
    """Load ``processing.yaml``: one activity for each purpose, every term checked."""

    name = "processing.yaml"
    raw: _RawProcessingFile = _validate(_RawProcessingFile, loader.docs[name], name)
    loader.unique([s.id for s in raw.data_subjects], "data subject id", name, ("data_subjects",))
    loader.unique([m.id for m in raw.security_measures], "security measure id", name, ("security_measures",))
    loader.unique([a.purpose for a in raw.activities], "purpose", name, ("activities",))
    rule_ids = [r.id for r in rules]
    for kind, terms in (("data_subjects", raw.data_subjects), ("security_measures", raw.security_measures)):
        for i, t in enumerate(terms):
            loader.check_clauses(t.clauses, name, (kind, i, "clauses"))
    for i, m in enumerate(raw.security_measures):
        for j, rid in enumerate(m.rules):
            loader.check_term(rid, rule_ids, "a rule id", name, ("security_measures", i, "rules", j))
    subjects = [s.id for s in raw.data_subjects]
    purposes = vocab.ids("purposes")
    categories = vocab.ids("data_categories")
    for i, a in enumerate(raw.activities):
        path: tuple[str | int, ...] = ("activities", i)
        loader.check_term(a.purpose, purposes, "a purpose", name, (*path, "purpose"))
        for j, s in enumerate(a.data_subjects):
            loader.check_term(s, subjects, "a data subject id listed under 'data_subjects'", name,
                              (*path, "data_subjects", j))
        for j, c in enumerate(a.data_categories):
            loader.check_term(c, categories, "a data category", name, (*path, "data_categories", j))
    missing = [p for p in purposes if p not in {a.purpose for a in raw.activities}]
    if missing:
        raise RuleSchemaError(
            f"expected an activity for every purpose of the vocabulary, got none for {', '.join(missing)}",
            file=name, line=loader.line(name, ("activities",)),
        )
    order = {p: k for k, p in enumerate(purposes)}
    return ProcessingRecord(
        data_subjects=tuple(DataSubject(**s.model_dump()) for s in raw.data_subjects),
        security_measures=tuple(
            SecurityMeasure(**{**m.model_dump(), "en": " ".join(m.en.split())}) for m in raw.security_measures
        ),
        activities=tuple(
            sorted(
                (
                    ProcessingActivity(
                        purpose=a.purpose, data_subjects=tuple(a.data_subjects),
                        data_categories=tuple(a.data_categories), retention=" ".join(a.retention.split()),
                    )
                    for a in raw.activities
                ),
                key=lambda a: order[a.purpose],
            )
        ),
    )
