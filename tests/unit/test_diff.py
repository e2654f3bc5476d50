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
REVISION = ROOT / "examples" / "policies" / "we-select-2026-07-01"


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


def _overlay(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    """An overlay of the bundled rules holding ``files``."""
    directory = tmp_path / name
    directory.mkdir()
    files = {"policy.yaml": "extends: bundled\npolicy:\n  version: \"2022-06-22+test\"\n", **files}
    for file, text in files.items():
        (directory / file).write_text(text, encoding="utf-8")
    return directory


NEW_PURPOSE = {"vocabulary.yaml": "out_of_policy_purposes:\n  - id: headhunting_for_competitors\n"
                                  "    en: Headhunting\n    sale: false\n"}


def test_a_vocabulary_that_removes_a_term_cannot_be_diffed(tmp_path: Path) -> None:
    """A term the new version no longer knows makes the versions incomparable (a question of the old
    version has no reading in the new), and the error says why."""
    extended = _overlay(tmp_path, "extended", NEW_PURPOSE)
    with policykit.load_policy(extended) as old, policykit.load_policy() as new, \
            pytest.raises(IncomparableRulesError, match="headhunting_for_competitors"):
        diff(old, new)


def test_a_fact_only_one_version_reads_must_be_an_optional_fact() -> None:
    """The fact fields may differ by optional facts only (``_ruleset.facts.OPTIONAL_FACTS``)."""
    from policykit._analysis.diff import _check_comparable  # noqa: PLC0415 - the check alone

    bundled = policykit.load_rules()
    revised = policykit.load_rules(REVISION)
    space = _check_comparable(bundled, revised)
    assert "recipient.dpf_certified" in space.schema and "recipient.dpf_certified" not in bundled.disclosure.facts
    assert space.new_purposes == {"follow_up_placed_candidates"}
    assert "ai_screening_provider" in space.new_terms["recipient.kind"]
    facts = dict(bundled.disclosure.facts)
    facts["recipient.surprise"] = facts.pop("recipient.legitimate_need_kul")
    with pytest.raises(IncomparableRulesError, match="optional facts"):
        _check_comparable(bundled, revised.model_copy(
            update={"disclosure": revised.disclosure.model_copy(update={"facts": facts})}))


@pytest.mark.slow
def test_a_new_out_of_policy_purpose_changes_no_answer(tmp_path: Path) -> None:
    """The old version reads a purpose it does not know as a purpose outside its vocabulary
    (``unlisted``), which is exactly how the new version treats an out-of-policy purpose: nothing
    changes, and the diff says how the new term is read."""
    with policykit.load_policy() as old, policykit.load_policy(_overlay(tmp_path, "p", NEW_PURPOSE)) as new:
        report = diff(old, new)
    assert report.changed_questions == 0
    assert report.table_changes == ["purposes: headhunting_for_competitors is new (the old version reads it "
                                    "as a purpose outside its vocabulary)"]


@pytest.mark.slow
def test_an_added_optional_fact_changes_only_the_questions_its_rule_decides(tmp_path: Path) -> None:
    """A version that reads recipient.approved_by_candidate and refuses referees without it: the old
    version treats the fact as having no effect, so exactly the referee questions it allowed without
    the approval become denials, all by the new rule."""
    overlay = _overlay(tmp_path, "referees", {
        "vocabulary.yaml": "reason_codes:\n  - id: REFEREE_NOT_APPROVED\n    en: Not approved.\n",
        "disclosure.yaml": (
            # an overlay's facts add to the bundled ones (candidate.portability_request_on_file stays)
            "facts: [recipient.approved_by_candidate]\nrules:\n  - id: D5-REFEREE-NOT-APPROVED\n    step: 5\n"
            "    effect: forbid\n    reason: REFEREE_NOT_APPROVED\n    title: Approved referees only\n"
            "    description: Only referees the candidate approved.\n    clauses: [P-TP-8]\n    when:\n"
            "      recipient.kind: reference\n      recipient.approved_by_candidate: false\n"),
    })
    with policykit.load_policy() as old, policykit.load_policy(overlay) as new:
        report = diff(old, new)
    data = report.to_dict()
    assert data["normalisation_changes"] == [
        "facts: recipient.approved_by_candidate is read by the new version only (no effect in the old)"]
    assert {g["rule"] for g in data["groups"]} == {"D5-REFEREE-NOT-APPROVED"}
    transitions = {t for g in data["groups"] for t in g["transitions"]}
    assert "allowed -> denied" in transitions and "denied -> allowed" not in transitions
    for g in data["groups"]:
        for ex in g["examples"]:
            assert ex["request"]["recipient"]["kind"] == "reference"
            assert "approved_by_candidate" not in ex["request"]["recipient"]
            assert "REFEREE_NOT_APPROVED" in ex["new"]
    # every changed question is a referee question without the approval: half of the referee space at most
    with policykit.load_policy(overlay) as new:
        approved = new.decide({**ex["request"], "recipient": {**ex["request"]["recipient"],
                                                               "approved_by_candidate": True}})
    assert "REFEREE_NOT_APPROVED" not in approved.reasons


@pytest.mark.slow
def test_a_new_recipient_kind_is_an_input_error_in_the_old_version(tmp_path: Path) -> None:
    """A question on a recipient kind only the new version knows is refused as input by the old one:
    the diff counts it as a new question and names the rule that answers it now."""
    overlay = _overlay(tmp_path, "kind", {
        "vocabulary.yaml": "recipient_kinds:\n  - id: headhunter\n    clause: P-TP-1\n    sv: headhunter\n"
                           "    en: A headhunter\n",
    })
    with policykit.load_policy() as old, policykit.load_policy(overlay) as new:
        report = diff(old, new)
    data = report.to_dict()
    assert "recipient kind: headhunter is new (the old version refuses it as an input error)" in \
        data["normalisation_changes"]
    assert [g["rule"] for g in data["groups"]] == ["recipient kind headhunter"]
    # the new kind opens nothing by itself: the only questions it gets allowed are true aggregates
    # (anonymous statistics, which any recipient may have), the rest are denied
    assert {t for g in data["groups"] for t in g["transitions"]} == {"input error -> denied", "input error -> allowed"}
    allowed = [ex["request"] for g in data["groups"] for ex in g["examples"] if ex["new"] == "allowed"]
    assert allowed and all(r["identifiable"] is False and r["data_categories"] == ["aggregated_statistics"]
                           for r in allowed)
    assert all(ex["request"]["recipient"]["kind"] == "headhunter" and ex["old"] == "input error"
               for g in data["groups"] for ex in g["examples"])
    old_policy = policykit.load_policy()
    with pytest.raises(policykit.errors.QueryError):
        old_policy.decide(data["groups"][0]["examples"][0]["request"])


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


@pytest.mark.slow
def test_the_committed_revision_diff_is_what_policykit_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regenerating the diff from the bundled policy to the 2026-07-01 revision gives exactly the
    committed diff.txt: the revision's changes to disclosure, each by its own rule, and no other."""
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["diff", "rules", "examples/policies/we-select-2026-07-01"])
    assert result.exit_code == 0, result.output
    check_snapshot(result.output, REVISION / "diff.txt")
