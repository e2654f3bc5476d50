"""policykit._ruleset.retention: loading and checking rules/retention.yaml."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import policykit
from policykit.errors import (
    ClauseCoverageError,
    ConditionError,
    DefinitionError,
    RuleSchemaError,
    UnknownClauseError,
    UnknownTermError,
)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the bundled rules to edit."""
    target = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), target)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(directory: Path, name: str, needle: str) -> int:
    for number, line in enumerate((directory / name).read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_bundled_retention_rules_load() -> None:
    """The shipped retention rules load, with the evidence window of P-RET-3."""
    rules = policykit.load_rules().retention
    assert rules.evidence_window.anchors == ("window_anchor",)
    assert rules.evidence_window.years == 2
    assert {r.mode for r in rules.rules if r.decides == "mode"} == {m.value for m in policykit.RetentionMode}
    assert "name" in rules.anonymisation_erase.categories
    assert rules.rule("RET-EVIDENCE-WINDOW").erase_now.categories == ("linkedin_profile",)
    with pytest.raises(KeyError):
        rules.rule("RET-NOPE")


def test_every_rule_cites_clauses_that_exist() -> None:
    """Each retention rule cites at least one clause of the register."""
    rules = policykit.load_rules()
    ids = {c.id for c in rules.clauses}
    for rule in rules.retention.rules:
        assert rule.clauses
        assert set(rule.clauses) <= ids


def test_retention_clauses_are_enforced_by_rules() -> None:
    """P-RET-1..4 and P-INTRO-3 are marked enforced by rules, and cited by retention rules."""
    rules = policykit.load_rules()
    cited = {c for r in rules.retention.rules for c in r.clauses}
    for cid in ("P-RET-1", "P-RET-2", "P-RET-3", "P-RET-4", "P-INTRO-3"):
        assert rules.clause(cid).enforcement == "rules"
        assert cid in cited


Edit = Callable[[Path], None]
BROKEN: list[tuple[str, Edit, type[DefinitionError], str, str]] = [
    ("unknown anchor",
     lambda d: edit(d, "retention.yaml", "anonymise_on: {from: trigger}", "anonymise_on: {from: triger}"),
     UnknownTermError, "got 'triger' (did you mean 'trigger'?)", "from: triger"),
    ("anchor not allowed in the slot",
     lambda d: edit(d, "retention.yaml", "review_on: {from: latest_activity,", "review_on: {from: trigger,"),
     UnknownTermError, "expected an anchor allowed for 'review_on'", "review_on: {from: trigger"),
    ("unknown mode",
     lambda d: edit(d, "retention.yaml", "mode: legal_hold", "mode: legal_hld"),
     UnknownTermError, "expected a retention mode, got 'legal_hld' (did you mean 'legal_hold'?)", "mode: legal_hld"),
    ("unknown purpose",
     lambda d: edit(d, "retention.yaml", "permitted_purposes: [bookkeeping]", "permitted_purposes: [bokkeeping]"),
     UnknownTermError, "did you mean 'bookkeeping'?", "permitted_purposes: [bokkeeping]"),
    ("unknown clause",
     lambda d: edit(d, "retention.yaml", "clauses: [P-RET-3, P-SYF-T10]", "clauses: [P-RET-33, P-SYF-T10]"),
     UnknownClauseError, "got 'P-RET-33'", "P-RET-33"),
    ("unknown fact",
     lambda d: edit(d, "retention.yaml", "dispute_pending: true\n    then:\n      mode: legal_hold",
                    "dispute_pendng: true\n    then:\n      mode: legal_hold"),
     UnknownTermError, "did you mean 'dispute_pending'?", "dispute_pendng"),
    ("overlapping modes",
     lambda d: edit(d, "retention.yaml", "      window_expired_at_trigger: true\n    then:\n      mode: anonymise_now",
                    "      window_expired_at_trigger: [true, false]\n    then:\n      mode: anonymise_now"),
     ConditionError, "expected at most one 'mode' rule to apply", "- id: RET-EVIDENCE-WINDOW"),
    ("a gap in the modes",
     lambda d: edit(d, "retention.yaml", "      has_applications: false\n      has_bookkeeping: false\n",
                    "      has_applications: false\n      has_bookkeeping: false\n      has_special_category: true\n"),
     ConditionError, "expected a mode rule for every combination of facts", "# ---- the record's mode"),
    ("a mode rule without a mode",
     lambda d: edit(d, "retention.yaml", "      mode: bookkeeping\n", ""),
     RuleSchemaError, "expected a 'mode' in the 'then' of mode rule 'RET-BOOKKEEPING-ONLY'",
     "retain_until: {from: bookkeeping_retain_until}"),
    ("a note that sets a mode",
     lambda d: edit(d, "retention.yaml", "      legal_hold: true\n\n  - id: RET-FRESH",
                    "      legal_hold: true\n      mode: legal_hold\n\n  - id: RET-FRESH"),
     RuleSchemaError, "expected no 'mode' in a 'note' rule", "- id: RET-FRESH-CONSENT"),
    ("a date slot the track does not have",
     lambda d: edit(d, "retention.yaml", "      erase_on: {from: as_of}", "      review_on: {from: as_of}"),
     RuleSchemaError, "expected no 'review_on' in a 'special_category_without_consent' rule",
     "review_on: {from: as_of}"),
    ("a negative period",
     lambda d: edit(d, "retention.yaml", "deadline: {from: trigger, months: 1, working_day: true}",
                    "deadline: {from: trigger, months: -1}"),
     RuleSchemaError, "expected a whole number of months (0 or more), got -1", "months: -1"),
    ("an unknown parameter",
     lambda d: edit(d, "retention.yaml", "latest_activity, months: {parameter: review_interval_months}",
                    "latest_activity, months: {parameter: review_months}"),
     UnknownTermError, "did you mean 'review_interval_months'?", "review_months"),
    ("a category as an item",
     lambda d: edit(d, "retention.yaml", "marketing_attributes]\n\n  - id: RET-ANONYMISE-AFTER",
                    "photo]\n\n  - id: RET-ANONYMISE-AFTER"),
     RuleSchemaError, "expected an item that is not a data category under 'items', got 'photo'", "photo]"),
    ("an unknown category attribute",
     lambda d: edit(d, "retention.yaml", "categories: {identifying: true, evidence: false}",
                    "categories: {identifyng: true, evidence: false}"),
     UnknownTermError, "did you mean 'identifying'?", "identifyng"),
    ("a rule that can never apply",
     lambda d: edit(d, "retention.yaml", "      oral_objection_undocumented: true\n",
                    "      oral_objection_undocumented: true\n      not: {oral_objection_undocumented: true}\n"),
     ConditionError, "rule 'RET-ORAL-OBJECTION' can never apply", "oral_objection_undocumented: true"),
    ("an unknown rule field",
     lambda d: edit(d, "retention.yaml", "    decides: note\n    title: An oral",
                    "    decides: note\n    titel: x\n    title: An oral"),
     RuleSchemaError, "unexpected field 'rules.14.titel'", "titel"),
    ("a documented clause cited by a rule",
     lambda d: edit(d, "clauses.yaml", "  enforcement: rules\n- id: P-ALLM-1",
                    "  enforcement: documented\n  reason: not yet\n- id: P-ALLM-1"),
     ClauseCoverageError, "clause P-INTRO-3 is marked 'documented' (not enforced) but cited by", "- id: P-ALLM-1"),
    ("a bad anchor parameter",
     lambda d: edit(d, "policy.yaml", "retention_anchor: latest_application", "retention_anchor: latest_aplication"),
     RuleSchemaError, "did you mean 'latest_application'?", "retention_anchor:"),
    ("a bad review interval",
     lambda d: edit(d, "policy.yaml", "review_interval_months: 24", "review_interval_months: 0"),
     RuleSchemaError, "at 'parameters.review_interval_months'", "review_interval_months:"),
]


@pytest.mark.parametrize(("what", "change", "error", "message", "near"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_retention_rules_are_refused(  # noqa: PLR0917 - one argument per column of BROKEN
    rules_dir: Path, what: str, change: Edit, error: type[DefinitionError], message: str, near: str
) -> None:
    """Each kind of mistake in the retention rules is an error that names the file and the line."""
    change(rules_dir)
    with pytest.raises(error) as info:
        policykit.load_rules(rules_dir)
    assert message in info.value.detail, what
    name = info.value.file
    assert name is not None
    assert info.value.line is not None
    wanted = line_of(rules_dir, Path(name).name, near.split("\n", maxsplit=1)[0])
    assert abs(info.value.line - wanted) <= 12, (info.value.line, wanted)


def test_missing_retention_file_is_refused(rules_dir: Path) -> None:
    """retention.yaml is one of the rule files."""
    (rules_dir / "retention.yaml").unlink()
    with pytest.raises(DefinitionError, match=r"retention\.yaml"):
        policykit.load_rules(rules_dir)
