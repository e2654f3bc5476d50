"""What a decision-log record holds: the question reduced to vocabulary ids, booleans and dates, and
the answer, both as canonical JSON.

A question is the caller's request with every string that is not a term of the policy (a vocabulary
id, a country code, a rule, clause or reason id, a fixed choice of the input format) replaced by
``~text``, and every timestamp reduced to its local calendar date. The result is still a valid
question: a purpose outside the vocabulary stays outside it, a referee context that is not the
identification context stays one, so the same policy gives the same answer when it is asked again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import operator
import re
import typing
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from policykit._disclosure.decision import CandidateStatus, DisclosureRequest, Outcome, Recipient, is_validated
from policykit._requests.response import DataSubjectRequest
from policykit._retention.verdict import RetentionFacts
from policykit.errors import RequestValidationError, short_repr
from policykit.log._question import (
    DESCRIBED,
    TABLE_SIZE,
    TEXT,
    Body,
    Field,
    QuestionSpec,
    QuestionWriter,
    Values,
    make_body,
)

if TYPE_CHECKING:
    from policykit._policy import Policy

__all__ = ["TEXT", "Recorder", "canonical"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# identifier-like strings of the rule files: snake_case ids, upper-case codes, hyphenated clause and rule ids
_TOKEN = re.compile(r"[a-z][A-Za-z0-9_]*|[A-Z][A-Z0-9_]*|[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+")
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")


def canonical(value: Any) -> bytes:
    """The canonical JSON of a record part: sorted keys, no spaces, UTF-8. Record hashes are taken
    over this form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


Part = tuple[bytes, bytes]  # a record part: its canonical JSON, and the SHA-256 digest of that JSON


class Entry(weakref.ref):  # type: ignore[type-arg]
    """The record body of a disclosure request, kept while the request lives: a weak reference to the
    request (called, it gives the request, or ``None`` once it is gone) that carries the log's table
    key, the outcome the body was written for, the Unix time until which the body holds and the body.
    One object per request (a reference and a tuple beside it would be two for the collector to
    track)."""

    __slots__ = ("body", "key", "outcome", "until")  # set by Recorder.disclosure_entry
    body: Any
    key: int
    outcome: Any
    until: float


def part(value: Any) -> Part:
    """A record part from a JSON-ready value."""
    text = canonical(value)
    return text, hashlib.sha256(text).digest()


NULL: Part = part(None)


def record_digest(prev: str, body_digest: bytes, context_digest: bytes, seq: int, ts: str) -> str:
    """A record's hash: SHA-256 over the previous record's hash (its 32 bytes), the SHA-256 of the
    record's body (``_question.body_of``), the SHA-256 of its context's canonical JSON, and then
    ``"{seq}\n{ts}"`` in ASCII."""
    return hashlib.sha256(
        bytes.fromhex(prev) + body_digest + context_digest + b"%d\n%s" % (seq, ts.encode())
    ).hexdigest()


def _literals(tp: Any, out: set[str]) -> None:
    if typing.get_origin(tp) is typing.Literal:
        out.update(a for a in typing.get_args(tp) if isinstance(a, str))
        return
    fields = getattr(tp, "model_fields", None)
    if isinstance(fields, dict):
        for f in fields.values():
            _literals(f.annotation, out)
        return
    for arg in typing.get_args(tp):
        _literals(arg, out)


def _tokens_of(value: Any, out: set[str]) -> None:
    if isinstance(value, str):
        if len(value) <= 64 and _TOKEN.fullmatch(value):
            out.add(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _tokens_of(k, out)
            _tokens_of(v, out)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _tokens_of(v, out)


class Recorder:
    """Turns one policy's questions and answers into record parts (canonical JSON bytes).

    Built when a policy gets a decision log; the set of the policy's own terms is computed on the
    first record. Disclosure questions and answers are cached (by request object and by outcome), so a
    warm question costs a dictionary lookup to record.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        rules = policy.rules
        self.meta = {"name": rules.meta.name, "version": rules.meta.version, "fingerprint": rules.fingerprint}
        self.policy_part = part(self.meta)
        self.version = rules.meta.version
        self._tokens: frozenset[str] | None = None
        self._answers: dict[int, tuple[Any, Part]] = {}
        self._answers_by_value: dict[Outcome, Part] = {}
        self._zone = ZoneInfo(rules.parameters.timezone)
        self._day = dt.date.min
        self._day_until = 0.0
        # record bodies by request identity; an entry goes when its request does
        self.entries: dict[int, Entry] = {}
        self._entries = self.entries
        self._forget_entry = self._forget  # one bound method for every entry's callback
        self._spec: QuestionSpec | None = None
        self._getters: tuple[Callable[[Any], tuple[Any, ...]], ...] | None = None
        self._writer: QuestionWriter | None = None  # writes the questions of validated requests

    # ---------------------------------------------------------------------------------------
    @property
    def tokens(self) -> frozenset[str]:
        """Every term of the policy a record may hold as it is."""
        if self._tokens is None:
            found: set[str] = set()
            _tokens_of(self.policy.rules.model_dump(mode="json", fallback=lambda _value: None), found)
            for model in (DisclosureRequest, RetentionFacts, DataSubjectRequest):
                _literals(model, found)
                found.update(model.model_fields)
            found.update(("SE", "EU", "none", "candidate", "statements_about_candidate"))
            self._tokens = frozenset(found)
        return self._tokens

    def scrub(self, value: Any, zone: dt.tzinfo | None = None) -> Any:
        """``value`` with free text replaced by ``~text`` and timestamps by local dates."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return value if value in self.tokens or _DATE.fullmatch(value) else TEXT
        if isinstance(value, dt.datetime):
            return (value.astimezone(zone) if zone is not None else value).date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Mapping):
            # keys are field names of policykit's own models, never the caller's text
            return {str(k): self.scrub(v, zone) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.scrub(v, zone) for v in value]
        return TEXT

    # ---------------------------------------------------------------------------------------
    # disclosure
    def question_spec(self) -> QuestionSpec:
        """What a :class:`QuestionWriter` needs of this policy, as plain data (see ``_question``)."""
        if self._spec is None:
            request = DisclosureRequest.model_fields
            kinds = {"recipient": 1, "candidate": 2}
            vocabulary = self.policy.rules.vocabulary
            # what vocabulary.country reads: an alias first, then a code
            codes = {c.code for c in vocabulary.countries}
            countries = {code: code for code in codes}
            for alias, code in vocabulary.country_aliases.items():
                if code in codes:
                    countries[alias] = code
                else:
                    countries.pop(alias, None)
            self._spec = QuestionSpec(
                request=tuple((name, *_field(request[name], name not in kinds), f'"{name}":', kinds.get(name, 0))
                              for name in sorted(request)),
                recipient=_fields(Recipient),
                candidate=_fields(CandidateStatus),
                tokens=self.tokens,
                countries=countries,
                policy=self.policy_part[0],
                version=self.version,
            )
        return self._spec

    def values(self, request: Any, day: dt.date) -> Values | None:
        """A request's :data:`~._question.Values` (judged on ``day``), or ``None`` for one the
        direct writer does not take: a request not built by validation, whose fields may hold anything."""
        if type(request) is not DisclosureRequest or not is_validated(request):
            return None
        # a validated request's fields (and its nested models', validated with it: the models are
        # frozen and validate a model given as a field again) are read from the instances' dicts
        fields = request.__dict__
        recipient, candidate = fields["recipient"], fields["candidate"]
        if type(recipient) is not Recipient or type(candidate) is not CandidateStatus:
            return None
        if self._getters is None:
            spec = self.question_spec()
            plain = [name for name, _required, _default, _key, kind in spec.request if not kind]
            self._getters = (_getter(plain), _getter([f[0] for f in spec.recipient]),
                             _getter([f[0] for f in spec.candidate]))
        request_of, recipient_of, candidate_of = self._getters
        return request_of(fields), recipient_of(recipient.__dict__), candidate_of(candidate.__dict__), day

    def disclosure_question(self, request: Any, day: dt.date) -> bytes:
        """The canonical JSON of a disclosure request's question, as judged on ``day`` (the day a
        request without ``as_of`` was answered on)."""
        values = self.values(request, day)
        if values is None:  # not a validated request: the general path
            return self.general_question(request, day)
        return self._question_writer().question(values)

    def _question_writer(self) -> QuestionWriter:
        """The writer of this policy's questions on the answering side (made on first use)."""
        if self._writer is None:
            self._writer = QuestionWriter(self.question_spec())
        return self._writer

    def general_question(self, request: Any, day: dt.date) -> bytes:
        """The question's canonical JSON the general way: ``model_dump``, then scrub, then
        :func:`canonical` (what the direct writer must equal)."""
        data = request.model_dump(exclude_defaults=True)
        data["as_of"] = request.as_of or day
        recipient = data["recipient"]
        recipient["country"] = self._country(recipient["country"])
        jurisdiction = recipient.get("legal_obligation_jurisdiction")
        if isinstance(jurisdiction, str):
            recipient["legal_obligation_jurisdiction"] = jurisdiction.strip().upper() or None
        return canonical(self.scrub(data))

    def _country(self, value: str) -> str:
        country = self.policy.rules.vocabulary.country(value)
        return country.code if country is not None else TEXT

    def disclosure_answer(self, outcome: Any) -> Part:
        """The answer part of a disclosure outcome (cached per outcome)."""
        hit = self._answers.get(id(outcome))
        if hit is not None and hit[0] is outcome:
            return hit[1]
        # outcomes the engine gives afresh (no memo) are new objects; one equal to an outcome seen
        # before has its answer (an Outcome compares every field the answer is written from)
        by_value = self._answers_by_value if type(outcome) is Outcome else None
        out = by_value.get(outcome) if by_value is not None else None
        if out is None:
            text = self._answer_text(outcome)
            out = (text, hashlib.sha256(text).digest()) if text is not None else self.general_answer(outcome)
            if by_value is not None:
                _bound(by_value)
                by_value[outcome] = out
        _bound(self._answers)
        self._answers[id(outcome)] = (outcome, out)
        return out

    def general_answer(self, outcome: Any) -> Part:
        """The answer part the general way (what the direct writer must equal)."""
        return part(self.scrub(disclosure_answer(outcome)))

    def _answer_text(self, outcome: Any) -> bytes | None:
        """The canonical JSON of :func:`disclosure_answer` written directly (the same bytes as the
        general path); ``None`` if a value is not a plain term."""
        tokens = self.tokens

        def terms(values: Any) -> str | None:
            if not all(type(v) is str and v in tokens for v in values):
                return None
            return "[" + ",".join(f'"{v}"' for v in values) + "]"

        by_category = outcome.by_category
        lists = [terms(outcome.clauses), terms(outcome.obligations), terms(outcome.reasons), terms(outcome.rule_ids),
                 terms(sorted(by_category))]
        if None in lists or not all(type(v) is bool for v in by_category.values()) or type(outcome.allowed) is not bool:
            return None
        flags = ",".join(f'"{c}":{"true" if by_category[c] else "false"}' for c in sorted(by_category))
        return (
            f'{{"allowed":{"true" if outcome.allowed else "false"},"by_category":{{{flags}}},"clauses":{lists[0]},'
            f'"obligations":{lists[1]},"reasons":{lists[2]},"rule_ids":{lists[3]}}}'
        ).encode()

    def disclosure_entry(self, request: Any, outcome: Any, day: dt.date, described: int | None = None) -> Entry:
        """The record body of a disclosure request answered with ``outcome`` on ``day``, kept while the
        request lives (the log looks it up by the request's identity): an :class:`Entry`.

        With ``described`` (the number under which the log's writer process holds this recorder's
        :meth:`question_spec`), the body of a validated request is described rather than written:
        ``(DESCRIBED, described, its values, the answer's JSON)``, and the writer process writes it
        (the same bytes)."""
        # a request without as_of is recorded with the day it was answered on: its body holds until
        # that day ends in the policy's zone
        until = self._end_of(day) if request.as_of is None else math.inf
        answer = self.disclosure_answer(outcome)[0]
        values = self.values(request, day)
        body: Any
        if values is None:
            body = make_body("disclosure", self.policy_part[0], self.version,
                             self.general_question(request, day), answer)
        elif described is not None:
            body = (DESCRIBED, described, values, answer)
        else:
            body = self._question_writer().body(values, answer)
        key = id(request)
        entries = self._entries
        # one callback for every entry: the reference carries the key (no closure per record)
        entry = Entry(request, self._forget_entry)
        entry.key, entry.outcome, entry.until, entry.body = key, outcome, until, body
        _bound(entries)
        entries[key] = entry
        return entry

    def _forget(self, ref: Entry) -> None:
        """Drop the entry of a request that is gone (unless its identity was reused since)."""
        if self._entries.get(ref.key) is ref:
            del self._entries[ref.key]

    def _end_of(self, day: dt.date) -> float:
        """The Unix time at which ``day`` ends in the policy's zone."""
        if day != self._day:
            midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self._zone)
            self._day, self._day_until = day, midnight.timestamp()
        return self._day_until

    def body(self, family: str, question: Part, answer: Part) -> Body:
        """The record body of any family from its question and answer parts."""
        return make_body(family, self.policy_part[0], self.version, question[0], answer[0])

    # ---------------------------------------------------------------------------------------
    # retention and data-subject requests
    def retention_question(self, facts: Any, day: dt.date, options: Mapping[str, Any]) -> Part:
        """The question of retention facts judged on ``day``, with the per-call options."""
        zone = ZoneInfo(facts.timezone or self.policy.rules.parameters.timezone)
        data = facts.model_dump(exclude_defaults=True)
        data.pop("timezone", None)
        data["as_of"] = facts.as_of or day
        data.update({k: v for k, v in options.items() if v is not None})
        return part(self.scrub(data, zone))

    def retention_answer(self, verdict: Any) -> Part:
        """The answer part of a retention verdict."""
        return part(self.scrub(retention_answer(verdict)))

    def request_question(self, request: Any) -> Part:
        """The question of a data-subject request."""
        return part(self.scrub(request.model_dump(exclude_defaults=True)))

    def request_answer(self, response: Any) -> Part:
        """The answer part of a data-subject request's response."""
        return part(self.scrub(request_answer(response)))


def _fields(model: Any) -> tuple[Field, ...]:
    """A nested model's fields for a :class:`QuestionSpec`: (name, required, default, JSON key), sorted."""
    fields = model.model_fields
    return tuple((name, *_field(fields[name]), f'"{name}":') for name in sorted(fields))


def _field(info: Any, plain: bool = True) -> tuple[bool, Any]:
    """Whether a field is required, and its default (``None`` for a required field and for one that
    holds a model: the spec holds plain values only)."""
    required = info.is_required()
    return required, None if required or not plain else info.default


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving a mapping's values under ``names`` as a tuple (one name too)."""
    get = operator.itemgetter(*names)
    return get if len(names) > 1 else lambda mapping: (get(mapping),)


def _bound(table: dict[Any, Any]) -> None:
    """Make room in a cache: drop its oldest tenth when it is full."""
    if len(table) >= TABLE_SIZE:
        for old in list(table)[: TABLE_SIZE // 10]:
            del table[old]


def disclosure_answer(outcome: Any) -> dict[str, Any]:
    """The recorded answer to a disclosure question."""
    return {
        "allowed": outcome.allowed,
        "reasons": list(outcome.reasons),
        "rule_ids": list(outcome.rule_ids),
        "clauses": list(outcome.clauses),
        "obligations": list(outcome.obligations),
        "by_category": outcome.by_category,
    }


def retention_answer(verdict: Any) -> dict[str, Any]:
    """The recorded answer to a retention question: the verdict without its explanation."""
    data: dict[str, Any] = verdict.to_dict()
    data.pop("policy_version", None)
    data.pop("reasons", None)  # sentences explaining the verdict: the rule and clause ids stand for them
    data["outcome"] = data.pop("retention_mode")
    return data


def request_answer(response: Any) -> dict[str, Any]:
    """The recorded answer to a data-subject request: the response without its letter."""
    data: dict[str, Any] = response.to_dict()
    data.pop("policy_version", None)
    data.pop("reasons", None)  # sentences explaining the response: the rule and clause ids stand for them
    data.pop("request", None)
    data["obligations"] = []
    data["exclude_reasons"] = sorted([k, v] for k, v in data.get("exclude_reasons", {}).items())
    return data


def context_part(context: Mapping[str, Any] | None, key: bytes) -> Part:
    """The caller's context as stored: ``service`` as given (a short name), ``subject_ref`` only as
    an HMAC-SHA256 under ``key``. Anything else is refused rather than stored."""
    if context is None:
        return NULL
    if not isinstance(context, Mapping):
        raise RequestValidationError(f"context: expected a mapping, got {type(context).__name__}")
    out: dict[str, str] = {}
    for name, value in context.items():
        if name == "service":
            if not isinstance(value, str) or not _SERVICE.fullmatch(value):
                raise RequestValidationError(
                    "context.service: expected a short service name (letters, digits, '_', '.', ':', '-'; "
                    f"at most 64), got {short_repr(value)}"
                )
            out["service"] = value
        elif name == "subject_ref":
            if not isinstance(value, str) or not value:
                raise RequestValidationError(
                    f"context.subject_ref: expected a non-empty string, got {short_repr(value)}"
                )
            out["subject_ref"] = "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
        else:
            raise RequestValidationError(
                f"context.{name}: unexpected field (expected service and subject_ref); the decision log "
                "stores nothing else"
            )
    return part(out) if out else NULL


def subject_hmac(subject_ref: str, key: bytes) -> str:
    """The stored form of a subject reference under ``key``: to find one subject's records."""
    return "hmac-sha256:" + hmac.new(key, subject_ref.encode(), hashlib.sha256).hexdigest()
