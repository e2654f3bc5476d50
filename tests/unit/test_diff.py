"""policykit diff: changed questions grouped by the rule responsible; the Switzerland example."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import policykit
from policykit._analysis.diff import diff
from policykit.cli import main
from policykit.errors import IncomparableRulesError
from tests.snapshots import check_snapshot

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "rules-switzerland-allowed"


def _copy_rules(tmp_path: Path, name: str = "rules") -> Path:
    copy = tmp_path / name
    shutil.copytree(policykit.bundled_rules_dir(), copy)
    return copy


def test_identical_rules_change_nothing(tmp_path: Path) -> None:
    """Two copies of the same rules answer every question alike."""
    copy = _copy_rules(tmp_path)
    seen: list[float] = []
    with policykit.load_policy() as old, policykit.load_policy(copy) as new:
        report = diff(old, new, progress=seen.append)
    assert report.changed_questions == 0 and report.changes == [] and report.table_changes == []
    assert report.questions > 0
    assert seen == [1.0]   # nothing to enumerate: the progress bar fills at once


def test_different_vocabularies_cannot_be_diffed(tmp_path: Path) -> None:
    """A purpose only one version knows makes the versions incomparable, and the error says why."""
    copy = _copy_rules(tmp_path)
    vocab = copy / "vocabulary.yaml"
    text = vocab.read_text(encoding="utf-8")
    anchor = "out_of_policy_purposes:\n"
    assert anchor in text
    vocab.write_text(text.replace(anchor, anchor + "  - id: headhunting_for_competitors\n    en: Headhunting\n"),
                     encoding="utf-8")
    with policykit.load_policy() as old, policykit.load_policy(copy) as new, \
            pytest.raises(IncomparableRulesError, match="headhunting_for_competitors"):
        diff(old, new)


def test_the_example_is_an_overlay_that_moves_switzerland_into_the_eea() -> None:
    """examples/rules-switzerland-allowed is an overlay of the bundled rules: only CH's place changes."""
    example = policykit.load_rules(EXAMPLE)
    bundled = policykit.load_rules()
    assert {c.code: c.in_eea for c in example.vocabulary.countries}["CH"] is True
    assert {c.code: c.in_eea for c in bundled.vocabulary.countries}["CH"] is False
    assert example.version == "2022-06-22+switzerland" and bundled.version == "2022-06-22"
    assert example.disclosure.rules == bundled.disclosure.rules


@pytest.mark.slow
def test_the_committed_example_diff_is_what_policykit_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regenerating the Switzerland diff gives exactly the committed diff.txt."""
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["diff", "rules", "examples/rules-switzerland-allowed"])
    assert result.exit_code == 0, result.output
    check_snapshot(result.output, EXAMPLE / "diff.txt")


@pytest.mark.slow
def test_switzerland_inside_the_eea_lifts_only_the_location_ban() -> None:
    """Every changed question concerns a Swiss recipient and is changed by D3-OUTSIDE-EEA alone; some
    denials become allows, no allow becomes a denial."""
    with policykit.load_policy() as old, policykit.load_policy(EXAMPLE) as new:
        report = diff(old, new)
    data = report.to_dict()
    assert data["normalisation_changes"] == ["countries: CH (Switzerland) is now inside the EU/EEA (was outside)"]
    assert {g["rule"] for g in data["groups"]} == {"D3-OUTSIDE-EEA"}
    transitions: dict[str, int] = {}
    for g in data["groups"]:
        for t, n in g["transitions"].items():
            transitions[t] = transitions.get(t, 0) + n
        for ex in g["examples"]:
            assert ex["request"]["recipient"]["country"] == "CH"
            assert "OUTSIDE_EU_EEA" in ex["old"] and "OUTSIDE_EU_EEA" not in ex["new"]
    assert transitions.get("denied -> allowed", 0) > 0
    assert "allowed -> denied" not in transitions
    assert sum(g["questions"] for g in data["groups"]) == data["changed"]["questions"]


@pytest.mark.slow
def test_a_changed_rule_is_named_as_responsible(tmp_path: Path) -> None:
    """Dropping the minimum-cell condition from the aggregate test lets small cells through: the diff
    names the predicate's rules and JSON output is machine-readable."""
    copy = _copy_rules(tmp_path, "new")
    path = copy / "disclosure.yaml"
    text = path.read_text(encoding="utf-8")
    old = "      category: aggregated_statistics\n      data.identifiable: false\n      data.min_cell_size_met: true\n"
    assert old in text
    path.write_text(text.replace(old, "      category: aggregated_statistics\n      data.identifiable: false\n"),
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["diff", str(policykit.bundled_rules_dir()), str(copy), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    seen: list[float] = []
    with policykit.load_policy() as old, policykit.load_policy(copy) as new:
        again = diff(old, new, progress=seen.append)   # what the progress bar is drawn from
    assert again.to_dict()["changed"] == data["changed"]
    assert len(seen) > 2 and seen[-1] == 1.0 and seen == sorted(seen) and 0.0 < seen[0] < 1.0
    rules = {g["rule"] for g in data["groups"]}
    assert "D2-NOT-ANONYMOUS" in rules
    assert data["changed"]["questions"] > 0
    assert all(ex["request"]["data_categories"] == ["aggregated_statistics"]
               for g in data["groups"] for ex in g["examples"])
