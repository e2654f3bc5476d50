"""A value snapshot of a plain request mapping: the lookup key of the answers already given.

``decide()`` remembers, for a plain mapping it has validated and answered, the memo key of that
answer. The table is looked up by a *snapshot* of the mapping, never by its ``repr``: a tuple built
only from values whose equality is their content (exact ``str``, ``int``, ``bool``, ``None``,
``datetime.date``, and ``dict``/``list``/``tuple`` of them), flattened with markers that open and
close each container and stand for ``True``/``False`` (``True == 1`` in Python). Two snapshots are
equal exactly when the two mappings hold equal values of the same types in the same order, so two
different requests can never share an entry.

Anything else (an iterator, a generator, a subclass of ``str`` or ``dict``, an object with a default
``repr``, a float, a structure deeper or larger than a request can be) has no snapshot: such a
request is validated and answered every time, exactly as with the memo off.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["MAX_SNAPSHOT_DEPTH", "MAX_SNAPSHOT_ITEMS", "snapshot"]

# a disclosure request nests three levels (request, recipient, a list of strings); its mappings hold
# a few dozen values. Anything bigger gets no snapshot (and meets the input limits when validated).
MAX_SNAPSHOT_DEPTH = 4
MAX_SNAPSHOT_ITEMS = 512


class _Marker:
    """A value equal only to itself: opens or closes a container, or stands for a bool."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_DICT = _Marker("dict")
_END = _Marker("end")
_TRUE = _Marker("true")
_FALSE = _Marker("false")
_OPEN: dict[type, _Marker] = {dict: _DICT, list: _Marker("list"), tuple: _Marker("tuple")}
# exact types only: a subclass may redefine equality, and ``type(True) is int`` is false
_ATOMS = frozenset({str, int, type(None), dt.date})


class _NoSnapshotError(Exception):
    """The value holds something whose equality is not its content, or is too big or deep."""


def snapshot(value: Any) -> tuple[Any, ...] | None:
    """The snapshot of a plain ``dict`` request, or ``None`` when it has none (see the module)."""
    if type(value) is not dict:
        return None
    out: list[Any] = [_DICT]
    try:
        _fill(value, out, 1)
    except _NoSnapshotError:
        return None
    return tuple(out)


def _fill(value: Any, out: list[Any], depth: int) -> None:
    """Append the snapshot of a container's items to ``out`` (written out twice, for speed)."""
    if len(value) + len(out) > 2 * MAX_SNAPSHOT_ITEMS:
        raise _NoSnapshotError
    append = out.append
    atoms = _ATOMS
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _NoSnapshotError
            append(key)
            kind = type(item)
            if kind in atoms:
                append(item)
            elif kind is bool:
                append(_TRUE if item else _FALSE)
            else:
                marker = _OPEN.get(kind)
                if marker is None or depth >= MAX_SNAPSHOT_DEPTH:
                    raise _NoSnapshotError
                append(marker)
                _fill(item, out, depth + 1)
                append(_END)
    else:
        for item in value:
            kind = type(item)
            if kind in atoms:
                append(item)
            elif kind is bool:
                append(_TRUE if item else _FALSE)
            else:
                marker = _OPEN.get(kind)
                if marker is None or depth >= MAX_SNAPSHOT_DEPTH:
                    raise _NoSnapshotError
                append(marker)
                _fill(item, out, depth + 1)
                append(_END)
