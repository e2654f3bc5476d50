"""Loading the policy's rule files into one typed, frozen, cross-checked rule set.

``load_rules(directory)`` reads every file of a rules directory, validates its shape (pydantic),
resolves every term against the vocabulary and every clause id against the clause register, parses
every condition, and checks that each clause is either enforced by a rule or documented with a
reason. Any problem raises a :class:`~policykit.errors.DefinitionError` naming the file, the line and,
for an unknown term, the nearest valid one. Nothing is evaluated from an unchecked rule.

The typed :class:`RuleSet` is what every reader consumes: the engine adapter, the reference
evaluator, the documentation generator and the analysis tools. No reader parses YAML itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from policykit._dates import check_zone
from policykit._input import fields_at
from policykit._ruleset.conditions import (
    All,
    Condition,
    Not,
    Ref,
    fields_of,
    parse_condition,
)
from policykit._ruleset.conditions import Field as FactField
from policykit._ruleset.cubes import to_cubes
from policykit._ruleset.facts import OPTIONAL_FACT_PARAMETERS, OPTIONAL_FACTS, disclosure_schema
from policykit._ruleset.overlay import resolve_rules, source_directory
from policykit._ruleset.reading import RULE_FILES, LocatedYaml, bundled_rules_dir
from policykit._ruleset.vocabulary import (
    Country,
    DataCategoryTerm,
    LegalBasisTerm,
    OperationTerm,
    OutOfPolicyPurposeTerm,
    PurposeTerm,
    RecipientKindTerm,
    Term,
    Vocabulary,
)
from policykit.errors import (
    ClauseCoverageError,
    ConditionError,
    DuplicateIdError,
    InvalidDateError,
    RuleSchemaError,
    UnknownClauseError,
    UnknownTermError,
    did_you_mean,
)

__all__ = [
    "Clause",
    "ClauseSection",
    "Controller",
    "DisclosureRules",
    "Parameters",
    "PolicyMeta",
    "Predicate",
    "Rule",
    "SourceRef",
    "Step",
]



RetentionAnchor = Literal["latest_application", "latest_application_or_process_closed"]


class _CitesClauses(Protocol):
    """A rule of any family, as the clause-coverage check sees it."""

    @property
    def id(self) -> str: ...

    @property
    def clauses(self) -> tuple[str, ...]: ...


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# a calendar date written as an ISO string ("2026-07-01"), in a model that is otherwise strict
_IsoDay = Annotated[dt.date, Field(strict=False)]


# ------------------------------------------------------------------------------------------------
# typed rule set


class SourceRef(_Frozen):
    """Where something was defined: file name (relative to the rules directory) and line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class Controller(_Frozen):
    """The controller named by the policy, with the clauses that name it; ``short_name`` is how
    explanations and letters call it."""

    name: str
    short_name: str
    organisation_number: str
    address: str
    telephone: str
    email: str
    clauses: tuple[str, ...] = ()


class Authority(_Frozen):
    """The supervisory authority candidates may complain to (GDPR Art. 77)."""

    name: str
    url: str


class PolicyMeta(_Frozen):
    """What policy the rules encode, and which version."""

    name: str
    title: str
    version: str
    language: str
    source_text: str | None = None
    #: the first day (in the policy's time zone) on which this version answers (see PolicyHistory)
    effective_from: dt.date | None = None
    clauses: tuple[str, ...] = ()
    controller: Controller
    supervisory_authority: Authority


# the roles in which policykit's own sentences cite clauses (``citations`` in policy.yaml)
CITATION_ROLES = (
    "default_deny", "never_sold", "consent_by_applying", "fresh_consent", "storage_in_eea", "storage", "sources",
    "controller", "written_objection", "evidence_window", "evidence_then_anonymise", "anonymisation",
    "anonymisation_report", "special_category_retention", "relevance_review", "aggregates", "referee_context",
    "matrix_example_purpose",
)


class Citations(_Frozen):
    """The clause (and interpretation) ids that policykit's own sentences cite, by role."""

    ids: dict[str, tuple[str, ...]]

    def __call__(self, role: str) -> str:
        """The ids cited in ``role``, comma-separated, as a sentence writes them."""
        return ", ".join(self.ids[role])

    def of(self, role: str) -> tuple[str, ...]:
        """The ids cited in ``role``."""
        return self.ids[role]


class Right(_Frozen):
    """A right of the candidate, as the access export states it."""

    right: str
    gdpr: str
    clauses: tuple[str, ...]
    en: str


class RetentionCriterion(_Frozen):
    """How long data are kept, or the criterion for it, as the access export states it."""

    clauses: tuple[str, ...]
    en: str


class Parameters(_Frozen):
    """Numbers and settings the rules depend on.

    ``retention_anchor`` is where the evidence window starts: ``latest_application`` (the policy's
    text) or ``latest_application_or_process_closed`` (the later of the latest application and the
    process-closed date, interpretation A-04). ``review_interval_months`` is how long after the
    latest activity an active candidate's relevance is reviewed (A-33).
    ``request_deadline_months`` and ``request_extended_deadline_months`` are the time limits for
    answering a data-subject request (GDPR Art. 12(3)).
    """

    aggregate_min_cell: int = Field(ge=5)
    timezone: str
    retention_anchor: RetentionAnchor = "latest_application"
    review_interval_months: int = Field(default=24, ge=1, le=120)
    access_further_copy_fee: int = Field(default=0, ge=0)
    request_deadline_months: int = Field(ge=1, le=12)
    request_extended_deadline_months: int = Field(ge=1, le=12)
    #: transitional rule: consent that ended before this date keeps the evidence window anchored on
    #: the latest application, whatever ``retention_anchor`` says (records of an earlier version)
    evidence_anchor_before: dt.date | None = None
    #: transitional rule: the review period is counted from this date at the earliest
    review_period_from: dt.date | None = None
    #: consent lapses the day after the review period of an active candidate ends (``review_on``,
    #: inclusive) unless the candidate confirmed their interest within it (``interest_confirmed_on``),
    #: and confirmations restart the period; off, confirmations are accepted and ignored
    consent_lapses_after_review: bool = False
    #: recorded items (``video_interviews``) dated before this day are an input error
    recordings_from: dt.date | None = None
    #: how long after the start of a placed position its follow-up period lasts (the optional
    #: disclosure fact ``candidate.placement_follow_up_open`` needs it)
    placement_follow_up_months: int | None = Field(default=None, ge=1, le=120)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            return check_zone(value)
        except InvalidDateError as exc:
            raise ValueError(exc.message.removeprefix("timezone: ")) from None


class ClauseSection(_Frozen):
    """A heading of the policy and its clause-id prefix."""

    code: str
    sv: str
    en: str


class Clause(_Frozen):
    """One clause of the policy: its Swedish original, English translation and how it is enforced."""

    id: str
    section: str
    sv: str
    en: str
    sv_legal_basis: str | None = None
    en_legal_basis: str | None = None
    enforcement: Literal["rules", "vocabulary", "documented"]
    reason: str | None = None


class Predicate(_Frozen):
    """A named condition that rules reuse (``is: name``)."""

    name: str
    title: str
    description: str
    clauses: tuple[str, ...]
    condition: Condition
    source: SourceRef


class Step(_Frozen):
    """A step of a decision procedure; ``unless`` names predicates that exempt a request from it."""

    step: int
    title: str
    unless: tuple[str, ...] = ()


class Rule(_Frozen):
    """One rule: when its condition holds it permits or forbids, citing its clauses."""

    id: str
    family: str
    step: int
    rank: int
    effect: Literal["permit", "forbid"]
    reason: str | None
    title: str
    description: str
    clauses: tuple[str, ...]
    obligations: tuple[str, ...]
    when: Condition
    condition: Condition
    source: SourceRef

    @property
    def category_scoped(self) -> bool:
        """Whether the rule is judged per data category (its condition tests ``category``)."""
        return "category" in fields_of(self.condition)


class RuleFamily:
    """What every family of rules offers its readers: a rule by id, and its predicates' titles."""

    rules: tuple[Any, ...]
    predicates: dict[str, Predicate]

    def rule(self, rule_id: str) -> Any:
        """The rule with this id."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def predicate_titles(self) -> dict[str, str]:
        """Predicate name → title, for rendering conditions."""
        return {name: p.title for name, p in self.predicates.items()}


class DisclosureRules(_Frozen, RuleFamily):
    """The disclosure family: predicates, steps and rules, in decision order."""

    facts: dict[str, FactField]
    predicates: dict[str, Predicate]
    steps: tuple[Step, ...]
    rules: tuple[Rule, ...]

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id."""
        found: Rule = RuleFamily.rule(self, rule_id)
        return found


# ------------------------------------------------------------------------------------------------
# raw shapes of the files


class _RawController(_Raw):
    name: str
    short_name: str
    organisation_number: str
    address: str
    telephone: str
    email: str
    clauses: list[str] = []


class _RawAuthority(_Raw):
    name: str
    url: str


class _RawMeta(_Raw):
    name: str
    title: str
    version: str
    language: str
    source_text: str | None = None
    effective_from: _IsoDay | None = None
    clauses: list[str] = []
    controller: _RawController
    supervisory_authority: _RawAuthority


class _RawParameters(_Raw):
    aggregate_min_cell: int
    timezone: str
    retention_anchor: str = "latest_application"
    review_interval_months: int = 24
    access_further_copy_fee: int = 0
    request_deadline_months: int
    request_extended_deadline_months: int
    evidence_anchor_before: _IsoDay | None = None
    review_period_from: _IsoDay | None = None
    consent_lapses_after_review: bool = False
    recordings_from: _IsoDay | None = None
    placement_follow_up_months: int | None = None


class _RawRight(_Raw):
    right: str
    gdpr: str
    clauses: list[str]
    en: str


class _RawCriterion(_Raw):
    clauses: list[str]
    en: str


class _RawPolicyFile(_Raw):
    policy: _RawMeta
    parameters: _RawParameters
    citations: dict[str, list[str]]
    rights: list[_RawRight]
    retention_criteria: list[_RawCriterion]


class _RawTerm(_Raw):
    id: str
    en: str
    sv: str | None = None
    description: str | None = None
    dpv: list[str] = []
    clause: str | None = None
    clauses: list[str] = []


class _RawCategory(_RawTerm):
    identifiability: str
    art9: str
    art10: str
    portability: str
    identifying: bool
    free_text: bool
    evidence: bool
    contains_third_party_data: bool = False
    typical_source: list[str] = []


class _RawLegalBasis(_RawTerm):
    gdpr: str
    rights: list[str]


class _RawPurpose(_RawTerm):
    stated_legal_bases: list[str]
    recommended_legal_bases: list[str] = []
    review_note: str | None = None
    recruitment_or_sales: bool


class _RawOutOfPolicyPurpose(_RawTerm):
    sale: bool = False


class _RawVocabularyFile(_Raw):
    operations: list[_RawTerm]
    data_categories: list[_RawCategory]
    legal_bases: list[_RawLegalBasis]
    purposes: list[_RawPurpose]
    out_of_policy_purposes: list[_RawOutOfPolicyPurpose]
    recipient_kinds: list[_RawTerm]
    reason_codes: list[_RawTerm]
    obligations: list[_RawTerm]
    referee_identification_context: list[str]
    retention_modes: list[_RawTerm]
    request_outcomes: list[_RawTerm]


class _RawCountriesFile(_Raw):
    eu: list[str]
    efta_eea: list[str]
    eu_outermost_regions: list[str]
    aliases: dict[str, str]
    all: dict[str, str]


class _RawSection(_Raw):
    code: str
    sv: str
    en: str


class _RawClause(_Raw):
    id: str
    section: str
    sv: str
    en: str
    sv_legal_basis: str | None = None
    en_legal_basis: str | None = None
    enforcement: Literal["rules", "vocabulary", "documented"]
    reason: str | None = None


class _RawClausesFile(_Raw):
    sections: list[_RawSection]
    clauses: list[_RawClause]


class _RawPredicate(_Raw):
    title: str
    description: str
    clauses: list[str] = []
    when: Any


class _RawStep(_Raw):
    step: int
    title: str
    unless: list[str] = []


class _RawRule(_Raw):
    id: str
    step: int
    rank: int = 0
    effect: Literal["permit", "forbid"]
    reason: str | None = None
    title: str
    description: str
    clauses: list[str]
    when: Any
    obligations: list[str] = []


class _RawDisclosureFile(_Raw):
    facts: list[str] = []
    predicates: dict[str, _RawPredicate] = {}
    steps: list[_RawStep]
    rules: list[_RawRule]


# ------------------------------------------------------------------------------------------------
# loading


def _pydantic_message(err: Any) -> str:
    """A pydantic error message as the middle of an "expected …, got …" sentence."""
    msg = str(err["msg"]).removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    return msg if " got " in msg else f"{msg}, got {err.get('input')!r}"


def _validate(model: type[BaseModel], doc: LocatedYaml, name: str) -> Any:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "missing":
            msg = f"expected field {where!r}, found none"
        elif err["type"] == "extra_forbidden":
            allowed = fields_at(model, loc[:-1])
            msg = f"unexpected field {where!r}" + did_you_mean(str(loc[-1]), allowed)
        else:
            msg = f"at {where!r}: {_pydantic_message(err)}"
        raise RuleSchemaError(msg, file=name, line=doc.line(loc)) from None


class _Loader:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # the documents with any overlay applied (policykit._ruleset.overlay): from here on, a plain directory
        self.resolved = resolve_rules(directory, RULE_FILES, bundled_rules_dir)
        self.docs: dict[str, LocatedYaml] = self.resolved.docs
        for name, doc in self.docs.items():
            doc.file = Path(name)
        self.fingerprint = self.resolved.fingerprint
        self.clause_ids: set[str] = set()

    # helpers ------------------------------------------------------------------------------
    def line(self, name: str, path: tuple[str | int, ...]) -> int | None:
        return self.docs[name].line(path)

    def check_clauses(self, ids: Iterable[str | None], name: str, path: tuple[str | int, ...]) -> None:
        for i, cid in enumerate(ids):
            if cid is not None and cid not in self.clause_ids:
                raise UnknownClauseError(
                    f"expected a clause id of the clause register, got {cid!r}"
                    + did_you_mean(cid, self.clause_ids),
                    file=name,
                    line=self.line(name, (*path, i)),
                )

    def check_term(self, value: str, choices: Iterable[str], what: str, name: str, path: tuple[str | int, ...]) -> None:
        choices = list(choices)
        if value not in choices:
            raise UnknownTermError(
                f"expected {what}, got {value!r}" + did_you_mean(value, choices),
                file=name,
                line=self.line(name, path),
            )

    def unique(self, ids: list[str], what: str, name: str, path: tuple[str | int, ...]) -> None:
        seen: dict[str, int] = {}
        for i, value in enumerate(ids):
            if value in seen:
                raise DuplicateIdError(
                    f"expected each {what} once, got {value!r} again "
                    f"(first at line {self.line(name, (*path, seen[value]))})",
                    file=name,
                    line=self.line(name, (*path, i)),
                )
            seen[value] = i

    # files --------------------------------------------------------------------------------
    def clauses(self) -> tuple[tuple[ClauseSection, ...], tuple[Clause, ...]]:
        name = "clauses.yaml"
        raw: _RawClausesFile = _validate(_RawClausesFile, self.docs[name], name)
        self.unique([c.id for c in raw.clauses], "clause id", name, ("clauses",))
        self.unique([s.code for s in raw.sections], "section code", name, ("sections",))
        codes = [s.code for s in raw.sections]
        for i, c in enumerate(raw.clauses):
            self.check_term(c.section, codes, "a section code", name, ("clauses", i, "section"))
            if c.enforcement == "documented" and not (c.reason or "").strip():
                raise RuleSchemaError(
                    f"expected a reason for documented-only clause {c.id!r}, found none",
                    file=name,
                    line=self.line(name, ("clauses", i)),
                )
        self.clause_ids = {c.id for c in raw.clauses}
        sections = tuple(ClauseSection(**s.model_dump()) for s in raw.sections)
        return sections, tuple(Clause(**c.model_dump()) for c in raw.clauses)

    def vocabulary(self) -> Vocabulary:
        name = "vocabulary.yaml"
        raw: _RawVocabularyFile = _validate(_RawVocabularyFile, self.docs[name], name)
        kinds = (
            "operations", "data_categories", "legal_bases", "purposes", "out_of_policy_purposes",
            "recipient_kinds", "reason_codes", "obligations", "retention_modes", "request_outcomes",
        )
        for kind in kinds:
            terms = getattr(raw, kind)
            self.unique([t.id for t in terms], f"{kind} id", name, (kind,))
            for i, t in enumerate(terms):
                self.check_clauses([t.clause], name, (kind, i, "clause"))
                self.check_clauses(t.clauses, name, (kind, i, "clauses"))
        purposes = {t.id for t in raw.purposes}
        for i, t in enumerate(raw.out_of_policy_purposes):
            if t.id in purposes:
                raise DuplicateIdError(
                    f"expected out-of-policy purposes apart from the policy's purposes, got {t.id!r} in both",
                    file=name, line=self.line(name, ("out_of_policy_purposes", i)),
                )
        bases = [b.id for b in raw.legal_bases]
        for i, p in enumerate(raw.purposes):
            for j, b in enumerate(p.stated_legal_bases):
                self.check_term(b, bases, "a legal basis", name, ("purposes", i, "stated_legal_bases", j))
            for j, b in enumerate(p.recommended_legal_bases):
                self.check_term(b, bases, "a legal basis", name, ("purposes", i, "recommended_legal_bases", j))
        countries = self._countries()
        cname = "countries.yaml"
        craw: _RawCountriesFile = _validate(_RawCountriesFile, self.docs[cname], cname)
        try:
            return Vocabulary(
                operations=tuple(OperationTerm(**t.model_dump()) for t in raw.operations),
                data_categories=tuple(DataCategoryTerm(**t.model_dump()) for t in raw.data_categories),
                legal_bases=tuple(LegalBasisTerm(**t.model_dump()) for t in raw.legal_bases),
                purposes=tuple(PurposeTerm(**t.model_dump()) for t in raw.purposes),
                out_of_policy_purposes=tuple(
                    OutOfPolicyPurposeTerm(**t.model_dump()) for t in raw.out_of_policy_purposes
                ),
                recipient_kinds=tuple(RecipientKindTerm(**t.model_dump()) for t in raw.recipient_kinds),
                reason_codes=tuple(Term(**t.model_dump()) for t in raw.reason_codes),
                obligations=tuple(Term(**t.model_dump()) for t in raw.obligations),
                referee_identification_context=tuple(raw.referee_identification_context),
                retention_modes=tuple(Term(**t.model_dump()) for t in raw.retention_modes),
                request_outcomes=tuple(Term(**t.model_dump()) for t in raw.request_outcomes),
                countries=countries,
                country_aliases=dict(craw.aliases),
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(err["loc"])
            # loc is (kind, index, field) on the typed model; the raw file has the same shape
            raise RuleSchemaError(
                f"at {'.'.join(map(str, loc))!r}: {_pydantic_message(err)}",
                file=name,
                line=self.line(name, loc),
            ) from None

    def _countries(self) -> tuple[Country, ...]:
        name = "countries.yaml"
        raw: _RawCountriesFile = _validate(_RawCountriesFile, self.docs[name], name)
        eea = set(raw.eu) | set(raw.efta_eea) | set(raw.eu_outermost_regions)
        for key in ("eu", "efta_eea", "eu_outermost_regions"):
            for i, code in enumerate(getattr(raw, key)):
                self.check_term(code, raw.all, "an ISO 3166-1 alpha-2 code listed under 'all'", name, (key, i))
        for alias, code in raw.aliases.items():
            self.check_term(code, raw.all, "an ISO 3166-1 alpha-2 code listed under 'all'", name, ("aliases", alias))
        return tuple(Country(code=c, name=n, in_eea=c in eea) for c, n in raw.all.items())

    def meta(self) -> tuple[PolicyMeta, Parameters]:
        name = "policy.yaml"
        raw: _RawPolicyFile = _validate(_RawPolicyFile, self.docs[name], name)
        self.check_clauses(raw.policy.clauses, name, ("policy", "clauses"))
        self.check_clauses(raw.policy.controller.clauses, name, ("policy", "controller", "clauses"))
        try:
            params = Parameters(**raw.parameters.model_dump())
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0])
            raise RuleSchemaError(
                f"at 'parameters.{field}': {_pydantic_message(err)}"
                + did_you_mean(str(err.get("input")), PARAMETER_CHOICES.get(field, ())),
                file=name,
                line=self.line(name, ("parameters", field)),
            ) from None
        text_dir = source_directory(self.docs[name], ("policy", "source_text"), self.directory)
        if raw.policy.source_text is not None and not (text_dir / raw.policy.source_text).is_file():
            raise RuleSchemaError(
                f"expected the policy's original text at {raw.policy.source_text!r}, found no such file",
                file=name,
                line=self.line(name, ("policy", "source_text")),
            )
        return PolicyMeta(**raw.policy.model_dump()), params

    def information(
        self, interpretation_ids: Iterable[str]
    ) -> tuple[Citations, tuple[Right, ...], tuple[RetentionCriterion, ...]]:
        """``citations``, ``rights`` and ``retention_criteria`` of policy.yaml; a citation may name a
        clause or an entry of the register of interpretations."""
        name = "policy.yaml"
        raw: _RawPolicyFile = _validate(_RawPolicyFile, self.docs[name], name)
        known = set(interpretation_ids)
        for role in CITATION_ROLES:
            if role not in raw.citations:
                raise RuleSchemaError(
                    f"expected a citation for {role!r} under 'citations', found none",
                    file=name, line=self.line(name, ("citations",)),
                )
        for role, ids in raw.citations.items():
            self.check_term(role, CITATION_ROLES, "citation role", name, ("citations", role))
            for j, cid in enumerate(ids):
                if cid not in known and cid not in self.clause_ids:
                    raise UnknownClauseError(
                        f"expected a clause id of the clause register or an interpretation id, got {cid!r}"
                        + did_you_mean(cid, [*self.clause_ids, *known]),
                        file=name, line=self.line(name, ("citations", role, j)),
                    )
        for i, right in enumerate(raw.rights):
            self.check_clauses(right.clauses, name, ("rights", i, "clauses"))
        for i, criterion in enumerate(raw.retention_criteria):
            self.check_clauses(criterion.clauses, name, ("retention_criteria", i, "clauses"))
        citations = Citations(ids={role: tuple(ids) for role, ids in raw.citations.items()})
        rights = tuple(Right(**r.model_dump()) for r in raw.rights)
        criteria = tuple(RetentionCriterion(**c.model_dump()) for c in raw.retention_criteria)
        return citations, rights, criteria

    def predicates(
        self, name: str, raw: Mapping[str, _RawPredicate], schema: Mapping[str, FactField]
    ) -> tuple[dict[str, Predicate], dict[str, Condition]]:
        """Parse a file's named predicates (each may use the ones before it), checking their clauses."""
        doc = self.docs[name]
        predicates: dict[str, Predicate] = {}
        conditions: dict[str, Condition] = {}
        for pname, p in raw.items():
            path: tuple[str | int, ...] = ("predicates", pname)
            if pname in schema:
                raise DuplicateIdError(
                    f"expected a predicate name apart from the fact fields, got {pname!r}",
                    file=name, line=self.line(name, path),
                )
            self.check_clauses(p.clauses, name, (*path, "clauses"))
            cond = parse_condition(p.when, schema, conditions, file=name, line_of=doc.line, path=(*path, "when"))
            conditions[pname] = cond
            predicates[pname] = Predicate(
                name=pname, title=p.title, description=p.description.strip(), clauses=tuple(p.clauses),
                condition=cond, source=SourceRef(file=name, line=self.line(name, path)),
            )
        return predicates, conditions

    def steps(self, name: str, raw: list[_RawStep], predicates: Mapping[str, Predicate]) -> dict[int, Step]:
        """A file's steps, each step number once, their exemptions naming predicates."""
        self.unique([str(s.step) for s in raw], "step number", name, ("steps",))
        steps: dict[int, Step] = {}
        for i, s in enumerate(raw):
            for j, u in enumerate(s.unless):
                self.check_term(u, predicates, "a predicate name", name, ("steps", i, "unless", j))
            steps[s.step] = Step(step=s.step, title=s.title, unless=tuple(s.unless))
        return steps

    def disclosure(self, vocab: Vocabulary, params: Parameters) -> DisclosureRules:
        name = "disclosure.yaml"
        doc = self.docs[name]
        raw: _RawDisclosureFile = _validate(_RawDisclosureFile, doc, name)
        for i, fact in enumerate(raw.facts):
            self.check_term(fact, OPTIONAL_FACTS, "an optional fact", name, ("facts", i))
            needed = OPTIONAL_FACT_PARAMETERS.get(fact)
            if needed is not None and getattr(params, needed) is None:
                raise RuleSchemaError(
                    f"expected parameters.{needed} in policy.yaml for the optional fact {fact!r}, found none",
                    file=name, line=self.line(name, ("facts", i)),
                )
        schema = disclosure_schema(vocab, raw.facts)
        predicates, conditions = self.predicates(name, raw.predicates, schema)
        steps = self.steps(name, raw.steps, predicates)
        self.unique([r.id for r in raw.rules], "rule id", name, ("rules",))
        reasons = vocab.ids("reason_codes")
        obligations = vocab.ids("obligations")
        rules: list[Rule] = []
        for i, r in enumerate(raw.rules):
            path = ("rules", i)
            self.check_term(str(r.step), [str(s) for s in steps], "a step listed under 'steps'", name, (*path, "step"))
            if r.effect == "forbid":
                if r.reason is None:
                    raise RuleSchemaError(
                        f"expected a reason code for forbid rule {r.id!r}, found none",
                        file=name, line=self.line(name, path),
                    )
                self.check_term(r.reason, reasons, "a reason code", name, (*path, "reason"))
                if r.obligations:
                    raise RuleSchemaError(
                        f"expected no obligations on forbid rule {r.id!r} (obligations attach to an allow)",
                        file=name, line=self.line(name, (*path, "obligations")),
                    )
            elif r.reason is not None:
                raise RuleSchemaError(
                    f"expected no reason on permit rule {r.id!r}, got {r.reason!r}",
                    file=name, line=self.line(name, (*path, "reason")),
                )
            for j, o in enumerate(r.obligations):
                self.check_term(o, obligations, "an obligation id", name, (*path, "obligations", j))
            if not r.clauses:
                raise RuleSchemaError(
                    f"expected rule {r.id!r} to cite at least one clause, got none",
                    file=name, line=self.line(name, (*path, "clauses")),
                )
            self.check_clauses(r.clauses, name, (*path, "clauses"))
            when = parse_condition(r.when, schema, conditions, file=name, line_of=doc.line, path=(*path, "when"))
            exemptions = [Not(Ref(u, conditions[u])) for u in steps[r.step].unless]
            condition = All((when, *exemptions)) if exemptions else when
            if not to_cubes(condition, schema):
                raise ConditionError(
                    f"expected a condition that can hold, but rule {r.id!r} can never apply",
                    file=name, line=self.line(name, (*path, "when")),
                )
            rules.append(
                Rule(
                    id=r.id, family="disclosure", step=r.step, rank=r.rank, effect=r.effect,
                    reason=r.reason, title=r.title, description=r.description.strip(),
                    clauses=tuple(r.clauses), obligations=tuple(r.obligations), when=when,
                    condition=condition, source=SourceRef(file=name, line=self.line(name, path)),
                )
            )
        rules.sort(key=lambda rule: (rule.step, rule.rank, rule.id))
        return DisclosureRules(
            facts=schema,
            predicates=predicates,
            steps=tuple(sorted(steps.values(), key=lambda s: s.step)),
            rules=tuple(rules),
        )

    def coverage(
        self, clauses: tuple[Clause, ...], vocab: Vocabulary, rules: Iterable[_CitesClauses],
        predicates: Iterable[Predicate],
    ) -> None:
        by_rules: dict[str, list[str]] = {}
        for r in rules:
            for c in r.clauses:
                by_rules.setdefault(c, []).append(r.id)
        for p in predicates:
            for c in p.clauses:
                by_rules.setdefault(c, []).append(f"predicate {p.name}")
        by_vocab: set[str] = set()
        for kind in ("operations", "data_categories", "purposes", "recipient_kinds", "legal_bases"):
            for t in getattr(vocab, kind):
                by_vocab.update(x for x in (t.clause, *t.clauses) if x)
        name = "clauses.yaml"
        for i, clause in enumerate(clauses):
            where = self.line(name, ("clauses", i, "enforcement"))
            if clause.enforcement == "rules" and clause.id not in by_rules:
                raise ClauseCoverageError(
                    f"clause {clause.id} is marked 'enforcement: rules' but no rule cites it; cite it from a "
                    "rule, or mark it 'documented' with a reason",
                    file=name, line=where,
                )
            if clause.enforcement == "vocabulary" and clause.id not in by_vocab:
                raise ClauseCoverageError(
                    f"clause {clause.id} is marked 'enforcement: vocabulary' but no vocabulary term cites it",
                    file=name, line=where,
                )
            if clause.enforcement == "documented" and clause.id in by_rules:
                raise ClauseCoverageError(
                    f"clause {clause.id} is marked 'documented' (not enforced) but cited by "
                    f"{', '.join(sorted(by_rules[clause.id]))}; mark it 'enforcement: rules'",
                    file=name, line=where,
                )


PARAMETER_CHOICES: dict[str, tuple[str, ...]] = {
    "retention_anchor": ("latest_application", "latest_application_or_process_closed"),
}
