"""Only ``PolicyKitError`` leaves policykit's API.

Every public entry point runs inside :func:`guarded` (or the same ``try`` written out, where a call
costs too much): a ``PolicyKitError`` passes; anything else Python raises on the way is turned into
a policykit error with a stable code and the original as its ``__cause__``. Exhausted recursion or
memory means an input too large (``InputTooLargeError``, a ``QueryError``); anything else is a bug
(``InternalError``). Neither is ever an answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from policykit.errors import InputTooLargeError, InternalError, PolicyKitError

__all__ = ["guarded", "unexpected"]

F = TypeVar("F", bound=Callable[..., Any])


def unexpected(what: str, exc: BaseException) -> PolicyKitError:
    """The policykit error standing for ``exc``, raised by ``what``; the message names the exception's
    type only (its text may quote the input)."""
    if isinstance(exc, (RecursionError, MemoryError)):
        return InputTooLargeError(
            f"{what}: the input is nested too deeply or too large to process ({type(exc).__name__}); see Limits"
        )
    return InternalError(f"{what}: policykit failed unexpectedly ({type(exc).__name__}); the question was not answered")


def guarded(function: F) -> F:
    """Wrap a public function so that only ``PolicyKitError`` subclasses escape."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except PolicyKitError:
            raise
        except Exception as exc:
            raise unexpected(function.__name__, exc) from exc

    return cast(F, wrapper)
