"""Replay against the Switzerland example: exactly the logged questions its diff predicts change.

The example's diff (examples/rules-switzerland-allowed) changes no rule: Switzerland moves inside the
EU/EEA, so ``recipient.in_eea`` becomes true for Swiss recipients, and every changed question is a
question about a Swiss recipient whose answer involved ``D3-OUTSIDE-EEA`` (that rule no longer
forbids, or stops firing). The oracle below is that statement, applied to the old policy's own
answers; the slow test checks it against the diff computed afresh.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

import policykit
from policykit.log import DecisionLog, replay

SWISS = Path(__file__).resolve().parents[2] / "examples" / "rules-switzerland-allowed"


def questions(policy: policykit.Policy) -> list[dict[str, Any]]:
    vocab = policy.rules.vocabulary
    out = []
    for operation, purpose, kind, country, flags in itertools.product(
        ("show", "disclose", "transfer", "sell"),
        vocab.ids("purposes")[::3],
        vocab.ids("recipient_kinds")[::2],
        ("SE", "CH", "US", "NO"),
        (False, True),
    ):
        out.append({
            "operation": operation, "data_categories": ["name", "application_documents"], "purpose": purpose, "as_of": "2026-03-02",
            "recipient": {"kind": kind, "country": country, "active_assignment": flags,
                          "confidentiality_undertaking": flags, "data_agreement_signed": flags,
                          "relevant_to_candidate_competence": flags},
        })
    return out


def test_replay_changes_exactly_the_swiss_questions_the_diff_predicts(
    tmp_path: Path, bundled_policy: policykit.Policy
) -> None:
    path = tmp_path / "decisions.jsonl"
    asked = questions(bundled_policy)
    with policykit.load_policy(decision_log=DecisionLog(path)) as policy:
        for q in asked:
            policy.decide(q)
    predicted = {
        seq for seq, q in enumerate(asked, 1)
        if q["recipient"]["country"] == "CH" and "D3-OUTSIDE-EEA" in bundled_policy.decide(q).rule_ids
    }
    report = replay(path, [SWISS], examples=2)
    assert report.records == len(asked)
    assert set(report.changed_seqs) == predicted
    assert predicted  # and no question about SE, US or NO changes (the sets are equal)
    assert report.by_rule["D3-OUTSIDE-EEA"] == len(predicted)
    assert report.unanswerable == 0
    assert not any(t.startswith("allowed") for t in report.transitions)  # no allowed question becomes denied
    assert "D3-OUTSIDE-EEA" in report.render()


def test_replay_with_two_versions_sends_each_question_to_the_version_in_force(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    with policykit.load_policy(decision_log=DecisionLog(path)) as policy:
        policy.decide({"operation": "show", "data_categories": ["name"], "purpose": "sell_recruitment_services",
                       "as_of": "2026-03-02", "recipient": {"kind": "recruitment_client", "country": "CH",
                                                            "relevant_to_candidate_competence": True}})
    report = replay(path, [policykit.bundled_rules_dir(), SWISS])
    # both directories hold version 2022-06-22; the later one in the list order by version wins a tie
    assert report.records == 1 and len(report.rules) == 2


@pytest.mark.slow
def test_every_example_of_the_diff_changes_as_the_diff_says(tmp_path: Path) -> None:
    from policykit._analysis.diff import diff  # noqa: PLC0415 - the slow test alone needs it

    with policykit.load_policy() as old, policykit.load_policy(SWISS) as new:
        report = diff(old, new, examples=3)
    examples = [(g.rule, e) for g in report.changes for e in g.examples]
    assert examples
    path = tmp_path / "decisions.jsonl"
    with policykit.load_policy(decision_log=DecisionLog(path)) as policy:
        for _, e in examples:
            policy.decide({**e["request"], "as_of": "2026-03-02"})
    replayed = replay(path, [SWISS], examples=100)
    assert replayed.changed == len(examples)
    assert set(replayed.by_rule) == {g.rule for g in report.changes}
    seen = {(e["before"], e["after"]) for group in replayed.examples.values() for e in group}
    assert seen == {(e["old"], e["new"]) for _, e in examples}
