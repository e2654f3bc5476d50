"""The side-by-side benchmark: ``python benchmarks/run.py [--quick] [--out benchmarks/results/latest.json]``.

In one run on one machine it

1. builds the workload (every disclosure question of one context shape, ``workload.py``);
2. asks policykit, Cedar (cedarpy) and Casbin (pycasbin) every question and stops, printing the
   question and policykit's explanation, unless all agree, rule for rule (``equivalence.py``);
3. measures decisions per second: policykit warm (memoised) and cold (``memo_size=0``, the engine
   evaluated for every request), from typed requests and from plain mappings, ``decide_many``;
   cedarpy per request and batched; pycasbin; and the floor, a dict lookup of the answers;
4. measures ``load_policy()`` (in fresh processes, and repeated in one), memory while answering a
   long stream of decisions (in a fresh process, ``memory.py``), and ``policy.retention()`` when the
   policy has it (``retention.py``);
5. prints a Markdown table with medians, spreads, ratios to policykit and the targets of the
   performance issue (PASS/MISS), and writes it to ``latest.md`` beside the JSON results.

``--quick`` runs short repetitions on a sample, to check the harness; its numbers are not for
publication. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository's benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import policykit
from benchmarks import decision_log, equivalence, history_load, retention, serialise, spark_speed, sweep_speed
from benchmarks.measure import ROOT, Stats, machine_info, run_python, stats, throughput
from benchmarks.report import Row, judge, render, sweep_prose, update_readme
from benchmarks.workload import SHAPE, Question, sample, to_mapping, to_typed, workload

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "latest.json"


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure."""

    quick: bool
    repeats: int
    min_time: float
    equivalence_sample: int | None  # None: every question
    load_runs: int
    memory_total: int
    memory_checkpoint: int
    retention_candidates: int
    retention_stream: int
    sweep_candidates: int

    @classmethod
    def of(cls, args: argparse.Namespace) -> Settings:
        """The settings of a full or a quick run, with the command line's overrides."""
        if args.quick:
            base = cls(True, 3, 0.1, 2_000, 3, 60_000, 10_000, 5_000, 20_000, 5_000)
        else:
            base = cls(False, 7, 1.0, None, 7, 1_000_000, 10_000, 50_000, 1_000_000, 1_000_000)
        return cls(
            quick=base.quick,
            repeats=args.repeats or base.repeats,
            min_time=args.min_time or base.min_time,
            equivalence_sample=base.equivalence_sample,
            load_runs=base.load_runs,
            memory_total=args.memory_decisions or base.memory_total,
            memory_checkpoint=base.memory_checkpoint,
            retention_candidates=base.retention_candidates,
            retention_stream=args.retention_stream or base.retention_stream,
            sweep_candidates=base.sweep_candidates,
        )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------------------------
# decisions


def _engines() -> tuple[Any, Any, str | None]:
    """Cedar and Casbin, or ``None`` and the reason when the bench extra is missing."""
    try:
        from benchmarks.engines import CasbinDisclosure, CedarDisclosure

        return CedarDisclosure(), CasbinDisclosure(), None
    except ImportError as exc:
        return None, None, f"{exc.name or exc} is not installed (pip install -e '.[bench]')"


def check_equivalence(questions: list[Question], settings: Settings, cedar: Any, casbin: Any) -> dict[str, Any]:
    """Every engine agrees with policykit, rule for rule, or the run stops with exit status 1."""
    checked = sample(questions, settings.equivalence_sample, seed=7)
    _log(f"equivalence: asking policykit, cedarpy and pycasbin {len(checked):,} questions ...")
    with policykit.load_policy(memo_size=0) as engine_only:
        report = equivalence.check(checked, engine_only, cedar=cedar, casbin=casbin)
    if report.mismatches:
        _log(f"\n{report.disagreements} disagreement(s) with policykit; nothing was timed.\n")
        for m in report.mismatches:
            _log(m.describe() + "\n")
        raise SystemExit(1)
    _log(f"equivalence: all {report.questions:,} agree ({report.allowed:,} allowed)")
    summary = report.summary()
    summary["scope"] = "every question" if settings.equivalence_sample is None else "a random sample"
    return summary


def measure_decisions(
    questions: list[Question], settings: Settings, cedar: Any, casbin: Any, missing: str | None
) -> tuple[list[Row], dict[Question, bool]]:
    """Decisions per second of every path, on the same shuffled questions; and the floor's table."""
    order = sample(questions, None, seed=11)
    typed = [to_typed(q) for q in order]
    mappings = [to_mapping(q) for q in order]
    rows: list[Row] = []

    def timed(row_id: str, label: str, loop: Callable[[list[Any]], object], items: list[Any],
              *, fill_memo: bool = False) -> Row:
        _log(f"timing: {label} ...")
        gc.collect()
        result = throughput(loop, items, repeats=settings.repeats, min_time=settings.min_time,
                            warmup_chunks=None if fill_memo else 1)
        rows.append(Row(row_id, label, "decisions/s", result))
        return rows[-1]

    with policykit.load_policy() as warm, policykit.load_policy(memo_size=0) as cold:
        warm_decide, cold_decide = warm.decide, cold.decide

        def warm_loop(chunk: list[Any]) -> None:
            for r in chunk:
                warm_decide(r)

        def cold_loop(chunk: list[Any]) -> None:
            for r in chunk:
                cold_decide(r)

        timed("policykit_warm_typed", "policykit decide(), warm, typed DisclosureRequest", warm_loop, typed,
              fill_memo=True)
        timed("policykit_warm_mapping", "policykit decide(), warm, plain mapping", warm_loop, mappings,
              fill_memo=True)
        if hasattr(warm, "decide_many"):
            timed("policykit_warm_many", "policykit decide_many(), warm, typed, batches of 1,000",
                  warm.decide_many, typed, fill_memo=True)
        rows[0].extra["memo"] = warm.memo_info()
        timed("policykit_cold_typed", "policykit decide(), cold (engine every time), typed", cold_loop, typed)
        timed("policykit_cold_mapping", "policykit decide(), cold (engine every time), plain mapping",
              cold_loop, mappings)
        if cold.memo_info()["size"] != 0:
            raise AssertionError("the cold policy remembered answers")
        table = {q: cold_decide(t).allowed for q, t in zip(order, typed, strict=True)}

    if cedar is not None:
        import cedarpy

        authorize, batch = cedarpy.is_authorized, cedarpy.is_authorized_batch
        policies, entities = cedar.policies, cedar.entities
        requests = [cedar.request(q) for q in order]

        def cedar_loop(chunk: list[Any]) -> None:
            for r in chunk:
                authorize(r, policies, entities)

        timed("cedarpy", "cedarpy is_authorized(), policies and entities pre-parsed", cedar_loop, requests)
        timed("cedarpy_batch", "cedarpy is_authorized_batch(), batches of 1,000",
              lambda chunk: batch(chunk, policies, entities), requests)
    else:
        rows.append(Row("cedarpy", "cedarpy is_authorized()", "decisions/s", pending=missing))
    if casbin is not None:
        enforce = casbin.enforcer.enforce
        casbin_requests = [casbin.request(q) for q in order]

        def casbin_loop(chunk: list[Any]) -> None:
            for r in chunk:
                enforce(*r)

        timed("pycasbin", "pycasbin enforce()", casbin_loop, casbin_requests)
    else:
        rows.append(Row("pycasbin", "pycasbin enforce()", "decisions/s", pending=missing))

    def floor_loop(chunk: list[Any]) -> None:
        for q in chunk:
            table[q]

    timed("dict_floor", "floor: dict lookup of the precomputed answers", floor_loop, order)
    return rows, table


# -------------------------------------------------------------------------------------------------
# loading and memory

_LOAD_PROBE = """
import json, time
t0 = time.perf_counter()
import policykit
t1 = time.perf_counter()
policy = policykit.load_policy()
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1}))
"""


def measure_loading(settings: Settings) -> list[Row]:
    """``load_policy()``: the first load in a fresh process, and loading again in this one."""
    _log(f"timing: load_policy() in {settings.load_runs} fresh processes ...")
    fresh = [json.loads(run_python(["-c", _LOAD_PROBE], timeout=120)) for _ in range(settings.load_runs)]
    again = []
    for _ in range(settings.load_runs):
        gc.collect()
        start = time.perf_counter()
        policy = policykit.load_policy()
        again.append((time.perf_counter() - start) * 1000)
        policy.close()
    return [
        Row("load_policy_fresh", "load_policy(), first load in a fresh process", "ms",
            stats([f["load"] * 1000 for f in fresh])),
        Row("load_policy_again", "load_policy(), loaded again in the same process", "ms", stats(again)),
        Row("import_policykit", "import policykit, in a fresh process", "ms",
            stats([f["import"] * 1000 for f in fresh])),
        *_history_rows(settings),
    ]


def _history_rows(settings: Settings) -> list[Row]:
    """``load_history()`` of two versions against ``load_policy()`` of one (``history_load.py``)."""
    _log(f"timing: load_history() of two versions in {settings.load_runs} fresh processes ...")
    result = history_load.measure(settings.load_runs)
    two, one, ratio = result["history"], result["policy"], result["ratio"]
    return [
        Row("load_history_two", "load_history() of two versions, first load in a fresh process", "ms",
            Stats(two["load_ms"], two["load_ms"], two["load_ms"], (two["load_ms"],)), extra={"history": result},
            note=f"{ratio['load_ms']:.2f}× load_policy() of one version in the same run ({one['load_ms']:.0f} ms); "
                 f"resident memory grows {two['rss_growth_mib']:.1f} MiB over the import, "
                 f"{ratio['rss_growth_mib']:.2f}× one version's {one['rss_growth_mib']:.1f} MiB"),
    ]


def measure_memory(settings: Settings) -> list[Row]:
    """Resident memory after the first decisions and after the whole stream (``memory.py``)."""
    _log(f"memory: {settings.memory_total:,} decisions in a fresh process ...")
    result = json.loads(run_python(
        ["-m", "benchmarks.memory", "--total", str(settings.memory_total),
         "--checkpoint", str(settings.memory_checkpoint)],
        timeout=3600,
    ))
    growth = result["growth_mb"]
    return [Row(
        "memory_growth",
        f"memory growth from {settings.memory_checkpoint:,} to {settings.memory_total:,} decisions",
        "MiB", Stats(growth, growth, growth, (growth,)), extra={"memory": result},
        note=f"RSS {result['rss_at_checkpoint_mb']:.0f} → {result['rss_at_end_mb']:.0f} MiB, peak "
             f"{result['peak_rss_mb']:.0f} MiB; memo {result['memo']['size']:,} of {result['memo_size']:,} "
             f"entries; {result['decisions_per_second']:,.0f} decisions/s (a new request object each "
             "time, answers from the memo and from the engine mixed)",
    )]


# -------------------------------------------------------------------------------------------------


def _other_rows(args: argparse.Namespace, settings: Settings, questions: list[Question]) -> list[Row]:
    """The rows after the decision rates: those of every part not left out with ``--skip``."""
    rows: list[Row] = []
    if "log" not in args.skip:
        typed = [to_typed(q) for q in sample(questions, None, seed=11)]
        rows += decision_log.measure(typed, settings.repeats, settings.min_time, settings.memory_total,
                                     settings.memory_checkpoint, log=_log)
    if "serial" not in args.skip:
        typed = [to_typed(q) for q in sample(questions, None, seed=11)]
        rows += serialise.measure(typed, settings.repeats, settings.min_time, log=_log)
    if "loading" not in args.skip:
        rows += measure_loading(settings)
    if "memory" not in args.skip:
        rows += measure_memory(settings)
    if "retention" not in args.skip:
        rows += retention.measure(settings.repeats, settings.min_time, settings.retention_candidates,
                                  settings.retention_stream, log=_log)
    if "sweep" not in args.skip:
        # a full run keeps the generated databases beside the script (benchmarks/sweep-N.db) for the next
        rows += sweep_speed.measure_rows(settings.sweep_candidates, log=_log, keep_databases=not settings.quick)
    if args.spark:
        n = args.spark_candidates or (20_000 if settings.quick else 1_000_000)
        rows += spark_speed.measure_rows(n, log=_log)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; write the JSON and Markdown results."""
    parser = argparse.ArgumentParser(description="policykit side-by-side benchmark")
    parser.add_argument("--quick", action="store_true", help="short runs on a sample: check the harness")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON results; the Markdown table is written beside it (.md)")
    parser.add_argument("--repeats", type=int, help="repetitions of each throughput measurement")
    parser.add_argument("--min-time", type=float, help="seconds per repetition")
    parser.add_argument("--memory-decisions", type=int, help="decisions in the memory stream")
    parser.add_argument("--retention-stream", type=int, help="candidates in the retention stream")
    parser.add_argument("--spark", action="store_true",
                        help="also measure policykit.spark (needs the spark extra and Java; adds minutes)")
    parser.add_argument("--spark-candidates", type=int, help="candidates in the Spark pass (default 1,000,000)")
    parser.add_argument("--update-readme", action="store_true",
                        help="also write the table into README.md's Performance section (not with --quick)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["loading", "memory", "retention", "sweep", "log", "serial"],
                        help="leave out a part (repeatable)")
    args = parser.parse_args(argv)
    if args.update_readme and args.quick:
        parser.error("--update-readme publishes the table: run the full benchmark, without --quick")
    settings = Settings.of(args)

    machine = machine_info()
    questions = workload()
    cedar, casbin, missing = _engines()
    if missing:
        _log(f"note: {missing}; cedarpy and pycasbin are left out")
    eq = check_equivalence(questions, settings, cedar, casbin)
    rows, table = measure_decisions(questions, settings, cedar, casbin, missing)
    rows += _other_rows(args, settings, questions)
    judge(rows)

    results: dict[str, Any] = {
        "schema": 1,
        "quick": settings.quick,
        "arguments": sys.argv[1:] if argv is None else argv,
        "machine": {**machine, "load_average_end": list(os.getloadavg())},
        "settings": {"repeats": settings.repeats, "min_time": settings.min_time},
        "workload": {
            "questions": len(questions),
            "allowed": sum(table.values()),
            "shape": {k: list(v) if isinstance(v, tuple) else v for k, v in SHAPE.items()},
        },
        "equivalence": eq,
        "measurements": [r.to_dict() for r in rows],
    }
    text = render(results, rows)
    print(text)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    _log(f"wrote {out} and {out.with_suffix('.md')}")
    if args.update_readme:
        update_readme(ROOT / "README.md", render(results, rows, title=False), sweep_prose(results))
        _log(f"wrote the table into {ROOT / 'README.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
