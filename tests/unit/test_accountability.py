"""Loading the register of interpretations and the record of processing activities."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import policykit
from policykit.errors import DuplicateIdError, RuleSchemaError, UnknownClauseError, UnknownTermError


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled rules to edit."""
    target = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_bundled_register_holds_every_ambiguity_of_the_model() -> None:
    """A-01 to A-33 (the model's ambiguities) and then policykit's own readings from A-45 on (A-34 to
    A-44 belong to the 2026-07-01 revision's register), in order, each with an issue and an
    interpretation."""
    rules = policykit.load_rules()
    ids = [i.id for i in rules.interpretations]
    assert ids[:33] == [f"A-{n:02d}" for n in range(1, 34)]
    # later readings are numbered from A-45 in blocks, so a number may be skipped, never reused
    later = [int(i.removeprefix("A-")) for i in ids[33:]]
    assert later[:4] == [45, 46, 47, 48] and later == sorted(set(later))
    assert all(i.issue and i.interpretation and i.clauses for i in rules.interpretations)
    assert "D3-OUTSIDE-EEA" in rules.interpretation("A-18").rules


def test_bundled_record_has_one_activity_per_purpose() -> None:
    """Every purpose of the vocabulary has an activity, in vocabulary order."""
    rules = policykit.load_rules()
    assert [a.purpose for a in rules.processing.activities] == list(rules.vocabulary.ids("purposes"))
    assert rules.processing.activity("bookkeeping").data_categories == ("name", "bookkeeping_record")


def test_unknown_rule_in_an_interpretation_names_file_line_and_nearest(rules_copy: Path) -> None:
    """A misspelt rule id is an UnknownTermError at its line, with a suggestion."""
    edit(rules_copy / "interpretations.yaml", "rules: [D3-OUTSIDE-EEA,", "rules: [D3-OUTSIDE-EE,")
    with pytest.raises(UnknownTermError, match=r"did you mean 'D3-OUTSIDE-EEA'") as info:
        policykit.load_rules(rules_copy)
    assert info.value.file == "interpretations.yaml"
    assert info.value.line is not None


def test_unknown_clause_in_an_interpretation(rules_copy: Path) -> None:
    """Clause ids of the register are checked against the clause register."""
    path = rules_copy / "interpretations.yaml"
    edit(path, "clauses: [P-LAG-1]\n    issue: Whether", "clauses: [P-LAG-9]\n    issue: Whether")
    with pytest.raises(UnknownClauseError, match="P-LAG-9"):
        policykit.load_rules(rules_copy)


def test_unknown_predicate_and_parameter(rules_copy: Path) -> None:
    """Predicates and parameters an entry names must exist."""
    path = rules_copy / "interpretations.yaml"
    edit(path, "parameters: [timezone]", "parameters: [time_zone]")
    with pytest.raises(UnknownTermError, match="did you mean 'timezone'"):
        policykit.load_rules(rules_copy)
    edit(path, "parameters: [time_zone]", "parameters: [timezone]")
    edit(path, "predicates: [anonymous_aggregate]", "predicates: [anonymous_aggregates]")
    with pytest.raises(UnknownTermError, match="did you mean 'anonymous_aggregate'"):
        policykit.load_rules(rules_copy)


def test_malformed_and_duplicate_ids(rules_copy: Path) -> None:
    """Ids look like A-07 and appear once."""
    path = rules_copy / "interpretations.yaml"
    edit(path, "- id: A-33", "- id: A33")
    with pytest.raises(RuleSchemaError, match="an interpretation id such as 'A-07'"):
        policykit.load_rules(rules_copy)
    edit(path, "- id: A33", "- id: A-32")
    with pytest.raises(DuplicateIdError, match="A-32"):
        policykit.load_rules(rules_copy)


def test_a_rule_citing_an_unknown_interpretation(rules_copy: Path) -> None:
    """A rule description that cites an A-nn missing from the register fails at the rule's line."""
    edit(rules_copy / "disclosure.yaml", "whatever adequacy decision or transfer mechanism exists (A-18)",
         "whatever adequacy decision or transfer mechanism exists (A-81)")
    with pytest.raises(UnknownTermError, match=r"D3-OUTSIDE-EEA.*'A-81'") as info:
        policykit.load_rules(rules_copy)
    assert info.value.file == "disclosure.yaml"


def test_processing_record_terms_are_checked(rules_copy: Path) -> None:
    """Categories, data subjects and enforcing rules of the record must exist."""
    path = rules_copy / "processing.yaml"
    edit(path, "data_categories: [aggregated_statistics]", "data_categories: [aggregate_statistics]")
    with pytest.raises(UnknownTermError, match="did you mean 'aggregated_statistics'"):
        policykit.load_rules(rules_copy)
    edit(path, "data_categories: [aggregate_statistics]", "data_categories: [aggregated_statistics]")
    edit(path, "data_subjects: [candidate, referee]", "data_subjects: [candidate, referees]")
    with pytest.raises(UnknownTermError, match="did you mean 'referee'"):
        policykit.load_rules(rules_copy)
    edit(path, "data_subjects: [candidate, referees]", "data_subjects: [candidate, referee]")
    edit(path, "rules: [D7-MISSING-AGREEMENTS]", "rules: [D7-MISSING-AGREEMENT]")
    with pytest.raises(UnknownTermError, match="did you mean 'D7-MISSING-AGREEMENTS'"):
        policykit.load_rules(rules_copy)


def test_every_purpose_needs_an_activity(rules_copy: Path) -> None:
    """Leaving a purpose out of the record is an error naming it."""
    path = rules_copy / "processing.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - purpose: bookkeeping")
    end = text.index("  - purpose: present_candidates_to_clients")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(RuleSchemaError, match="got none for bookkeeping"):
        policykit.load_rules(rules_copy)
