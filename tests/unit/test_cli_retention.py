"""The ``policykit retention`` command: one candidate explained, or many as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from policykit.cli import main

R02 = {"applications": ["2023-04-03", "2023-12-31"], "consent_withdrawn_on": "2024-04-02"}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_one_candidate_explained(tmp_path: Path) -> None:
    """A facts file prints the explained verdict."""
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(R02), encoding="utf-8")
    result = CliRunner().invoke(main, ["retention", str(facts)])
    assert result.exit_code == 0, result.output
    assert "evidence_window" in result.output
    assert "2026-01-01" in result.output
    assert "P-RET-4" in result.output


def test_one_candidate_as_json_from_stdin() -> None:
    """--json prints the verdict's to_dict(); '-' reads stdin; a case's inputs block is accepted."""
    result = CliRunner().invoke(main, ["retention", "--json", "-"], input=json.dumps({"inputs": R02}))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["retention_mode"], data["retain_until"], data["anonymise_on"]) == (
        "evidence_window", "2025-12-31", "2026-01-01")


def test_as_of_and_anchor_options(tmp_path: Path) -> None:
    """--as-of fills in as_of; --anchor switches the window anchor (A-04)."""
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({**R02, "process_closed_on": "2024-02-20"}), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["retention", "--json", "--as-of", "2026-01-01", "--anchor", "latest_application_or_process_closed",
               str(facts)],
    )
    data = json.loads(result.output)
    assert (data["as_of"], data["retain_until"], data["due"]) == ("2026-01-01", "2026-02-20", False)


def test_bad_facts_exit_2_with_the_field_named(tmp_path: Path) -> None:
    """A bad date is a one-line error on stderr and exit status 2."""
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"applications": ["2024-02-30"]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["retention", str(facts)])
    assert result.exit_code == 2
    assert "applications[0]: expected a real calendar date" in result.output


def test_bad_as_of_option() -> None:
    """--as-of must be a date."""
    result = CliRunner().invoke(main, ["retention", "--as-of", "tomorrow", "-"], input="{}")
    assert result.exit_code == 2
    assert "--as-of: expected a date as YYYY-MM-DD" in result.output


def test_json_lines_one_verdict_per_line(tmp_path: Path) -> None:
    """A .jsonl file gives one JSON verdict per input line, in order, ids echoed, --as-of applied."""
    source = write(tmp_path / "candidates.jsonl", [
        json.dumps({"id": "c1", **R02}),
        json.dumps({"id": "c2", "applications": ["2020-01-10"], "consent_withdrawn_on": "2024-03-05"}),
        json.dumps({"id": "c3", "applications": ["2024-01-10"], "as_of": "2024-06-01"}),
    ])
    out = tmp_path / "verdicts.jsonl"
    result = CliRunner().invoke(main, ["retention", "--as-of", "2025-01-01", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["c1", "c2", "c3"]
    assert [r["line"] for r in rows] == [1, 2, 3]
    assert [r["retention_mode"] for r in rows] == ["evidence_window", "anonymise_now", "indefinite_while_relevant"]
    assert [r["as_of"] for r in rows] == ["2025-01-01", "2025-01-01", "2024-06-01"]
    assert rows[1]["due"] is True


def test_json_lines_keep_going_past_bad_lines(tmp_path: Path) -> None:
    """Bad lines are reported with their line number, the rest are judged, and the exit status is 2."""
    source = write(tmp_path / "candidates.txt", [
        json.dumps(R02),
        json.dumps({"applications": ["2024-01-10"], "consent_withdrawn_on": "2023-01-01"}),
        "",
        "[1, 2]",
        "not json",
        json.dumps(R02),
    ])
    result = CliRunner().invoke(main, ["retention", "--lines", str(source)])
    assert result.exit_code == 2
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    rows = [json.loads(line) for line in lines]
    assert [r["line"] for r in rows] == [1, 2, 4, 5, 6]
    assert rows[1]["error"]["code"] == "query.invalid_date"
    assert "consent_withdrawn_on" in rows[1]["error"]["message"]
    assert rows[4]["retention_mode"] == "evidence_window"
    assert "line 2: consent_withdrawn_on" in result.stderr
    assert "line 5:" in result.stderr
    assert "3 line(s) could not be judged" in result.stderr


def test_check_lists_the_retention_rules() -> None:
    """policykit check reports the retention family."""
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0
    assert "retention rules" in result.output


def test_parallel_workers_write_exactly_the_serial_output(tmp_path: Path) -> None:
    """--jobs 2 judges lines in worker processes and writes the same lines, in the same order, with
    the same per-line errors and exit status, as one process."""
    source = tmp_path / "candidates.jsonl"
    lines = []
    for i in range(4500):
        facts: dict[str, object] = {"id": i, "applications": [f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}"]}
        if i % 3 == 0:
            facts["consent_withdrawn_on"] = "2024-06-01"
        lines.append(json.dumps(facts))
    lines[1234] = '{"applications": ["2024-02-30"]}'
    lines[4000] = "not json"
    source.write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out-{jobs}.jsonl"
        result = runner.invoke(main, ["retention", "--as-of", "2026-01-01", "--jobs", jobs, str(source), "-o", str(out)])
        assert result.exit_code == 2
        assert "line 1235" in result.stderr
        assert "line 4001" in result.stderr
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") == 4500
