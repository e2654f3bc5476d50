"""Loading ``rules/requests.yaml``: the data-subject request rules, typed and checked.

A request rule says, for a condition over the normalised facts of :func:`request_schema`, what the
answer to a candidate's request must be or contain. Its ``then`` block is one of two kinds:

* a **request rule** (its condition does not test ``category``) may give the outcome (fixed, or chosen
  by how many items received a disposition), refusal grounds, information, redactions, flags, a fee, a
  format or how long a restriction lasts;
* an **item rule** (its condition tests ``category``) gives each item it applies to a disposition
  (deliver, exclude, erase_now, retain, ...), with a reason, legal grounds and, for kept items, the
  date they are kept until.

Beyond the shape, loading checks that every term resolves (dispositions, reasons, grounds,
information, flags, dates, outcomes, purposes, categories) and that every combination of facts gets an
outcome from some rule: the fact space is finite, so this is checked exhaustively with cubes. Errors
name the file and the line, like the rest of the loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from policykit._ruleset.conditions import All, Condition, Not, Ref, fields_of, parse_condition, render
from policykit._ruleset.conditions import Field as FactField
from policykit._ruleset.cubes import Cube, subtract, to_cubes
from policykit._ruleset.facts import with_words
from policykit._ruleset.loading import (
    Predicate,
    RuleFamily,
    SourceRef,
    Step,
    _Loader,
    _RawPredicate,
    _RawStep,
    _validate,
)
from policykit._ruleset.vocabulary import Vocabulary
from policykit.errors import ConditionError, DuplicateIdError, RuleSchemaError

__all__ = [
    "CANDIDATE_STATES",
    "CHANNELS",
    "OTHER_ITEM",
    "REQUEST_TYPES",
    "RESTRICTION_GROUNDS",
    "WRITTEN_CHANNELS",
    "ByItems",
    "CandidateState",
    "Channel",
    "ItemTerm",
    "RequestEffect",
    "RequestKind",
    "RequestRule",
    "RequestRules",
    "RequestTerm",
    "load_requests",
    "request_schema",
]

RequestKind = Literal[
    "access", "erasure", "restriction", "portability", "portability_direct_transmission", "objection",
    "rectification",
]
Channel = Literal["email", "letter", "portal", "phone", "in_person"]
CandidateState = Literal["active", "evidence_hold", "legal_hold", "anonymised"]
REQUEST_TYPES: tuple[str, ...] = get_args(RequestKind)
CHANNELS: tuple[str, ...] = get_args(Channel)
WRITTEN_CHANNELS = ("email", "letter", "portal")
CANDIDATE_STATES: tuple[str, ...] = get_args(CandidateState)
RESTRICTION_GROUNDS = (
    "accuracy_contested", "unlawful_processing_erasure_opposed", "needed_for_legal_claims",
    "objection_pending_verification",
)
OTHER_ITEM = "other_item"
FILE = "requests.yaml"

_B = (False, True)


def _bool(name: str, label: str, true_text: str, false_text: str, description: str = "") -> FactField:
    return FactField(name, _B, label, true_text, false_text, description)


def request_schema(vocab: Vocabulary) -> dict[str, FactField]:
    """The fields request rules may test, with their domains."""
    fields = [
        FactField("request", REQUEST_TYPES, "the request",
                  description="What the candidate asks for (inputs.md, 'request')."),
        _bool("request.written", "the form of the request",
              "the request was made in writing (e-mail, letter or portal)",
              "the request was made orally (telephone or in person)",
              "channel is email, letter or portal."),
        _bool("request.manifestly_unfounded_or_excessive", "the request's merit",
              "the request is manifestly unfounded or excessive",
              "the request is not manifestly unfounded or excessive"),
        _bool("request.further_copy", "earlier copies",
              "a copy was already delivered", "no copy was delivered before",
              "previous_copy_delivered_on is set."),
        _bool("request.names_data", "the scope of the request",
              "the request names specific data", "the request concerns all data held",
              "data_categories is not empty."),
        _bool("request.previous_recipients", "earlier recipients",
              "the data were disclosed to recipients before", "no earlier recipients are known",
              "previous_recipients is not empty."),
        FactField("candidate.state", CANDIDATE_STATES, "the candidate's state",
                  description="active, evidence_hold (consent ended, kept as evidence), legal_hold "
                  "(a dispute is pending) or anonymised."),
        FactField("category", (*vocab.ids("data_categories"), OTHER_ITEM), "the item's data category",
                  description="One item the request concerns. A rule that tests it is judged per item; "
                  f"items that are not data categories are '{OTHER_ITEM}'."),
        _bool("data.reference_notes_held", "reference notes",
              "reference notes are among the data", "no reference notes are among the data"),
        _bool("data.reference_notes_beyond_statements", "what reference notes hold",
              "the reference notes hold more than statements about the candidate",
              "the reference notes hold only statements about the candidate",
              "reference_notes_contain lists something other than statements_about_candidate."),
        _bool("data.third_party_data", "other people's data",
              "the data hold other people's personal data", "the data hold no one else's personal data",
              "contains_third_party_data."),
        _bool("data.sources_beyond_candidate", "the sources of the data",
              "some data came from someone other than the candidate, or their source is unknown",
              "all data came from the candidate",
              "sources is empty or lists anything other than candidate."),
        FactField("evidence_window", ("open", "passed", "none"), "the evidence window",
                  description="On the day the request was received: open (within {window} of the latest "
                  "application), passed, or none (no application on file)."),
        FactField("restriction.ground", (*RESTRICTION_GROUNDS, "none", "unrecognised"), "the restriction ground",
                  description="The ground of Art. 18(1) the candidate gives; none when none is given."),
        _bool("portability.provided_by_candidate", "who provided the data",
              "the data were provided by the candidate", "the data were not provided by the candidate"),
        _bool("portability.consent_or_contract", "the legal basis",
              "the data are processed on consent or a contract",
              "the data are processed on neither consent nor a contract",
              "legal_basis lists consent or contract; an empty list means the consent given by applying."),
        _bool("portability.automated", "the means of processing",
              "the data are processed by automated means", "the data are not processed by automated means"),
        FactField("transmission", ("not_requested", "permitted", "refused", "not_feasible"),
                  "the direct transmission",
                  description="For portability_direct_transmission: whether the disclosure rules permit "
                  "sending the delivered data to the controller the candidate names, or it is not "
                  "technically feasible."),
        FactField("objection.scope", ("whole", "limited"), "the objection's scope",
                  description="whole when objection_scope is absent or empty."),
        FactField("objection.stops", ("all", "some", "none"), "the purposes objected to that stop",
                  description="How many purposes of a limited objection rest on legitimate interest "
                  "without compelling grounds (whole objections: all)."),
    ]
    return {f.name: f for f in fields}


# ------------------------------------------------------------------------------------------------
# typed rules


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class RequestTerm(_Frozen):
    """A term of the request rules' own vocabulary (a disposition, reason, ground, information...)."""

    id: str
    en: str


class ItemTerm(_Frozen):
    """A name a request may use for held data that is not a data category."""

    id: str
    en: str
    category: str | None = None


class ByItems(_Frozen):
    """An outcome chosen by how many judged items received the ``count`` disposition."""

    count: str
    all: str
    some: str
    none: str
    no_items: str

    def resolve(self, counted: int, judged: int) -> str:
        """The outcome for ``counted`` items with the disposition out of ``judged`` items."""
        if judged == 0:
            return self.no_items
        if counted == judged:
            return self.all
        return self.none if counted == 0 else self.some


class RequestEffect(_Frozen):
    """What a request rule gives when it applies."""

    outcome: str | None = None
    outcome_by_items: ByItems | None = None
    disposition: str | None = None
    reason: str | None = None
    until: str | None = None
    refusal_grounds: tuple[str, ...] = ()
    inform: tuple[str, ...] = ()
    include_information: tuple[str, ...] = ()
    redact: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    fee: Literal["further_copy"] | None = None
    format: str | None = None
    restrict_until: str | None = None

    @property
    def gives_outcome(self) -> bool:
        """Whether the rule decides (or may decide) the outcome."""
        return self.outcome is not None or self.outcome_by_items is not None


class RequestRule(_Frozen):
    """One data-subject request rule: when its condition holds, its effect applies, citing its clauses."""

    id: str
    family: str = "requests"
    step: int
    title: str
    description: str
    clauses: tuple[str, ...]
    when: Condition
    condition: Condition
    then: RequestEffect
    source: SourceRef

    @property
    def item_rule(self) -> bool:
        """Whether the rule is judged per item (its condition tests ``category``)."""
        return "category" in fields_of(self.condition)


class RequestRules(_Frozen, RuleFamily):
    """The request family: its terms, predicates, steps and rules, in decision order."""

    facts: dict[str, FactField]
    dispositions: tuple[RequestTerm, ...]
    item_reasons: tuple[RequestTerm, ...]
    grounds: tuple[RequestTerm, ...]
    information: tuple[RequestTerm, ...]
    redactions: tuple[RequestTerm, ...]
    flags: tuple[RequestTerm, ...]
    until: tuple[RequestTerm, ...]
    items: tuple[ItemTerm, ...]
    compelling_grounds: dict[str, str]
    continue_after_whole_objection: tuple[str, ...]
    responses: dict[str, tuple[str, ...]]
    predicates: dict[str, Predicate]
    steps: tuple[Step, ...]
    rules: tuple[RequestRule, ...]
    #: the clauses a response with this outcome cites for what ``responses`` makes it tell the
    #: candidate (the clause that states the right to complain, say), by outcome
    response_clauses: dict[str, tuple[str, ...]] = {}

    @property
    def response_citations(self) -> tuple[ResponseCitation, ...]:
        """The ``responses`` entries that cite clauses, as the clause-coverage check sees them."""
        return tuple(ResponseCitation(f"responses.{o}", c) for o, c in self.response_clauses.items())

    def rule(self, rule_id: str) -> RequestRule:
        """The rule with this id."""
        found: RequestRule = RuleFamily.rule(self, rule_id)
        return found

    def term(self, kind: str, term_id: str) -> RequestTerm:
        """A term of one of the request vocabularies, e.g. ``term("grounds", "Art. 20(4)")``."""
        terms: tuple[RequestTerm, ...] = getattr(self, kind)
        for t in terms:
            if t.id == term_id:
                return t
        raise KeyError(term_id)

    def item(self, name: str) -> ItemTerm | None:
        """The item term with this name, or ``None``."""
        for t in self.items:
            if t.id == name:
                return t
        return None

    def step_title(self, step: int) -> str:
        """The title of a step."""
        for s in self.steps:
            if s.step == step:
                return s.title
        return str(step)

    def render(self, condition: Condition) -> str:
        """A condition in plain English."""
        return render(condition, self.facts, self.predicate_titles)


# ------------------------------------------------------------------------------------------------
# raw shapes


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _RawTerm(_Raw):
    id: str
    en: str


class _RawItem(_Raw):
    id: str
    en: str
    category: str | None = None


class _RawByItems(_Raw):
    count: str
    all: str
    some: str
    none: str
    no_items: str


class _RawEffect(_Raw):
    outcome: str | _RawByItems | None = None
    disposition: str | None = None
    reason: str | None = None
    until: str | None = None
    refusal_grounds: list[str] = []
    inform: list[str] = []
    include_information: list[str] = []
    redact: list[str] = []
    flags: list[str] = []
    fee: Literal["further_copy"] | None = None
    format: str | None = None
    restrict_until: str | None = None


class _RawRule(_Raw):
    id: str
    step: int
    title: str
    description: str
    clauses: list[str]
    when: Any
    then: _RawEffect


class _RawObjection(_Raw):
    compelling_grounds: dict[str, str]
    continue_after_whole_objection: list[str]


class _RawResponse(_Raw):
    inform: list[str] = []
    clauses: list[str] = []


@dataclass(frozen=True, slots=True)
class ResponseCitation:
    """A ``responses`` entry of ``requests.yaml`` that cites clauses (for the clause-coverage check)."""

    id: str
    clauses: tuple[str, ...]


class _RawRequestsFile(_Raw):
    dispositions: list[_RawTerm]
    item_reasons: list[_RawTerm]
    grounds: list[_RawTerm]
    information: list[_RawTerm]
    redactions: list[_RawTerm]
    flags: list[_RawTerm]
    until: list[_RawTerm]
    items: list[_RawItem] = []
    objection: _RawObjection
    responses: dict[str, _RawResponse] = {}
    predicates: dict[str, _RawPredicate] = {}
    steps: list[_RawStep]
    rules: list[_RawRule]


# ------------------------------------------------------------------------------------------------
# loading

_TERM_KINDS = ("dispositions", "item_reasons", "grounds", "information", "redactions", "flags", "until")


class _RequestLoader:
    def __init__(self, loader: _Loader, vocab: Vocabulary) -> None:
        self.loader = loader
        self.vocab = vocab
        self.doc = loader.docs[FILE]
        self.schema = request_schema(vocab)
        self.terms: dict[str, list[str]] = {}

    def fail(self, msg: str, path: tuple[str | int, ...]) -> None:
        raise RuleSchemaError(msg, file=FILE, line=self.loader.line(FILE, path))

    def term(self, value: str, kind: str, what: str, path: tuple[str | int, ...]) -> None:
        self.loader.check_term(value, self.terms[kind], what, FILE, path)

    def load(self) -> RequestRules:
        raw: _RawRequestsFile = _validate(_RawRequestsFile, self.doc, FILE)
        for kind in _TERM_KINDS:
            terms: list[_RawTerm] = getattr(raw, kind)
            self.loader.unique([t.id for t in terms], f"{kind} id", FILE, (kind,))
            self.terms[kind] = [t.id for t in terms]
        items = self.items(raw)
        compelling, after_whole = self.objection(raw)
        responses = self.responses(raw)
        response_clauses = {}
        for outcome, response in raw.responses.items():
            if response.clauses:
                self.loader.check_clauses(response.clauses, FILE, ("responses", outcome, "clauses"))
                response_clauses[outcome] = tuple(response.clauses)
        predicates, conditions = self.loader.predicates(FILE, raw.predicates, self.schema)
        steps = self.loader.steps(FILE, raw.steps, predicates)
        rules = [self.rule(r, i, steps, conditions) for i, r in enumerate(raw.rules)]
        self.loader.unique([r.id for r in rules], "rule id", FILE, ("rules",))
        rules.sort(key=lambda rule: rule.step)  # stable: file order within a step
        self.check_outcomes(rules)
        return RequestRules(
            facts=self.schema,
            **{kind: tuple(RequestTerm(**t.model_dump()) for t in getattr(raw, kind)) for kind in _TERM_KINDS},
            items=items,
            compelling_grounds=compelling,
            continue_after_whole_objection=after_whole,
            responses=responses,
            response_clauses=response_clauses,
            predicates=predicates,
            steps=tuple(sorted(steps.values(), key=lambda s: s.step)),
            rules=tuple(rules),
        )

    def items(self, raw: _RawRequestsFile) -> tuple[ItemTerm, ...]:
        categories = self.vocab.ids("data_categories")
        self.loader.unique([t.id for t in raw.items], "item name", FILE, ("items",))
        for i, t in enumerate(raw.items):
            if t.id in categories or t.id == OTHER_ITEM:
                raise DuplicateIdError(
                    f"expected an item name apart from the data categories, got {t.id!r}",
                    file=FILE, line=self.loader.line(FILE, ("items", i)),
                )
            if t.category is not None:
                self.loader.check_term(t.category, categories, "a data category", FILE, ("items", i, "category"))
        return tuple(ItemTerm(**t.model_dump()) for t in raw.items)

    def objection(self, raw: _RawRequestsFile) -> tuple[dict[str, str], tuple[str, ...]]:
        purposes = self.vocab.ids("purposes")
        for p in raw.objection.compelling_grounds:
            self.loader.check_term(p, purposes, "a purpose", FILE, ("objection", "compelling_grounds", p))
        for i, p in enumerate(raw.objection.continue_after_whole_objection):
            self.loader.check_term(p, purposes, "a purpose", FILE, ("objection", "continue_after_whole_objection", i))
        return dict(raw.objection.compelling_grounds), tuple(raw.objection.continue_after_whole_objection)

    def responses(self, raw: _RawRequestsFile) -> dict[str, tuple[str, ...]]:
        outcomes = self.vocab.ids("request_outcomes")
        out: dict[str, tuple[str, ...]] = {}
        for outcome, response in raw.responses.items():
            self.loader.check_term(outcome, outcomes, "a request outcome", FILE, ("responses", outcome))
            for j, info in enumerate(response.inform):
                self.term(info, "information", "an information id", ("responses", outcome, "inform", j))
            out[outcome] = tuple(response.inform)
        return out

    def rule(self, r: _RawRule, i: int, steps: Mapping[int, Step], conditions: Mapping[str, Condition]) -> RequestRule:
        path: tuple[str | int, ...] = ("rules", i)
        steps_listed = [str(s) for s in steps]
        self.loader.check_term(str(r.step), steps_listed, "a step listed under 'steps'", FILE, (*path, "step"))
        if not r.clauses:
            self.fail(f"expected rule {r.id!r} to cite at least one clause, got none", (*path, "clauses"))
        self.loader.check_clauses(r.clauses, FILE, (*path, "clauses"))
        when = parse_condition(r.when, self.schema, conditions, file=FILE, line_of=self.doc.line, path=(*path, "when"))
        exemptions = [Not(Ref(u, conditions[u])) for u in steps[r.step].unless]
        condition = All((when, *exemptions)) if exemptions else when
        if not to_cubes(condition, self.schema):
            raise ConditionError(
                f"expected a condition that can hold, but rule {r.id!r} can never apply",
                file=FILE, line=self.loader.line(FILE, (*path, "when")),
            )
        effect = self.effect(r, path, item_rule="category" in fields_of(condition))
        return RequestRule(
            id=r.id, step=r.step, title=r.title, description=r.description.strip(), clauses=tuple(r.clauses),
            when=when, condition=condition, then=effect, source=SourceRef(file=FILE, line=self.loader.line(FILE, path)),
        )

    def effect(self, r: _RawRule, path: tuple[str | int, ...], *, item_rule: bool) -> RequestEffect:
        e = r.then
        at: tuple[str | int, ...] = (*path, "then")
        outcomes = self.vocab.ids("request_outcomes")
        by_items: ByItems | None = None
        outcome: str | None = None
        if isinstance(e.outcome, str):
            self.loader.check_term(e.outcome, outcomes, "a request outcome", FILE, (*at, "outcome"))
            outcome = e.outcome
        elif e.outcome is not None:
            self.term(e.outcome.count, "dispositions", "a disposition", (*at, "outcome", "count"))
            for key in ("all", "some", "none", "no_items"):
                value = getattr(e.outcome, key)
                self.loader.check_term(value, outcomes, "a request outcome", FILE, (*at, "outcome", key))
            by_items = ByItems(**e.outcome.model_dump())
        if item_rule:
            if e.disposition is None:
                self.fail(f"expected a disposition on rule {r.id!r}, which tests 'category' (an item rule)", at)
            misplaced = [k for k in ("outcome", "inform", "include_information", "redact", "flags", "fee",
                                     "format", "restrict_until") if getattr(e, k)]
            if misplaced:
                self.fail(
                    f"expected only disposition, reason, refusal_grounds and until on item rule {r.id!r}, "
                    f"got {', '.join(misplaced)}", at,
                )
        else:
            bad = [k for k in ("disposition", "reason", "until") if getattr(e, k) is not None]
            if bad:
                self.fail(
                    f"expected {', '.join(bad)} only on item rules (rules that test 'category'), "
                    f"but rule {r.id!r} does not test it", at,
                )
        if e.disposition is not None:
            self.term(e.disposition, "dispositions", "a disposition", (*at, "disposition"))
        if e.reason is not None:
            self.term(e.reason, "item_reasons", "an item reason", (*at, "reason"))
        if e.until is not None:
            self.term(e.until, "until", "a date name listed under 'until'", (*at, "until"))
        if e.restrict_until is not None:
            self.term(e.restrict_until, "until", "a date name listed under 'until'", (*at, "restrict_until"))
        for key, kind, what in (
            ("refusal_grounds", "grounds", "a legal ground"),
            ("inform", "information", "an information id"),
            ("include_information", "information", "an information id"),
            ("redact", "redactions", "a redaction id"),
            ("flags", "flags", "a flag"),
        ):
            for j, value in enumerate(getattr(e, key)):
                self.term(value, kind, what, (*at, key, j))
        return RequestEffect(
            outcome=outcome, outcome_by_items=by_items, disposition=e.disposition, reason=e.reason,
            until=e.until, refusal_grounds=tuple(e.refusal_grounds), inform=tuple(e.inform),
            include_information=tuple(e.include_information), redact=tuple(e.redact), flags=tuple(e.flags),
            fee=e.fee, format=e.format, restrict_until=e.restrict_until,
        )

    def check_outcomes(self, rules: list[RequestRule]) -> None:
        """Every combination of facts must get an outcome from some request rule."""
        space = {k: v for k, v in self.schema.items() if k != "category"}
        rest: list[Cube] = [{}]
        for rule in rules:
            if rule.item_rule or not rule.then.gives_outcome:
                continue
            for cube in to_cubes(rule.condition, space):
                rest = [piece for part in rest for piece in subtract(part, cube, space)]
            if not rest:
                return
        example = rest[0]
        where = " and ".join(
            f"{name} is {' or '.join(sorted(map(str, values)))}" for name, values in sorted(example.items())
        ) or "always"
        raise ConditionError(
            f"expected every request to get an outcome, but no rule gives one when {where}",
            file=FILE, line=self.loader.line(FILE, ("rules",)),
        )


def load_requests(loader: _Loader, vocab: Vocabulary, *, words: Mapping[str, str]) -> RequestRules:
    """Load and check ``requests.yaml`` with the rule loader's helpers; ``words`` are the policy's own
    words that the fact schema's texts name (``{window}``: the evidence window's length)."""
    rules = _RequestLoader(loader, vocab).load()
    return rules.model_copy(update={"facts": with_words(rules.facts, words)})

