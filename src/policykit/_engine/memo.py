"""The bounded memo every evaluator keeps on top of the engine.

A :class:`Memo` is a ``dict`` (so a lookup is a plain ``get``) that holds at most ``size`` entries:
when it is full, the oldest tenth is dropped (insertion order is age). Every entry is something the
engine answered, so the memo changes how fast an answer comes, never what it is. ``size`` 0 keeps
nothing.
"""

from __future__ import annotations

import threading
from typing import TypeVar

__all__ = ["Memo"]

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A dict bounded to ``size`` entries; :meth:`put` makes room first, under a lock."""

    __slots__ = ("_lock", "size")

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` under ``key`` (nothing, when the memo is off)."""
        if self.size <= 0:
            return
        with self._lock:
            self.make_room()
            self[key] = value

    def make_room(self) -> None:
        """Drop the oldest tenth of the entries when the memo is full."""
        if len(self) >= self.size:
            for old in list(self)[: max(1, self.size // 10)]:
                self.pop(old, None)
