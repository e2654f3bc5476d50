"""Untrusted input, bounded before it is expanded.

Requests (through the API or the command line), rule files, mapping files and JSON lines may come
from someone else. Everything policykit reads goes through here first:

- :class:`Limits`: the size and depth bounds, with defaults far above any real request or rule
  file; ``load_policy(limits=...)`` and the ``POLICYKIT_LIMIT_*`` environment variables change them.
- :func:`check_value`: walks a request (plain data) iteratively, counting values, depth and string
  length, and refuses it before pydantic or anything recursive sees it.
- :func:`read_text_file`: a regular file only (no FIFO, device or directory), not a symbolic link
  unless allowed, at most ``max_bytes``, strict UTF-8; errors never quote the file's text.
- :func:`loads_json`: JSON with duplicate keys refused and nesting bounded.
- ``errors.short_repr``: the repr of a value for an error message, without building the repr of a
  huge value first.
- :class:`InputModel`, :func:`parse_input` and :func:`input_error`: the one base of the question
  types, the one way a mapping becomes a question, and the one formatter from pydantic's errors to
  the ``QueryError`` that names the field.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from policykit.errors import (
    InputTooLargeError,
    InvalidDateError,
    QueryError,
    RequestValidationError,
    UnknownRequestTermError,
    did_you_mean,
)
from policykit.errors import short_repr as bounded_repr

__all__ = [
    "DATE_ERROR",
    "DEFAULT_LIMITS",
    "TERM_ERROR",
    "InputModel",
    "Limits",
    "check_value",
    "error_location",
    "fields_at",
    "input_error",
    "loads_json",
    "parse_input",
    "problem",
    "read_text_file",
]


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds on untrusted input, checked before anything is expanded.

    ``max_bytes``: the largest request, facts or JSON-lines line read from a file or stdin (bytes).
    ``max_rule_file_bytes``: the largest rule, mapping or invariants file (bytes).
    ``max_depth``: the deepest nesting of mappings and lists in a request or a YAML/JSON document.
    ``max_items``: the most values (mapping entries, list items, scalars) in one request or document,
    counting every use of a YAML alias.
    ``max_string``: the longest string in a request (characters).
    ``max_aliases``: the most YAML alias uses in one document (rule files use none).
    """

    max_bytes: int = 1 << 20
    max_rule_file_bytes: int = 8 << 20
    max_depth: int = 32
    max_items: int = 100_000
    max_string: int = 10_000
    max_aliases: int = 1_000

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RequestValidationError(f"{field.name}: expected a whole number of at least 1, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, overridden by ``POLICYKIT_LIMIT_MAX_BYTES`` and the like (the command line)."""
        env = os.environ if environ is None else environ
        update: dict[str, int] = {}
        for field in dataclasses.fields(cls):
            name = f"POLICYKIT_LIMIT_{field.name.upper()}"
            if name in env:
                text = env[name].strip()
                if not text.isascii() or not text.isdigit() or len(text) > 18:
                    raise RequestValidationError(f"{name}: expected a whole number, got {bounded_repr(env[name])}")
                update[field.name] = int(text)
        return cls(**update)


DEFAULT_LIMITS = Limits()


def check_value(value: Any, limits: Limits = DEFAULT_LIMITS, what: str = "the request") -> None:
    """Refuse a request deeper, larger or with longer strings than ``limits`` allow.

    Iterative (no recursion), and it stops at the first bound exceeded: the cost is at most
    ``max_items`` steps whatever the input. Mappings, lists, tuples and sets are walked; other
    values (iterators included) are left to validation, which refuses what is not plain data.
    """
    max_depth, max_items, max_string = limits.max_depth, limits.max_items, limits.max_string
    stack: list[tuple[Any, int]] = [(value, 1)]
    pushed = 1
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict or kind is list or kind is tuple:
            children: Any = item.values() if kind is dict else item
            keys: Any = item.keys() if kind is dict else ()
        elif isinstance(item, str):
            if len(item) > max_string:
                raise _too_long(what, max_string, len(item))
            continue
        elif isinstance(item, Mapping):
            children, keys = item.values(), item.keys()
        elif isinstance(item, (list, tuple, set, frozenset)):
            children, keys = item, ()
        else:
            continue
        size = len(item)
        if not size:
            continue
        if depth >= max_depth:
            raise InputTooLargeError(
                f"{what}: expected mappings and lists nested at most {max_depth} deep (the max_depth limit)"
            )
        pushed += 2 * size if keys else size
        if pushed > max_items:
            raise InputTooLargeError(f"{what}: expected at most {max_items:,} values (the max_items limit)")
        for key in keys:
            if type(key) is str:
                if len(key) > max_string:
                    raise _too_long(what, max_string, len(key))
            else:
                stack.append((key, depth + 1))
        for child in children:
            child_kind = type(child)
            if child_kind is str:  # the common leaves, checked here rather than pushed
                if len(child) > max_string:
                    raise _too_long(what, max_string, len(child))
            elif child_kind is not bool and child_kind is not int and child is not None:
                stack.append((child, depth + 1))


def _too_long(what: str, max_string: int, size: int) -> InputTooLargeError:
    return InputTooLargeError(
        f"{what}: expected strings of at most {max_string:,} characters (the max_string limit), got one of {size:,}"
    )


# ------------------------------------------------------------------------------------------------
# files


class InputFileError(Exception):
    """A file could not be read: the reason, without the file's text (turned into the caller's error)."""


def read_text_file(path: str | Path, *, max_bytes: int, follow_symlinks: bool = False) -> str:
    """The text of a regular UTF-8 file of at most ``max_bytes`` bytes.

    Refuses, with :class:`InputFileError`: a symbolic link (unless ``follow_symlinks``), anything but
    a regular file (a FIFO is opened without blocking, so it cannot hang the reader), a file larger
    than ``max_bytes`` (checked on its size and again on what is read), and text that is not UTF-8
    (the byte offset is given, the bytes are not)."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise InputFileError("expected a regular file, found a symbolic link (not followed)")
        except FileNotFoundError:
            raise InputFileError("no such file") from None
        except OSError as exc:
            raise InputFileError(f"cannot read it: {exc.strerror or type(exc).__name__}") from None
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputFileError("no such file") from None
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1):
            raise InputFileError("expected a regular file, found a symbolic link (not followed)") from None
        raise InputFileError(f"cannot read it: {exc.strerror or type(exc).__name__}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket")
            raise InputFileError(f"expected a regular file, found {kind}")
        if info.st_size > max_bytes:
            raise InputFileError(
                f"expected at most {max_bytes:,} bytes (the size limit), the file has {info.st_size:,}"
            )
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputFileError(f"cannot read it: {exc.strerror or type(exc).__name__}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise InputFileError(f"expected at most {max_bytes:,} bytes (the size limit), the file grew while read")
    return decode_utf8(data)


def decode_utf8(data: bytes) -> str:
    """Strict UTF-8; the error gives the byte offset, never the bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"expected UTF-8 text, found an invalid byte at offset {exc.start:,}") from None


def read_stream(stream: Any, *, max_bytes: int) -> str:
    """At most ``max_bytes`` bytes of a binary (or text) stream such as stdin, as strict UTF-8."""
    buffer = getattr(stream, "buffer", stream)
    data = buffer.read(max_bytes + 1)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > max_bytes:
        raise InputFileError(f"expected at most {max_bytes:,} bytes (the size limit)")
    return decode_utf8(data)


# ------------------------------------------------------------------------------------------------
# JSON


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(f"duplicate key {bounded_repr(key)} in one object")
            seen.add(key)
    return result


class JsonInputError(Exception):
    """The text is not one acceptable JSON document: the reason (no text of the document)."""


def loads_json(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse JSON with duplicate keys refused; errors are :class:`JsonInputError`, or
    ``json.JSONDecodeError`` when the text is not JSON at all. The C parser guards its own
    recursion, so a deeply nested text fails fast; the caller checks the result against ``limits``
    (:func:`check_value`) before expanding it."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as exc:
        raise JsonInputError(str(exc)) from None
    except RecursionError:
        raise JsonInputError(f"expected JSON nested at most {limits.max_depth} deep (the max_depth limit)") from None


# ------------------------------------------------------------------------------------------------
# questions: one base model, one parser, one formatter of pydantic's errors


class InputModel(BaseModel):
    """The base of every question policykit parses (disclosure requests, retention facts, data-subject
    requests, the sweep's mapping file): frozen, no unknown fields, and an instance given as a field
    value (one made with ``model_construct``, say) is validated again, never trusted as it is."""

    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")


Model = TypeVar("Model", bound=BaseModel)

#: the error types of pydantic-core that policykit's own validators raise, and the errors they become
#: (a malformed date, an unknown term); any other problem is a ``RequestValidationError``
DATE_ERROR = "policykit_date"
TERM_ERROR = "policykit_term"


def parse_input(
    model: type[Model], data: Any, *, what: str, expected: str, context: dict[str, Any] | None = None
) -> Model:
    """Validate a mapping of ``model``'s fields (or an instance of ``model``, validated again); anything
    else is refused as not ``expected`` (``"a DisclosureRequest"``), and a validation error becomes the
    :class:`~policykit.errors.QueryError` of :func:`input_error` (``what`` names the question:
    ``"disclosure request"``)."""
    if type(data) is not dict:
        if isinstance(data, Mapping):
            data = dict(data)
        elif not isinstance(data, model):
            raise RequestValidationError(f"expected {expected} or a mapping of its fields, got {type(data).__name__}")
    try:
        # what model_validate does, without its Python-level wrapper (a question's hot path)
        return cast(Model, model.__pydantic_validator__.validate_python(data, context=context))
    except ValidationError as exc:
        raise input_error(what, exc, model) from None


def input_error(what: str, exc: ValidationError, model: type[BaseModel] | None = None) -> QueryError:
    """The one error for a question that failed validation.

    A malformed date (:data:`DATE_ERROR`) is an ``InvalidDateError`` and an unknown term
    (:data:`TERM_ERROR`) an ``UnknownRequestTermError``, each naming its field; otherwise a
    ``RequestValidationError`` with one line per problem (:func:`problem`), after ``invalid {what}:``.
    ``model`` lets an unexpected field suggest the field meant."""
    errors = exc.errors(include_url=False)
    for kind, cls in ((DATE_ERROR, InvalidDateError), (TERM_ERROR, UnknownRequestTermError)):
        for err in errors:
            if err["type"] == kind:
                return cls(f"{error_location(err['loc'])}: {err['msg']}")
    return RequestValidationError(f"invalid {what}: " + "; ".join(problem(err, model) for err in errors))


def problem(err: ErrorDetails, model: type[BaseModel] | None = None, *, unexpected: str = "field") -> str:
    """One problem as ``where: what was expected (got what was given)``. A missing value is "expected
    a value, found none"; an unknown field is "unexpected field", with the closest field of ``model``
    at that place (or the fields there) when ``model`` is given."""
    loc = tuple(err["loc"])
    where = error_location(loc)
    if err["type"] == "missing":
        return f"{where}: expected a value, found none"
    if err["type"] == "extra_forbidden":
        known = fields_at(model, loc[:-1]) if model is not None else []
        hint = did_you_mean(str(loc[-1]), known) if known else ""
        if known and not hint:
            hint = f" (expected one of {', '.join(known)})"
        return f"{where}: unexpected {unexpected}{hint}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    # policykit's validators say what they got; pydantic's own messages do not
    got = "" if ", got " in msg else f" (got {bounded_repr(err.get('input'))})"
    return f"{where}: {msg}{got}"


def error_location(loc: Iterable[Any]) -> str:
    """A place in a question as its fields and indexes (``disputes[0].opened_on``), leaving out the
    steps pydantic adds for its own validators and unions."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not (isinstance(part, str) and ("[" in part or "function-" in part)):
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def fields_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The fields of the model found at ``loc`` inside ``model`` (through lists and optional fields)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return []
        current = _model_in(info.annotation)
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    """The pydantic model an annotation holds (``Dispute``, ``tuple[Dispute, ...]``, ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
