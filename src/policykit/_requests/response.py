"""Data-subject requests: ``DataSubjectRequest`` in, ``RequestResponse`` out (docs/requests.md).

A request (access, erasure, restriction, portability, objection, rectification) is checked for shape
(pydantic), then against the vocabulary of the policy that answers it, then reduced to the
normalised facts of ``_ruleset.requests.request_schema`` and the items it concerns. The request rules
(``rules/requests.yaml``) are evaluated by the durable-rules engine; only the facts and the items'
categories reach it, and only they key the memo. Dates are computed around the rules: the deadline
and its extension here, the end of the evidence window and of the bookkeeping period by the retention
verdict (``Policy.retention``), with the request as its trigger.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol, cast

from pydantic import (
    BeforeValidator,
    StrictBool,
    ValidationInfo,
    model_validator,
)

from policykit._dates import add_months_sv, in_words, local_date, next_working_day_sv, parse_day
from policykit._disclosure.decision import Decision, DisclosureRequest
from policykit._engine.context import AnswerContext
from policykit._input import InputModel, parse_input
from policykit._ruleset.quoting import quote_clauses, wrap
from policykit._ruleset.requests import (
    OTHER_ITEM,
    RESTRICTION_GROUNDS,
    WRITTEN_CHANNELS,
    CandidateState,
    Channel,
    RequestEffect,
    RequestKind,
    RequestRule,
    RequestRules,
)
from policykit._serial import JsonSpec, to_data
from policykit.errors import (
    InvalidDateError,
    RequestValidationError,
    UnknownRequestTermError,
    did_you_mean,
    short_repr,
)

if TYPE_CHECKING:
    from policykit._retention.verdict import RetentionVerdict
    from policykit._ruleset.ruleset import RuleSet

__all__ = [
    "BookkeepingRecordRef",
    "DataSubjectRequest",
    "EvidenceWindow",
    "ItemDisposition",
    "RecipientRef",
    "RequestResponse",
    "evidence_window",
]

DESIGNATED_CONTROLLER = "data_subject_designated_controller"
FULFILLED = ("fulfil", "fulfil_with_redaction")


def _local_day(value: Any, info: ValidationInfo) -> Any:
    """A calendar date, or a timestamp with a zone turned into its date in the policy's time zone (A-27).

    The zone comes with the validation (``DataSubjectRequest.parse(..., timezone=...)``; the policy
    passes its ``parameters.timezone``); without one only a calendar date is accepted."""
    if isinstance(value, (dt.date, str)):
        zone = (info.context or {}).get("timezone")
        try:
            if zone is None:
                return parse_day(value, field="date")
            return local_date(value, zone, field="date")
        except InvalidDateError as exc:
            # the field's name and the value given are added by the validation message
            raise ValueError(exc.message.removeprefix("date: ").split(", got ")[0]) from None
    raise ValueError("expected a date as YYYY-MM-DD or a timestamp with a zone")


LocalDay = Annotated[dt.date, BeforeValidator(_local_day)]


class RecipientRef(InputModel):
    """A recipient named in a request: the controller to transmit to, or an earlier recipient."""

    kind: str = DESIGNATED_CONTROLLER
    country: str


class BookkeepingRecordRef(InputModel):
    """The accounting record a request concerns (räkenskapsinformation naming the candidate)."""

    dated: LocalDay | None = None
    financial_year_end: LocalDay | None = None

    @model_validator(mode="after")
    def _dated_somehow(self) -> BookkeepingRecordRef:
        if self.dated is None and self.financial_year_end is None:
            raise ValueError("expected financial_year_end or dated, found neither")
        return self


class DataSubjectRequest(InputModel):
    """A candidate's request under GDPR Arts. 15-21 (inputs.md, "Data-subject request")."""

    request: RequestKind
    channel: Channel
    received_on: LocalDay
    candidate_state: CandidateState = "active"
    consent_status: Literal["given", "withdrawn"] = "given"
    consent_withdrawn_on: LocalDay | None = None
    applications: tuple[LocalDay, ...] = ()
    process_closed_on: LocalDay | None = None
    data_held: tuple[str, ...] = ()
    data_categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    provided_by_candidate: StrictBool | None = None
    legal_basis: tuple[str, ...] = ()
    processed_by_automated_means: StrictBool = True
    contains_third_party_data: StrictBool = False
    reference_notes_contain: tuple[str, ...] = ()
    previous_copy_delivered_on: LocalDay | None = None
    manifestly_unfounded_or_excessive: StrictBool = False
    ground: str | None = None
    objection_scope: tuple[str, ...] | None = None
    recipient: RecipientRef | None = None
    technically_feasible: StrictBool = True
    previous_recipients: tuple[RecipientRef, ...] = ()
    bookkeeping_record: BookkeepingRecordRef | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any] | DataSubjectRequest, *, timezone: str | None = None) -> DataSubjectRequest:
        """Build a request from a mapping shaped like a case's ``inputs``; errors are
        :class:`~policykit.errors.RequestValidationError`. Timestamps become dates in ``timezone``
        (the policy's); without it, dates must be calendar dates."""
        if isinstance(data, DataSubjectRequest):
            return data
        return parse_input(
            cls, data, what="data-subject request", expected="a DataSubjectRequest", context={"timezone": timezone}
        )

    @property
    def written(self) -> bool:
        """Whether the request came in writing (e-mail, letter or portal)."""
        return self.channel in WRITTEN_CHANNELS


# ------------------------------------------------------------------------------------------------
# dates around the rules


@dataclass(frozen=True, slots=True)
class EvidenceWindow:
    """The retention dates a request depends on, as the retention verdict gives them on the day the
    request was received: the evidence window (``open``, ``passed``, or ``none``
    when no application is on file), and the end of the bookkeeping period of an accounting record."""

    status: Literal["open", "passed", "none"]
    latest_application: dt.date | None
    retain_until: dt.date | None
    anonymise_on: dt.date | None
    bookkeeping_retain_until: dt.date | None = None
    verdict: RetentionVerdict | None = None


_WINDOW_OF_MODE: dict[str, Literal["open", "passed"]] = {
    "evidence_window": "open",
    "legal_hold": "open",
    "anonymise_now": "passed",
}


class Disclosure(Protocol):
    """What request handling asks of the disclosure family: a decision."""

    def decide(self, request: DisclosureRequest) -> Decision: ...


class Retention(Protocol):
    """What request handling asks of the retention family: a verdict."""

    def retention(self, facts: Mapping[str, Any]) -> RetentionVerdict: ...


def evidence_window(retention: Retention, request: DataSubjectRequest) -> EvidenceWindow:
    """The retention dates of a request, from the retention family's verdict.

    The request itself is the trigger: an erasure request or an objection on ``received_on`` (an
    oral objection counts, confirmed in writing: A-03), or otherwise the withdrawal of consent that
    put the record in evidence hold (``received_on`` when its date is not given). Only applications on
    or before that day count (A-04). Without an application there is no window; a record in evidence
    hold then has one of unknown end. Requests that neither end processing nor concern a record in
    evidence hold need no retention dates. The policy passes a ``retention`` that infers no lapse of
    consent from the dates: the request gives no confirmations of interest, and its
    ``candidate_state`` says whether consent runs.
    """
    day = request.received_on
    if request.request not in ("erasure", "objection") and request.candidate_state != "evidence_hold":
        return EvidenceWindow("none", None, None, None)
    applications = [a for a in request.applications if a <= day]
    facts: dict[str, Any] = {"as_of": day}
    if request.bookkeeping_record is not None:
        facts["bookkeeping_records"] = [request.bookkeeping_record.model_dump(exclude_none=True)]
    if applications:
        facts["applications"] = applications
        if request.process_closed_on is not None and request.process_closed_on <= day:
            facts["process_closed_on"] = request.process_closed_on
        if request.consent_withdrawn_on is not None:
            facts["consent_withdrawn_on"] = request.consent_withdrawn_on
        if request.request == "erasure":
            facts["erasure_requested_on"] = day
        elif request.request == "objection":
            facts["objection_received_on"] = day
            facts["objection_form"] = request.channel
            facts["objection_documented_in_writing_by_controller"] = not request.written
        elif request.consent_withdrawn_on is None:
            facts["consent_withdrawn_on"] = day  # held as evidence since some day no later than this one
    verdict = retention.retention(facts) if len(facts) > 1 else None
    bookkeeping = verdict.bookkeeping_retain_until if verdict is not None else None
    if not applications or verdict is None:
        if request.candidate_state == "evidence_hold":
            # consent has ended and the record is held as evidence, but no date says until when
            return EvidenceWindow("open", None, None, None, bookkeeping, verdict)
        return EvidenceWindow("none", None, None, day, bookkeeping, verdict)
    status = _WINDOW_OF_MODE.get(verdict.retention_mode)
    if status is None:  # a later application renewed consent: no window is running
        return EvidenceWindow("none", verdict.latest_application_date, None, None, bookkeeping, verdict)
    return EvidenceWindow(
        status, verdict.latest_application_date, verdict.retain_until, verdict.anonymise_on, bookkeeping, verdict
    )


# ------------------------------------------------------------------------------------------------
# checking and normalising


@dataclass(frozen=True, slots=True)
class _Item:
    name: str
    category: str


def _suggest(value: str, choices: Sequence[str]) -> str:
    """A "did you mean" for a close term, or for the terms that contain the value as a word."""
    close = did_you_mean(value, choices)
    if close or not value.strip():
        return close
    containing = [c for c in choices if value.lower() in c.lower().split("_") or c.startswith(value.lower())]
    if len(containing) == 1:
        return f" (did you mean {containing[0]!r}?)"
    return f" (did you mean one of {', '.join(map(repr, containing))}?)" if containing else ""


def _check_term(value: str, choices: Sequence[str], what: str, field: str) -> None:
    if value not in choices:
        raise UnknownRequestTermError(f"{field}: expected {what}, got {short_repr(value)}" + _suggest(value, choices))


def _check_recipient(r: RecipientRef, field: str, rules: RuleSet) -> None:
    vocab = rules.vocabulary
    _check_term(r.kind, vocab.ids("recipient_kinds"), "a recipient kind", f"{field}.kind")
    if vocab.country(r.country) is None:
        raise UnknownRequestTermError(
            f"{field}.country: expected an ISO 3166-1 alpha-2 code such as SE, got {short_repr(r.country)}"
            + did_you_mean(r.country.upper(), [c.code for c in vocab.countries])
        )


def check_request(req: DataSubjectRequest, rules: RuleSet) -> None:
    """Check every vocabulary term and date of a request; problems raise with a "did you mean"."""
    vocab = rules.vocabulary
    categories = vocab.ids("data_categories")
    for i, c in enumerate(req.data_categories):
        _check_term(c, categories, "a data category", f"data_categories[{i}]")
    known = [*categories, *(t.id for t in rules.requests.items)]
    for i, name in enumerate(req.data_held):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
            if close:
                raise UnknownRequestTermError(
                    f"data_held[{i}]: expected a data category or another item name, got {short_repr(name)} "
                    f"(did you mean {close[0]!r}?)"
                )
    for i, b in enumerate(req.legal_basis):
        _check_term(b, vocab.ids("legal_bases"), "a legal basis", f"legal_basis[{i}]")
    for i, p in enumerate(req.objection_scope or ()):
        _check_term(p, vocab.ids("purposes"), "a purpose of the policy", f"objection_scope[{i}]")
    if req.objection_scope and req.request != "objection":
        raise RequestValidationError(f"objection_scope: only an objection has one, but this is {req.request}")
    if req.recipient is not None:
        if req.request != "portability_direct_transmission":
            raise RequestValidationError(
                f"recipient: only portability_direct_transmission names a recipient, but this is {req.request}"
            )
        _check_recipient(req.recipient, "recipient", rules)
    elif req.request == "portability_direct_transmission":
        raise RequestValidationError(
            "recipient: expected {kind, country} of the controller to transmit to, found none"
        )
    for i, r in enumerate(req.previous_recipients):
        _check_recipient(r, f"previous_recipients[{i}]", rules)
    day = req.received_on
    for field, value in (
        ("previous_copy_delivered_on", req.previous_copy_delivered_on),
        ("consent_withdrawn_on", req.consent_withdrawn_on),
    ):
        if value is not None and value > day:
            raise InvalidDateError(f"{field}: expected a date on or before received_on ({day}), got {value}")


def _item(name: str, rules: RequestRules, vocab_categories: Sequence[str]) -> _Item:
    if name in vocab_categories:
        return _Item(name, name)
    term = rules.item(name)
    return _Item(name, term.category if term is not None and term.category else OTHER_ITEM)


def request_items(req: DataSubjectRequest, rules: RuleSet) -> tuple[_Item, ...]:
    """The items a request concerns: the data it names, or else the data held."""
    if req.request == "objection":
        return ()
    names = list(req.data_categories) or list(req.data_held)
    if req.request == "rectification":
        names = list(req.data_categories)
    if req.request == "erasure" and req.bookkeeping_record is not None and "bookkeeping_record" not in names:
        names.append("bookkeeping_record")
    categories = rules.vocabulary.ids("data_categories")
    return tuple(_item(n, rules.requests, categories) for n in dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class _Objection:
    scope: Literal["whole", "limited"]
    stops: Literal["all", "some", "none"]
    stop: tuple[str, ...]
    cont: tuple[str, ...]
    why_continue: dict[str, str]


def _objection(req: DataSubjectRequest, rules: RuleSet) -> _Objection:
    """Which purposes an objection stops (legitimate interest without compelling grounds) and which
    continue, from the purposes' stated legal bases and the rights each basis carries."""
    vocab = rules.vocabulary
    rights = {b.id: b.rights for b in vocab.legal_bases}
    compelling = rules.requests.compelling_grounds
    why: dict[str, str] = {}
    stops: list[str] = []
    for purpose in vocab.purposes:
        objectable = any("A21" in rights.get(b, ()) for b in purpose.stated_legal_bases)
        if purpose.id in compelling:
            why[purpose.id] = compelling[purpose.id].strip()
        elif not objectable:
            bases = ", ".join(purpose.stated_legal_bases).replace("_", " ")
            extra = "; withdraw consent instead" if "consent" in purpose.stated_legal_bases else ""
            why[purpose.id] = f"rests on {bases}, not legitimate interest (Art. 21(1)){extra}"
        else:
            stops.append(purpose.id)
    if not req.objection_scope:
        after = rules.requests.continue_after_whole_objection
        for p in after:
            why.setdefault(p, "kept for the defence of legal claims during the evidence window (A-02)")
        return _Objection("whole", "all", tuple(stops), after, {p: why[p] for p in after})
    scope = list(dict.fromkeys(req.objection_scope))
    stop = tuple(p for p in scope if p in stops)
    cont = tuple(p for p in scope if p not in stops)
    kind: Literal["all", "some", "none"] = "all" if not cont else "none" if not stop else "some"
    return _Objection("limited", kind, stop, cont, {p: why[p] for p in cont})


def _restriction_ground(ground: str | None) -> str:
    if ground is None or not ground.strip():
        return "none"
    return ground if ground in RESTRICTION_GROUNDS else "unrecognised"


def request_facts(
    req: DataSubjectRequest,
    items: Sequence[_Item],
    window: EvidenceWindow,
    objection: _Objection | None,
    transmission: str,
) -> dict[str, Any]:
    """The normalised facts of a request (keyed by field name, without ``category``)."""
    item_categories = {i.category for i in items}
    reference_notes = "reference_notes" in item_categories or bool(req.reference_notes_contain)
    provided = req.provided_by_candidate
    if provided is None:
        provided = not req.sources or "candidate" in req.sources
    bases = set(req.legal_basis)
    return {
        "request": req.request,
        "request.written": req.written,
        "request.manifestly_unfounded_or_excessive": req.manifestly_unfounded_or_excessive,
        "request.further_copy": req.previous_copy_delivered_on is not None,
        "request.names_data": bool(req.data_categories),
        "request.previous_recipients": bool(req.previous_recipients),
        "candidate.state": req.candidate_state,
        "data.reference_notes_held": reference_notes,
        "data.reference_notes_beyond_statements": any(
            x != "statements_about_candidate" for x in req.reference_notes_contain
        ),
        "data.third_party_data": req.contains_third_party_data,
        "data.sources_beyond_candidate": not req.sources or any(s != "candidate" for s in req.sources),
        "evidence_window": window.status,
        "restriction.ground": _restriction_ground(req.ground),
        "portability.provided_by_candidate": provided,
        "portability.consent_or_contract": not bases or bool(bases & {"consent", "contract"}),
        "portability.automated": req.processed_by_automated_means,
        "transmission": transmission,
        "objection.scope": objection.scope if objection else "whole",
        "objection.stops": objection.stops if objection else "all",
    }


# ------------------------------------------------------------------------------------------------
# the answer


@dataclass(frozen=True, slots=True)
class ItemDisposition:
    """What happens to one item a request concerns, and why."""

    item: str
    category: str
    disposition: str
    reason: str | None
    refusal_grounds: tuple[str, ...]
    until: dt.date | None
    until_event: str | None
    rule_id: str
    clauses: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The disposition as JSON-ready data: its fields, in order."""
        return cast("dict[str, Any]", to_data(self))


def _transmission(resp: RequestResponse) -> dict[str, Any] | None:
    """The direct transmission's decision, in brief."""
    d = resp.transmission_decision
    if d is None:
        return None
    return {"allowed": d.allowed, "reasons": d.reasons, "rule_ids": d.rule_ids, "clauses": d.clauses}


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class RequestResponse:
    """The answer to a data-subject request: what to do, by when, at what cost, and what to say.

    ``outcome`` is one of the request outcomes; ``deadline`` and ``extended_deadline`` are the time
    limits of Art. 12(3), counted from receipt (the policy's parameters; the extension needs notice
    before ``deadline``), each moved off a Saturday, Sunday or Swedish holiday to the next
    working day (Lag 1930:173 2 §). Item lists
    (``deliver``, ``exclude``, ``erase_now``, ``retain``, ``restrict``, ``include``, ``rectify``) name
    the items of the request; ``dispositions`` holds the reason, grounds and rule for each.
    ``explain()`` says it all in plain English, citing the clauses.
    """

    __slots__ = (
        "_context",
        "_rules",
        "_sealed",
        "anonymise_on",
        "bookkeeping_retain_until",
        "clauses",
        "confirm_in_writing",
        "continue_purposes",
        "continue_reasons",
        "deadline",
        "deliver",
        "dispositions",
        "erase_now",
        "exclude",
        "exclude_reasons",
        "extended_deadline",
        "extension_notice_by",
        "fee",
        "flags",
        "format",
        "include",
        "include_all_categories",
        "include_information",
        "inform",
        "notes",
        "notify_before_lifting_restriction",
        "notify_recipients",
        "offer_access",
        "outcome",
        "outcome_rule",
        "reasons",
        "received_on",
        "recipients_to_notify",
        "rectify",
        "redact",
        "refusal_grounds",
        "request",
        "restrict",
        "restrict_until",
        "retain",
        "retain_until",
        "retain_until_by_item",
        "rule_ids",
        "stop_purposes",
        "transmission_decision",
        "transmit_directly",
        "unaffected",
        "verify_identity",
        "window",
    )

    _JSON: ClassVar[JsonSpec] = (
        ("request", lambda r: r.request.request),
        "outcome",
        "received_on",
        "deadline",
        "extended_deadline",
        "fee",
        "include_all_categories",
        "include",
        "include_information",
        "redact",
        "format",
        "deliver",
        "exclude",
        "exclude_reasons",
        "erase_now",
        "retain",
        "retain_until",
        "anonymise_on",
        "bookkeeping_retain_until",
        "restrict",
        "restrict_until",
        "rectify",
        "stop_purposes",
        "continue_purposes",
        "transmit_directly",
        "refusal_grounds",
        ("transmission", _transmission),
        "inform",
        "notify_recipients",
        ("recipients_to_notify", lambda r: [ref.model_dump() for ref in r.recipients_to_notify]),
        "confirm_in_writing",
        "verify_identity",
        "dispositions",
        "reasons",
        "rule_ids",
        "clauses",
        "policy_version",
    )

    def __init__(
        self,
        *,
        request: DataSubjectRequest,
        context: AnswerContext[RequestResponse],
        outcome: str,
        outcome_rule: str,
        dispositions: tuple[ItemDisposition, ...],
        unaffected: tuple[str, ...],
        request_rules: tuple[RequestRule, ...],
        item_rules: tuple[RequestRule, ...],
        window: EvidenceWindow,
        objection: _Objection | None,
        transmission: Decision | None,
        notes: tuple[str, ...],
        cited: tuple[str, ...] = (),
    ) -> None:
        self.request = request
        self._context = context
        rules = context.rules.requests
        effects = [r.then for r in request_rules]
        self.outcome = outcome
        self.outcome_rule = outcome_rule
        self.dispositions = dispositions
        self.unaffected = unaffected
        self.window = window
        self.transmission_decision = transmission
        self.notes = notes
        self._dates(effects)
        self._effects(effects, rules)
        self._items()
        self.stop_purposes = objection.stop if objection else ()
        self.continue_purposes = objection.cont if objection else ()
        self.continue_reasons = dict(objection.why_continue) if objection else {}
        self.bookkeeping_retain_until = window.bookkeeping_retain_until
        self.retain_until, self.anonymise_on = self._retention_dates()
        self._fired(request_rules, item_rules, rules, cited)
        self._sealed = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_sealed", False):
            raise AttributeError(f"RequestResponse is immutable: cannot set {name!r}")
        object.__setattr__(self, name, value)

    def _dates(self, effects: Sequence[RequestEffect]) -> None:
        """The deadlines (Art. 12(3), from the policy's parameters) and the fee."""
        received = self.request.received_on
        self.received_on = received
        params = self._context.rules.parameters
        # deadlines for acting end on a working day (Lag 1930:173 2 §, Regulation 1182/71 Art. 3(4))
        self.deadline = next_working_day_sv(add_months_sv(received, params.request_deadline_months))
        self.extended_deadline = next_working_day_sv(add_months_sv(received, params.request_extended_deadline_months))
        self.extension_notice_by = self.deadline
        self.fee = params.access_further_copy_fee if any(e.fee == "further_copy" for e in effects) else 0

    def _effects(self, effects: Sequence[RequestEffect], rules: RequestRules) -> None:
        """What the fired request rules add: flags, information, redactions, format and refusal grounds."""
        flags = set(_unique([f for e in effects for f in e.flags]))
        self.flags = tuple(f for f in (t.id for t in rules.flags) if f in flags)
        self.confirm_in_writing = "confirm_in_writing" in flags
        self.verify_identity = "verify_identity" in flags
        self.include_all_categories = "include_all_categories" in flags
        self.notify_recipients = "notify_recipients" in flags
        self.transmit_directly = "transmit_directly" in flags
        self.recipients_to_notify = self.request.previous_recipients if self.notify_recipients else ()

        self.include_information = _unique([i for e in effects for i in e.include_information])
        self.redact = _unique([r for e in effects for r in e.redact])
        self.format = next((e.format for e in effects if e.format), None)
        self.restrict_until = next((e.restrict_until for e in effects if e.restrict_until), None)

        inform = [i for e in effects for i in e.inform]
        inform.extend(rules.responses.get(self.outcome, ()))
        self.inform = _unique(inform)
        self.offer_access = "offer_access" in flags
        self.notify_before_lifting_restriction = "notify_before_lifting_restriction" in flags

        grounds = [g for e in effects for g in e.refusal_grounds]
        grounds.extend(
            g for d in self.dispositions for g in d.refusal_grounds if d.disposition in ("exclude", "retain")
        )
        self.refusal_grounds = () if self.outcome in FULFILLED else _unique(grounds)

    def _items(self) -> None:
        """The items of the request, by what is done with them."""
        dispositions = self.dispositions

        def items(kind: str) -> tuple[str, ...]:
            return tuple(d.item for d in dispositions if d.disposition == kind)

        self.include = items("include")
        self.deliver = items("deliver")
        self.exclude = items("exclude")
        self.erase_now = items("erase_now")
        self.retain = items("retain")
        self.restrict = items("restrict")
        self.rectify = items("rectify")
        self.exclude_reasons = {d.item: d.reason or "" for d in dispositions if d.disposition == "exclude"}
        self.retain_until_by_item = {d.item: d.until for d in dispositions if d.disposition == "retain"}

    def _fired(
        self,
        request_rules: tuple[RequestRule, ...],
        item_rules: tuple[RequestRule, ...],
        rules: RequestRules,
        cited: tuple[str, ...],
    ) -> None:
        """The rules that fired, in file order, their clauses (then those the reading of the request
        relies on: its notes, the purposes an objection concerns, a refused transmission), and the
        reasons."""
        fired = [*request_rules, *item_rules]
        order = {r.id: i for i, r in enumerate(rules.rules)}
        fired.sort(key=lambda r: order[r.id])
        self.rule_ids = tuple(r.id for r in fired)
        self.clauses = _unique([*(c for r in fired for c in r.clauses),
                                *rules.response_clauses.get(self.outcome, ()), *cited])
        self._rules = tuple(fired)
        self.reasons = _unique([r.title for r in request_rules] + list(self.notes))

    def _retention_dates(self) -> tuple[dt.date | None, dt.date | None]:
        req, window = self.request, self.window
        kept_as_evidence = req.candidate_state in ("active", "evidence_hold") and window.status == "open"
        ends_processing = req.request == "erasure" or (
            req.request == "objection" and not req.objection_scope
        ) or (req.request == "restriction" and req.candidate_state == "evidence_hold")
        if req.candidate_state in ("legal_hold", "anonymised") or not ends_processing:
            return None, None
        if kept_as_evidence:
            return window.retain_until, window.anonymise_on
        if "bookkeeping_record" in {d.category for d in self.dispositions if d.disposition == "retain"}:
            return self.bookkeeping_retain_until, window.anonymise_on
        return None, window.anonymise_on

    @property
    def policy_version(self) -> str:
        """The version of the policy that answered, e.g. ``2022-06-22``."""
        return self._context.version

    @property
    def rules(self) -> tuple[RequestRule, ...]:
        """The rules that fired and contributed, in file order."""
        return self._rules

    @property
    def rule_set(self) -> RuleSet:
        """The rule set that answered."""
        return self._context.rules

    def explain(self) -> str:
        """A plain-English account: what was asked, what to do and say, which rules decided, citing
        and quoting the clauses."""
        return self._context.explain(self)

    def letter(self, lang: str = "sv") -> str:
        """The reply to the candidate, in plain Swedish (``"sv"``) or English (``"en"``): what was done
        or will be done by when, what was refused and why, and the right to complain to IMY and to a
        court. Written from the templates of the rules' ``letters.yaml``."""
        return self._context.letter(self, lang)

    def to_dict(self) -> dict[str, Any]:
        """The response as JSON-ready data."""
        return cast("dict[str, Any]", to_data(self))

    def __repr__(self) -> str:
        return (
            f"<RequestResponse {self.request.request}: {self.outcome} by {self.deadline} "
            f"rules={list(self.rule_ids)}>"
        )


# ------------------------------------------------------------------------------------------------
# explaining

def explain_response(resp: RequestResponse, rules: RuleSet, today: Callable[[], dt.date]) -> str:
    """The full explanation of a data-subject request's answer."""
    req = resp.request
    lines = [f"{rules.meta.name}, version {rules.meta.version}: data-subject request", ""]
    lines.extend(wrap(
        f"Question: {_article(req.request)} {req.request.replace('_', ' ')} request from a candidate in state "
        f"{req.candidate_state}, received by {req.channel.replace('_', ' ')} on {req.received_on}.", ""))
    gloss = rules.vocabulary.term("request_outcomes", resp.outcome).en
    lines.extend(wrap(f"Answer: {resp.outcome.upper()}. {gloss} (decided by {resp.outcome_rule})", ""))
    lines.extend(wrap(
        f"Deadline: {resp.deadline} ({in_words(rules.parameters.request_deadline_months, 'month')} from receipt, "
        "Art. 12(3), moved to a working day where it would end on a Saturday, Sunday or holiday, Lag 1930:173 "
        f"2 §); extendable to {resp.extended_deadline} with notice before {resp.extension_notice_by}.", ""))
    lines.append(f"Fee: {resp.fee} SEK.")
    if resp.notes:
        lines += ["", "How the request was read:"]
        for n in resp.notes:
            lines.extend(wrap("- " + n, "  "))
    lines += _todo_lines(resp, rules)
    lines += _item_lines(resp, rules)
    lines += _rule_lines(resp, rules)
    lines += ["", "Clauses behind the answer:"]
    lines.extend(quote_clauses(rules, resp.clauses))
    return "\n".join(lines)




def _todo_lines(resp: RequestResponse, rules: RuleSet) -> list[str]:
    """What the controller must do besides answering."""
    family = rules.requests
    lines: list[str] = []
    todo: list[str] = []
    for flag in resp.flags:
        todo.append(f"{flag}: {family.term('flags', flag).en}")
    if resp.include_information:
        todo.append("include the information: " + ", ".join(resp.include_information))
    if resp.redact:
        todo.append("redact: " + "; ".join(f"{r} ({family.term('redactions', r).en})" for r in resp.redact))
    if resp.format:
        todo.append(f"format: {resp.format}")
    if resp.restrict_until:
        todo.append(f"restricted until {family.term('until', resp.restrict_until).en}")
    purposes = {p.id: p for p in rules.vocabulary.purposes}

    def basis(p: str) -> str:
        purpose = purposes.get(p)
        if purpose is None:
            return ""
        bases = ", ".join(purpose.stated_legal_bases).replace("_", " ")
        return f"{bases}, {purpose.clause}" if purpose.clause else bases

    if resp.stop_purposes:
        todo.append("stop: " + "; ".join(f"{p} ({basis(p)})" for p in resp.stop_purposes))
    def clause(p: str) -> str:
        purpose = purposes.get(p)
        return f"{purpose.clause}: " if purpose is not None and purpose.clause else ""

    if resp.continue_purposes:
        todo.append("continue: " + "; ".join(
            f"{p} ({clause(p)}{resp.continue_reasons.get(p, '')})" for p in resp.continue_purposes))
    if resp.retain_until or resp.anonymise_on:
        todo.append(f"kept until {resp.retain_until or 'the end of the hold'}; anonymised on "
                    f"{resp.anonymise_on or 'a date not yet known'}")
    if resp.recipients_to_notify:
        todo.append("tell: " + ", ".join(f"{r.kind} ({r.country})" for r in resp.recipients_to_notify))
    if todo:
        lines += ["", f"What {rules.meta.controller.short_name} must do:"]
        for t in todo:
            lines.extend(wrap("- " + t, "  "))
    return lines


def _item_lines(resp: RequestResponse, rules: RuleSet) -> list[str]:
    """Each item's disposition, the refusal grounds, what to tell the candidate, a direct transmission."""
    family = rules.requests
    lines: list[str] = []
    if resp.dispositions or resp.unaffected:
        lines += ["", "Item by item:"]
        for d in resp.dispositions:
            text = f"- {d.item}: {d.disposition}"
            if d.until or d.until_event:
                text += f" until {d.until or family.term('until', d.until_event or '').en}"
            if d.reason:
                text += f" ({d.reason}: {family.term('item_reasons', d.reason).en})"
            if d.refusal_grounds and d.disposition in ("exclude", "retain"):
                text += f" [{', '.join(d.refusal_grounds)}]"
            lines.extend(wrap(text + f" - {d.rule_id}", "  "))
        for name in resp.unaffected:
            lines.extend(wrap(f"- {name}: not affected by this request", "  "))
    if resp.refusal_grounds:
        lines += ["", "Grounds for not doing all that was asked:"]
        for g in resp.refusal_grounds:
            lines.extend(wrap(f"- {g}: {family.term('grounds', g).en}", "  "))
    if resp.inform:
        lines += ["", "The response must tell the candidate:"]
        for i in resp.inform:
            lines.extend(wrap(f"- {family.term('information', i).en}", "  "))
        if "right_to_complain_to_IMY" in resp.inform:
            imy = rules.meta.supervisory_authority
            lines.extend(wrap(f"  ({imy.name}, {imy.url})", "  "))
    if resp.transmission_decision is not None:
        lines += ["", "Direct transmission, checked by the disclosure rules:"]
        check = resp.transmission_decision
        verdict = "allowed" if check.allowed else "denied: " + ", ".join(check.reasons)
        cites = f"; citing {', '.join(check.clauses)}" if not check.allowed and check.clauses else ""
        lines.extend(wrap(f"{verdict} (rules {', '.join(check.rule_ids)}{cites})", "  "))
    return lines


def _rule_lines(resp: RequestResponse, rules: RuleSet) -> list[str]:
    """The rules that applied, in decision order."""
    family = rules.requests
    lines: list[str] = []
    lines += ["", "Rules that applied, in decision order:"]
    for rule in resp.rules:
        head = f"  {rule.id} (step {rule.step}: {family.step_title(rule.step).lower()})"
        if rule.then.gives_outcome and rule.id != resp.outcome_rule:
            head += " (outcome overridden by an earlier rule)"
        lines.append(head)
        lines.extend(wrap(rule.title + ".", "      "))
        lines.extend(wrap("Applies when " + family.render(rule.when) + ".", "      "))
        lines.append(f"      Cites {', '.join(rule.clauses)}.")
    return lines


def _article(word: str) -> str:
    """'an' before a vowel sound, else 'a'."""
    return "an" if word[:1] in "aeiou" else "a"
