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
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policykit.errors import InputTooLargeError, RequestValidationError
from policykit.errors import short_repr as bounded_repr

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "check_value",
    "loads_json",
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
