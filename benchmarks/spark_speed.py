"""The Spark pass in the benchmark: the sweep over a million candidates from Parquet, on 1 and 2 cores.

    .venv/bin/python benchmarks/spark_speed.py [--candidates 1000000] [--out results.json]

``benchmarks/run.py --spark`` calls :func:`measure_rows` for the Spark rows of its table (left out by
default: a full run adds several minutes); this script prints the same measurements on their own.
Needs the ``spark`` extra and a Java runtime.

Generates the example population (``examples/sweep/generate.py``, seed 2022, every event on or before
2026-11-29) as Parquet files, one directory per table, beside this file (``spark-N/``, reused), then,
each in a fresh process:

- the **fixed cost of a job**: start a local SparkSession, ship the rules, judge one candidate
  (``retention_verdicts`` on a one-row DataFrame): what every job pays before its first row;
- the **sweep pass** (``policykit sweep --engine spark``'s dry run: every candidate not yet anonymised
  read from Parquet, judged, the erasures planned and the report counted) at ``local[1]`` and
  ``local[2]``: wall time, throughput in candidates per second net of the fixed cost, and the scaling
  from one core to two.

From these it states a **projection** (arithmetic, not a measurement) for 100 million candidates on
N executors of C cores: the fixed cost plus 10^8 / (N × C × the one-core throughput).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measure import ROOT, Stats
from benchmarks.report import Row

AS_OF = "2026-11-29"
HERE = Path(__file__).resolve().parent
CHUNK = 100_000
PROJECTED_ROWS = 100_000_000
CLUSTERS = ((10, 4), (50, 4))  # (executors, cores each) for the projection

__all__ = ["ensure_parquet", "measure_rows", "run_child"]


def _arrow_schemas() -> dict[str, Any]:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    text, day, num = pa.string(), pa.date32(), pa.int64()
    return {
        "candidates": [("id", num), ("name", text), ("email", text), ("phone", text), ("birth_date", day),
                       ("photo_url", text), ("linkedin_url", text), ("cv_text", text), ("interview_notes", text),
                       ("test_report", text), ("test_score_band", text), ("position_family", text),
                       ("process_closed_on", day), ("anonymised_at", ts)],
        "applications": [("id", num), ("candidate_id", num), ("submitted_at", ts), ("position_family", text),
                         ("outcome", text), ("cover_letter", text)],
        "consent_withdrawals": [("id", num), ("candidate_id", num), ("withdrawn_at", ts)],
        "objections": [("id", num), ("candidate_id", num), ("received_on", day), ("form", text),
                       ("documented_in_writing", pa.bool_())],
        "erasure_requests": [("id", num), ("candidate_id", num), ("requested_on", day)],
        "disputes": [("id", num), ("candidate_id", num), ("opened_on", day), ("status", text),
                     ("resolved_on", day)],
        "reference_notes": [("id", num), ("candidate_id", num), ("referee_name", text), ("referee_phone", text),
                            ("statement", text)],
        "bookkeeping_records": [("id", num), ("candidate_id", num), ("kind", text), ("payee_name", text),
                                ("amount_sek", num), ("dated", day), ("financial_year_end", day)],
    }


def ensure_parquet(directory: Path, n: int, log: Callable[[str], None]) -> Path:
    """The example population of ``n`` candidates as Parquet under ``directory`` (generated if absent)."""
    if (directory / "_complete").exists():
        return directory
    import pyarrow as pa
    import pyarrow.parquet as pq
    from examples.sweep.generate import COLUMNS, population

    log(f"spark: generating {n:,} candidates as Parquet in {directory} ...")
    start = time.perf_counter()
    schemas = {name: pa.schema(fields) for name, fields in _arrow_schemas().items()}
    ids = dict.fromkeys(COLUMNS, 1)
    done, part, seed = 0, 0, 2022
    while done < n:
        size = min(CHUNK, n - done)
        pop = population(size, seed=seed, until=dt.date.fromisoformat(AS_OF), first_id=ids["candidates"], ids=ids)
        for name, rows in pop.tables():
            columns: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS[name]]
            table = pa.table([pa.array(list(c), type=f.type) for c, f in zip(columns, schemas[name], strict=True)],
                             schema=schemas[name])
            (directory / name).mkdir(parents=True, exist_ok=True)
            pq.write_table(table, directory / name / f"part-{part:05d}.parquet")
            if rows:
                ids[name] = rows[-1][0] + 1
        done, part, seed = done + size, part + 1, seed + 1
    (directory / "_complete").write_text(str(n))
    log(f"spark: generated in {time.perf_counter() - start:.0f} s")
    return directory


def run_child(kind: str, source: str, master: str) -> dict[str, Any]:
    """One measurement in this process: ``start`` (session + one verdict) or ``sweep`` (the dry run)."""
    start = time.perf_counter()
    from policykit.spark._sweep import local_session, read_tables

    spark = local_session(master, app_name="policykit-benchmark")
    try:
        if kind == "start":
            import policykit.spark

            df = spark.createDataFrame([("a", ["2023-12-31"], ["2024-04-02"])],
                                       "id string, applications array<string>, consent_withdrawn_on array<string>")
            row = policykit.spark.retention_verdicts(df, as_of=AS_OF).collect()[0]
            assert row["anonymise_on"] == dt.date(2026, 1, 1)
            return {"seconds": round(time.perf_counter() - start, 2), "master": master}
        import policykit
        import policykit.spark

        mapping = policykit.load_mapping()
        session_ready = time.perf_counter()
        result = policykit.spark.anonymise(read_tables(spark, source, mapping), mapping, as_of=AS_OF, keep=0)
        report = result.report
        return {
            "seconds": round(time.perf_counter() - start, 2),
            "job_seconds": round(time.perf_counter() - session_ready, 2), "master": master,
            "candidates": report.candidates, "examined": report.examined, "due": report.due,
            "problems": report.problem_count,
        }
    finally:
        spark.stop()


def measure(kind: str, source: Path | None, master: str) -> dict[str, Any]:
    """One measurement in a fresh process (see :func:`run_child`)."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--source", str(source or ""),
         "--master", master],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _one(value: float) -> Stats:
    return Stats(value, value, value, (value,))


def measure_rows(n: int, *, log: Callable[[str], None]) -> list[Row]:
    """The Spark rows of the benchmark table."""
    source = ensure_parquet(HERE / f"spark-{n}", n, log)
    log("spark: the fixed cost of a job (local[2]) ...")
    start = measure("start", None, "local[2]")
    results = {}
    for master in ("local[1]", "local[2]"):
        log(f"spark: the sweep pass over {n:,} candidates at {master} ...")
        results[master] = measure("sweep", source, master)
    one, two = results["local[1]"], results["local[2]"]
    fixed = start["seconds"]
    rate1 = one["examined"] / max(one["seconds"] - fixed, 1e-9)
    rate2 = two["examined"] / max(two["seconds"] - fixed, 1e-9)
    scaling = one["seconds"] / two["seconds"]
    projections = "; ".join(
        f"{execs} executors × {cores} cores ≈ {(fixed + PROJECTED_ROWS / (execs * cores * rate1)) / 60:.0f} min"
        for execs, cores in CLUSTERS
    )
    return [
        Row("spark_start", "policykit.spark: fixed cost of a job (start a local session, ship the rules, one verdict)",
            "s", _one(fixed), extra={"spark_start": start}),
        Row("spark_sweep_1", f"policykit sweep --engine spark, dry run, {n:,} candidates from Parquet, local[1]", "s",
            _one(one["seconds"]), extra={"spark_sweep": results},
            note=f"{one['examined']:,} judged, {one['due']:,} due; {rate1:,.0f} candidates/s after the fixed cost"),
        Row("spark_sweep_2", f"policykit sweep --engine spark, dry run, {n:,} candidates from Parquet, local[2]", "s",
            _one(two["seconds"]),
            note=f"{rate2:,.0f} candidates/s after the fixed cost; speed-up from 1 to 2 cores: {scaling:.2f}×"),
        Row("spark_projection", f"projection (arithmetic, not measured): {PROJECTED_ROWS:,} candidates", "min",
            _one((fixed + PROJECTED_ROWS / (CLUSTERS[0][0] * CLUSTERS[0][1] * rate1)) / 60),
            note=f"the fixed cost plus 10^8 / (executors × cores × {rate1:,.0f}/s, the one-core rate here), "
                 f"assuming linear scaling and no shuffle bottleneck: {projections}"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", choices=["start", "sweep"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--master", default="local[2]", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.source, args.master)))
        return 0

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rows = measure_rows(args.candidates, log=log)
    for row in rows:
        assert row.stats is not None
        print(f"{row.label}: {row.stats.median:,.1f} {row.unit}  {row.note}")
    if args.out:
        args.out.write_text(json.dumps([r.to_dict() for r in rows], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
