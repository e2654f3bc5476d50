"""Partial engine failures: whatever durable-rules reports that is not a complete, consistent
evaluation raises EngineError (never an answer, never a KeyError), and the policy answers correctly
again afterwards.

The failures are injected at the binding: the real Rete network evaluates the fact, and the stream of
actions it schedules is then altered (cut short, the sentinel dropped, a rule left out, a rule
repeated, a name the ruleset does not have) before the adapter reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import policykit
from policykit._engine import adapter as _engine
from policykit.errors import EngineError

Transform = Callable[[list[str]], list[str]]

ALLOWED = {
    "operation": "transfer",
    "data_categories": ["name", "contact_info"],
    "purpose": "present_candidates_to_clients",
    "recipient": {"kind": "recruitment_client", "country": "SE", "active_assignment": True,
                  "confidentiality_undertaking": True, "data_agreement_signed": True},
}
# the same transfer after the candidate withdrew consent: P-INTRO-3 forbids it (D4), while the
# recruitment-client permit (D10) still fires; leaving the forbid out would turn it into an allow
WITHDRAWN = {**ALLOWED, "candidate": {"consent_status": "withdrawn"}}


def _name(message: str) -> str:
    return next(iter(json.loads(message)))


def _inject(monkeypatch: pytest.MonkeyPatch, transform: Transform) -> None:
    """Let the engine evaluate for real, then hand the adapter ``transform(messages)`` instead."""
    binding = _engine.durable_rules_engine
    real_start = binding.start_action_for_state
    real_next = binding.complete_and_start_action
    queue: list[str] = []

    def start(handle: int, state: str) -> Any:
        action = real_start(handle, state)
        messages: list[str] = []
        if action:
            messages.append(action[1])
            while message := real_next(handle, state):
                messages.append(message)
        queue[:] = transform(messages)
        return (action[0], queue.pop(0)) if queue and action else None

    def following(handle: int, state: str) -> Any:
        return queue.pop(0) if queue else None

    monkeypatch.setattr(binding, "start_action_for_state", start)
    monkeypatch.setattr(binding, "complete_and_start_action", following)


def _forbid_names(policy: policykit.Policy) -> set[str]:
    rules = policy.rules.disclosure.rules
    return {r.name for r in policy._disclosure.engine.rules if rules[r.rule_index].effect == "forbid"}


def _cut_short(messages: list[str]) -> list[str]:
    return messages[:1]


def _without_sentinel(messages: list[str]) -> list[str]:
    return [m for m in messages if _name(m) != "pk_sentinel"]


def _sentinel_twice(messages: list[str]) -> list[str]:
    return [*messages, messages[-1]]


def _rule_twice(messages: list[str]) -> list[str]:
    return [messages[0], *messages]


def _unknown_rule(messages: list[str]) -> list[str]:
    return ['{"r999_0_0":{"m":{}}}', *messages]


def _unknown_instead_of_a_rule(messages: list[str]) -> list[str]:
    return ['{"r999_0_0":{"m":{}}}', *messages[1:]]


def _nothing(messages: list[str]) -> list[str]:
    return []


def _sentinel_only(messages: list[str]) -> list[str]:
    return messages[-1:]


CASES: list[tuple[str, Transform, dict[str, Any], str]] = [
    ("cut short", _cut_short, WITHDRAWN, "did not complete"),
    ("sentinel missing, other rules present", _without_sentinel, WITHDRAWN, "did not complete"),
    ("sentinel reported twice", _sentinel_twice, WITHDRAWN, "did not complete"),
    ("no action at all", _nothing, ALLOWED, "did not complete"),
    ("a rule reported twice", _rule_twice, WITHDRAWN, "twice"),
    ("an unknown rule name", _unknown_rule, WITHDRAWN, "unknown rule 'r999_0_0'"),
    ("an unknown name instead of a rule", _unknown_instead_of_a_rule, WITHDRAWN, "unknown rule"),
    ("every rule left out but the sentinel", _sentinel_only, ALLOWED, "disagree.*missing"),
]


@pytest.mark.parametrize(("transform", "request_", "message"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_partial_engine_answer_raises_engine_error_and_the_policy_recovers(
    monkeypatch: pytest.MonkeyPatch, transform: Transform, request_: dict[str, Any], message: str
) -> None:
    with policykit.load_policy(memo_size=0) as policy, policykit.load_policy(memo_size=0) as fresh:
        engine = policy._disclosure.engine
        expected = fresh.decide(request_).outcome
        assert policy.decide(request_).outcome == expected
        before = engine.name
        _inject(monkeypatch, transform)
        with pytest.raises(EngineError, match=message):
            policy.decide(request_)
        monkeypatch.undo()
        # the ruleset was replaced by a clean one, which answers as before and holds no fact
        assert engine.name != before
        assert engine.stored_facts() == 0
        assert policy.decide(request_).outcome == expected
        assert policy.decide(ALLOWED).allowed
        assert not policy.decide(WITHDRAWN).allowed


def test_a_forbid_the_engine_leaves_out_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The withdrawal forbid fires with a permit; dropped silently, it would become an allow. The
    adapter compares what fired with the compiled cubes and refuses to answer instead."""
    with policykit.load_policy(memo_size=0) as policy:
        forbids = _forbid_names(policy)
        decision = policy.decide(WITHDRAWN)
        assert not decision.allowed and decision.deciding_rule == "D4-CONSENT-WITHDRAWN"
        assert "D10-PERMIT-RECRUITMENT-CLIENT" in decision.rule_ids
        _inject(monkeypatch, lambda ms: [m for m in ms if _name(m) not in forbids])
        with pytest.raises(EngineError, match="missing"):
            policy.decide(WITHDRAWN)
        monkeypatch.undo()
        assert policy.decide(WITHDRAWN).outcome == decision.outcome


def test_a_rule_the_engine_adds_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule reported although its cube does not contain the fact is refused as well."""
    with policykit.load_policy(memo_size=0) as policy:
        engine = policy._disclosure.engine
        fired = {r.name for r in engine.evaluate(_facts(policy, WITHDRAWN), ("contact_info", "name"))}
        stranger = next(r.name for r in engine.rules if r.name not in fired and r.categories is None)
        _inject(monkeypatch, lambda ms: [f'{{"{stranger}":{{"m":{{}}}}}}', *ms])
        with pytest.raises(EngineError, match=f"unexpected \\['{stranger}'\\]"):
            policy.decide(WITHDRAWN)


def test_retention_and_requests_fail_closed_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The other families go through the same adapter: a cut-short answer is an EngineError there too."""
    with policykit.load_policy(memo_size=0) as policy:
        facts = {"applications": ["2024-01-10"], "as_of": "2024-06-01"}
        verdict = policy.retention(facts)
        _inject(monkeypatch, _without_sentinel)
        with pytest.raises(EngineError, match="did not complete"):
            policy.retention(facts)
        monkeypatch.undo()
        assert policy.retention(facts).to_dict() == verdict.to_dict()
        access = {"request": "access", "channel": "email", "received_on": "2025-03-12",
                  "data_held": ["name", "contact_info"], "sources": ["candidate"]}
        with policykit.load_policy() as other:
            response = other.handle_request(access)
        _inject(monkeypatch, _cut_short)  # (the request family keeps its own memo: asked first here)
        with pytest.raises(EngineError, match="did not complete"):
            policy.handle_request(access)
        monkeypatch.undo()
        assert policy.handle_request(access).to_dict() == response.to_dict()


def test_the_expected_rules_are_the_rules_whose_cubes_contain_the_fact() -> None:
    """The adapter's independent check, against the cubes read directly: for a sample of facts, the
    bit mask names exactly the compiled rules whose every constraint the fact satisfies."""
    with policykit.load_policy(memo_size=0) as policy:
        engine = policy._disclosure.engine
        for request in (ALLOWED, WITHDRAWN, {**ALLOWED, "recipient": {**ALLOWED["recipient"], "country": "US"}}):
            facts = _facts(policy, request)
            cats = ("contact_info", "name")
            mask = engine.expected(tuple(facts[n] for n in engine.field_names), cats)
            flags = {f"g{i}": not set(cats).isdisjoint(g) for i, g in enumerate(engine._groups)}
            point = {**facts, **flags}
            by_hand = {r.name for r in engine.rules if all(point[f] in vs for f, vs in r.cube)}
            assert {r.name for i, r in enumerate(engine.rules) if mask >> i & 1} == by_hand
            assert {r.name for r in engine.evaluate(facts, cats)} == by_hand


def _facts(policy: policykit.Policy, request: dict[str, Any]) -> dict[str, Any]:
    req = policykit.DisclosureRequest.parse(request)
    values, _ = policy._disclosure.normaliser.normalise(req, policy.today())
    return dict(zip(policy._disclosure.fact_names, values, strict=True))


def test_the_replaced_ruleset_is_deleted_from_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a failure the old ruleset is deleted (nothing leaks into the binding), once, even when
    deleting it fails; the new one answers."""
    with policykit.load_policy(memo_size=0) as policy:
        engine = policy._disclosure.engine
        policy.decide(ALLOWED)
        old = engine._holder["handle"]
        binding = _engine.durable_rules_engine
        real_delete = binding.delete_ruleset
        deleted: list[Any] = []

        def delete(handle: Any) -> None:
            deleted.append(handle)
            real_delete(handle)
            raise RuntimeError("delete failed")  # the reset goes on regardless

        monkeypatch.setattr(binding, "delete_ruleset", delete)
        _inject(monkeypatch, _without_sentinel)
        with pytest.raises(EngineError, match="did not complete"):
            policy.decide(ALLOWED)
        monkeypatch.undo()
        assert deleted == [old]
        assert engine._holder["handle"] not in (None, old)
        assert policy.decide(ALLOWED).allowed
