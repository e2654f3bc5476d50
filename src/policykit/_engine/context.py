"""What every answer of one evaluator shares: the rule set that answered, its clock, and its explanation.

Results (``Decision``, ``RetentionVerdict``, ``RequestResponse``) are plain data: they hold an
:class:`AnswerContext`, never the object that produced them. ``explain()`` renders through the
context, so a result module does not import its explanation module (the explanation reads the
result, not the other way round).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["AnswerContext"]

A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class AnswerContext(Generic[A]):
    """The rule set behind an answer, the day a question without ``as_of`` is judged on, and how to explain it."""

    rules: RuleSet
    today: Callable[[], dt.date]
    render: Callable[[A, RuleSet, Callable[[], dt.date]], str]

    @property
    def version(self) -> str:
        """The version of the policy that answered, e.g. ``2022-06-22``."""
        return self.rules.meta.version

    def explain(self, answer: A) -> str:
        """The plain-English account of ``answer``."""
        return self.render(answer, self.rules, self.today)
