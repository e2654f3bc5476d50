"""How fast is the retention sweep's dry run, and does its memory grow with the database? A measurement.

    .venv/bin/python benchmarks/sweep_speed.py [--candidates 1000000] [--db FILE] [--out results.json]

Generates the example database (``examples/sweep/generate.py``, seed 2022) unless ``--db`` names one
that exists, then times ``policykit sweep`` as a dry run as of 2026-11-29, with the SQL pre-selection
and without it (``--no-preselect``: every candidate not yet anonymised is read and judged). This
first sweep over years of history is the worst case: about a fifth of the candidates are due.

Then the nightly case: on a copy, ``--apply`` as of the day before (timed too), and the dry run as of
2026-11-29 again: what a company running the sweep every night sees, where only the candidates
whose date came today are due.

Each run happens in a fresh process, which reports its wall time and its peak resident set size; the
first measurements are repeated on a database a tenth the size, to show whether memory grows with
N. Prints a Markdown table (the rows for the benchmark table of the performance issue) and, with
``--out``, writes JSON.

``measure(url, preselect=...)`` is the single measurement, for a harness that wants the numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AS_OF = "2026-11-29"
TARGET_SECONDS = 60.0

__all__ = ["measure", "run_child"]


def run_child(url: str, preselect: bool, batch_size: int, as_of: str = AS_OF, apply: bool = False) -> dict[str, Any]:
    """One sweep in this process: wall time, peak RSS and the report's counts."""
    import policykit  # noqa: PLC0415 - imported here so the parent's imports do not count

    policy = policykit.load_policy()
    start = time.perf_counter()
    report = policykit.sweep(url, as_of=as_of, policy=policy, preselect=preselect, batch_size=batch_size, keep=0,
                             apply=apply)
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "candidates": report.candidates,
        "examined": report.examined,
        "due": report.due,
        "anonymised": report.anonymised,
        "as_of": as_of,
        "apply": apply,
        "problems": report.problem_count,
        "preselect": preselect,
        "batch_size": batch_size,
    }


def measure(url: str, *, preselect: bool, batch_size: int = 1000, as_of: str = AS_OF,
            apply: bool = False) -> dict[str, Any]:
    """A sweep over ``url`` (a dry run unless ``apply``) in a fresh process; see :func:`run_child`."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, "--batch-size", str(batch_size), "--as-of", as_of,
         *([] if preselect else ["--no-preselect"]), *(["--apply"] if apply else [])],
        capture_output=True, text=True, check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ensure_db(path: Path, n: int) -> str:
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    from examples.sweep.generate import generate  # noqa: PLC0415

    start = time.perf_counter()
    generate(url, n, seed=2022, until=dt.date.fromisoformat(AS_OF), progress=sys.stderr.isatty())
    print(f"generated {n:,} candidates in {time.perf_counter() - start:.0f} s: {path} "
          f"({path.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    return url


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_average_1_5_15": [round(x, 2) for x in load]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="database file (generated if absent)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--skip-small", action="store_true", help="do not measure the database a tenth the size")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--no-preselect", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", default=AS_OF, help=argparse.SUPPRESS)
    parser.add_argument("--apply", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-nightly", action="store_true", help="do not measure the nightly case")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, not args.no_preselect, args.batch_size, args.as_of, args.apply)))
        return 0

    n = args.candidates
    big = args.db or ROOT / "benchmarks" / f"sweep-{n}.db"
    sizes = [(n, ensure_db(big, n))]
    if not args.skip_small and n >= 10_000:
        sizes.insert(0, (n // 10, ensure_db(big.with_name(f"sweep-{n // 10}.db"), n // 10)))
    before = machine()
    rows = []

    def record(size: int, case: str, result: dict[str, Any]) -> None:
        rows.append({"n": size, "case": case, **result})
        what = "apply" if result["apply"] else ("pre-selection" if result["preselect"] else "no pre-selection")
        print(f"{size:>10,} candidates  {case:<8}{what:<17}{result['seconds']:>8.1f} s  peak RSS "
              f"{result['peak_rss_mb']:>6.0f} MB  read {result['examined']:,}  due {result['due']:,}", file=sys.stderr)

    for size, url in sizes:
        for preselect in (True, False):
            record(size, "first", measure(url, preselect=preselect, batch_size=args.batch_size))
    if not args.skip_nightly:
        nightly = big.with_name(f"{big.stem}-nightly.db")
        shutil.copyfile(big, nightly)
        night_url = f"sqlite:///{nightly}"
        yesterday = (dt.date.fromisoformat(AS_OF) - dt.timedelta(days=1)).isoformat()
        record(n, "nightly", measure(night_url, preselect=True, batch_size=args.batch_size, as_of=yesterday,
                                     apply=True))
        for preselect in (True, False):
            record(n, "nightly", measure(night_url, preselect=preselect, batch_size=args.batch_size))
        nightly.unlink()
    after = machine()

    print()
    print("| measurement | candidates | read and judged | due | time | peak RSS | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if r["apply"]:
            label = f"sweep --apply as of {r['as_of']} (first run: anonymises {r['anonymised']:,}), SQLite"
        else:
            label = ("sweep dry run, SQLite, " + ("SQL pre-selection" if r["preselect"] else "no pre-selection")
                     + (", the night after a full run" if r["case"] == "nightly" else ""))
        target = ""
        if r["n"] == n and r["case"] == "first" and r["preselect"] and n >= 1_000_000:
            target = f"< {TARGET_SECONDS:.0f} s: {'PASS' if r['seconds'] < TARGET_SECONDS else 'MISS'}"
        print(f"| {label} | {r['n']:,} | {r['examined']:,} | {r['due']:,} | {r['seconds']:.1f} s "
              f"| {r['peak_rss_mb']:.0f} MB | {target} |")
    print()
    print(f"machine: {after['cpus']} CPUs, Python {after['python']}, load average before "
          f"{before['load_average_1_5_15']}, after {after['load_average_1_5_15']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"as_of": AS_OF, "rows": rows, "machine_before": before,
                                        "machine_after": after}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
