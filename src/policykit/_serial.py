"""One serializer: a result as JSON-ready data.

Results are frozen, slotted dataclasses. :func:`to_data` turns one into plain data (dicts, lists,
strings, numbers, booleans, ``None``) the same way for every type: dates become ISO text, tuples
and other sequences lists, mappings dicts, and a nested result is serialised in turn. A type's
``to_dict()`` is ``to_data(self)``.

By default a result's JSON keys are its fields, in order. A type whose JSON form differs names its
keys in a class attribute ``_JSON``, in order, each one of:

- ``"name"``: the attribute (field or property) of that name;
- ``("key", "attribute")``: the attribute under another key;
- ``("key", function)``: what the function gives for the result (a rounded time, a sorted mapping);
- ``("key", {"inner": ...})``: a group of keys under one key, each entry again one of these.

Every result type works this way: the answers of the three rule families (``Decision``,
``RetentionVerdict``, ``RequestResponse`` and its ``ItemDisposition``), the sweep's report, the
decision log's reports, the records' results and verify's and diff's reports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["JsonSpec", "to_data"]

#: the keys of a type's JSON form (see the module's text)
JsonSpec = tuple[Any, ...]

_SCALARS = (str, int, float, bool)
_PLAIN = frozenset((str, int, float, bool, type(None)))


def to_data(value: Any) -> Any:
    """``value`` as JSON-ready data (see the module's text)."""
    cls = type(value)
    convert = _CONVERTERS.get(cls)
    if convert is None:
        convert = _CONVERTERS[cls] = _converter(cls)
    return convert(value)


#: how each type met so far is serialised, worked out once per type (the types are the program's own:
#: results, dates, scalars and containers; never anything a caller's input names)
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def _same(value: Any) -> Any:
    return value


def _iso(value: dt.date) -> str:
    return value.isoformat()


# (a plain value is its own data: the containers skip the call for it)
def _items(value: Mapping[Any, Any]) -> dict[Any, Any]:
    return {key: item if type(item) in _PLAIN else to_data(item) for key, item in value.items()}


def _sequence(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [item if type(item) in _PLAIN else to_data(item) for item in value]


def _converter(cls: type) -> Callable[[Any], Any]:
    """How to serialise a value of type ``cls``."""
    if cls is type(None) or issubclass(cls, _SCALARS):
        return _same
    if issubclass(cls, dt.date):  # datetimes too
        return _iso
    spec = getattr(cls, "_JSON", None)
    if spec is not None:
        return _keys(spec)
    if dataclasses.is_dataclass(cls):
        return _keys(tuple(f.name for f in dataclasses.fields(cls)))
    if issubclass(cls, Mapping):
        return _items
    if issubclass(cls, (list, tuple)):
        return _sequence
    raise TypeError(f"cannot serialise a {cls.__name__}")  # pragma: no cover - a type left out above


def _keys(spec: JsonSpec | Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """The function that writes a result's keys, each from its source."""
    entries = spec.items() if isinstance(spec, Mapping) else (
        (entry, entry) if isinstance(entry, str) else entry for entry in spec
    )
    sources = tuple((key, _source(source)) for key, source in entries)
    return lambda value: {key: source(value) for key, source in sources}


def _source(source: str | Callable[[Any], Any] | Mapping[str, Any]) -> Callable[[Any], Any]:
    if isinstance(source, str):
        def attribute(value: Any) -> Any:
            item = getattr(value, source)
            return item if type(item) in _PLAIN else to_data(item)
        return attribute
    if isinstance(source, Mapping):
        return _keys(source)
    return lambda value: to_data(source(value))
