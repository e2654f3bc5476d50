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


def to_data(value: Any) -> Any:
    """``value`` as JSON-ready data (see the module's text)."""
    if value is None or isinstance(value, _SCALARS):
        return value
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    spec = getattr(type(value), "_JSON", None)
    if spec is not None:
        return _keys(value, spec)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {key: to_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(item) for item in value]
    raise TypeError(f"cannot serialise a {type(value).__name__}")  # pragma: no cover - a type left out above


def _keys(value: Any, spec: JsonSpec | Mapping[str, Any]) -> dict[str, Any]:
    entries = spec.items() if isinstance(spec, Mapping) else (
        (entry, entry) if isinstance(entry, str) else entry for entry in spec
    )
    out: dict[str, Any] = {}
    for key, source in entries:
        out[key] = _value(value, source)
    return out


def _value(value: Any, source: str | Callable[[Any], Any] | Mapping[str, Any]) -> Any:
    if isinstance(source, str):
        return to_data(getattr(value, source))
    if isinstance(source, Mapping):
        return _keys(value, source)
    return to_data(source(value))
