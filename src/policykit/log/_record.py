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
import re
import typing
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dateutil import tz

from policykit._disclosure.decision import DisclosureRequest
from policykit._requests.response import DataSubjectRequest
from policykit._retention.verdict import RetentionFacts
from policykit.errors import RequestValidationError, short_repr

if TYPE_CHECKING:
    from policykit._policy import Policy

__all__ = ["TEXT", "Recorder", "canonical"]

TEXT = "~text"  # what any free text becomes in a record
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# identifier-like strings of the rule files: snake_case ids, upper-case codes, clause ids like P-TP-4b
_TOKEN = re.compile(r"[a-z][A-Za-z0-9_]*|[A-Z][A-Z0-9_]*|[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+")
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
_CACHE = 65_536


def canonical(value: Any) -> bytes:
    """The canonical JSON of a record part: sorted keys, no spaces, UTF-8. Record hashes are taken
    over this form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


Part = tuple[bytes, bytes]  # a record part: its canonical JSON, and the SHA-256 digest of that JSON


def part(value: Any) -> Part:
    """A record part from a JSON-ready value."""
    text = canonical(value)
    return text, hashlib.sha256(text).digest()


NULL: Part = part(None)


def record_digest(seq: int, ts: str, family: str, prev: str, parts: tuple[bytes, ...]) -> str:
    """A record's hash: SHA-256 over ``"{seq}\n{ts}\n{family}\n{prev}\n"`` followed by the 32-byte
    SHA-256 digests of the canonical JSON of its policy, question, answer and context, in that order."""
    head = b"%d\n%s\n%s\n%s\n" % (seq, ts.encode(), family.encode(), prev.encode())
    return hashlib.sha256(head + b"".join(parts)).hexdigest()


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
        self._zone = tz.gettz(rules.parameters.timezone)
        self._day = dt.date.min
        self._day_from = self._day_until = 0
        self._tokens: frozenset[str] | None = None
        self._questions: dict[int, tuple[weakref.ref[Any], dt.date, Part]] = {}
        self._answers: dict[int, tuple[Any, Part]] = {}

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
    def day_at(self, second: int) -> dt.date:
        """The policy's local date at a Unix time (whole seconds): the day a question without an
        ``as_of`` was judged on."""
        if not self._day_from <= second < self._day_until:
            local = dt.datetime.fromtimestamp(second, self._zone)
            start = dt.datetime.combine(local.date(), dt.time(), self._zone)
            self._day = local.date()
            self._day_from = int(start.timestamp())
            midnight = dt.datetime.combine(self._day + dt.timedelta(days=1), dt.time(), self._zone)
            self._day_until = int(midnight.timestamp())
        return self._day

    def disclosure_question(self, request: Any, second: int) -> Part:
        """The question of a disclosure request asked at ``second`` (Unix time), cached per live
        request object."""
        day = request.as_of or self.day_at(second)
        key = id(request)
        hit = self._questions.get(key)
        if hit is not None and hit[0]() is request and hit[1] == day:
            return hit[2]
        data = request.model_dump(exclude_defaults=True)
        data["as_of"] = request.as_of or day
        recipient = data["recipient"]
        country = self.policy.rules.vocabulary.country(recipient["country"])
        recipient["country"] = country.code if country is not None else TEXT
        jurisdiction = recipient.get("legal_obligation_jurisdiction")
        if isinstance(jurisdiction, str):
            recipient["legal_obligation_jurisdiction"] = jurisdiction.strip().upper() or None
        out = part(self.scrub(data))
        _bound(self._questions)
        self._questions[key] = (weakref.ref(request), day, out)
        return out

    def disclosure_answer(self, outcome: Any) -> Part:
        """The answer part of a disclosure outcome (cached per outcome)."""
        hit = self._answers.get(id(outcome))
        if hit is not None and hit[0] is outcome:
            return hit[1]
        out = part(self.scrub(disclosure_answer(outcome)))
        _bound(self._answers)
        self._answers[id(outcome)] = (outcome, out)
        return out

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
