"""The command line: answers, JSON output, exit statuses, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import policykit
from policykit.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples" / "requests"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_decide_prints_an_explained_decision(runner: CliRunner) -> None:
    """The shipped example gets its explanation with clauses quoted."""
    result = runner.invoke(main, ["decide", str(EXAMPLES / "d01-transfer-cv-to-recruitment-client.json")])
    assert result.exit_code == 0
    assert "Answer: ALLOWED." in result.output
    assert "P-TP-4a" in result.output


def test_decide_json_is_machine_readable(runner: CliRunner) -> None:
    """--json prints the decision's fields."""
    result = runner.invoke(main, ["decide", "--json", str(EXAMPLES / "d08-transfer-cv-to-prospect.json")])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["allowed"] is False
    assert data["reasons"][0] == "TRANSFER_TO_NON_ASSIGNMENT_CLIENT_PROHIBITED"


def test_decide_reads_stdin_and_accepts_a_whole_case(runner: CliRunner) -> None:
    """'-' reads the request from stdin; a case with an 'inputs' block works as well."""
    request = json.loads((EXAMPLES / "d05-transfer-after-consent-withdrawn.json").read_text())
    result = runner.invoke(main, ["decide", "--json", "-"], input=json.dumps({"id": "x", "inputs": request}))
    assert result.exit_code == 0
    assert json.loads(result.output)["reasons"] == ["CONSENT_WITHDRAWN"]


def test_a_deny_exits_zero_unless_asked_otherwise(runner: CliRunner) -> None:
    """A deny is an answer (status 0); --fail-on-deny makes it status 1."""
    path = str(EXAMPLES / "d15-sell-candidate-database.json")
    assert runner.invoke(main, ["decide", path]).exit_code == 0
    assert runner.invoke(main, ["decide", "--fail-on-deny", path]).exit_code == 1


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"operation": "transfer"}', "invalid disclosure request"),
        ("[1, 2]", "expected one JSON object"),
        ("{not json: [", "neither JSON nor YAML"),
        ('{"operation": "tranfer", "data_categories": ["name"], "purpose": "x", "recipient": {"kind": "reference", "country": "SE"}}',
         "did you mean 'transfer'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_status_2(runner: CliRunner, stdin: str, message: str) -> None:
    """Malformed input: exit status 2 and a single 'policykit: error:' line."""
    result = runner.invoke(main, ["decide", "-"], input=stdin)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("policykit: error:")
    assert message in lines[0]


def test_a_missing_request_file_is_status_2(runner: CliRunner, tmp_path: Path) -> None:
    """An unreadable file is bad input."""
    result = runner.invoke(main, ["decide", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_check_reports_the_rules(runner: CliRunner) -> None:
    """`policykit check` loads the rules and summarises them."""
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0
    assert "2022-06-22" in result.output


def test_a_broken_rules_directory_is_status_2_naming_the_file(runner: CliRunner, tmp_path: Path) -> None:
    """--rules with a broken copy reports file and line."""
    rules = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), rules)
    text = (rules / "disclosure.yaml").read_text()
    (rules / "disclosure.yaml").write_text(text.replace("reason: SALE_PROHIBITED", "reason: SALE_FORBIDDEN", 1))
    result = runner.invoke(main, ["check", "--rules", str(rules)])
    assert result.exit_code == 2
    assert "disclosure.yaml:" in result.stderr
    assert "SALE_FORBIDDEN" in result.stderr
