"""The request, redact and export commands: answers, JSON output, one-line errors with status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from policykit.cli import main

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
MODEL = "examples.candidate_model:Candidate"
RECORD = str(EXAMPLES / "records" / "candidate.json")
REDACT_REQUEST = str(EXAMPLES / "requests" / "redact-to-recruitment-client.json")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(ROOT)  # module:Class is imported from the current directory, as from a checkout
    return CliRunner()


def test_request_explains_the_shipped_access_example(runner: CliRunner) -> None:
    """S01 from the examples: fulfil by 2025-04-11, the clauses quoted."""
    result = runner.invoke(main, ["request", str(EXAMPLES / "requests" / "s01-access.json")])
    assert result.exit_code == 0, result.output
    assert "Answer: FULFIL." in result.output
    assert "Deadline: 2025-04-11" in result.output
    assert "P-INS-1" in result.output


def test_request_json_and_a_whole_case_on_stdin(runner: CliRunner) -> None:
    """--json prints the response; a case with an 'inputs' block is accepted from stdin."""
    case = {"id": "x", "inputs": {"request": "portability", "channel": "portal", "received_on": "2025-05-05",
                                  "data_categories": ["name", "interview_notes"]}}
    result = runner.invoke(main, ["request", "--json", "-"], input=json.dumps(case))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["outcome"] == "partial"
    assert data["deliver"] == ["name"]
    assert data["exclude_reasons"] == {"interview_notes": "DERIVED_DATA"}


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"request": "access"}', "invalid data-subject request: channel"),
        ('{"request": "objection", "channel": "email", "received_on": "2025-01-01", '
         '"objection_scope": ["statistic"]}', "did you mean 'statistics_target_group_optimisation'"),
        ("[1]", "expected one JSON object"),
    ],
)
def test_request_errors_are_one_line_with_status_2(runner: CliRunner, stdin: str, message: str) -> None:
    """Bad input: a single line on stderr, exit status 2."""
    result = runner.invoke(main, ["request", "-"], input=stdin)
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_redact_prints_the_data_that_may_go_and_what_was_withheld(runner: CliRunner) -> None:
    """The example record to a recruitment client: the health note is withheld."""
    result = runner.invoke(main, ["redact", "--request", REDACT_REQUEST, "--model", MODEL, RECORD])
    assert result.exit_code == 0, result.output
    assert '"name": "Sara Lindqvist"' in result.output
    assert "health_adjustments (special_category_data): SPECIAL_CATEGORY_NO_EXPLICIT_CONSENT" in result.output
    # what goes carries its duties (D10-PERMIT-RECRUITMENT-CLIENT), also when a field is withheld
    assert ("Obligations that come with the released data: log_disclosure, limit_to_data_relevant_to_assignment, "
            "record_policy_version") in result.output


def test_redact_json_holds_data_withheld_and_decision(runner: CliRunner) -> None:
    """--json prints one JSON document."""
    result = runner.invoke(main, ["redact", "--json", "--request", REDACT_REQUEST, "--model", MODEL, RECORD])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["data"]["health_adjustments"] is None
    assert [w["path"] for w in data["withheld"]] == ["health_adjustments"]
    assert data["decision"]["by_category"]["special_category_data"] is False
    assert "log_disclosure" in data["obligations"]
    assert "special_category_data" not in data["released_categories"]


@pytest.mark.parametrize("kind", ["access", "portability"])
def test_export_prints_a_json_document(runner: CliRunner, kind: str) -> None:
    """Both kinds of export come out as JSON."""
    result = runner.invoke(main, ["export", "--kind", kind, "--model", MODEL, RECORD])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["kind"] == kind
    assert ("interview_notes" in doc["data"]) == (kind == "access")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "examples.candidate_model"], "expected module:Class"),
        (["--model", "examples.nowhere:Candidate"], "cannot import module 'examples.nowhere'"),
        (["--model", "examples.candidate_model:Nobody"], "expected a pydantic model class 'Nobody'"),
        (["--model", "examples.candidate_model:Category"], "found type"),
        (["--model", MODEL, "--kind", "all"], "Invalid value for '--kind'"),
    ],
)
def test_export_errors_for_a_bad_model(runner: CliRunner, args: list[str], message: str) -> None:
    """A model that cannot be found or is not a model class: one line, status 2."""
    result = runner.invoke(main, ["export", *args, RECORD])
    assert result.exit_code == 2
    assert message in result.output


def test_a_record_that_does_not_fit_the_model_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    """The record is validated against the model; the first problem is named."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x"}), encoding="utf-8")
    result = runner.invoke(main, ["export", "--model", MODEL, str(bad)])
    assert result.exit_code == 2
    assert "not a valid Candidate record: candidate_id: Field required" in result.output


def test_a_bad_redaction_request_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    """An unknown recipient kind in REQ.json: one line, status 2."""
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"operation": "transfer", "purpose": "x", "recipient": {"kind": "friend",
                                                                                      "country": "SE"}}))
    result = runner.invoke(main, ["redact", "--request", str(req), "--model", MODEL, RECORD])
    assert result.exit_code == 2
    assert "recipient.kind: expected a recipient kind, got 'friend'" in result.output


def test_check_counts_the_request_rules(runner: CliRunner) -> None:
    """policykit check reports both families."""
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0
    assert "data-subject request rules" in result.output


def test_a_model_given_by_its_file_works_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--model path/to/file.py:Class needs no importable package; module:Class outside the repository
    says where it looked and what to do."""
    monkeypatch.chdir(tmp_path)
    by_file = CliRunner().invoke(main, ["export", "--kind", "access", "--model",
                                        f"{EXAMPLES / 'candidate_model.py'}:Candidate", RECORD])
    assert by_file.exit_code == 0, by_file.output
    assert json.loads(by_file.output)["kind"] == "access"
    # in a fresh process: the test session itself has the repository on sys.path
    by_module = subprocess.run(
        [sys.executable, "-c", "from policykit.cli import main; main()", "export", "--model", MODEL, RECORD],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert by_module.returncode == 2
    assert f"cannot import module 'examples.candidate_model' (from {tmp_path})" in by_module.stderr
    assert "--model path/to/file.py:Class" in by_module.stderr
