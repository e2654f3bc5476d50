"""What the analysis tools ask of a policy: a ``Protocol``, so that they do not import ``Policy``.

``policykit.Policy`` provides it; so can anything else that answers from one rule set's engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from policykit._disclosure.decision import Decision, DisclosureRequest, Outcome
    from policykit._retention.verdict import RetentionOutcome
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["PolicyView"]


class PolicyView(Protocol):
    """A loaded policy as the analysis tools see it: its rule set and its engines' direct answers."""

    @property
    def rules(self) -> RuleSet: ...

    def decide(self, request: DisclosureRequest | Mapping[str, Any]) -> Decision: ...

    def evaluate_facts(self, facts: Mapping[str, Any], categories: tuple[str, ...]) -> Outcome: ...

    def evaluate_values(self, values: tuple[Any, ...], categories: tuple[str, ...]) -> Outcome: ...

    def evaluate_retention_facts(self, facts: Mapping[str, bool]) -> RetentionOutcome: ...

    def evaluate_request_facts(self, facts: Mapping[str, Any], categories: tuple[str, ...]) -> frozenset[int]: ...
