"""policykit verify: invariants over the whole space, explained counterexamples on broken rules."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import policykit
from policykit._analysis.invariants import load_invariants
from policykit._analysis.verify import VerifyReport, render_report, verify
from policykit.cli import main


def _copy_rules(tmp_path: Path) -> Path:
    copy = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def broken_compelled(tmp_path: Path) -> Path:
    """A copy of the rules whose compelled-disclosure permit wrongly also demands a recipient inside
    the EU/EEA, so a compelled disclosure abroad is refused with nothing permitting it."""
    copy = _copy_rules(tmp_path)
    _edit(copy / "disclosure.yaml", "    when: {is: compelled_disclosure}\n",
          "    when: {is: compelled_disclosure, recipient.in_eea: true}\n")
    return copy


@pytest.fixture
def broken_sale(tmp_path: Path) -> Path:
    """A copy of the rules in which only the purpose sell_data counts as a sale: selling for any
    other purpose is no longer forbidden."""
    copy = _copy_rules(tmp_path)
    _edit(copy / "disclosure.yaml", "      any:\n        - operation: sell\n        - purpose: sell_data\n",
          "      any:\n        - purpose: sell_data\n")
    return copy


def test_a_restricted_run_checks_only_the_chosen_invariant(bundled_policy: policykit.Policy) -> None:
    """Restricting to one invariant enumerates only the questions it covers."""
    invariants = [i for i in load_invariants(bundled_policy.rules) if i.id == "INV-COMPELLED-DISCLOSURE-OBEYED"]
    report = verify(bundled_policy, invariants, restrict=True)
    assert report.ok and report.restricted
    (result,) = report.invariants
    assert result.cubes > 0 and result.points == report.points
    assert "ok   INV-COMPELLED-DISCLOSURE-OBEYED" in render_report(report, bundled_policy)


def test_verify_fails_on_broken_rules_with_an_explained_counterexample(broken_compelled: Path) -> None:
    """The command exits 1 and explains a counterexample as a decision, citing the clauses."""
    result = CliRunner().invoke(
        main, ["verify", "--rules", str(broken_compelled), "--only", "INV-COMPELLED-DISCLOSURE-OBEYED", "--jobs", "1"]
    )
    assert result.exit_code == 1, result.output
    out = result.output
    assert "FAILED INV-COMPELLED-DISCLOSURE-OBEYED" in out
    assert "Counterexample 1 of" in out
    assert "expected allowed, got denied" in out
    assert "Rules that fired, in decision order:" in out  # the decision's own explanation
    assert "Answer: DENIED" in out
    assert '"kind": "authority"' in out and '"legal_obligation": true' in out
    assert out.rstrip().endswith("FAILED.")


def test_the_json_report_names_the_failure(broken_compelled: Path) -> None:
    """--json gives the failing invariant, its counts and the counterexample's facts."""
    result = CliRunner().invoke(
        main, ["verify", "--rules", str(broken_compelled), "--only", "INV-COMPELLED-DISCLOSURE-OBEYED",
               "--jobs", "1", "--json", "--max-counterexamples", "1"]
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False
    (inv,) = data["invariants"]
    assert inv["id"] == "INV-COMPELLED-DISCLOSURE-OBEYED" and inv["failed_questions"] > 0
    (example,) = inv["counterexamples"]
    assert example["facts"]["recipient.in_eea"] is False and example["facts"]["recipient.kind"] == "authority"


def test_an_unknown_invariant_id_is_an_input_error() -> None:
    """--only with a typo exits 2 with a suggestion."""
    result = CliRunner().invoke(main, ["verify", "--only", "INV-NEVER-SOLDD"])
    assert result.exit_code == 2
    assert "did you mean 'INV-NEVER-SOLD'" in result.output


@pytest.mark.slow
def test_verify_fails_when_sales_slip_through(broken_sale: Path) -> None:
    """Letting sales for other purposes through breaks the ban on selling personal data."""
    result = CliRunner().invoke(
        main, ["verify", "--rules", str(broken_sale), "--only", "INV-NEVER-SOLD", "--jobs", "2"]
    )
    assert result.exit_code == 1, result.output
    assert "FAILED INV-NEVER-SOLD" in result.output
    assert '"operation": "sell"' in result.output


@pytest.fixture(scope="module")
def full_report() -> Iterator[tuple[VerifyReport, policykit.Policy]]:
    """One run over the whole space with the reference evaluator, shared by the slow tests."""
    with policykit.load_policy(memo_size=0) as policy:
        yield verify(policy, load_invariants(policy.rules), differential=True, jobs=2), policy


@pytest.mark.slow
def test_every_invariant_holds_over_the_whole_space(full_report: tuple[VerifyReport, policykit.Policy]) -> None:
    """The shipped rules keep every invariant on every single-category question."""
    report, policy = full_report
    failed = [r.invariant.id for r in report.invariants if not r.ok]
    assert failed == [], render_report(report, policy)
    schema = policy.rules.disclosure.facts
    total = 1
    for f in schema.values():
        total *= len(f.domain)
    assert report.points == total


@pytest.mark.slow
def test_the_engine_agrees_with_the_reference_on_every_cube(
    full_report: tuple[VerifyReport, policykit.Policy],
) -> None:
    """The differential check: on every cube the durable-rules engine's answer (allowed, reasons, rules
    fired, obligations, per-category verdicts, clauses) equals the reference evaluator's, and the
    rules it fires are exactly those whose conditions hold."""
    report, _ = full_report
    assert report.differential
    assert report.mismatch_count == 0, report.mismatches


@pytest.mark.slow
def test_every_rule_fires_somewhere(full_report: tuple[VerifyReport, policykit.Policy]) -> None:
    """No rule of the shipped policy is dead: each fires for some question."""
    report, _ = full_report
    assert [rid for rid, n in report.rule_cubes.items() if n == 0] == []


def test_coverage_lists_rules_no_case_exercises(bundled_policy: policykit.Policy) -> None:
    """--coverage counts, per rule, the acceptance cases that fire it, and lists the rules none does."""
    cases = Path(__file__).parents[1] / "acceptance" / "cases"
    result = CliRunner().invoke(
        main, ["verify", "--only", "INV-TRUE-AGGREGATES-SHARED", "--coverage", "--cases", str(cases), "--jobs", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "Rule coverage" in result.output
    assert "D10-PERMIT-RECRUITMENT-CLIENT" in result.output
    assert "Rules no case exercises:" in result.output


def test_every_retention_fact_combination_is_checked(bundled_policy: policykit.Policy) -> None:
    """The retention family's whole fact space goes through the engine: exactly the rules whose
    conditions hold fire, one mode each time."""
    from policykit._analysis.verify import check_retention  # noqa: PLC0415

    count, problems = check_retention(bundled_policy)
    assert count == 2 ** len(bundled_policy.rules.retention.facts)
    assert problems == []


def test_every_data_subject_request_question_is_checked(bundled_policy: policykit.Policy) -> None:
    """The request family's whole fact space, cube by cube, fires exactly the rules whose conditions hold."""
    from policykit._analysis.verify import check_requests  # noqa: PLC0415

    points, cubes, problems = check_requests(bundled_policy)
    assert problems == []
    assert cubes > 0
    total = 1
    for f in bundled_policy.rules.requests.facts.values():
        total *= len(f.domain)
    assert points == total


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_is_reported_as_a_growing_fraction_that_ends_at_one(bundled_policy: policykit.Policy, jobs: int) -> None:
    """What `policykit verify` draws its progress bar from: fractions in [0, 1], never shrinking, the
    last one 1 (with one process, and with worker processes reporting through a shared list)."""
    invariants = [i for i in load_invariants(bundled_policy.rules) if i.id == "INV-COMPELLED-DISCLOSURE-OBEYED"]
    seen: list[float] = []
    report = verify(bundled_policy, invariants, restrict=True, jobs=jobs, progress=seen.append)
    assert report.ok
    assert seen and seen[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in seen) and seen == sorted(seen)
