"""Loading the rule files: the bundled rules load; every kind of broken rule file is refused with an
error naming the file, the line and, for unknown terms, the nearest valid term."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import policykit
from policykit import errors
from policykit._ruleset.reading import RULE_FILES
from policykit._ruleset.ruleset import load_rules


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A fresh copy of the bundled rules directory."""
    target = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), target)
    return target


def edit(directory: Path, name: str, change: Callable[[str], str]) -> None:
    """Rewrite one rule file through ``change``, which must change something."""
    path = directory / name
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, "the edit did not apply"
    path.write_text(after, encoding="utf-8")


def replace_once(old: str, new: str) -> Callable[[str], str]:
    """An edit replacing the first occurrence of ``old``."""
    return lambda text: text.replace(old, new, 1)


def line_of(directory: Path, name: str, needle: str) -> int:
    """The 1-based line of the first occurrence of ``needle``."""
    for number, line in enumerate((directory / name).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {name}")


def test_bundled_rules_load_with_every_file() -> None:
    """The shipped rules directory holds every rule file and loads cleanly."""
    rules = load_rules()
    assert all((rules.directory / name).is_file() for name in RULE_FILES)
    assert rules.version == "2022-06-22"
    assert rules.meta.controller.organisation_number == "556841-1671"
    assert len(rules.clauses) == 75


def test_rules_are_ordered_by_step_rank_and_id() -> None:
    """Decision order depends on the rules' content, not on their position in the file."""
    rules = load_rules().disclosure.rules
    keys = [(r.step, r.rank, r.id) for r in rules]
    assert keys == sorted(keys)


def test_every_rule_cites_existing_clauses_and_forbids_carry_reasons() -> None:
    """Each rule cites clauses of the register; a forbid has a reason code, a permit none."""
    rules = load_rules()
    ids = {c.id for c in rules.clauses}
    for rule in rules.disclosure.rules:
        assert rule.clauses
        assert set(rule.clauses) <= ids
        assert (rule.reason is not None) == (rule.effect == "forbid")


def test_a_rules_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    """A missing directory is a RuleFileError naming it."""
    with pytest.raises(errors.RuleFileError, match="expected a rules directory"):
        load_rules(tmp_path / "nowhere")


def test_a_missing_rule_file_is_refused(rules_copy: Path) -> None:
    """Each required file must exist."""
    (rules_copy / "vocabulary.yaml").unlink()
    with pytest.raises(errors.RuleFileError, match=r"vocabulary\.yaml: expected a rule file here"):
        load_rules(rules_copy)


def test_invalid_yaml_names_file_and_line(rules_copy: Path) -> None:
    """A syntax error reports the file and the line of the problem."""
    line = line_of(rules_copy, "disclosure.yaml", "id: D1-SALE")
    edit(rules_copy, "disclosure.yaml", replace_once("id: D1-SALE", "id: [D1-SALE"))
    with pytest.raises(errors.RuleFileError) as info:
        load_rules(rules_copy)
    assert info.value.file is not None and info.value.file.endswith("disclosure.yaml")
    assert info.value.line is not None and line <= info.value.line <= line + 3


def test_duplicate_keys_in_a_mapping_are_refused(rules_copy: Path) -> None:
    """YAML would silently keep the last of two equal keys; policykit refuses."""
    edit(rules_copy, "disclosure.yaml", replace_once("    step: 1\n", "    step: 1\n    step: 2\n"))
    with pytest.raises(errors.RuleFileError, match="duplicate key 'step'"):
        load_rules(rules_copy)


def test_unknown_field_value_suggests_the_nearest_term(rules_copy: Path) -> None:
    """A misspelt recipient kind in a condition is an UnknownTermError with a suggestion and line."""
    line = line_of(rules_copy, "disclosure.yaml", "recipient.kind: other_third_party")
    edit(rules_copy, "disclosure.yaml", replace_once("recipient.kind: other_third_party", "recipient.kind: other_thirdparty"))
    with pytest.raises(errors.UnknownTermError) as info:
        load_rules(rules_copy)
    message = str(info.value)
    assert "did you mean 'other_third_party'?" in message
    assert f"disclosure.yaml:{line}:" in message


def test_unknown_fact_field_suggests_the_nearest_field(rules_copy: Path) -> None:
    """A misspelt fact field is refused with the nearest field."""
    edit(rules_copy, "disclosure.yaml", replace_once("recipient.in_eea: false", "recipient.in_eee: false"))
    with pytest.raises(errors.UnknownTermError, match="did you mean 'recipient.in_eea'"):
        load_rules(rules_copy)


def test_unknown_reason_code_is_refused(rules_copy: Path) -> None:
    """A forbid's reason must be a reason code of the vocabulary."""
    edit(rules_copy, "disclosure.yaml", replace_once("reason: SALE_PROHIBITED", "reason: SALE_PROHIBITTED"))
    with pytest.raises(errors.UnknownTermError, match="did you mean 'SALE_PROHIBITED'"):
        load_rules(rules_copy)


def test_unknown_clause_id_is_refused(rules_copy: Path) -> None:
    """Rules may cite only clause ids of the register."""
    edit(rules_copy, "disclosure.yaml", replace_once("clauses: [P-TP-1]\n    when:", "clauses: [P-TP-11]\n    when:"))
    with pytest.raises(errors.UnknownClauseError, match="'P-TP-11'.*did you mean"):
        load_rules(rules_copy)


def test_duplicate_rule_ids_are_refused(rules_copy: Path) -> None:
    """Rule ids are unique; the error names both lines."""
    edit(rules_copy, "disclosure.yaml", replace_once("id: D2-NOT-ANONYMOUS", "id: D1-SALE"))
    with pytest.raises(errors.DuplicateIdError, match=r"'D1-SALE' again \(first at line \d+\)"):
        load_rules(rules_copy)


def test_malformed_condition_is_refused(rules_copy: Path) -> None:
    """An operator other than in/not_in/not is a ConditionError."""
    edit(rules_copy, "disclosure.yaml", replace_once("purpose: {not_in: [present_candidates_to_clients]}",
                                                     "purpose: {maybe: [present_candidates_to_clients]}"))
    with pytest.raises(errors.ConditionError, match="expected {in: "):
        load_rules(rules_copy)


def test_condition_that_can_never_hold_is_refused(rules_copy: Path) -> None:
    """A rule whose condition is contradictory would be dead: refused."""
    edit(rules_copy, "disclosure.yaml", replace_once(
        "    when:\n      recipient.kind: other_third_party\n",
        "    when:\n      recipient.kind: other_third_party\n      all:\n        - recipient.kind: authority\n",
    ))
    with pytest.raises(errors.ConditionError, match="can never apply"):
        load_rules(rules_copy)


def test_unknown_predicate_is_refused(rules_copy: Path) -> None:
    """``is:`` must name a defined predicate."""
    edit(rules_copy, "disclosure.yaml", replace_once("when: {is: compelled_disclosure}", "when: {is: compeled_disclosure}"))
    with pytest.raises(errors.UnknownTermError, match="did you mean 'compelled_disclosure'"):
        load_rules(rules_copy)


def test_forbid_without_reason_is_refused(rules_copy: Path) -> None:
    """A forbid must say why."""
    edit(rules_copy, "disclosure.yaml", replace_once("    reason: SALE_PROHIBITED\n", ""))
    with pytest.raises(errors.RuleSchemaError, match="expected a reason code for forbid rule 'D1-SALE'"):
        load_rules(rules_copy)


def test_unexpected_field_is_refused_with_suggestion(rules_copy: Path) -> None:
    """An unknown key in a rule (a typo of a real one) is refused."""
    edit(rules_copy, "disclosure.yaml", replace_once("    obligations: [limit_to_scope_of_order",
                                                     "    obligation: [limit_to_scope_of_order"))
    with pytest.raises(errors.RuleSchemaError, match="unexpected field .*did you mean 'obligations'"):
        load_rules(rules_copy)


def test_wrongly_typed_field_is_refused(rules_copy: Path) -> None:
    """A step must be a number."""
    edit(rules_copy, "disclosure.yaml", replace_once("    step: 1\n", "    step: one\n"))
    with pytest.raises(errors.RuleSchemaError, match="valid integer"):
        load_rules(rules_copy)


def test_too_small_aggregate_cell_is_refused(rules_copy: Path) -> None:
    """The anonymity threshold may never go below 5 (docs/policy/disclosure.md)."""
    edit(rules_copy, "policy.yaml", replace_once("aggregate_min_cell: 10", "aggregate_min_cell: 3"))
    with pytest.raises(errors.RuleSchemaError, match="aggregate_min_cell"):
        load_rules(rules_copy)


def test_unknown_time_zone_is_refused(rules_copy: Path) -> None:
    """The time zone parameter must be an IANA zone."""
    edit(rules_copy, "policy.yaml", replace_once("timezone: Europe/Stockholm", "timezone: Europe/Stokholm"))
    with pytest.raises(errors.RuleSchemaError, match="IANA time zone"):
        load_rules(rules_copy)


def test_enforced_clause_that_no_rule_cites_is_refused(rules_copy: Path) -> None:
    """A clause marked 'enforcement: rules' must be cited by some rule."""
    edit(rules_copy, "disclosure.yaml", lambda text: text.replace("P-TP-8, ", "").replace(", P-TP-8]", "]"))
    with pytest.raises(errors.ClauseCoverageError, match="P-TP-8 is marked 'enforcement: rules'"):
        load_rules(rules_copy)


def test_documented_clause_cited_by_a_rule_is_refused(rules_copy: Path) -> None:
    """A clause said to be documented-only may not be cited by a rule."""
    edit(rules_copy, "disclosure.yaml", replace_once("clauses: [P-TP-1]\n    when:", "clauses: [P-TP-1, P-SAK-3]\n    when:"))
    with pytest.raises(errors.ClauseCoverageError, match="P-SAK-3 is marked 'documented'"):
        load_rules(rules_copy)


def test_documented_clause_needs_a_reason(rules_copy: Path) -> None:
    """Documented-only clauses say why they are not enforced."""
    edit(rules_copy, "clauses.yaml", lambda t: re.sub(r"(id: P-SAK-3\n(?:  .*\n)*?)  reason: .*\n", r"\1", t, count=1))
    with pytest.raises(errors.RuleSchemaError, match="expected a reason for documented-only clause 'P-SAK-3'"):
        load_rules(rules_copy)


def test_country_codes_are_read_as_strings_not_booleans(rules_copy: Path) -> None:
    """YAML 1.1 would read NO (Norway) as false; the loader reads YAML 1.2 booleans only."""
    rules = load_rules(rules_copy)
    norway = rules.vocabulary.country("NO")
    assert norway is not None and norway.in_eea


def test_an_edited_copy_answers_differently(rules_copy: Path) -> None:
    """A user's edited rules directory is what the policy loaded from it answers with: treating
    Switzerland as inside the EEA lets a transfer to a Zurich client through."""
    request = {
        "operation": "transfer",
        "data_categories": ["name", "application_documents"],
        "purpose": "present_candidates_to_clients",
        "recipient": {"kind": "recruitment_client", "country": "CH", "active_assignment": True,
                      "confidentiality_undertaking": True, "data_agreement_signed": True},
    }
    assert policykit.load_policy().decide(request).reasons == ("OUTSIDE_EU_EEA",)
    edit(rules_copy, "countries.yaml", replace_once('efta_eea: ["IS", "LI", "NO"]', 'efta_eea: ["IS", "LI", "NO", "CH"]'))
    with policykit.load_policy(rules_copy) as edited:
        assert edited.decide(request).allowed
