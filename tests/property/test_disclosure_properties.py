"""Properties of disclosure decisions that hold for every request (hypothesis, policykit.testing)."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import policykit
from policykit._analysis.partition import compose
from policykit.testing import disclosure_requests

POLICY = policykit.load_policy()


def _key(d: policykit.Decision) -> tuple[Any, ...]:
    return (d.allowed, d.reasons, d.obligations, tuple(d.by_category.items()), d.rule_ids, d.clauses)


def _with(request: policykit.DisclosureRequest, **changes: Any) -> policykit.DisclosureRequest:
    data = request.model_dump()
    for name, value in changes.items():
        if "." in name:
            part, field = name.split(".")
            data[part] = {**data[part], field: value}
        else:
            data[name] = value
    return policykit.DisclosureRequest.parse(data)


# ---- determinism, memo, composition -------------------------------------------------------------


@given(disclosure_requests())
def test_decisions_are_deterministic(request: policykit.DisclosureRequest) -> None:
    """The same request gets the same answer from the memo, after clearing it, and from a second policy."""
    first = _key(POLICY.decide(request))
    assert _key(POLICY.decide(request)) == first
    assert _key(OTHER.decide(request.model_dump())) == first


@given(disclosure_requests())
def test_the_memo_agrees_with_the_engine(request: policykit.DisclosureRequest) -> None:
    """A remembered outcome is exactly what the engine answers for the request's facts."""
    decision = POLICY.decide(request)
    normaliser = POLICY._disclosure.normaliser
    day = POLICY.today() if request.as_of is None else request.as_of
    values, categories = normaliser.normalise(request, day)
    facts = dict(zip(normaliser.fact_names, values, strict=True))
    assert decision.outcome == POLICY.evaluate_facts(facts, categories)


@given(disclosure_requests())
def test_a_request_is_the_composition_of_its_categories(request: policykit.DisclosureRequest) -> None:
    """Compositionality, which makes single-category enumeration exhaustive: the answer to a request
    is determined by the answers for each of its categories alone."""
    whole = POLICY.decide(request)
    singles = {c: POLICY.decide(_with(request, data_categories=[c])).outcome for c in whole.by_category}
    assert compose(singles, POLICY.rules) == {
        "allowed": whole.allowed, "reasons": whole.reasons, "rule_ids": whole.rule_ids,
        "obligations": whole.obligations, "by_category": dict(whole.by_category),
    }


# ---- categories ---------------------------------------------------------------------------------


@given(disclosure_requests())
def test_by_category_is_consistent_with_the_verdict(request: policykit.DisclosureRequest) -> None:
    """Allowed exactly when every requested category may go; a category that may not go has reasons,
    one that may has none; a deny's reasons are the union of its categories'."""
    d = POLICY.decide(request)
    assert set(d.by_category) == set(request.data_categories)
    assert d.allowed == all(d.by_category.values())
    for cat, ok in d.by_category.items():
        assert ok == (d.category_reasons[cat] == ())
    if not d.allowed:
        union = {r for rs in d.category_reasons.values() for r in rs}
        assert set(d.reasons) == union


@given(disclosure_requests())
def test_data_that_go_out_carry_their_obligations(request: policykit.DisclosureRequest) -> None:
    """Every category that may go carries the obligations of its own single-category answer, one that
    may not carries none, and the request carries exactly theirs (nothing when nothing may go), also
    when other categories are refused: a caller who sends the released part has its duties."""
    d = POLICY.decide(request)
    released: set[str] = set()
    for cat, ok in d.by_category.items():
        alone = POLICY.decide(_with(request, data_categories=[cat]))
        assert d.category_obligations[cat] == (alone.obligations if ok else ())
        if ok:
            assert "log_disclosure" in d.category_obligations[cat]
            released.update(alone.obligations)
    assert set(d.obligations) == released


@given(disclosure_requests(data_categories=["special_category_data"]))
def test_the_special_category_implies_the_special_category_flag(request: policykit.DisclosureRequest) -> None:
    """Naming the special-category data category is the same question as flagging Art. 9 data."""
    flagged = _with(request, contains_special_category=True)
    unflagged = _with(request, contains_special_category=False)
    assert _key(POLICY.decide(flagged))[:4] == _key(POLICY.decide(unflagged))[:4]


@given(disclosure_requests(data_categories=["criminal_offence_data"]))
def test_the_criminal_category_implies_the_criminal_flag(request: policykit.DisclosureRequest) -> None:
    """Naming the criminal-offence category is the same question as flagging Art. 10 data."""
    flagged = _with(request, contains_criminal_data=True)
    unflagged = _with(request, contains_criminal_data=False)
    assert _key(POLICY.decide(flagged))[:4] == _key(POLICY.decide(unflagged))[:4]


# ---- monotonicity --------------------------------------------------------------------------------


@given(disclosure_requests())
def test_withdrawing_consent_never_turns_a_deny_into_an_allow(request: policykit.DisclosureRequest) -> None:
    """A withdrawal (or an objection) can only take permissions away."""
    before = POLICY.decide(request)
    for change in ({"candidate.consent_status": "withdrawn", "candidate.consent_withdrawn_on": None},
                   {"candidate.objection_in_writing": True, "candidate.objection_received_on": None}):
        after = POLICY.decide(_with(request, **change))
        assert before.allowed or not after.allowed


@given(disclosure_requests(), st.sampled_from(["contains_special_category", "contains_criminal_data"]))
def test_flagging_sensitive_data_never_turns_a_deny_into_an_allow(
    request: policykit.DisclosureRequest, flag: str
) -> None:
    """Saying the data hold Art. 9 or Art. 10 data can only make the answer stricter."""
    before = POLICY.decide(_with(request, **{flag: False}))
    after = POLICY.decide(_with(request, **{flag: True}))
    assert before.allowed or not after.allowed


@given(disclosure_requests(), st.sampled_from(sorted(c.value for c in policykit.DataCategory)))
def test_asking_for_more_categories_never_turns_a_deny_into_an_allow(
    request: policykit.DisclosureRequest, extra: str
) -> None:
    """Adding a category to a denied request never gets it allowed."""
    before = POLICY.decide(request)
    after = POLICY.decide(_with(request, data_categories=[*request.data_categories, extra]))
    assert before.allowed or not after.allowed


# ---- properties of the rule files ---------------------------------------------------------------


def _copy(tmp: Path, name: str) -> Path:
    copy = tmp / name
    shutil.copytree(policykit.bundled_rules_dir(), copy)
    return copy


def _rewrite(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


EXTRA_FORBIDS = [
    {"recipient.kind": "test_provider"},
    {"operation": "show", "category": "name"},
    {"any": [{"candidate.explicit_consent_special_category": True}, {"data.identifiable": False}]},
    {"not": {"purpose": "present_candidates_to_clients"}},
]


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[policykit.Policy]]]:
    """Copies of the rules: with the rules and predicates of disclosure.yaml shuffled, and with one
    extra forbid rule each."""
    tmp = tmp_path_factory.mktemp("variants")
    shuffled = []
    for seed in range(3):
        copy = _copy(tmp, f"shuffled{seed}")
        rng = random.Random(seed)

        def shuffle(data: dict[str, Any], rng: random.Random = rng) -> None:
            rng.shuffle(data["rules"])
            # predicates may refer to earlier ones only, so their order stays; the keys inside each rule move
            for rule in data["rules"]:
                keys = list(rule)
                rng.shuffle(keys)
                rule.update({k: rule.pop(k) for k in keys})

        _rewrite(copy / "disclosure.yaml", shuffle)
        shuffled.append(policykit.load_policy(copy))
    stricter = []
    for i, when in enumerate(EXTRA_FORBIDS):
        copy = _copy(tmp, f"forbid{i}")

        def add(data: dict[str, Any], when: dict[str, Any] = when, i: int = i) -> None:
            data["rules"].append({
                "id": f"DX-EXTRA-{i}", "step": 9, "effect": "forbid", "reason": "PURPOSE_NOT_PERMITTED",
                "title": "An extra forbid", "description": "Added by a property test.", "clauses": ["P-TP-1"],
                "when": when,
            })

        _rewrite(copy / "disclosure.yaml", add)
        stricter.append(policykit.load_policy(copy))
    yield {"shuffled": shuffled, "stricter": stricter}
    for p in shuffled + stricter:
        p.close()


@settings(max_examples=40)
@given(request=disclosure_requests())
def test_the_order_of_rules_in_the_files_does_not_matter(
    variants: dict[str, list[policykit.Policy]], request: policykit.DisclosureRequest
) -> None:
    """Shuffling the rules (and the keys inside each rule) of disclosure.yaml changes no answer."""
    expected = _key(POLICY.decide(request))
    for policy in variants["shuffled"]:
        assert _key(policy.decide(request)) == expected


@settings(max_examples=40)
@given(request=disclosure_requests())
def test_adding_a_forbid_never_turns_a_deny_into_an_allow(
    variants: dict[str, list[policykit.Policy]], request: policykit.DisclosureRequest
) -> None:
    """A rule set with one more forbid is at least as strict: nothing it allows was denied before,
    and every reason given before is still given."""
    before = POLICY.decide(request)
    for policy in variants["stricter"]:
        after = policy.decide(request)
        assert before.allowed or not after.allowed
        assert set(before.reasons) - {"NO_APPLICABLE_PERMIT"} <= set(after.reasons)


OTHER = policykit.load_policy(memo_size=0)
