"""The retention sweep in the benchmark: a dry run over a million candidates in SQLite.

    .venv/bin/python benchmarks/sweep_speed.py [--candidates 1000000] [--db FILE] [--out results.json]

``benchmarks/run.py`` calls :func:`measure_rows` for the database-sweep rows of its table; this
script prints the same measurements on their own.

Generates the example database (``examples/sweep/generate.py``, seed 2022, every event on or before
2026-11-29) unless ``--db`` names one that exists (generated databases are kept beside this file as
``sweep-N.db`` and reused), then times ``policykit sweep`` as a dry run as of 2026-11-29:

- the **first sweep** over years of history, the worst case (about a fifth of the candidates are
  due), with the SQL pre-selection and without it (``--no-preselect``: every candidate not yet
  anonymised is read and judged);
- the **nightly** case: on a copy, ``--apply`` as of the day before (timed too), then the dry run as
  of 2026-11-29 again, which is what a company running the sweep every night sees: only the
  candidates whose date came today are due;
- **memory**: the first sweep's peak resident set size on a database a tenth the size, and on the
  full one: the sweep reads pages of candidates, so memory should not grow with N.

Each run happens in a fresh process, which reports its wall time and its peak resident set size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measure import ROOT, Stats, peak_rss_mb
from benchmarks.report import Row, Target

AS_OF = "2026-11-29"
TARGET_SECONDS = 60.0
HERE = Path(__file__).resolve().parent

__all__ = ["AS_OF", "measure", "measure_rows", "run_child"]


def run_child(url: str, *, preselect: bool, batch_size: int, as_of: str = AS_OF, apply: bool = False) -> dict[str, Any]:
    """One sweep in this process: wall time, peak RSS and the report's counts."""
    import policykit

    policy = policykit.load_policy()
    start = time.perf_counter()
    report = policykit.sweep(url, as_of=as_of, policy=policy, preselect=preselect, batch_size=batch_size, keep=0,
                             apply=apply)
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "candidates": report.candidates,
        "examined": report.examined,
        "due": report.due,
        "anonymised": report.anonymised,
        "problems": report.problem_count,
        "preselect": preselect,
        "apply": apply,
        "as_of": as_of,
        "batch_size": batch_size,
    }


def measure(url: str, *, preselect: bool, batch_size: int = 1000, as_of: str = AS_OF,
            apply: bool = False) -> dict[str, Any]:
    """A sweep over ``url`` (a dry run unless ``apply``) in a fresh process; see :func:`run_child`."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", url, "--batch-size", str(batch_size),
         "--as-of", as_of, *([] if preselect else ["--no-preselect"]), *(["--apply"] if apply else [])],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ensure_db(path: Path, n: int, log: Callable[[str], None]) -> str:
    """The example database of ``n`` candidates at ``path``, generated if absent."""
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    from examples.sweep.generate import generate

    log(f"sweep: generating {n:,} candidates into {path} ...")
    start = time.perf_counter()
    partial = path.with_name(path.name + ".part")
    partial.unlink(missing_ok=True)
    generate(f"sqlite:///{partial}", n, seed=2022, until=dt.date.fromisoformat(AS_OF))
    partial.rename(path)
    log(f"sweep: generated in {time.perf_counter() - start:.0f} s ({path.stat().st_size / 1e6:.0f} MB)")
    return url


def run_all(n: int, db: Path | None, *, batch_size: int, small: bool, nightly: bool,
            log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every measurement: ``[{"n", "case", ...measure()}]``."""
    big = db or HERE / f"sweep-{n}.db"
    sizes = [(n, ensure_db(big, n, log))]
    if small and n >= 10_000:
        sizes.insert(0, (n // 10, ensure_db(big.with_name(f"sweep-{n // 10}.db"), n // 10, log)))
    results: list[dict[str, Any]] = []

    def record(size: int, case: str, result: dict[str, Any]) -> None:
        results.append({"n": size, "case": case, **result})
        what = "apply" if result["apply"] else ("pre-selection" if result["preselect"] else "no pre-selection")
        log(f"sweep: {size:>10,} candidates  {case:<8}{what:<17}{result['seconds']:>8.1f} s  peak RSS "
            f"{result['peak_rss_mb']:>6.0f} MiB  read {result['examined']:,}  due {result['due']:,}")

    for size, url in sizes:
        for preselect in (True, False):
            record(size, "first", measure(url, preselect=preselect, batch_size=batch_size))
    if nightly:
        copy = big.with_name(f"{big.stem}-nightly.db")
        shutil.copyfile(big, copy)
        try:
            url = f"sqlite:///{copy}"
            yesterday = (dt.date.fromisoformat(AS_OF) - dt.timedelta(days=1)).isoformat()
            record(n, "nightly", measure(url, preselect=True, batch_size=batch_size, as_of=yesterday, apply=True))
            for preselect in (True, False):
                record(n, "nightly", measure(url, preselect=preselect, batch_size=batch_size))
        finally:
            copy.unlink(missing_ok=True)
    return results


def _one(value: float) -> Stats:
    return Stats(value, value, value, (value,))


def _find(results: list[dict[str, Any]], n: int, case: str, *, preselect: bool, apply: bool = False) -> dict[str, Any]:
    return next(r for r in results if r["n"] == n and r["case"] == case and r["preselect"] == preselect
                and r["apply"] == apply)


def measure_rows(n: int, *, log: Callable[[str], None], batch_size: int = 1000,
                 keep_databases: bool = True) -> list[Row]:
    """The database-sweep rows of the benchmark table (``benchmarks/run.py``). The generated databases
    are kept beside this file for the next run, or (``keep_databases=False``) made in a temporary
    directory and deleted."""
    if keep_databases:
        results = run_all(n, None, batch_size=batch_size, small=True, nightly=True, log=log)
    else:
        with tempfile.TemporaryDirectory(prefix="policykit-sweep-") as tmp:
            results = run_all(n, Path(tmp) / f"sweep-{n}.db", batch_size=batch_size, small=True, nightly=True,
                              log=log)
    first = _find(results, n, "first", preselect=True)
    full = _find(results, n, "first", preselect=False)
    applied = _find(results, n, "nightly", preselect=True, apply=True)
    night = _find(results, n, "nightly", preselect=True)
    night_full = _find(results, n, "nightly", preselect=False)
    judged = first["n"] >= 1_000_000
    rows = [
        Row("db_sweep", f"policykit sweep, dry run, {n:,} candidates in SQLite (first sweep, SQL pre-selection)",
            "s", _one(first["seconds"]),
            targets=[Target("< 60 s for 1,000,000", first["seconds"] < TARGET_SECONDS if judged else None)],
            extra={"sweep": results},
            note=f"{first['examined']:,} candidates read and judged, {first['due']:,} due (a first sweep over "
                 f"years of history); peak RSS {first['peak_rss_mb']:.0f} MiB"),
        Row("db_sweep_no_preselect", f"policykit sweep, dry run, {n:,} candidates, no pre-selection", "s",
            _one(full["seconds"]),
            note=f"every candidate not yet anonymised read and judged ({full['examined']:,}); the same "
                 f"{full['due']:,} due"),
        Row("db_sweep_nightly", f"policykit sweep, dry run, {n:,} candidates, the night after a full run", "s",
            _one(night["seconds"]),
            note=f"{night['examined']:,} read, {night['due']:,} due; without pre-selection "
                 f"{night_full['seconds']:.1f} s ({night_full['examined']:,} read). The full run before it "
                 f"(--apply, anonymising {applied['anonymised']:,}) took {applied['seconds']:.1f} s"),
    ]
    small = [r for r in results if r["n"] == n // 10 and r["case"] == "first" and r["preselect"]]
    if small:
        growth = first["peak_rss_mb"] - small[0]["peak_rss_mb"]
        rows.append(Row(
            "db_sweep_memory", f"peak memory of the sweep, {n // 10:,} → {n:,} candidates", "MiB", _one(growth),
            targets=[Target("flat (≤ 20 MiB)", growth <= 20)],
            note=f"peak RSS {small[0]['peak_rss_mb']:.0f} MiB at {n // 10:,}, {first['peak_rss_mb']:.0f} MiB at {n:,}",
        ))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="database file (generated if absent)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--skip-small", action="store_true", help="do not measure the database a tenth the size")
    parser.add_argument("--skip-nightly", action="store_true", help="do not measure the nightly case")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--no-preselect", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", default=AS_OF, help=argparse.SUPPRESS)
    parser.add_argument("--apply", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run_child(args.child, preselect=not args.no_preselect, batch_size=args.batch_size,
                           as_of=args.as_of, apply=args.apply)
        print(json.dumps(result))
        return 0

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    n = args.candidates
    load_before = os.getloadavg()
    results = run_all(n, args.db, batch_size=args.batch_size, small=not args.skip_small,
                      nightly=not args.skip_nightly, log=log)
    load_after = os.getloadavg()
    print()
    print("| measurement | candidates | read and judged | due | time | peak RSS | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        if r["apply"]:
            label = f"sweep --apply as of {r['as_of']} (a full run: anonymises {r['anonymised']:,}), SQLite"
        else:
            label = ("sweep dry run, SQLite, " + ("SQL pre-selection" if r["preselect"] else "no pre-selection")
                     + (", the night after a full run" if r["case"] == "nightly" else ", first sweep"))
        target = ""
        if r["n"] == n and r["case"] == "first" and r["preselect"] and n >= 1_000_000:
            target = f"< {TARGET_SECONDS:.0f} s: {'PASS' if r['seconds'] < TARGET_SECONDS else 'MISS'}"
        print(f"| {label} | {r['n']:,} | {r['examined']:,} | {r['due']:,} | {r['seconds']:.1f} s "
              f"| {r['peak_rss_mb']:.0f} MiB | {target} |")
    print()
    print(f"{os.cpu_count()} CPUs; load average before {', '.join(f'{x:.2f}' for x in load_before)}, after "
          f"{', '.join(f'{x:.2f}' for x in load_after)}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"as_of": AS_OF, "rows": results, "load_before": load_before,
                                        "load_after": load_after}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
