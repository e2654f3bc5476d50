"""The retention family's evaluator: ``RetentionFacts`` in, an explained ``RetentionVerdict`` out.

The facts are read and checked (``verdict.read_facts``) and reduced to the yes/no facts of the
retention schema; the engine (the family's own durable-rules ruleset) says which rules fire; the
memo remembers the combined outcome by those facts; ``compute_verdict`` turns it into dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from policykit._dates import Clock
from policykit._engine.adapter import EngineRules
from policykit._engine.context import AnswerContext
from policykit._retention.explain import explain_retention
from policykit._retention.verdict import (
    RetentionFacts,
    RetentionOutcome,
    RetentionVerdict,
    combine_retention,
    compute_verdict,
    read_facts,
)
from policykit._ruleset.loading import PARAMETER_CHOICES, Parameters
from policykit._ruleset.ruleset import RuleSet
from policykit.errors import RequestValidationError, did_you_mean

__all__ = ["RetentionEvaluator", "WithoutLapse"]


class RetentionEvaluator:
    """The retention rules of one rule set compiled into a private engine ruleset, with a memo.

    The memo is keyed by the yes/no facts alone: it holds at most ``2 ** len(facts)`` outcomes, so
    it needs no eviction. ``memo=False`` sends every question to the engine.
    """

    def __init__(self, rules: RuleSet, clock: Clock, *, memo: bool = True) -> None:
        self.rules = rules
        self.clock = clock
        retention = rules.retention
        self._fact_names = tuple(retention.facts)
        self._engine = EngineRules(
            f"retention_{rules.fingerprint}", [r.when for r in retention.rules], retention.facts, ()
        )
        self._context: AnswerContext[RetentionVerdict] = AnswerContext(rules, clock.today, explain_retention)
        self._memo_on = memo
        self._memo: dict[tuple[bool, ...], RetentionOutcome] = {}
        self._hits = 0
        self._misses = 0

    def close(self) -> None:
        """Delete the engine ruleset."""
        self._engine.close()

    def today(self) -> dt.date:
        """Today's date in the policy's time zone (the default ``as_of``)."""
        return self.clock.today()

    def retention(
        self,
        facts: RetentionFacts | Mapping[str, Any],
        *,
        anchor: str | None = None,
        review_interval_months: int | None = None,
        consent_lapse: bool = True,
    ) -> RetentionVerdict:
        """The verdict for ``facts`` (see ``Policy.retention``). ``consent_lapse=False`` leaves out the
        lapse of consent after an unconfirmed review period: a data-subject request states the
        candidate's state itself, and is its own end of consent."""
        parsed = RetentionFacts.parse(facts)
        params = self._parameters(anchor, review_interval_months)
        if not consent_lapse and params.consent_lapses_after_review:
            params = params.model_copy(update={"consent_lapses_after_review": False})
        reading = read_facts(
            parsed, self.rules.retention, params, self.clock.today(), cite=self.rules.citations,
            controller=self.rules.meta.controller.short_name,
        )
        key = tuple(reading.facts[name] for name in self._fact_names)
        outcome = self._memo.get(key)
        if outcome is None:
            self._misses += 1
            outcome = self._evaluate(key)
            if self._memo_on:
                self._memo[key] = outcome
        else:
            self._hits += 1
        return compute_verdict(parsed, reading, outcome, rules=self.rules, params=params, context=self._context)

    def without_lapse(self) -> WithoutLapse:
        """This family asked with no lapse of consent inferred: what data-subject requests ask."""
        return WithoutLapse(self)

    def evaluate_facts(self, facts: Mapping[str, bool]) -> RetentionOutcome:
        """Ask the engine directly, bypassing the memo: the outcome for yes/no facts keyed by field name."""
        return self._evaluate(tuple(bool(facts[name]) for name in self._fact_names))

    def _evaluate(self, key: tuple[bool, ...]) -> RetentionOutcome:
        facts = dict(zip(self._fact_names, key, strict=True))
        fired = self._engine.evaluate(facts, ())
        return combine_retention(self.rules.retention, (r.rule_index for r in fired))

    def _parameters(self, anchor: str | None, review_interval_months: int | None) -> Parameters:
        params = self.rules.parameters
        update: dict[str, Any] = {}
        if anchor is not None:
            choices = PARAMETER_CHOICES["retention_anchor"]
            if anchor not in choices:
                raise RequestValidationError(
                    f"anchor: expected one of {', '.join(choices)}, got {anchor!r}" + did_you_mean(anchor, choices)
                )
            update["retention_anchor"] = anchor
        if review_interval_months is not None:
            if isinstance(review_interval_months, bool) or not isinstance(review_interval_months, int) or not (
                1 <= review_interval_months <= 120
            ):
                raise RequestValidationError(
                    f"review_interval_months: expected a whole number of months from 1 to 120, got "
                    f"{review_interval_months!r}"
                )
            update["review_interval_months"] = review_interval_months
        return params.model_copy(update=update) if update else params

    def memo_info(self) -> dict[str, int]:
        """Memo statistics: ``size``, ``hits``, ``misses``."""
        return {"size": len(self._memo), "hits": self._hits, "misses": self._misses}

    def clear_memo(self) -> None:
        """Forget every remembered outcome."""
        self._memo.clear()


class WithoutLapse:
    """A retention family that infers no lapse of consent after an unconfirmed review period. Request
    handling asks this one: a request states the candidate's state and is itself the end of consent,
    and gives no confirmations of interest."""

    __slots__ = ("_evaluator",)

    def __init__(self, evaluator: RetentionEvaluator) -> None:
        self._evaluator = evaluator

    def retention(self, facts: RetentionFacts | Mapping[str, Any]) -> RetentionVerdict:
        """The verdict on ``facts``, with no lapse of consent inferred."""
        return self._evaluator.retention(facts, consent_lapse=False)
