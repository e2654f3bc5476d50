"""Policy.decide_many: many questions at once, with exactly the answers and errors of decide()."""

from __future__ import annotations

import pytest

import policykit
from tests.acceptance.cases import load_cases

REQUESTS = [c["inputs"] for c in load_cases("disclosure")]


def test_decide_many_gives_the_answers_of_decide_in_order() -> None:
    """Each decision of a batch equals decide() on the same request, typed or mapping, in order."""
    typed = [policykit.DisclosureRequest.parse(r) for r in REQUESTS]
    mixed = [r if i % 2 else typed[i] for i, r in enumerate(REQUESTS)]
    with policykit.load_policy(memo_size=0) as one_by_one, policykit.load_policy() as batch:
        expected = [one_by_one.decide(r).outcome for r in REQUESTS]
        assert [d.outcome for d in batch.decide_many(mixed)] == expected
        # answered again, now from the memo
        assert [d.outcome for d in batch.decide_many(iter(mixed))] == expected
        assert [d.request for d in batch.decide_many(typed)] == typed


def test_decide_many_without_the_memo_asks_the_engine_for_every_request() -> None:
    """With memo_size=0 a batch is no shortcut: every request is a miss, as with decide()."""
    with policykit.load_policy(memo_size=0) as policy:
        policy.decide_many(REQUESTS[:7])
        assert policy.memo_info()["misses"] == 7


def test_decide_many_of_nothing_is_an_empty_list(bundled_policy: policykit.Policy) -> None:
    """An empty batch answers nothing."""
    assert bundled_policy.decide_many([]) == []


def test_decide_many_raises_the_error_of_the_first_bad_request(bundled_policy: policykit.Policy) -> None:
    """A malformed request in a batch raises the QueryError decide() raises; nothing is allowed."""
    bad = {**REQUESTS[0], "data_categories": ["nmae"]}
    with pytest.raises(policykit.QueryError, match="did you mean 'name'"):
        bundled_policy.decide_many([REQUESTS[0], bad, REQUESTS[1]])
