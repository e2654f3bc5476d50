"""The memo never answers one request with another's outcome.

Plain mappings are remembered by a value snapshot (``_snapshot``), typed requests by identity only
when they were validated; everything else is validated and answered every time. The oracle of every
test here is a policy with the memo off (``memo_size=0``), which asks the engine for each question;
the allowed/denied pair used is fixed by the policy text (a recruitment client with an assignment,
both agreements and a relevant profile may be shown a candidate's name, P-TP-4a; bookkeeping records
are never sent to clients).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import policykit
from policykit import DisclosureRequest, Recipient
from policykit._engine.snapshot import MAX_SNAPSHOT_DEPTH, MAX_SNAPSHOT_ITEMS, snapshot

BASE: dict[str, Any] = {
    "operation": "transfer",
    "purpose": "present_candidates_to_clients",
    "recipient": {
        "kind": "recruitment_client", "country": "SE", "active_assignment": True,
        "confidentiality_undertaking": True, "data_agreement_signed": True,
        "relevant_to_candidate_competence": True,
    },
}


def _request(categories: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), "data_categories": categories}


@pytest.fixture(scope="module")
def policies() -> Iterator[tuple[policykit.Policy, policykit.Policy]]:
    with policykit.load_policy() as memoised, policykit.load_policy(memo_size=0) as engine_only:
        yield memoised, engine_only


def test_the_pair_used_here_is_one_allow_and_one_deny(policies: tuple[policykit.Policy, policykit.Policy]) -> None:
    """The premise of the tests below, from the engine with no memo."""
    _, engine_only = policies
    assert engine_only.decide(_request(["name"])).allowed
    assert not engine_only.decide(_request(["bookkeeping_record"])).allowed


@pytest.mark.parametrize("make", [iter, lambda xs: (x for x in xs), lambda xs: map(str, xs)],
                         ids=["iterator", "generator", "map"])
def test_one_shot_iterables_get_the_memo_less_answer(
    policies: tuple[policykit.Policy, policykit.Policy], make: Any
) -> None:
    """Issue finding 1: an iterator's repr holds its address, which is reused once it is freed; keyed
    by repr, a deny was answered with the allow given to an earlier iterator at that address."""
    memoised, engine_only = policies
    mismatches = 0
    for i in range(300):
        categories = ["name"] if i % 2 == 0 else ["bookkeeping_record"]
        got = memoised.decide(_request(make(categories))).allowed
        mismatches += got != engine_only.decide(_request(list(categories))).allowed
    assert mismatches == 0


def test_a_string_subclass_with_a_lying_repr_is_not_taken_for_another_value(
    policies: tuple[policykit.Policy, policykit.Policy],
) -> None:
    """Two mappings with equal reprs but different values never share an answer."""
    memoised, engine_only = policies

    class Disguised(str):
        def __repr__(self) -> str:
            return "'name'"

    assert memoised.decide(_request(["name"])).allowed
    disguised = _request([Disguised("bookkeeping_record")])
    assert repr(disguised) == repr(_request(["name"]))
    assert memoised.decide(disguised).allowed == engine_only.decide(disguised).allowed is False


def test_an_object_with_a_default_repr_is_never_remembered(
    policies: tuple[policykit.Policy, policykit.Policy],
) -> None:
    """A value whose repr is its address (here a custom sequence of categories) gets no memo entry."""
    memoised, engine_only = policies

    class Categories:
        def __init__(self, items: list[str]) -> None:
            self.items = items

        def __iter__(self) -> Iterator[str]:
            return iter(self.items)

        def __len__(self) -> int:
            return len(self.items)

    shared = Categories(["name"])
    request = _request(shared)
    first = memoised.decide(request)
    shared.items = ["bookkeeping_record"]
    assert memoised.decide(request).allowed == engine_only.decide(_request(["bookkeeping_record"])).allowed
    assert first.allowed


def test_model_construct_requests_are_validated_and_never_remembered(
    policies: tuple[policykit.Policy, policykit.Policy],
) -> None:
    """Issue finding 1: a request built with model_construct (no validation) and changed after the
    decision got the stale allow; now it is validated on every question."""
    memoised, engine_only = policies
    recipient = Recipient(**BASE["recipient"])
    fields = {k: v for k, v in BASE.items() if k != "recipient"}
    request = DisclosureRequest.model_construct(**fields, data_categories=["name"], recipient=recipient)
    assert memoised.decide(request).allowed
    request.data_categories.append("bookkeeping_record")
    expected = engine_only.decide(_request(["name", "bookkeeping_record"])).allowed
    assert memoised.decide(request).allowed == engine_only.decide(request).allowed == expected is False


def test_unvalidated_parts_of_a_request_are_refused(policies: tuple[policykit.Policy, policykit.Policy]) -> None:
    """model_construct and model_copy(update=...) skip validation: decide validates them, so a wrong
    value is a QueryError, not an engine fault or an answer about something else."""
    memoised, _ = policies
    fields = {k: v for k, v in BASE.items() if k != "recipient"}
    bad_recipient = Recipient.model_construct(**{**BASE["recipient"], "country": 46})
    with pytest.raises(policykit.QueryError, match="country"):
        memoised.decide(DisclosureRequest.model_construct(**fields, data_categories=["name"], recipient=bad_recipient))
    good = DisclosureRequest(**fields, data_categories=["name"], recipient=Recipient(**BASE["recipient"]))
    assert memoised.decide(good).allowed
    with pytest.raises(policykit.QueryError, match="data_categories"):
        memoised.decide(good.model_copy(update={"data_categories": "name"}))
    changed = good.model_copy(update={"data_categories": ("bookkeeping_record",)})
    assert not memoised.decide(changed).allowed


def test_bool_and_int_never_share_an_entry(policies: tuple[policykit.Policy, policykit.Policy]) -> None:
    """``True == 1`` in Python; min_cell_size accepts 1 but refuses True (a strict integer)."""
    memoised, _ = policies
    one = {**_request(["name"]), "min_cell_size": 1}
    memoised.decide(one)
    memoised.decide(one)
    with pytest.raises(policykit.QueryError, match="min_cell_size"):
        memoised.decide({**_request(["name"]), "min_cell_size": True})


def test_snapshots_are_equal_only_for_equal_values_of_equal_types() -> None:
    """The properties the memo relies on, on values chosen to collide under ==, hash or repr."""
    day = dt.date(2024, 1, 1)
    distinct = [
        {"a": 1}, {"a": True}, {"a": "1"}, {"a": [1]}, {"a": (1,)}, {"a": {"b": 1}}, {"a": [["b", 1]]},
        {"a": None}, {"a": "None"}, {"a": day}, {"a": "2024-01-01"}, {"a": [True, 1]}, {"a": [1, True]},
        {"a": [], "b": []}, {"a": [[], "b"]}, {"a": 0}, {"a": False},
    ]
    snaps = [snapshot(d) for d in distinct]
    assert all(s is not None for s in snaps)
    assert len(set(snaps)) == len(distinct)
    assert snapshot({"a": [1, {"b": day}]}) == snapshot({"a": [1, {"b": dt.date(2024, 1, 1)}]})


@pytest.mark.parametrize("value", [
    1.0, float("nan"), iter([]), object(), b"x", dt.datetime(2024, 1, 1), {1: "a"}, frozenset(),
])
def test_values_whose_equality_is_not_their_content_have_no_snapshot(value: Any) -> None:
    assert snapshot({"a": value}) is None
    assert snapshot({"a": [value]}) is None


def test_snapshots_are_bounded_in_depth_and_size() -> None:
    deep: Any = "x"
    for _ in range(MAX_SNAPSHOT_DEPTH):
        deep = [deep]
    assert snapshot({"a": deep}) is None
    assert snapshot({"a": deep[0]}) is not None
    assert snapshot({"a": ["x"] * (2 * MAX_SNAPSHOT_ITEMS)}) is None
    assert snapshot({str(i): i for i in range(2 * MAX_SNAPSHOT_ITEMS)}) is None


def test_a_mapping_changed_during_validation_is_not_remembered(
    policies: tuple[policykit.Policy, policykit.Policy],
) -> None:
    """The entry is stored under the value that was validated: a mapping whose content changes while
    it is read (a value's iteration changes it) gets no entry."""
    memoised, engine_only = policies
    request = _request(["name"])

    class Sneaky:
        def __iter__(self) -> Iterator[str]:
            request["data_categories"] = ["name"]
            return iter(["bookkeeping_record"])

    request["data_categories"] = Sneaky()
    assert not memoised.decide(request).allowed
    assert memoised.decide(request).allowed == engine_only.decide(_request(["name"])).allowed
