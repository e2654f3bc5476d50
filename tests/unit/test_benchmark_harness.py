"""The benchmark harness (benchmarks/): its workload, the Cedar and Casbin re-expressions of the
disclosure rules and the check that they agree with policykit, the timing functions and the table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import policykit
from benchmarks import equivalence, retention, workload
from benchmarks.engines import CasbinDisclosure, CedarDisclosure
from benchmarks.measure import Stats, throughput
from benchmarks.memory import probe
from benchmarks.report import (
    README_END,
    README_START,
    SWEEP_END,
    SWEEP_START,
    Row,
    judge,
    render,
    sweep_prose,
    update_readme,
)
from benchmarks.run import main
from benchmarks.workload import Question

POLICIES = Path(__file__).resolve().parents[2] / "benchmarks" / "policies"
QUESTIONS = workload.workload()
SLICE = workload.sample(QUESTIONS, 1_500, seed=3)  # the size of a --quick run's check, roughly


@pytest.fixture(scope="module")
def engine_only() -> policykit.Policy:
    """A policy without a memo: every answer in these tests comes from the engine."""
    return policykit.load_policy(memo_size=0)


# ---- the workload ---------------------------------------------------------------------------------


def test_the_workload_is_every_question_of_the_shape_once() -> None:
    """48,000 distinct questions: every operation, category, purpose and recipient kind appears."""
    assert len(QUESTIONS) == len(set(QUESTIONS)) == 48_000
    vocab = policykit.load_rules().vocabulary
    assert {q.operation for q in QUESTIONS} == set(vocab.ids("operations"))
    assert {q.kind for q in QUESTIONS} == set(vocab.ids("recipient_kinds"))
    assert {q.purpose for q in QUESTIONS} == set(vocab.ids("purposes")) | set(vocab.ids("out_of_policy_purposes"))
    assert {q.category for q in QUESTIONS} <= set(vocab.ids("data_categories"))
    assert {q.country for q in QUESTIONS} == {"SE", "US"}


def test_typed_and_mapping_requests_are_the_same_question() -> None:
    """The typed request is the parsed mapping; both carry the shape's fixed facts."""
    for q in SLICE[:200]:
        typed = workload.to_typed(q)
        assert typed == policykit.DisclosureRequest.parse(workload.to_mapping(q))
        assert typed.data_categories == (q.category,)
        assert typed.candidate.consent_status == "given" and not typed.candidate.anonymised
        assert not typed.contains_special_category and typed.identifiable


def test_samples_are_reproducible() -> None:
    """The same seed gives the same questions in the same order, another seed another selection; a
    sample holds distinct questions of the workload, and ``None`` is every question, shuffled."""
    first = workload.sample(QUESTIONS, 50, seed=1)
    assert len(first) == len(set(first)) == 50 and set(first) <= set(QUESTIONS)
    assert workload.sample(QUESTIONS, 50, seed=1) == first
    assert workload.sample(QUESTIONS, 50, seed=2) != first
    everything = workload.sample(QUESTIONS, None)
    assert sorted(everything) == sorted(QUESTIONS) and everything != list(QUESTIONS)


# ---- the re-expressions and their equivalence ----------------------------------------------------


def _cedar_ids() -> set[str]:
    return set(re.findall(r'@id\("([^"]+)"\)', (POLICIES / "disclosure.cedar").read_text(encoding="utf-8")))


def _casbin_rows() -> list[list[str]]:
    rows = []
    for line in (POLICIES / "casbin_policy.csv").read_text(encoding="utf-8").splitlines():
        if line.startswith(("p,", "g,")):
            rows.append([t.strip() for t in line.split(",")])
    return rows


def test_the_re_expressions_hold_exactly_the_rules_that_can_fire_in_the_shape(
    engine_only: policykit.Policy,
) -> None:
    """The rules policykit fires over the whole workload are the rules written in Cedar and in Casbin:
    none written that cannot fire, none left out that can."""
    fired: set[str] = set()
    for d in engine_only.decide_many(workload.to_typed(q) for q in QUESTIONS):
        fired.update(d.rule_ids)
    casbin_rules = {row[1] for row in _casbin_rows() if row[0] == "p"}
    assert _cedar_ids() == fired
    assert casbin_rules == fired
    left_out = {r.id for r in engine_only.rules.disclosure.rules} - fired
    assert left_out == {
        "D2-AGGREGATE", "D2-AGGREGATE-SALE", "D3-SUBPROCESSORS-OUTSIDE-EEA", "D4-ANONYMISED",
        "D4-CONSENT-WITHDRAWN", "D4-OBJECTION", "D5-SUBPROCESSOR-AS-CONTROLLER", "D6-SPECIAL-NOT-RELEVANT",
        "D9-MINIMISE-REFERENCE-CONTEXT", "D10-PERMIT-PORTABILITY",
    }


def test_casbin_rows_follow_the_order_of_the_rules() -> None:
    """Rows are in policykit's rule order, so Casbin's first deny row is policykit's deciding rule."""
    order = [r.id for r in policykit.load_rules().disclosure.rules]
    rules = [row[1] for row in _casbin_rows() if row[0] == "p"]
    positions = [order.index(r) for r in rules]
    assert positions == sorted(positions)


def test_the_eea_of_cedar_and_casbin_is_policykits() -> None:
    """The EU/EEA country codes written in both re-expressions are those of rules/countries.yaml."""
    vocab = policykit.load_rules().vocabulary
    eea = {c.code for c in vocab.countries if c.in_eea}
    eea |= {alias for alias, code in vocab.country_aliases.items() if code in eea}
    cedar_text = (POLICIES / "disclosure.cedar").read_text(encoding="utf-8")
    block = cedar_text[cedar_text.index('@id("D3-OUTSIDE-EEA")') :].split("].contains", 1)[0]
    assert set(re.findall(r'"([A-Z]{2})"', block)) == eea
    assert {row[1] for row in _casbin_rows() if row[0] == "g" and row[2] == "EEA"} == eea


def test_cedar_agrees_with_policykit_rule_for_rule_on_a_slice(engine_only: policykit.Policy) -> None:
    """Same allow/deny, and Cedar's deciding policies are policykit's fired rules."""
    pytest.importorskip("cedarpy")
    report = equivalence.check(SLICE, engine_only, cedar=CedarDisclosure())
    equivalence.require(report)
    assert report.questions == len(SLICE) and 0 < report.allowed < len(SLICE)


def test_casbin_agrees_with_policykit_rule_for_rule_on_a_slice(engine_only: policykit.Policy) -> None:
    """Same allow/deny, and Casbin's deciding row is policykit's deciding rule."""
    pytest.importorskip("casbin")
    report = equivalence.check(SLICE, engine_only, casbin=CasbinDisclosure())
    equivalence.require(report)
    assert report.disagreements == 0


@pytest.mark.slow
def test_cedar_and_casbin_agree_with_policykit_on_every_question(engine_only: policykit.Policy) -> None:
    """The whole workload: all 48,000 questions, all three engines, rule for rule."""
    pytest.importorskip("cedarpy")
    pytest.importorskip("casbin")
    report = equivalence.check(QUESTIONS, engine_only, cedar=CedarDisclosure(), casbin=CasbinDisclosure())
    equivalence.require(report)
    assert report.questions == 48_000


def test_a_cedar_policy_that_lost_a_rule_is_caught(engine_only: policykit.Policy, tmp_path: Path) -> None:
    """Drop the forbid on outside-EEA recipients: the check names the questions and explains them."""
    pytest.importorskip("cedarpy")
    text = (POLICIES / "disclosure.cedar").read_text(encoding="utf-8")
    start = text.index('@id("D3-OUTSIDE-EEA")')
    broken = tmp_path / "broken.cedar"
    broken.write_text(text[:start] + text[text.index("// ---- step 5", start) :], encoding="utf-8")
    questions = [q for q in SLICE if q.country == "US"][:50]
    report = equivalence.check(questions, engine_only, cedar=CedarDisclosure(broken), max_mismatches=3)
    assert report.disagreements > 0 and len(report.mismatches) == 3
    with pytest.raises(equivalence.EquivalenceError) as caught:
        equivalence.require(report)
    message = str(caught.value)
    assert "cedarpy disagrees with policykit" in message
    assert "D3-OUTSIDE-EEA" in message and "'country': 'US'" in message


def test_a_casbin_table_that_lost_a_row_is_caught(engine_only: policykit.Policy, tmp_path: Path) -> None:
    """Drop the permit row for sub-processors: their allowed questions become disagreements."""
    pytest.importorskip("casbin")
    lines = (POLICIES / "casbin_policy.csv").read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(x for x in lines if "D10-PERMIT-SUBPROCESSOR" not in x) + "\n", encoding="utf-8")
    questions = [
        Question("transfer", "name", "bookkeeping", "subprocessor", "SE", agreements=True),
        Question("transfer", "name", "bookkeeping", "subprocessor", "US", agreements=True),
    ]
    report = equivalence.check(
        questions, engine_only, casbin=CasbinDisclosure(policy_file=broken), max_mismatches=5
    )
    assert [m.question for m in report.mismatches] == questions[:1]
    assert "pycasbin" in report.mismatches[0].describe()


# ---- timing, memory and the table -----------------------------------------------------------------


def test_throughput_counts_every_item_it_handles() -> None:
    """The rate is items handled over the time taken; each repetition runs at least min_time."""
    seen: list[int] = []
    result = throughput(seen.extend, list(range(2_500)), repeats=3, min_time=0.01, chunk=1_000)
    assert len(result.samples) == 3
    assert result.low <= result.median <= result.high
    assert len(seen) >= 1_000 + 3 * 1_000  # one chunk of warm-up, at least one chunk per repetition


def test_the_memory_probe_reports_a_bounded_stream() -> None:
    """A short stream in this process: the probe answers every question and samples the RSS."""
    result = probe(total=600, checkpoint=200)
    assert result["decisions"] == 600
    assert result["memo"]["size"] <= result["memo_size"]
    # a sample at every tenth of the stream; the checkpoint (200) is between two of them
    assert [n for n, _ in result["rss_samples_mb"]] == [60, 120, 180, 200, 240, 300, 360, 420, 480, 540, 600]
    assert all(mb > 10 for _, mb in result["rss_samples_mb"])
    assert result["rss_at_checkpoint_mb"] == dict(result["rss_samples_mb"])[200]
    # the questions are drawn from a space of 2 categories x the workload: most of 600 are distinct
    assert 0 < result["allowed"] < 600


def _row(row_id: str, median: float, unit: str = "decisions/s") -> Row:
    return Row(row_id, row_id, unit, Stats(median, median * 0.9, median * 1.1, (median,)))


def test_targets_and_ratios_are_judged_from_the_medians() -> None:
    """Targets compare the medians with the issue's thresholds and with the faster cedarpy way."""
    rows = [
        _row("policykit_warm_typed", 600_000),
        _row("policykit_warm_mapping", 150_000),
        _row("policykit_cold_typed", 45_000),
        _row("cedarpy", 40_000),
        _row("cedarpy_batch", 70_000),
        _row("load_policy_fresh", 120.0, "ms"),
        _row("memory_growth", 25.0, "MiB"),
        Row("retention_warm", "retention", "candidates/s", pending="slot"),
    ]
    judge(rows)
    verdicts = {r.id: [t.passed for t in r.targets] for r in rows}
    assert verdicts["policykit_warm_typed"] == [True, False]  # 600k ≥ 500k, but < 10 × 70k
    assert verdicts["policykit_warm_mapping"] == [False]
    assert verdicts["policykit_cold_typed"] == [True, False]  # ≥ 40k, but slower than cedarpy's batch
    assert verdicts["load_policy_fresh"] == [True]
    assert verdicts["memory_growth"] == [False]
    assert verdicts["retention_warm"] == [None]
    assert rows[3].ratios["policykit_cold_typed"] == pytest.approx(40_000 / 45_000)


def test_the_table_shows_every_row_with_its_verdict() -> None:
    """The Markdown table has a line per row, PASS/MISS beside the targets, and slots marked."""
    rows = [_row("policykit_warm_typed", 600_000), _row("cedarpy", 40_000),
            Row("db_sweep", "database sweep", "candidates/s", pending="slot: another issue")]
    judge(rows)
    results = {
        "quick": True,
        "machine": {"cpu": "test CPU", "cores": 2, "usable_cores": 2, "load_average": [0.5, 0.5, 0.5],
                    "python": "CPython 3.11", "platform": "Linux", "date": "today", "commit": "abc",
                    "packages": {"policykit": "0.1.0"}},
        "equivalence": {"questions": 10, "scope": "every question", "engines_checked": ["cedarpy"]},
        "workload": {"questions": 10, "allowed": 1},
        "settings": {"repeats": 1, "min_time": 0.1},
    }
    text = render(results, rows)
    assert "QUICK RUN" in text and "test CPU" in text
    assert "| policykit_warm_typed | 600,000 | decisions/s |" in text
    assert "≥ 500,000/s · ≥ 10× cedarpy | PASS · PASS |" in text
    assert "| database sweep | — |" in text and "slot: another issue" in text


def test_update_readme_rewrites_only_what_stands_between_the_markers(tmp_path: Path) -> None:
    """The README's table is replaced; the text around the markers is kept."""
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\nafter\n", encoding="utf-8")
    update_readme(readme, "| new | table |\n")
    assert readme.read_text(encoding="utf-8") == f"intro\n{README_START}\n| new | table |\n{README_END}\nafter\n"
    with pytest.raises(ValueError, match="no benchmark markers"):
        update_readme(_without_markers(tmp_path), "x")


def _without_markers(tmp_path: Path) -> Path:
    path = tmp_path / "plain.md"
    path.write_text("no markers here\n", encoding="utf-8")
    return path


def test_the_project_readme_has_a_place_for_the_table() -> None:
    """`run.py --update-readme` can find the Performance section's markers."""
    text = (POLICIES.parents[1] / "README.md").read_text(encoding="utf-8")
    assert text.index(README_START) < text.index(README_END)
    assert "python benchmarks/run.py" in text


def test_the_readme_sweep_figures_are_those_of_the_results() -> None:
    """The README's prose about the sweep is what the committed results give, so it cannot disagree
    with the table written from the same file; the figures come from the results' own sweep runs."""
    root = Path(__file__).parents[2]
    results = json.loads((root / "benchmarks" / "results" / "latest.json").read_text(encoding="utf-8"))
    readme = (root / "README.md").read_text(encoding="utf-8")
    prose = readme[readme.index(SWEEP_START) + len(SWEEP_START):readme.index(SWEEP_END)].strip()
    assert prose == sweep_prose(results)
    runs = next(m for m in results["measurements"] if m["id"] == "db_sweep")["sweep"]
    first = next(r for r in runs if r["n"] == 1_000_000 and r["preselect"] and not r["apply"] and r["case"] == "first")
    table_row = next(line for line in readme.splitlines() if line.startswith("| policykit sweep, dry run, 1,000,000 candidates in SQLite"))
    assert f"| {first['seconds']:.1f} |" in table_row and f"takes {first['seconds']:.1f} s" in prose


def test_update_readme_writes_the_sweep_prose_too(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"{SWEEP_START}\nold\n{SWEEP_END}\n{README_START}\nt\n{README_END}\n", encoding="utf-8")
    update_readme(readme, "table", "new prose")
    assert readme.read_text(encoding="utf-8") == f"{SWEEP_START}\nnew prose\n{SWEEP_END}\n{README_START}\ntable\n{README_END}\n"


@pytest.mark.slow
def test_a_short_run_writes_the_table_and_the_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command end to end, with the shortest settings: equivalence, timings, table, JSON."""
    pytest.importorskip("cedarpy")
    pytest.importorskip("casbin")
    out = tmp_path / "results" / "run.json"
    status = main(["--quick", "--repeats", "1", "--min-time", "0.01", "--skip", "loading", "--skip", "memory",
                   "--skip", "retention", "--out", str(out)])
    assert status == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["quick"] is True and results["equivalence"]["disagreements"] == 0
    assert results["workload"] == {**results["workload"], "questions": 48_000, "allowed": 1_014}
    ids = [m["id"] for m in results["measurements"]]
    assert ids[:4] == ["policykit_warm_typed", "policykit_warm_mapping", "policykit_warm_many", "policykit_cold_typed"]
    assert {"cedarpy", "cedarpy_batch", "pycasbin", "dict_floor", "db_sweep"} <= set(ids)
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert table in capsys.readouterr().out
    assert "QUICK RUN" in table and "| policykit decide(), warm, typed DisclosureRequest |" in table


# ---- retention ---------------------------------------------------------------------------------------


def test_generated_candidates_are_valid_retention_facts_of_every_kind(bundled_policy: policykit.Policy) -> None:
    """Every generated candidate is answered, and the candidates reach several retention modes."""
    modes = {bundled_policy.retention(facts).retention_mode for facts in retention.candidates(400)}
    assert {"indefinite_while_relevant", "evidence_window", "anonymise_now", "legal_hold"} <= modes
    assert list(retention.candidates(5, seed=1)) == list(retention.candidates(5, seed=1))


def test_the_retention_stream_answers_every_line(tmp_path: Path) -> None:
    """Streaming a JSON-lines file asks retention() once per line and samples the RSS."""
    path = tmp_path / "candidates.jsonl"
    path.write_text("".join(json.dumps(f) + "\n" for f in retention.candidates(50)), encoding="utf-8")
    result = retention.stream(path, checkpoint=20)
    assert result["candidates"] == 50
    assert [n for n, _ in result["rss_samples_mb"]] == [20, 50]


def test_retention_rows_are_slots_until_the_policy_has_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Policy.retention() the table keeps a marked slot for each retention figure."""
    monkeypatch.setattr(retention, "available", lambda: False)
    rows = retention.measure(1, 0.01, 10, 10, log=lambda _: None)
    assert [r.id for r in rows] == [
        "retention_cold", "retention_warm", "retention_stream", "retention_stream_memory",
        "retention_cli", "retention_cli_memory",
    ]
    assert all(r.stats is None and r.pending for r in rows)
