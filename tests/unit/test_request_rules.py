"""Loading rules/requests.yaml: the request family loads, is cross-checked against the vocabulary and
the clause register, gives every request an outcome, and broken files are refused with the file and
line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import policykit
from policykit import errors
from policykit._ruleset.requests import OTHER_ITEM, ByItems, request_schema
from policykit._ruleset.ruleset import load_rules


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A fresh copy of the bundled rules directory."""
    target = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), target)
    return target


def edit(directory: Path, change: Callable[[str], str], name: str = "requests.yaml") -> None:
    """Rewrite one rule file through ``change``, which must change something."""
    path = directory / name
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, "the edit did not apply"
    path.write_text(after, encoding="utf-8")


def line_of(directory: Path, needle: str, name: str = "requests.yaml") -> int:
    """The 1-based line of the first occurrence of ``needle``."""
    for number, line in enumerate((directory / name).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {name}")


def test_the_request_family_loads_with_its_rules_in_step_order() -> None:
    """The bundled request rules load; rules are ordered by step, file order within a step."""
    family = load_rules().requests
    assert family.rules
    steps = [r.step for r in family.rules]
    assert steps == sorted(steps)
    assert {r.id for r in family.rules} >= {"DSR3-ACCESS", "DSR6-PORTABILITY", "DSR4-KEEP-EVIDENCE"}


def test_item_rules_give_dispositions_and_request_rules_do_not() -> None:
    """A rule that tests the item's category gives a disposition; any other rule gives none."""
    for rule in load_rules().requests.rules:
        assert (rule.then.disposition is not None) == rule.item_rule, rule.id


def test_every_request_rule_cites_clauses_of_the_register() -> None:
    """Each rule cites at least one clause, and only clauses that exist."""
    rules = load_rules()
    ids = {c.id for c in rules.clauses}
    for rule in rules.requests.rules:
        assert rule.clauses
        assert set(rule.clauses) <= ids


def test_the_rights_clauses_are_enforced_by_request_rules() -> None:
    """P-RATT-1..5, P-INS-1 and P-KONT-1/2 are cited by request rules and marked as enforced."""
    rules = load_rules()
    cited = {c for r in rules.requests.rules for c in r.clauses}
    for cid in ("P-RATT-1", "P-RATT-2", "P-RATT-3", "P-RATT-4", "P-RATT-5", "P-INS-1", "P-KONT-1", "P-KONT-2"):
        assert cid in cited
        assert rules.clause(cid).enforcement == "rules"
        assert rules.clause(cid).reason is None


def test_the_fact_schema_has_finite_domains_and_an_other_item_category() -> None:
    """Every field has a finite domain; categories are the vocabulary's plus other_item."""
    vocab = load_rules().vocabulary
    schema = request_schema(vocab)
    assert all(len(f.domain) >= 2 for f in schema.values())
    assert schema["category"].domain == (*vocab.ids("data_categories"), OTHER_ITEM)


@pytest.mark.parametrize(
    ("counted", "judged", "outcome"),
    [(0, 0, "no"), (2, 2, "all"), (0, 2, "none"), (1, 2, "some")],
)
def test_an_outcome_by_items_counts_the_judged_items(counted: int, judged: int, outcome: str) -> None:
    """all / some / none of the judged items, and no items at all, each have their outcome."""
    by = ByItems(count="deliver", all="all", some="some", none="none", no_items="no")
    assert by.resolve(counted, judged) == outcome


def test_the_objection_purposes_are_purposes_of_the_policy() -> None:
    """Purposes continued after an objection are vocabulary purposes."""
    rules = load_rules()
    family = rules.requests
    assert set(family.continue_after_whole_objection) <= set(rules.vocabulary.ids("purposes"))
    assert set(family.compelling_grounds) == {"respond_to_requests"}


# ------------------------------------------------------------------------------------------------
# broken files


def test_an_unknown_outcome_is_refused_with_a_suggestion(rules_copy: Path) -> None:
    """A misspelt outcome names the line and the nearest outcome."""
    edit(rules_copy, lambda t: t.replace("      outcome: not_applicable\n", "      outcome: not_aplicable\n", 1))
    with pytest.raises(errors.UnknownTermError, match="did you mean 'not_applicable'") as info:
        load_rules(rules_copy)
    assert info.value.file == "requests.yaml"
    assert info.value.line == line_of(rules_copy, "outcome: not_aplicable")


def test_an_unknown_ground_is_refused(rules_copy: Path) -> None:
    """Refusal grounds must be listed under 'grounds'."""
    edit(rules_copy, lambda t: t.replace("refusal_grounds: [Art. 12(5)]", "refusal_grounds: [Art. 12(6)]", 1))
    with pytest.raises(errors.UnknownTermError, match="expected a legal ground, got 'Art. 12.6.'") as info:
        load_rules(rules_copy)
    assert info.value.line == line_of(rules_copy, "refusal_grounds: [Art. 12(6)]")


def test_an_unknown_fact_field_is_refused(rules_copy: Path) -> None:
    """A condition over a field the request schema lacks names the field."""
    edit(rules_copy, lambda t: t.replace("request.written: false", "request.writen: false", 1))
    with pytest.raises(errors.UnknownTermError, match="did you mean 'request.written'"):
        load_rules(rules_copy)


def test_a_disposition_on_a_request_rule_is_refused(rules_copy: Path) -> None:
    """Only rules that test the item's category may give an item a disposition."""
    edit(rules_copy, lambda t: t.replace(
        "    then:\n      outcome: fulfil_with_redaction\n",
        "    then:\n      outcome: fulfil_with_redaction\n      disposition: include\n", 1))
    with pytest.raises(errors.RuleSchemaError, match="only on item rules"):
        load_rules(rules_copy)


def test_an_item_rule_without_a_disposition_is_refused(rules_copy: Path) -> None:
    """An item rule must say what happens to the item."""
    edit(rules_copy, lambda t: t.replace("      disposition: erase_now\n      reason: NOT_EVIDENCE\n",
                                         "      reason: NOT_EVIDENCE\n", 1))
    with pytest.raises(errors.RuleSchemaError, match="expected a disposition on rule 'DSR4-ERASE-NON-EVIDENCE'"):
        load_rules(rules_copy)


def test_an_outcome_on_an_item_rule_is_refused(rules_copy: Path) -> None:
    """Item rules decide items, not the request's outcome."""
    edit(rules_copy, lambda t: t.replace(
        "      disposition: include\n", "      disposition: include\n      outcome: fulfil\n", 1))
    with pytest.raises(errors.RuleSchemaError, match="expected only disposition"):
        load_rules(rules_copy)


def test_a_gap_in_the_outcomes_is_refused(rules_copy: Path) -> None:
    """If some combination of facts gets no outcome, loading says which."""
    edit(rules_copy, lambda t: t.replace(
        "    when:\n      request: rectification\n    then:\n      outcome: fulfil\n",
        "    when:\n      request: rectification\n      request.written: true\n    then:\n      outcome: fulfil\n",
        1,
    ))
    with pytest.raises(errors.ConditionError, match="no rule gives one when") as info:
        load_rules(rules_copy)
    assert "request is rectification" in str(info.value)
    assert "request.written is False" in str(info.value)


def test_a_rule_that_can_never_apply_is_refused(rules_copy: Path) -> None:
    """A condition that contradicts itself is an error."""
    edit(rules_copy, lambda t: t.replace(
        "    when:\n      request.written: false\n",
        "    when:\n      request.written: false\n      not: {request.written: false}\n", 1))
    with pytest.raises(errors.ConditionError, match="can never apply"):
        load_rules(rules_copy)


def test_duplicate_rule_ids_are_refused(rules_copy: Path) -> None:
    """Rule ids identify rules."""
    edit(rules_copy, lambda t: t.replace("  - id: DSR0-ORAL-OBJECTION\n", "  - id: DSR0-ORAL-REQUEST\n", 1))
    with pytest.raises(errors.DuplicateIdError, match="'DSR0-ORAL-REQUEST' again"):
        load_rules(rules_copy)


def test_an_item_alias_must_name_a_data_category(rules_copy: Path) -> None:
    """Item names resolve to vocabulary categories."""
    edit(rules_copy, lambda t: t.replace("    category: linkedin_profile\n", "    category: linkedin\n", 1))
    with pytest.raises(errors.UnknownTermError, match="did you mean 'linkedin_profile'"):
        load_rules(rules_copy)


def test_citing_a_documented_clause_is_refused(rules_copy: Path) -> None:
    """A clause marked documented may not be cited by a request rule."""
    edit(rules_copy, lambda t: t.replace("    clauses: [P-ALLM-1]\n", "    clauses: [P-ALLM-2]\n", 1))
    with pytest.raises(errors.ClauseCoverageError, match="P-ALLM-2 is marked 'documented'"):
        load_rules(rules_copy)


def test_an_unknown_clause_is_refused(rules_copy: Path) -> None:
    """Clause ids must exist in the register."""
    edit(rules_copy, lambda t: t.replace("    clauses: [P-RET-4]\n", "    clauses: [P-RET-9]\n", 1))
    with pytest.raises(errors.UnknownClauseError, match="P-RET-9"):
        load_rules(rules_copy)


def test_an_unknown_field_in_a_rule_is_refused(rules_copy: Path) -> None:
    """The shape of the file is checked: an extra key names the line."""
    edit(rules_copy, lambda t: t.replace("      flags: [confirm_in_writing, verify_identity]\n",
                                         "      flag: [confirm_in_writing, verify_identity]\n", 1))
    with pytest.raises(errors.RuleSchemaError, match="unexpected field") as info:
        load_rules(rules_copy)
    assert info.value.line == line_of(rules_copy, "flag: [confirm_in_writing")


def test_the_further_copy_fee_is_a_parameter(rules_copy: Path) -> None:
    """access_further_copy_fee in policy.yaml sets the fee of a further access copy."""
    edit(rules_copy, lambda t: t.replace("access_further_copy_fee: 0", "access_further_copy_fee: 150"),
         name="policy.yaml")
    with policykit.load_policy(rules_copy) as policy:
        first = policy.handle_request({"request": "access", "channel": "email", "received_on": "2025-03-03"})
        again = policy.handle_request({"request": "access", "channel": "email", "received_on": "2025-03-03",
                                       "previous_copy_delivered_on": "2025-01-10"})
    assert first.fee == 0
    assert again.fee == 150
