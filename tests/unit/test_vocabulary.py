"""The typed vocabulary enums name exactly the terms of the bundled rules; ids follow the examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import policykit
from policykit._ruleset import vocabulary as _vocabulary

ENUMS = {
    "operations": _vocabulary.Operation,
    "data_categories": _vocabulary.DataCategory,
    "purposes": _vocabulary.Purpose,
    "recipient_kinds": _vocabulary.RecipientKind,
    "legal_bases": _vocabulary.LegalBasis,
    "reason_codes": _vocabulary.ReasonCode,
    "obligations": _vocabulary.Obligation,
    "retention_modes": _vocabulary.RetentionMode,
    "request_outcomes": _vocabulary.RequestOutcome,
}
WORKED = Path(__file__).parents[1] / "acceptance" / "cases" / "worked-examples.yaml"


@pytest.mark.parametrize("kind", sorted(ENUMS))
def test_enum_matches_the_bundled_vocabulary(kind: str) -> None:
    """Each enum lists the same ids, in the same order, as rules/vocabulary.yaml."""
    vocab = policykit.load_rules().vocabulary
    assert [m.value for m in ENUMS[kind]] == list(vocab.ids(kind))


@pytest.mark.parametrize(
    ("kind", "key"),
    [("operations", "operations"), ("data_categories", "data_categories"), ("purposes", "purposes"),
     ("recipient_kinds", "recipient_kinds"), ("retention_modes", "retention_modes"),
     ("request_outcomes", "request_outcomes")],
)
def test_vocabulary_contains_every_id_of_the_worked_examples(kind: str, key: str) -> None:
    """No id of the examples' vocabulary is missing or renamed (more may be added)."""
    meta = yaml.safe_load(WORKED.read_text(encoding="utf-8"))["meta"]["vocabulary"]
    vocab = policykit.load_rules().vocabulary
    assert set(meta[key]) <= set(vocab.ids(kind))


def test_deny_reasons_and_out_of_policy_purposes_cover_the_examples() -> None:
    """Every deny reason and out-of-policy purpose of the examples is in the vocabulary."""
    meta = yaml.safe_load(WORKED.read_text(encoding="utf-8"))["meta"]["vocabulary"]
    vocab = policykit.load_rules().vocabulary
    assert set(meta["deny_reasons"]) <= set(vocab.ids("reason_codes"))
    assert set(meta["out_of_policy_purposes"]) == set(vocab.ids("out_of_policy_purposes"))


def test_eea_is_eu27_plus_iceland_liechtenstein_norway() -> None:
    """The EEA of P-LAG-1: 30 states (plus EU outermost regions ISO codes separately)."""
    vocab = policykit.load_rules().vocabulary
    inside = {c.code for c in vocab.countries if c.in_eea}
    assert {"SE", "DE", "IE", "NO", "IS", "LI"} <= inside
    assert not {"CH", "GB", "US", "IN"} & inside
    assert len(inside - {"AX", "GF", "GP", "MQ", "RE", "YT", "MF"}) == 30


def test_purposes_record_stated_and_recommended_bases() -> None:
    """A-23: the stated basis is kept, and the recommended one is recorded where flagged."""
    vocab = policykit.load_rules().vocabulary
    disputes = vocab.purpose("discrimination_disputes")
    assert disputes is not None
    assert disputes.stated_legal_bases == ("legal_obligation",)
    assert disputes.recommended_legal_bases == ("legitimate_interest",)
