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

from pydantic import BaseModel

from policykit._disclosure.decision import CandidateStatus, DisclosureRequest, Outcome, Recipient
from policykit._requests.response import DataSubjectRequest
from policykit._retention.verdict import RetentionFacts
from policykit.errors import RequestValidationError, short_repr

if TYPE_CHECKING:
    from policykit._policy import Policy

__all__ = ["TEXT", "Recorder", "canonical"]

TEXT = "~text"  # what any free text becomes in a record
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# identifier-like strings of the rule files: snake_case ids, upper-case codes, hyphenated clause and rule ids
_TOKEN = re.compile(r"[a-z][A-Za-z0-9_]*|[A-Z][A-Z0-9_]*|[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+")
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
_CACHE = 65_536


def canonical(value: Any) -> bytes:
    """The canonical JSON of a record part: sorted keys, no spaces, UTF-8. Record hashes are taken
    over this form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


Part = tuple[bytes, bytes]  # a record part: its canonical JSON, and the SHA-256 digest of that JSON
Entry = tuple[Any, Any, float, "Body"]


def part(value: Any) -> Part:
    """A record part from a JSON-ready value."""
    text = canonical(value)
    return text, hashlib.sha256(text).digest()


NULL: Part = part(None)


def body_of(family: str, policy: bytes, question: bytes, answer: bytes) -> bytes:
    """The body of a record: the canonical JSON of its ``answer``, ``family``, ``policy`` and
    ``question`` (one object, keys in sorted order), from the canonical JSON of each."""
    return b'{"answer":%s,"family":"%s","policy":%s,"question":%s}' % (answer, family.encode(), policy, question)


def record_digest(prev: str, body_digest: bytes, context_digest: bytes, seq: int, ts: str) -> str:
    """A record's hash: SHA-256 over the previous record's hash (its 32 bytes), the SHA-256 of the
    record's body (:func:`body_of`), the SHA-256 of its context's canonical JSON, and then
    ``"{seq}\n{ts}"`` in ASCII."""
    return hashlib.sha256(
        bytes.fromhex(prev) + body_digest + context_digest + b"%d\n%s" % (seq, ts.encode())
    ).hexdigest()


# A record's body as the log keeps it between answers: (the canonical JSON of the body without its
# braces, the SHA-256 of the whole body, the family, the policy version).
Body = tuple[bytes, bytes, str, str]


def make_body(family: str, policy: bytes, version: str, question: bytes, answer: bytes) -> Body:
    """A :data:`Body` from the parts' canonical JSON."""
    text = body_of(family, policy, question, answer)
    return text[1:-1], hashlib.sha256(text).digest(), family, version


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
        self._plans: dict[type, Any] | None = None
        self._texts: dict[Any, Any] = {}  # nested models' text by content (see _question_text)

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
    def disclosure_question(self, request: Any, day: dt.date) -> bytes:
        """The canonical JSON of a disclosure request's question, as judged on ``day`` (the day a
        request without ``as_of`` was answered on)."""
        text = self._question_text(request, day)
        # a value the direct writer does not know (never a validated request's): the general path
        return text if text is not None else self.general_question(request, day)

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

    def _question_text(self, request: Any, day: dt.date) -> bytes | None:
        """The question's canonical JSON written directly from the request's fields (sorted; only the
        fields that differ from their defaults, as ``model_dump(exclude_defaults=True)`` gives them;
        every string scrubbed): the same bytes as the general path, several times faster. ``None``
        for a value of a type it does not write.

        Written once per content: a nested model's text (the recipient, the candidate) is kept by the
        tuple of its field values and their types, and so are the request's other members (with
        ``as_of`` as judged); never by a repr, in bounded tables."""
        if self._plans is None:
            self._plans = {m: _plan(m) for m in (type(request), Recipient, CandidateStatus)}
        plan = self._plans.get(type(request))
        if plan is None:
            return None
        values = plan[1](request)
        if request.as_of is None:
            values = (*values[:plan[2]], day, *values[plan[2] + 1:])
        scalars = plan[3](values)  # the nested models' members are looked up by their own content
        key: Any = (type(request), scalars, tuple(map(type, scalars)))
        try:
            members: Any = self._texts.get(key)
        except TypeError:  # a value that cannot be a key (a model built without validation)
            key, members = None, None
        if members is None:
            members = self._members(request, values)
            if members is None:
                return None
            if key is not None:
                _bound(self._texts)
                self._texts[key] = members
        if type(members) is str:
            return ("{" + members + "}").encode()
        parts = []
        for member in members:
            if type(member) is str:
                parts.append(member)
                continue
            name, key_text, skip_default = member
            text = self._nested(getattr(request, name))
            if text is None:
                return None
            if not (skip_default and text == "{}"):
                parts.append(key_text + text)
        return ("{" + ",".join(parts) + "}").encode()

    def _members(self, request: Any, values: tuple[Any, ...]) -> Any:
        """The members of a request's text (see :meth:`_question_text`): each either written
        (``"key":value``) or, for a nested model, ``(name, '"key":', whether it is left out when it
        is the default)``; or one string when the request has no nested model. ``None`` if a value
        is not written."""
        plans = self._plans
        assert plans is not None
        fields = plans[type(request)][0]
        members: list[Any] = []
        scalars: list[tuple[Any, Any]] = []
        for field, value in zip(fields, values, strict=True):
            name, default, key_text, nested = field
            if nested:
                if scalars:
                    text = self._scalars(scalars, type(request))
                    if text is None:
                        return None
                    members.extend(text)
                    scalars = []
                same_kind = default is not _REQUIRED and type(value) is type(default)
                members.append((name, key_text, same_kind))
            else:
                scalars.append((field, value))
        if scalars:
            text = self._scalars(scalars, type(request))
            if text is None:
                return None
            members.extend(text)
        if all(type(m) is str for m in members):
            return ",".join(members)
        return tuple(members)

    def _scalars(self, fields: list[tuple[Any, Any]], model: type) -> list[str] | None:
        """The written members of plain fields ((name, default, key, nested), value), defaults left
        out; ``None`` if a value is not written."""
        out: list[str] = []
        for (name, default, key_text, _nested), value in fields:
            if name == "as_of" or default is _REQUIRED or value != default:
                piece = self._value(name, value, model)
                if piece is None:
                    return None
                out.append(key_text + piece)
        return out

    def _nested(self, model: Any) -> str | None:
        """The text of a nested model (see :meth:`_question_text`), or ``None`` if it is not written."""
        plans = self._plans
        assert plans is not None
        plan = plans.get(type(model))
        if plan is None:
            return None
        values = plan[1](model)
        key: Any = (type(model), values, tuple(map(type, values)))
        try:
            text = self._texts.get(key)
        except TypeError:  # a value that cannot be a key (a model built without validation)
            key, text = None, None
        if text is None:
            out: list[str] = []
            if not self._write(model, out, values):
                return None
            text = "".join(out)
            if key is not None:
                _bound(self._texts)
                self._texts[key] = text
        return text

    def _write(self, model: Any, out: list[str], values: tuple[Any, ...]) -> bool:
        """Write a nested model's members (defaults left out) into ``out``; ``False`` if a value is
        not written."""
        plans = self._plans
        assert plans is not None
        fields = plans[type(model)][0]
        members: list[str] = []
        for (name, default, key_text, nested), value in zip(fields, values, strict=True):
            if nested:
                text = self._nested(value)
                if text is None:
                    return False
                if default is not _REQUIRED and text == "{}" and type(value) is type(default):
                    continue  # the default model (every field at its default), left out as model_dump does
                members.append(key_text + text)
                continue
            if default is not _REQUIRED and value == default:
                continue
            piece = self._value(name, value, type(model))
            if piece is None:
                return False
            members.append(key_text + piece)
        out.append("{" + ",".join(members) + "}")
        return True

    def _value(self, name: str, value: Any, model: type) -> str | None:
        """The canonical JSON of one field's value, scrubbed; ``None`` for a value it does not write."""
        if name == "country" and model is Recipient:
            value = self._country(value)
        elif name == "legal_obligation_jurisdiction" and isinstance(value, str):
            value = value.strip().upper() or None
        tokens = self.tokens
        kind = type(value)
        if kind is str:
            return f'"{value}"' if value in tokens or _DATE.fullmatch(value) else f'"{TEXT}"'
        if kind is bool:
            return "true" if value else "false"
        if value is None:
            return "null"
        if kind is int:
            return str(value)
        if kind is dt.date:
            return f'"{value.isoformat()}"'
        if kind is dt.datetime:
            return f'"{value.date().isoformat()}"'
        if kind is tuple or kind is list:
            items = []
            for item in value:
                if type(item) is not str:
                    return None
                items.append(f'"{item}"' if item in tokens or _DATE.fullmatch(item) else f'"{TEXT}"')
            return "[" + ",".join(items) + "]"
        return None

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

    def disclosure_entry(self, request: Any, outcome: Any, day: dt.date) -> Entry:
        """The record body of a disclosure request answered with ``outcome`` on ``day``, kept while the
        request lives (the log looks it up by the request's identity): ``(weak reference to the
        request, the outcome, the Unix time until which the body holds, the body)``."""
        # a request without as_of is recorded with the day it was answered on: its body holds until
        # that day ends in the policy's zone
        until = self._end_of(day) if request.as_of is None else math.inf
        question = self.disclosure_question(request, day)
        body = make_body("disclosure", self.policy_part[0], self.version, question,
                         self.disclosure_answer(outcome)[0])
        key = id(request)
        entries = self._entries
        # one callback for every entry: the reference carries the key (no closure per record)
        entry = (weakref.KeyedRef(request, self._forget, key), outcome, until, body)
        _bound(entries)
        entries[key] = entry
        return entry

    def _forget(self, ref: weakref.KeyedRef[Any, Any]) -> None:
        """Drop the entry of a request that is gone (unless its identity was reused since)."""
        entry = self._entries.get(ref.key)
        if entry is not None and entry[0] is ref:
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


_REQUIRED = object()


def _plan(model: Any) -> tuple[list[tuple[str, Any, str, bool]], Callable[[Any], tuple[Any, ...]], int,
                              Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
    """A model's fields in sorted order: (name, default or ``_REQUIRED``, the JSON key with its colon,
    whether the field holds a nested model); a function giving its values in that order; the
    position of ``as_of`` (-1 without one); and a function taking, from those values, the plain
    fields' (all but the nested models)."""
    fields = model.model_fields
    names = sorted(fields)
    plan = []
    for name in names:
        annotation = fields[name].annotation
        nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        default = _REQUIRED if fields[name].is_required() else fields[name].default
        plan.append((name, default, f'"{name}":', nested))
    getter = operator.attrgetter(*names)
    plain = [i for i, field in enumerate(plan) if not field[3]]
    take = operator.itemgetter(*plain) if len(plain) > 1 else lambda values: tuple(values[i] for i in plain)
    return plan, getter, names.index("as_of") if "as_of" in names else -1, take


def _bound(table: dict[Any, Any]) -> None:
    """Make room in a cache: drop its oldest tenth when it is full."""
    if len(table) >= _CACHE:
        for old in list(table)[: _CACHE // 10]:
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
