"""Loading invariants.yaml (errors with file, line and "did you mean") and judging one answer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import policykit
from policykit._analysis.invariants import Invariant, load_invariants, violation
from policykit._disclosure.decision import Outcome
from policykit.errors import ConditionError, DuplicateIdError, RuleSchemaError, UnknownClauseError, UnknownTermError

GOOD = """\
predicates:
  aggregate:
    title: a true aggregate
    when: {category: aggregated_statistics, data.identifiable: false, data.min_cell_size_met: true}
invariants:
  - id: INV-A
    title: Never sold
    description: Sales are refused.
    clauses: [P-TP-1]
    for_all: {operation: sell, not: {is: aggregate}}
    expect: {allowed: false, reason_in: [SALE_PROHIBITED]}
"""


@pytest.fixture
def rules() -> policykit.RuleSet:
    return policykit.load_rules()


def _load(tmp_path: Path, rules: policykit.RuleSet, text: str) -> tuple[Invariant, ...]:
    path = tmp_path / "inv.yaml"
    path.write_text(text, encoding="utf-8")
    return load_invariants(rules, path)


def test_the_shipped_invariants_load(rules: policykit.RuleSet) -> None:
    """The bundled rules directory declares its invariants, each citing clauses of the register."""
    invariants = load_invariants(rules)
    assert len(invariants) >= 20
    ids = {i.id for i in invariants}
    for required in ("INV-NEVER-SOLD", "INV-INSIDE-EEA", "INV-SPECIAL-CATEGORY",
                     "INV-NO-TRANSFER-TO-CLIENTS-WITHOUT-ASSIGNMENT", "INV-WITHDRAWAL-STOPS-DISCLOSURE",
                     "INV-OBJECTION-STOPS-DISCLOSURE", "INV-FORBID-OVERRIDES-PERMIT", "INV-NO-DEFAULT-DENY"):
        assert required in ids
    known = {c.id for c in rules.clauses}
    assert all(set(i.clauses) <= known and i.clauses for i in invariants)


def test_a_directory_without_invariants_declares_none(tmp_path: Path, rules: policykit.RuleSet) -> None:
    """invariants.yaml is optional in a rules directory."""
    copy = tmp_path / "rules"
    shutil.copytree(rules.directory, copy)
    (copy / "invariants.yaml").unlink()
    assert load_invariants(policykit.load_rules(copy)) == ()


def test_a_good_file_loads(tmp_path: Path, rules: policykit.RuleSet) -> None:
    """Predicates of the file itself, conditions, expectations."""
    (inv,) = _load(tmp_path, rules, GOOD)
    assert inv.id == "INV-A" and inv.expect.allowed is False and inv.expect.reason_in == ("SALE_PROHIBITED",)
    assert inv.line == 6


@pytest.mark.parametrize(
    ("old", "new", "error", "words"),
    [
        ("for_all: {operation: sell,", "for_all: {operaton: sell,", UnknownTermError, "did you mean 'operation'"),
        ("for_all: {operation: sell,", "for_all: {operation: sel,", UnknownTermError, "did you mean 'sell'"),
        ("clauses: [P-TP-1]", "clauses: [P-TP-99]", UnknownClauseError, "P-TP-99"),
        ("reason_in: [SALE_PROHIBITED]", "reason_in: [SALE_PROHIBITD]", UnknownTermError, "did you mean 'SALE_PROHIBITED'"),
        ("{allowed: false, reason_in: [SALE_PROHIBITED]}", "{}", RuleSchemaError, "expect something"),
        ("{allowed: false, reason_in: [SALE_PROHIBITED]}", "{allowed: maybe}", RuleSchemaError, "allowed"),
        ("{allowed: false, reason_in: [SALE_PROHIBITED]}", "{alowed: false}", RuleSchemaError, "did you mean 'allowed'"),
        ("{allowed: false, reason_in: [SALE_PROHIBITED]}", "{allowed: true, reasons_include: [OBJECTION]}",
         RuleSchemaError, "an allow has no reasons"),
        ("{is: aggregate}", "{is: agregate}", UnknownTermError, "did you mean 'aggregate'"),
        ("clauses: [P-TP-1]", "clauses: []", RuleSchemaError, "at least one clause"),
        ("for_all: {operation: sell, not: {is: aggregate}}", "for_all: {operation: [sell], not: {operation: sell}}",
         ConditionError, "covers no question"),
    ],
)
def test_mistakes_name_the_file_and_line(
    tmp_path: Path, rules: policykit.RuleSet, old: str, new: str, *, error: type[Exception], words: str
) -> None:
    """Each kind of mistake is its own error, naming inv.yaml and a line."""
    with pytest.raises(error) as info:
        _load(tmp_path, rules, GOOD.replace(old, new))
    assert words in str(info.value)
    assert "inv.yaml:" in str(info.value)


def test_duplicate_ids_are_refused(tmp_path: Path, rules: policykit.RuleSet) -> None:
    """Two invariants may not share an id."""
    text = GOOD + GOOD.split("invariants:\n", 1)[1]
    with pytest.raises(DuplicateIdError, match="INV-A"):
        _load(tmp_path, rules, text)


def _outcome(allowed: bool, reasons: tuple[str, ...] = (), rule_ids: tuple[str, ...] = (),
             obligations: tuple[str, ...] = ()) -> Outcome:
    return Outcome(allowed=allowed, reasons=reasons, obligations=obligations, by_category={"name": allowed},
                   category_reasons={"name": reasons}, rule_ids=rule_ids, clauses=("P-TP-1",),
                   deciding_rule=rule_ids[0] if rule_ids and not allowed else None)


def test_violation_explains_what_was_expected(tmp_path: Path, rules: policykit.RuleSet) -> None:
    """An answer breaking the invariant is described; one keeping it is not."""
    (inv,) = _load(tmp_path, rules, GOOD)
    assert violation(inv, _outcome(False, ("SALE_PROHIBITED",), ("D1-SALE",)), True, rules) is None
    assert "expected denied, got allowed" in (violation(inv, _outcome(True), True, rules) or "")
    wrong = violation(inv, _outcome(False, ("OUTSIDE_EU_EEA",), ("D3-OUTSIDE-EEA",)), True, rules)
    assert wrong is not None and "SALE_PROHIBITED" in wrong


def test_structural_checks_catch_an_overridden_forbid(rules: policykit.RuleSet) -> None:
    """An allow while a forbid fired breaks both structural invariants."""
    by_id = {i.id: i for i in load_invariants(rules)}
    bad = _outcome(True, (), ("D1-SALE", "D10-PERMIT-SUBPROCESSOR"), ("log_disclosure",))
    assert violation(by_id["INV-FORBID-OVERRIDES-PERMIT"], bad, True, rules) is not None
    assert violation(by_id["INV-EVERY-ANSWER-EXPLAINED"], bad, True, rules) is not None
    wrong_first = _outcome(False, ("OUTSIDE_EU_EEA", "SALE_PROHIBITED"), ("D1-SALE", "D3-OUTSIDE-EEA"))
    assert "first fired forbid" in (violation(by_id["INV-EVERY-ANSWER-EXPLAINED"], wrong_first, True, rules) or "")
