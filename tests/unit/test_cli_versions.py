"""The command line with several --rules: a history; each answer names the version that gave it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import policykit
from policykit.cli import main

ROOT = Path(__file__).parents[2]
REVISION = ROOT / "examples" / "policies" / "we-select-2026-07-01"
BOTH = ["--rules", str(policykit.bundled_rules_dir()), "--rules", str(REVISION)]
REFEREE = {
    "operation": "disclose", "data_categories": ["name"], "disclosed_context": ["role_applied_for"],
    "purpose": "obtain_reference_statements", "recipient": {"kind": "reference", "country": "SE"},
}


@pytest.mark.parametrize(("as_of", "version", "allowed"), [("2026-06-30", "2022-06-22", True),
                                                           ("2026-07-01", "2026-07-01", False)])
def test_decide_answers_with_the_version_in_force(tmp_path: Path, as_of: str, version: str, allowed: bool) -> None:
    question = tmp_path / "q.json"
    question.write_text(json.dumps({**REFEREE, "as_of": as_of}), encoding="utf-8")
    result = CliRunner().invoke(main, ["decide", str(question), "--json", *BOTH])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["policy_version"] == version and data["allowed"] is allowed
    text = CliRunner().invoke(main, ["decide", str(question), *BOTH]).output
    assert f"version {version}" in text


def test_retention_and_request_answer_with_the_version_in_force(tmp_path: Path) -> None:
    facts = tmp_path / "f.json"
    facts.write_text(json.dumps({"applications": ["2025-09-08"], "as_of": "2026-07-01"}), encoding="utf-8")
    result = CliRunner().invoke(main, ["retention", str(facts), "--json", *BOTH])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["review_on"] == "2027-07-01"
    req = tmp_path / "r.json"
    req.write_text(json.dumps({"request": "access", "channel": "email", "received_on": "2026-06-30"}),
                   encoding="utf-8")
    result = CliRunner().invoke(main, ["request", str(req), "--json", *BOTH])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["policy_version"] == "2022-06-22"


def test_check_lists_the_versions_and_refuses_a_broken_history(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", *BOTH])
    assert result.exit_code == 0, result.output
    assert "2026-07-01 in force from 2026-07-01" in result.output
    assert result.output.count("  ok") == 2
    result = CliRunner().invoke(main, ["check", "--rules", str(REVISION), "--rules", str(REVISION)])
    assert result.exit_code == 2
    assert "one version per effective date" in result.output


def test_docs_build_writes_every_version_and_what_changed(tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(main, ["docs", "build", "--out", str(out), *BOTH])
    assert result.exit_code == 0, result.output
    assert (out / "2022-06-22" / "disclosure.md").is_file()
    assert (out / "2026-07-01" / "disclosure.md").is_file()
    changes = (out / "changes.md").read_text(encoding="utf-8")
    assert "2022-06-22 → 2026-07-01, from 2026-07-01" in changes
    for expected in ("D5-REFEREE-NOT-APPROVED", "D5-SHOW-NO-CONSENT", "RET-EVIDENCE-WINDOW", "P-ANDR-4",
                     "`retention_anchor`"):
        assert expected in changes
    # a rule neither version changed is not listed
    assert "D1-SALE" not in changes
    check = CliRunner().invoke(main, ["docs", "check", "--out", str(out), *BOTH])
    assert check.exit_code == 0, check.output
