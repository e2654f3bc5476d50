"""Disclosure questions and their answers: ``DisclosureRequest`` in, ``Decision`` out.

A request is first checked for shape (pydantic), then against the vocabulary of the policy that
answers it, then reduced to the normalised facts of ``_ruleset.facts.disclosure_schema``. Only the facts
reach the engine; only the facts key the memo.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    model_validator,
)

from policykit._dates import ISO_DAY, add_months_sv, is_timestamp, local_date
from policykit._engine.snapshot import snapshot
from policykit._input import InputModel, parse_input
from policykit._ruleset.facts import UNLISTED_PURPOSE
from policykit._ruleset.vocabulary import ascii_code
from policykit._serial import JsonSpec, to_data
from policykit.errors import (
    InvalidDateError,
    RequestValidationError,
    UnknownRequestTermError,
    did_you_mean,
    short_repr,
)

if TYPE_CHECKING:
    from policykit._engine.context import AnswerContext
    from policykit._ruleset.loading import Rule
    from policykit._ruleset.ruleset import RuleSet

__all__ = [
    "PARSE_EXPECTED",
    "PARSE_WHAT",
    "CandidateStatus",
    "Decision",
    "DisclosureRequest",
    "Normaliser",
    "Outcome",
    "Recipient",
    "is_validated",
    "parse_date",
]


def parse_date(value: Any) -> Any:
    """Accept a ``date`` or an ISO ``YYYY-MM-DD`` string; refuse datetimes, numbers and other forms."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"expected a calendar date, got the timestamp {value.isoformat()}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            # YYYY-MM-DD in ASCII digits only: not an ISO week date (2024-W01-1) or other ISO forms
            return dt.date.fromisoformat(value) if ISO_DAY.fullmatch(value) else _bad_date(value)
        except ValueError:
            _bad_date(value)
    raise ValueError(f"expected a date as YYYY-MM-DD, got {short_repr(value)}")


def _bad_date(value: str) -> Any:
    raise ValueError(f"expected a real calendar date as YYYY-MM-DD, got {short_repr(value)}")


IsoDate = Annotated[dt.date, BeforeValidator(parse_date)]


def parse_as_of(value: Any, info: ValidationInfo) -> Any:
    """The date of a question: a ``date``, an ISO ``YYYY-MM-DD`` string, or an ISO 8601 timestamp with a
    zone, which becomes its calendar date in the policy's time zone (``2026-06-30T22:05:00Z`` is
    2026-07-01 in Stockholm). The zone comes with the validation (``DisclosureRequest.parse(...,
    timezone=...)``; the policy passes its ``parameters.timezone``); without one only a date is accepted."""
    if is_timestamp(value):
        zone = (info.context or {}).get("timezone")
        if zone is None:
            raise ValueError("expected a calendar date as YYYY-MM-DD (a timestamp needs the policy's time zone: "
                             "ask the policy with the question as a mapping)")
        try:
            return local_date(value, zone, field="as_of")
        except InvalidDateError as exc:
            raise ValueError(exc.message.removeprefix("as_of: ").split(", got ")[0]) from None
    return parse_date(value)


AsOf = Annotated[dt.date, BeforeValidator(parse_as_of)]


class Recipient(InputModel):
    """Who would receive the data (inputs.md, ``recipient.*``)."""

    kind: str
    country: str
    active_assignment: StrictBool = False
    confidentiality_undertaking: StrictBool = False
    data_agreement_signed: StrictBool = False
    relevant_to_candidate_competence: StrictBool = False
    receives_copy: StrictBool | None = None
    specific_process_requirement: StrictBool = False
    legitimate_need_kul: StrictBool = False
    legal_obligation: StrictBool = False
    legal_obligation_jurisdiction: str | None = None
    role: Literal["controller", "processor", "sub_processor"] | None = None
    gdpr_transfer_mechanism: Literal["adequacy_decision", "scc", "bcr"] | None = None
    subprocessors_in_eea: StrictBool = True
    #: a version's optional facts (rule files, ``facts:``); accepted whatever the version
    dpf_certified: StrictBool = False
    approved_by_candidate: StrictBool = False


class CandidateStatus(InputModel):
    """The candidate's consent and objection status (inputs.md, ``candidate.*``)."""

    consent_status: Literal["given", "withdrawn"] = "given"
    consent_withdrawn_on: IsoDate | None = None
    objection_in_writing: StrictBool = False
    objection_received_on: IsoDate | None = None
    explicit_consent_special_category: StrictBool = False
    special_category_relevant: StrictBool = False
    consent_to_sale: StrictBool = False
    latest_application: IsoDate | None = None
    anonymised: StrictBool = False
    #: the candidate's own portability request (Art. 20(2)) naming the recipient is on file (A-49)
    portability_request_on_file: StrictBool = False
    #: a version's optional facts (rule files, ``facts:``); accepted whatever the version
    consent_to_show_profile: StrictBool = False
    placement_started_on: IsoDate | None = None


class DisclosureRequest(InputModel):
    """May these data go to this recipient for this purpose? (inputs.md, "Disclosure")."""

    operation: str
    data_categories: tuple[str, ...] = Field(min_length=1)
    purpose: str
    contains_special_category: StrictBool = False
    contains_criminal_data: StrictBool = False
    art10_statutory_basis: StrictBool = False
    identifiable: StrictBool = True
    min_cell_size: StrictInt | None = Field(default=None, ge=0)
    disclosed_context: tuple[str, ...] = ()
    as_of: AsOf | None = None
    recipient: Recipient
    candidate: CandidateStatus = CandidateStatus()
    @model_validator(mode="after")
    def _mark_validated(self) -> DisclosureRequest:
        # the field dict this instance had when it was validated, kept where pydantic keeps private
        # state: an instance made without validation (model_construct) has none, and a copy
        # (model_copy, copy.copy) has a new field dict. Set directly rather than declared as a
        # private attribute, whose initialisation would cost every validation about a microsecond.
        object.__setattr__(self, "__pydantic_private__", {"_checked": self.__dict__})
        return self

    @classmethod
    def parse(cls, data: DisclosureRequest | Mapping[str, Any], *, timezone: str | None = None) -> DisclosureRequest:
        """Build a request from a mapping shaped like a case's ``inputs``; errors are
        :class:`~policykit.errors.RequestValidationError`. A ``DisclosureRequest`` made without
        validation (``model_construct``, ``model_copy(update=...)``) is validated again. A timestamp
        ``as_of`` becomes its date in ``timezone`` (the policy's)."""
        if isinstance(data, DisclosureRequest) and is_validated(data):
            return data
        return parse_input(cls, data, what=PARSE_WHAT, expected=PARSE_EXPECTED, context={"timezone": timezone})


#: how a disclosure request is named in the errors of its parsing (``parse_input``'s ``what``, ``expected``)
PARSE_WHAT, PARSE_EXPECTED = "disclosure request", "a DisclosureRequest"


def is_validated(request: DisclosureRequest) -> bool:
    """Whether this very instance was built by validation and its fields are the validated ones."""
    private = request.__pydantic_private__
    return private is not None and private.get("_checked") is request.__dict__


def _check(value: str, choices: Sequence[str], what: str, field: str) -> None:
    if value not in choices:
        raise UnknownRequestTermError(
            f"{field}: expected {what}, got {short_repr(value)}" + did_you_mean(value, choices)
        )


# ------------------------------------------------------------------------------------------------
# decisions


class Outcome:
    """What the rules say for one set of normalised facts; shared by every request with those facts.

    Kept compact (the memo holds many): per-category answers are stored as tuples aligned with
    ``categories``; ``by_category`` and ``category_reasons`` build their mappings on access.
    """

    __slots__ = (
        "_category_obligations", "_category_reasons", "_category_rules", "_flags", "allowed", "categories",
        "clauses", "deciding_rule", "obligations", "reasons", "rule_ids",
    )

    def __init__(
        self,
        *,
        allowed: bool,
        reasons: tuple[str, ...],
        obligations: tuple[str, ...],
        by_category: Mapping[str, bool],
        category_reasons: Mapping[str, tuple[str, ...]],
        rule_ids: tuple[str, ...],
        clauses: tuple[str, ...],
        deciding_rule: str | None,
        category_rules: Mapping[str, tuple[str, ...]] | None = None,
        category_obligations: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.allowed = allowed
        self.reasons = reasons
        self.obligations = obligations
        self.categories = tuple(by_category)
        self._flags = tuple(by_category.values())
        self._category_reasons = tuple(category_reasons[c] for c in self.categories)
        self.rule_ids = rule_ids
        self.clauses = clauses
        self.deciding_rule = deciding_rule
        self._category_rules = tuple((category_rules or {}).get(c, ()) for c in self.categories)
        self._category_obligations = tuple((category_obligations or {}).get(c, ()) for c in self.categories)

    @property
    def by_category(self) -> dict[str, bool]:
        """For each requested category, whether it may go."""
        return dict(zip(self.categories, self._flags, strict=True))

    @property
    def category_reasons(self) -> dict[str, tuple[str, ...]]:
        """For each requested category, the reasons it may not go (empty when it may)."""
        return dict(zip(self.categories, self._category_reasons, strict=True))

    @property
    def category_rules(self) -> dict[str, tuple[str, ...]]:
        """For each requested category, the forbid rules that keep it back (empty when it may go, or
        when no rule permits it at all)."""
        return dict(zip(self.categories, self._category_rules, strict=True))

    @property
    def category_obligations(self) -> dict[str, tuple[str, ...]]:
        """For each requested category, the obligations of the permits that release it (empty when it
        may not go)."""
        return dict(zip(self.categories, self._category_obligations, strict=True))

    def _key(self) -> tuple[object, ...]:
        return (self.allowed, self.reasons, self.obligations, self.categories, self._flags,
                self._category_reasons, self._category_rules, self._category_obligations, self.rule_ids,
                self.clauses, self.deciding_rule)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.allowed, self.reasons, self.rule_ids))

    def __repr__(self) -> str:
        return f"Outcome(allowed={self.allowed}, reasons={self.reasons}, rule_ids={self.rule_ids})"


def combine(
    rules: Sequence[Rule],
    fired: Sequence[tuple[int, frozenset[str] | None]],
    categories: Sequence[str],
    purpose_clause: str | None,
    recipient_clause: str | None,
    *,
    default_deny: Sequence[str],
    intern: dict[Any, Any] | None = None,
) -> Outcome:
    """Combine fired rules into an outcome: per category, a forbid overrides a permit and no permit
    means deny; the request is allowed when every category is; reasons follow rule order. The
    obligations are those of the permits that release the categories that may go: all of them on an
    allow, the released part's on a partly refused request (data that go out carry their duties),
    none when nothing may go. A deny cites the deciding forbid (or the general prohibition) and the
    recipient kind's clause, then, if some categories may go, the clauses of the permits that
    release them and the purpose's.

    ``intern``, if given, shares equal tuples between outcomes (the memo holds many outcomes whose
    reasons, rule ids and clauses repeat)."""
    table: dict[Any, Any] = {} if intern is None else intern

    def shared(value: Any) -> Any:
        return table.setdefault(value, value)

    forbids: dict[str, list[int]] = {c: [] for c in categories}
    permits: dict[str, list[int]] = {c: [] for c in categories}
    fired_indexes: set[int] = set()
    for index, scope in fired:
        fired_indexes.add(index)
        target = forbids if rules[index].effect == "forbid" else permits
        for c in categories if scope is None else scope.intersection(categories):
            target[c].append(index)
    by_category = {c: not forbids[c] and bool(permits[c]) for c in categories}
    allowed = all(by_category.values())
    category_reasons: dict[str, tuple[str, ...]] = {}
    category_rules: dict[str, tuple[str, ...]] = {}
    for c in categories:
        category_rules[c] = shared(tuple(dict.fromkeys(rules[i].id for i in sorted(forbids[c]))))
        rs = [rules[i].reason or "" for i in sorted(forbids[c])]
        if not forbids[c] and not permits[c]:
            rs.append("NO_APPLICABLE_PERMIT")
        category_reasons[c] = shared(tuple(dict.fromkeys(rs)))
    forbid_order = sorted({i for c in categories for i in forbids[c]})
    reasons = [rules[i].reason or "" for i in forbid_order]
    if any(not forbids[c] and not permits[c] for c in categories):
        reasons.append("NO_APPLICABLE_PERMIT")
    ordered = sorted(fired_indexes)
    deciding = rules[forbid_order[0]] if forbid_order else None
    category_obligations: dict[str, tuple[str, ...]] = {}
    for c in categories:
        duties = [o for i in sorted(permits[c]) for o in rules[i].obligations] if by_category[c] else []
        category_obligations[c] = shared(tuple(dict.fromkeys(duties)))
    releasing = sorted({i for c in categories if by_category[c] for i in permits[c]})
    obligations = [o for i in releasing for o in rules[i].obligations]
    clauses = _cited_clauses(
        rules, allowed=allowed, fired=ordered, releasing=releasing, deciding=deciding, reasons=reasons,
        purpose_clause=purpose_clause, recipient_clause=recipient_clause, default_deny=default_deny,
    )
    outcome = Outcome(
        allowed=allowed,
        reasons=shared(tuple(dict.fromkeys(reasons))),
        obligations=shared(tuple(dict.fromkeys(obligations))),
        by_category=by_category,
        category_reasons=category_reasons,
        rule_ids=shared(tuple(rules[i].id for i in ordered)),
        clauses=shared(tuple(dict.fromkeys(clauses))),
        deciding_rule=deciding.id if deciding is not None else None,
        category_rules=category_rules,
        category_obligations=category_obligations,
    )
    outcome.categories = shared(outcome.categories)
    outcome._flags = shared(outcome._flags)
    outcome._category_reasons = shared(outcome._category_reasons)
    outcome._category_rules = shared(outcome._category_rules)
    outcome._category_obligations = shared(outcome._category_obligations)
    return outcome


def _cited_clauses(
    rules: Sequence[Rule],
    *,
    allowed: bool,
    fired: Sequence[int],
    releasing: Sequence[int],
    deciding: Rule | None,
    reasons: Sequence[str],
    purpose_clause: str | None,
    recipient_clause: str | None,
    default_deny: Sequence[str],
) -> list[str]:
    """The clauses of an outcome (see :func:`combine`)."""
    clauses: list[str] = []
    if allowed:
        clauses.extend(c for i in fired if rules[i].effect == "permit" for c in rules[i].clauses)
        if purpose_clause:
            clauses.append(purpose_clause)
        return clauses
    if deciding is not None:
        clauses.extend(deciding.clauses)
    elif not reasons or reasons[0] == "NO_APPLICABLE_PERMIT":
        clauses.extend(default_deny)
    if recipient_clause:
        clauses.append(recipient_clause)
    if releasing:  # some categories may go: the permits that release them, and the purpose's clause
        clauses.extend(c for i in releasing for c in rules[i].clauses)
        if purpose_clause:
            clauses.append(purpose_clause)
    return clauses


class Decision:
    """The answer to a disclosure question, able to explain itself.

    ``allowed``, ``reasons`` (deny reasons, the deciding one first), ``obligations`` (duties attached
    to the data that may go: on an allow, all of them; on a partly refused request, the released
    categories'), ``by_category`` (which requested categories may go), ``rule_ids`` (the rules that
    fired), ``clauses`` (the clauses behind the decision), ``policy_version`` and ``explain()``.
    """

    __slots__ = ("_context", "_outcome", "_request", "_source")

    _JSON: ClassVar[JsonSpec] = (
        "allowed",
        "reasons",
        "obligations",
        "by_category",
        ("category_obligations", lambda d: {c: o for c, o in d.category_obligations.items() if o}),
        "rule_ids",
        "clauses",
        "policy_version",
    )

    def __init__(
        self,
        outcome: Outcome,
        request: DisclosureRequest | None,
        context: AnswerContext[Decision],
        source: tuple[Mapping[str, Any], tuple[Any, ...]] | None = None,
    ) -> None:
        self._outcome = outcome
        self._request = request
        self._context = context
        # a plain-dict request answered from memory is parsed only if the request is asked for:
        # (the caller's mapping, its value snapshot when it was answered)
        self._source = source

    @property
    def request(self) -> DisclosureRequest:
        """The question, as a typed request."""
        if self._request is None:
            assert self._source is not None
            mapping, snap = self._source
            if snapshot(mapping) != snap:
                raise RequestValidationError(
                    "the request mapping was changed after the decision was made; decide it again"
                )
            self._request = DisclosureRequest.parse(mapping)
        return self._request

    @property
    def allowed(self) -> bool:
        """Whether every requested category may go."""
        return self._outcome.allowed

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why not: the reason codes of the forbids that applied, the deciding one first."""
        return self._outcome.reasons

    @property
    def reason(self) -> str | None:
        """The deciding reason, or ``None`` for an allow."""
        return self._outcome.reasons[0] if self._outcome.reasons else None

    @property
    def obligations(self) -> tuple[str, ...]:
        """Duties that come with the data that may go: every permit's on an allow; on a request refused
        for some categories only, those of the permits that release the others (the part a caller may
        still send, say after redaction); empty when nothing may go."""
        return self._outcome.obligations

    @property
    def category_obligations(self) -> Mapping[str, tuple[str, ...]]:
        """For each requested category, the duties that come with it (empty when it may not go)."""
        return self._outcome.category_obligations

    @property
    def released(self) -> tuple[str, ...]:
        """The requested categories that may go, in vocabulary order."""
        return tuple(c for c, ok in self._outcome.by_category.items() if ok)

    @property
    def by_category(self) -> Mapping[str, bool]:
        """For each requested category, whether it may go."""
        return self._outcome.by_category

    @property
    def category_reasons(self) -> Mapping[str, tuple[str, ...]]:
        """For each requested category, the reasons it may not go (empty when it may)."""
        return self._outcome.category_reasons

    @property
    def category_rules(self) -> Mapping[str, tuple[str, ...]]:
        """For each requested category, the forbid rules that keep it back (empty when it may go, or
        when no rule permits it at all)."""
        return self._outcome.category_rules

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The rules that fired, in decision order."""
        return self._outcome.rule_ids

    @property
    def deciding_rule(self) -> str | None:
        """The rule whose forbid decided a deny, or ``None``."""
        return self._outcome.deciding_rule

    @property
    def clauses(self) -> tuple[str, ...]:
        """The clause ids behind the decision: the rules' (the outcome's), then those the reading of
        the question relies on (a later application as fresh consent, a transfer mechanism that does
        not replace storage in the EU/EEA, a consent to a sale that has no effect), which the
        explanation cites."""
        base = self._outcome.clauses
        if self._request is None and self._source is not None and not _may_cite(self._source[0]):
            return base  # answered from memory: parse the mapping only if it can cite anything
        request = self.request
        roles = cited_roles(request, request.as_of or self._context.today())
        if not roles:
            return base
        rules = self._context.rules
        known = {c.id for c in rules.clauses}
        extra = [i for role in roles for i in rules.citations.of(role) if i in known]
        return tuple(dict.fromkeys((*base, *extra)))

    @property
    def policy_version(self) -> str:
        """The version of the policy that decided, e.g. ``2022-06-22``."""
        return self._context.version

    @property
    def outcome(self) -> Outcome:
        """The request-independent part of the decision (what the memo stores)."""
        return self._outcome

    def explain(self) -> str:
        """A plain-English account: what was asked, which rules fired and why, the clauses quoted."""
        return self._context.explain(self)

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready data."""
        return cast("dict[str, Any]", to_data(self))

    def __repr__(self) -> str:
        verdict = "allowed" if self.allowed else f"denied {', '.join(self.reasons)}"
        return f"<Decision {verdict} rules={list(self.rule_ids)}>"


def superseded(on: dt.date | None, as_of: dt.date, latest_application: dt.date | None) -> bool:
    """Whether a withdrawal or objection on ``on`` was superseded, by ``as_of``, by a later
    application (fresh consent)."""
    return (
        on is not None and on <= as_of and latest_application is not None and on < latest_application <= as_of
    )


def cited_roles(request: DisclosureRequest, as_of: dt.date) -> tuple[str, ...]:
    """The citation roles (``citations`` of the rule set) that the reading of ``request`` relies on,
    beyond the rules that fired: the explanation's notes cite them, and the decision's clauses
    include them."""
    c = request.candidate
    roles: list[str] = []
    if request.recipient.gdpr_transfer_mechanism:
        roles.append("storage_in_eea")
    withdrew = c.consent_status == "withdrawn" or c.consent_withdrawn_on is not None
    objected = c.objection_in_writing or c.objection_received_on is not None
    if (withdrew and superseded(c.consent_withdrawn_on, as_of, c.latest_application)) or (
        objected and superseded(c.objection_received_on, as_of, c.latest_application)
    ):
        roles.append("fresh_consent")
    if c.consent_to_sale:
        roles.append("never_sold")
    return tuple(roles)


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def _may_cite(mapping: Mapping[str, Any]) -> bool:
    """Whether a request mapping has any input :func:`cited_roles` reads (a quick look, before parsing)."""
    candidate = mapping.get("candidate")
    return bool(_field(mapping.get("recipient"), "gdpr_transfer_mechanism")) or (
        candidate is not None
        and (_field(candidate, "latest_application") is not None or bool(_field(candidate, "consent_to_sale")))
    )


# ------------------------------------------------------------------------------------------------
# normalisation


class Normaliser:
    """Checks a request's terms against one rule set's vocabulary and reduces it to facts.

    Built once per policy: the vocabulary tables it needs are computed up front, so a question costs
    a few set lookups. ``normalise(request, today)`` returns the facts in schema order (without
    ``category``) and the requested categories in vocabulary order: together, the memo key.
    """

    def __init__(self, rules: RuleSet) -> None:
        vocab = rules.vocabulary
        self.fact_names = tuple(name for name in rules.disclosure.facts if name != "category")
        # the standard facts, then the optional ones the rule set declares, each read by its reader
        self._optional_names = self.fact_names[len(_FACT_ORDER):]
        self._optional = tuple(_optional_reader(name, rules) for name in self._optional_names)
        self._dated_by_placement = "candidate.placement_follow_up_open" in self._optional_names
        if self.fact_names[: len(_FACT_ORDER)] != _FACT_ORDER:
            raise AssertionError(  # pragma: no cover - a schema change must update _FACT_ORDER
                f"the disclosure fact schema changed: {self.fact_names} != {_FACT_ORDER}"
            )
        self.operations = frozenset(vocab.ids("operations"))
        self.categories = vocab.ids("data_categories")
        self.category_set = frozenset(self.categories)
        self.kinds = frozenset(vocab.ids("recipient_kinds"))
        self.purposes = frozenset(vocab.ids("purposes")) | frozenset(vocab.ids("out_of_policy_purposes"))
        aliases = vocab.country_aliases
        self.eea: dict[str, bool] = {c.code: c.in_eea for c in vocab.countries}
        self.eea.update({alias: self.eea[code] for alias, code in aliases.items()})
        self.context_ok = frozenset(vocab.referee_identification_context)
        self.min_cell = rules.parameters.aggregate_min_cell
        self._order = {c: i for i, c in enumerate(self.categories)}
        self._bit = {c: 1 << i for i, c in enumerate(self.categories)}
        self._vocab = vocab
        # the memo key is one integer: the facts in mixed radix, then one bit per category
        facts = rules.disclosure.facts
        self._domains = tuple(facts[name].domain for name in self.fact_names)
        self._index = tuple({v: i for i, v in enumerate(d)} for d in self._domains)
        self._operation_index = self._index[0]
        self._purpose_index = self._index[1]
        self._kind_index = self._index[2]
        self._jurisdiction_index = self._index[12]
        self._unlisted = self._purpose_index[UNLISTED_PURPOSE]
        self.category_bits = len(self.categories)  # the low bits of a memo key: one per category
        self._categories_of: dict[int, tuple[str, ...]] = {}

    def check(self, request: DisclosureRequest) -> None:
        """Refuse unknown terms with a "did you mean"."""
        vocab = self._vocab
        if request.operation not in self.operations:
            _check(request.operation, vocab.ids("operations"), "an operation", "operation")
        for i, c in enumerate(request.data_categories):
            if c not in self.category_set:
                _check(c, self.categories, "a data category", f"data_categories[{i}]")
        if request.recipient.kind not in self.kinds:
            _check(request.recipient.kind, vocab.ids("recipient_kinds"), "a recipient kind", "recipient.kind")
        if ascii_code(request.recipient.country) not in self.eea:
            raise UnknownRequestTermError(
                f"recipient.country: expected an ISO 3166-1 alpha-2 code such as SE, got "
                f"{short_repr(request.recipient.country)}"
                + did_you_mean(request.recipient.country.upper(), [c.code for c in vocab.countries])
            )

    def dated(self, request: DisclosureRequest) -> bool:
        """Whether the facts depend on the date of the question (``as_of`` left to default to today)."""
        c = request.candidate
        return request.as_of is None and (
            c.consent_withdrawn_on is not None or c.objection_received_on is not None
            or (self._dated_by_placement and c.placement_started_on is not None)
        )

    def normalise(self, request: DisclosureRequest, today: dt.date) -> tuple[tuple[Any, ...], tuple[str, ...]]:
        """The facts of a checked request (in ``fact_names`` order) and its categories (in vocabulary
        order): the decoded form of :meth:`key`."""
        return self.decode(self.key(request, today))

    def key(self, request: DisclosureRequest, today: dt.date) -> int:
        """The memo key of a checked request as one integer: its facts in mixed radix (in
        ``fact_names`` order), then a bit per requested category.

        This is where a request becomes facts: a showing or disclosure that leaves a copy is a
        transfer, a purpose outside the policy is ``unlisted``, a country is inside the EU/EEA or
        not, withdrawals and objections count from their dates unless a later application renewed
        consent. Written out field by field for speed; :meth:`encode` is the generic form of the
        same key (a property test checks they agree)."""
        r = request.recipient
        c = request.candidate
        as_of = request.as_of or today
        operation = request.operation
        if r.receives_copy and operation in ("show", "disclose"):
            operation = "transfer"
        jurisdiction = r.legal_obligation_jurisdiction
        if jurisdiction is None or not jurisdiction.strip():
            jur = "none"
        else:
            jurisdiction = ascii_code(jurisdiction)
            jur = jurisdiction if jurisdiction in ("SE", "EU") else "other"
        withdrawn = _effective(
            c.consent_status == "withdrawn" or c.consent_withdrawn_on is not None,
            c.consent_withdrawn_on, as_of, c.latest_application,
        )
        objected = _effective(
            c.objection_in_writing or c.objection_received_on is not None,
            c.objection_received_on, as_of, c.latest_application,
        )
        k = self._operation_index[operation]
        k = k * len(self._purpose_index) + self._purpose_index.get(request.purpose, self._unlisted)
        k = k * len(self._kind_index) + self._kind_index[r.kind]
        k = k * 2 + self.eea.get(ascii_code(r.country), False)
        k = k * 2 + r.subprocessors_in_eea
        k = k * 2 + r.active_assignment
        k = k * 2 + r.confidentiality_undertaking
        k = k * 2 + r.data_agreement_signed
        k = k * 2 + r.relevant_to_candidate_competence
        k = k * 2 + r.specific_process_requirement
        k = k * 2 + r.legitimate_need_kul
        k = k * 2 + r.legal_obligation
        k = k * 4 + self._jurisdiction_index[jur]
        k = k * 2 + (r.role == "controller")
        k = k * 2 + request.contains_special_category
        k = k * 2 + request.contains_criminal_data
        k = k * 2 + request.art10_statutory_basis
        k = k * 2 + request.identifiable
        k = k * 2 + (request.min_cell_size is not None and request.min_cell_size >= self.min_cell)
        context_ok = self.context_ok
        k = k * 2 + any(x not in context_ok for x in request.disclosed_context)
        k = k * 2 + withdrawn
        k = k * 2 + objected
        k = k * 2 + c.explicit_consent_special_category
        k = k * 2 + c.special_category_relevant
        k = k * 2 + c.anonymised
        for read in self._optional:
            k = k * 2 + read(request, as_of)
        bits = 0
        bit = self._bit
        for category in request.data_categories:
            bits |= bit[category]
        return (k << self.category_bits) | bits


    def encode(self, values: tuple[Any, ...], categories: tuple[str, ...]) -> int:
        """The integer memo key of facts (in ``fact_names`` order) and categories."""
        k = 0
        for index, domain, value in zip(self._index, self._domains, values, strict=True):
            k = k * len(domain) + index[value]
        bits = 0
        for category in categories:
            bits |= self._bit[category]
        return (k << self.category_bits) | bits


    def categories_of(self, key: int) -> tuple[str, ...]:
        """The categories (in vocabulary order) of a memo key; kept per category set (at most 4,096)."""
        bits = key & ((1 << self.category_bits) - 1)
        found = self._categories_of.get(bits)
        if found is None:
            found = tuple(c for c in self.categories if bits & self._bit[c])
            if len(self._categories_of) < 4096:
                self._categories_of[bits] = found
        return found

    def decode(self, key: int) -> tuple[tuple[Any, ...], tuple[str, ...]]:
        """The facts (in ``fact_names`` order) and categories (in vocabulary order) of a memo key."""
        bits = key & ((1 << self.category_bits) - 1)
        k = key >> self.category_bits
        values: list[Any] = []
        for domain in reversed(self._domains):
            k, i = divmod(k, len(domain))
            values.append(domain[i])
        categories = tuple(c for c in self.categories if bits & self._bit[c])
        return tuple(reversed(values)), categories

_FACT_ORDER = (
    "operation", "purpose", "recipient.kind", "recipient.in_eea", "recipient.subprocessors_in_eea",
    "recipient.active_assignment", "recipient.confidentiality_undertaking", "recipient.data_agreement_signed",
    "recipient.relevant_to_candidate_competence", "recipient.specific_process_requirement",
    "recipient.legitimate_need_kul", "recipient.legal_obligation", "recipient.legal_obligation_jurisdiction",
    "recipient.acts_as_controller", "data.contains_special_category", "data.contains_criminal_data",
    "data.art10_statutory_basis",
    "data.identifiable", "data.min_cell_size_met", "data.context_beyond_identification",
    "candidate.consent_withdrawn", "candidate.objected", "candidate.explicit_consent_special_category",
    "candidate.special_category_relevant", "candidate.anonymised",
)


_OptionalReader = Callable[[DisclosureRequest, dt.date], bool]


def _optional_reader(name: str, rules: RuleSet) -> _OptionalReader:
    """How the optional fact ``name`` (``_ruleset.facts.OPTIONAL_FACTS``) is read from a request
    judged as of a day: most are the request's flag of the same name."""
    if name == "recipient.dpf_certified":
        aliases = rules.vocabulary.country_aliases

        def certified(request: DisclosureRequest, as_of: dt.date) -> bool:
            # the EU-US Data Privacy Framework certifies organisations in the United States only
            code = ascii_code(request.recipient.country)
            return request.recipient.dpf_certified and aliases.get(code, code) == _DPF_COUNTRY
        return certified
    if name == "candidate.placement_follow_up_open":
        months = rules.parameters.placement_follow_up_months
        assert months is not None  # the loader requires the parameter with the fact

        def follow_up_open(request: DisclosureRequest, as_of: dt.date) -> bool:
            started = request.candidate.placement_started_on
            if started is None or as_of < started:
                return False
            try:
                return as_of <= add_months_sv(started, months)
            except InvalidDateError:  # the period ends after the last representable day
                return True
        return follow_up_open
    owner, attribute = name.split(".")
    if owner == "recipient":
        return lambda request, as_of: bool(getattr(request.recipient, attribute))
    return lambda request, as_of: bool(getattr(request.candidate, attribute))


_DPF_COUNTRY = "US"


def check_terms(request: DisclosureRequest, rules: RuleSet) -> None:
    """Check every vocabulary term of a request; unknown ones raise with a "did you mean"."""
    Normaliser(rules).check(request)


def _effective(
    flag: bool, on: dt.date | None, as_of: dt.date, latest_application: dt.date | None
) -> bool:
    """A withdrawal or objection counts when it happened on or before ``as_of`` and no later
    application (fresh consent) superseded it."""
    if not flag:
        return False
    if on is None:
        return True
    if on > as_of:
        return False
    return not (latest_application is not None and on < latest_application <= as_of)


def normalise(
    request: DisclosureRequest, rules: RuleSet, today: dt.date
) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """Reduce a checked request to its facts (in schema order, without ``category``) and its
    categories (in vocabulary order)."""
    return Normaliser(rules).normalise(request, today)
