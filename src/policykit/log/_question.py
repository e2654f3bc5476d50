"""A disclosure question's canonical JSON, written from its field values, and a record's body.

:class:`QuestionWriter` writes the question of a validated :class:`~policykit.DisclosureRequest`
from the values of its fields (:data:`Values`): the same bytes as the general path of
``_record.Recorder`` (``model_dump(exclude_defaults=True)``, free text replaced by ``~text``,
canonical JSON), several times faster. It needs no policy object: what it needs of the policy (the
fields of the request's models, the policy's own terms, the country codes) is plain data
(:class:`QuestionSpec`), so a writer process can write the questions of the records it receives
(see ``_writer``) and the answering thread only hands over the values.

Only the standard library is imported here: the writer process loads this module without policykit.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple

__all__ = ["DESCRIBED", "QuestionSpec", "QuestionWriter", "Values", "body_of", "make_body"]

TEXT = "~text"  # what any free text becomes in a record
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TABLE_SIZE = 65_536  # the most entries a table of the log keeps (record bodies by request, texts by content)

# A record's body as the log keeps it between answers: (the canonical JSON of the body without its
# braces, the SHA-256 of the whole body, the family, the policy version).
Body = tuple[bytes, bytes, str, str]

# A disclosure record described by its values, for a writer to make the body of:
# (DESCRIBED, the number of its QuestionSpec, Values, the canonical JSON of the answer).
DESCRIBED = None  # the first member of a described record (a Body's is its text)
# A request's values: (its plain fields', its recipient's, its candidate's, each in the order of the
# spec's fields; the day it was judged on, which stands for an as_of of None).
Values = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], Any]

# A field of a model: (its name, whether it is required, its default, its JSON key with the colon).
Field = tuple[str, bool, Any, str]


class QuestionSpec(NamedTuple):
    """What :class:`QuestionWriter` needs of a policy, as plain data (picklable)."""

    request: tuple[tuple[str, bool, Any, str, int], ...]  # the request's fields (+ 0 plain, 1 recipient, 2 candidate)
    recipient: tuple[Field, ...]  # the recipient's fields, sorted by name
    candidate: tuple[Field, ...]  # the candidate's fields, sorted by name
    tokens: frozenset[str]  # every term of the policy a record may hold as it is
    countries: dict[str, str]  # an upper-case ISO code or alias -> the country's code
    policy: bytes  # the canonical JSON of the policy's name, version and fingerprint
    version: str  # the policy's version


def body_of(family: str, policy: bytes, question: bytes, answer: bytes) -> bytes:
    """The body of a record: the canonical JSON of its ``answer``, ``family``, ``policy`` and
    ``question`` (one object, keys in sorted order), from the canonical JSON of each."""
    return b'{"answer":%s,"family":"%s","policy":%s,"question":%s}' % (answer, family.encode(), policy, question)


def make_body(family: str, policy: bytes, version: str, question: bytes, answer: bytes) -> Body:
    """A :data:`Body` from the parts' canonical JSON."""
    text = body_of(family, policy, question, answer)
    return text[1:-1], hashlib.sha256(text).digest(), family, version


def country_code(value: str, countries: dict[str, str]) -> str:
    """A recipient's country as recorded: its code (aliases such as ``UK`` read as their country), or
    ``~text`` for anything else. The same reading as the vocabulary's: ASCII only, spaces and tabs
    around it removed, upper case."""
    if not value.isascii():
        return TEXT
    return countries.get(value.strip(" \t").upper(), TEXT)


class QuestionWriter:
    """Writes disclosure questions from their values (see the module's docstring).

    The recipient's and the candidate's texts are kept by their values (a service asks about few
    recipients and candidate states), in bounded tables."""

    def __init__(self, spec: QuestionSpec) -> None:
        self.spec = spec
        self._tokens = spec.tokens
        self._nested: tuple[dict[tuple[Any, ...], str], dict[tuple[Any, ...], str]] = ({}, {})

    def body(self, values: Values, answer: bytes) -> Body:
        """The body of a disclosure record from its question's values and its answer's JSON."""
        spec = self.spec
        return make_body("disclosure", spec.policy, spec.version, self.question(values), answer)

    def question(self, values: Values) -> bytes:
        """The canonical JSON of a request's question (``values``: see :data:`Values`)."""
        plain, recipient, candidate, day = values
        members: list[str] = []
        i = 0
        for name, required, default, key, kind in self.spec.request:
            if kind:
                text = self._model(kind, recipient if kind == 1 else candidate)
                if required or text != "{}":  # the default candidate is left out, as model_dump leaves it
                    members.append(key + text)
                continue
            value = plain[i]
            i += 1
            if name == "as_of":
                if value is None:
                    value = day  # a question without as_of is recorded with the day it was judged on
            elif not required and value == default:
                continue
            members.append(key + self._value(value))
        return ("{" + ",".join(members) + "}").encode()

    def _model(self, kind: int, values: tuple[Any, ...]) -> str:
        """The text of the recipient (``kind`` 1) or the candidate (2): the fields that differ from
        their defaults."""
        table = self._nested[kind - 1]
        text = table.get(values)
        if text is not None:
            return text
        fields = self.spec.recipient if kind == 1 else self.spec.candidate
        members: list[str] = []
        for (name, required, default, key), value in zip(fields, values, strict=True):
            if not required and value == default:
                continue
            written = value
            if name == "country" and kind == 1:
                written = country_code(value, self.spec.countries)
            elif name == "legal_obligation_jurisdiction" and isinstance(value, str):
                written = value.strip().upper() or None
            members.append(key + self._value(written))
        text = "{" + ",".join(members) + "}"
        if len(table) >= TABLE_SIZE:
            table.clear()
        table[values] = text
        return text

    def _value(self, value: Any) -> str:
        """The canonical JSON of a validated field's value, free text replaced by ``~text``."""
        kind = type(value)
        if kind is str:
            return f'"{value}"' if value in self._tokens or _DATE.fullmatch(value) else f'"{TEXT}"'
        if kind is bool:
            return "true" if value else "false"
        if value is None:
            return "null"
        if kind is int:
            return str(value)
        if kind is tuple:
            tokens = self._tokens
            return "[" + ",".join(
                f'"{item}"' if item in tokens or _DATE.fullmatch(item) else f'"{TEXT}"' for item in value
            ) + "]"
        iso = getattr(value, "isoformat", None)  # a date: a validated request holds no other type
        if iso is None:
            raise TypeError(f"a disclosure question's field holds a {kind.__name__}")
        return f'"{iso()[:10]}"'
