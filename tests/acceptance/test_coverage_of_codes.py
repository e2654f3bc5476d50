"""Every reason code and every recipient kind of the vocabulary is reached by some acceptance case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import policykit
from tests.acceptance.cases import load_cases

CASES = load_cases("disclosure")


def test_every_policy_reason_code_is_produced(bundled_policy: policykit.Policy) -> None:
    """Each deny reason of the policy is the deciding reason of at least one case."""
    produced = {bundled_policy.decide(c["inputs"]).reasons[0] for c in CASES if not c["expected"]["allowed"]}
    codes = set(bundled_policy.rules.vocabulary.ids("reason_codes")) - {"NO_APPLICABLE_PERMIT"}
    assert codes - produced == set()


def test_every_recipient_kind_is_asked_about(bundled_policy: policykit.Policy) -> None:
    """Each recipient kind appears in at least one allowed and one denied case (other third parties
    are allowed true aggregates only)."""
    kinds = set(bundled_policy.rules.vocabulary.ids("recipient_kinds"))
    allowed = {c["inputs"]["recipient"]["kind"] for c in CASES if c["expected"]["allowed"]}
    denied = {c["inputs"]["recipient"]["kind"] for c in CASES if not c["expected"]["allowed"]}
    assert kinds - denied == set()
    assert kinds - allowed == set()


def test_default_deny_is_produced_when_no_permit_applies(tmp_path: Path) -> None:
    """NO_APPLICABLE_PERMIT: when the test-provider permit of a copy of the rules no longer applies to
    a request that no forbid stops, the request is still refused, with the default-deny reason."""
    rules = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), rules)
    doc = yaml.safe_load((rules / "disclosure.yaml").read_text(encoding="utf-8"))
    permit = next(r for r in doc["rules"] if r["id"] == "D10-PERMIT-TEST-PROVIDER")
    permit["when"] = {"recipient.kind": "test_provider", "purpose": "bookkeeping"}
    (rules / "disclosure.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    d19 = next(c for c in CASES if c["id"] == "D19")
    with policykit.load_policy(rules) as policy:
        decision = policy.decide(d19["inputs"])
    assert not decision.allowed
    assert decision.reasons == ("NO_APPLICABLE_PERMIT",)
    assert decision.rule_ids == ()


@pytest.mark.parametrize("case", [c for c in CASES if c.get("ambiguous")], ids=lambda c: c["id"])
def test_ambiguous_cases_name_their_ambiguity(case: dict[str, object]) -> None:
    """A case that rests on an interpretation says which one (the register of interpretations (rules/interpretations.yaml))."""
    assert str(case.get("ambiguity", "")).startswith("A-")
