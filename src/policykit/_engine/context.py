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
    """The rule set behind an answer, the day a question without ``as_of`` is judged on, how to explain
    it and (a data-subject request's answer) how to write the letter to the candidate."""

    rules: RuleSet
    today: Callable[[], dt.date]
    render: Callable[[A, RuleSet, Callable[[], dt.date]], str]
    write: Callable[[A, str], str] | None = None

    def letter(self, answer: A, lang: str) -> str:
        """The reply to the candidate about ``answer``, in ``lang`` (answers that have a letter)."""
        if self.write is None:
            raise TypeError("this kind of answer has no letter")
        return self.write(answer, lang)

    @property
    def version(self) -> str:
        """The version of the policy that answered, e.g. ``2022-06-22``."""
        return self.rules.meta.version

    def explain(self, answer: A) -> str:
        """The plain-English account of ``answer``."""
        return self.render(answer, self.rules, self.today)
