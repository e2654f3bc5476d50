"""``policy.retention()`` in the benchmark: per candidate, and over a stream of JSON lines.

Candidates are generated (seeded): one to three applications between 2018 and 2025, and in some of
them a withdrawal of consent, an objection, a dispute, a closed process or an accounting record,
all judged as of 2026-06-01. Per candidate, ``retention()`` is timed cold (``memo_size=0``: the
engine evaluated for every candidate) and warm (the default memo), from plain mappings. The stream
writes the candidates to a temporary JSON-lines file and reads it back in a fresh process, one line
at a time, through ``json.loads`` and ``retention()``, reading the resident set size as it goes
(``python -m benchmarks.retention FILE``).

Until the policy has ``retention()`` the rows are slots in the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import policykit
from benchmarks.measure import Stats, peak_rss_mb, rss_mb, run_python, throughput
from benchmarks.report import Row

__all__ = ["available", "candidates", "measure", "stream"]

AS_OF = dt.date(2026, 6, 1)


def candidates(n: int, seed: int = 2022) -> Iterator[dict[str, Any]]:
    """``n`` generated candidates' retention facts, as plain mappings."""
    rng = random.Random(seed)
    start = dt.date(2018, 1, 1)
    for _ in range(n):
        first = start + dt.timedelta(days=rng.randrange(2900))
        applications = sorted(first + dt.timedelta(days=rng.randrange(400)) for _ in range(rng.randint(1, 3)))
        latest = min(applications[-1], AS_OF)
        facts: dict[str, Any] = {
            "applications": [a.isoformat() for a in applications if a <= AS_OF] or [latest.isoformat()],
            "as_of": AS_OF.isoformat(),
        }
        roll = rng.random()
        if roll < 0.5:
            facts["consent_withdrawn_on"] = min(latest + dt.timedelta(days=rng.randrange(1200)), AS_OF).isoformat()
        elif roll < 0.6:
            facts["objection_received_on"] = min(latest + dt.timedelta(days=rng.randrange(900)), AS_OF).isoformat()
        if rng.random() < 0.3:
            facts["process_closed_on"] = min(latest + dt.timedelta(days=rng.randrange(200)), AS_OF).isoformat()
        if rng.random() < 0.05:
            facts["disputes"] = [{"opened_on": latest.isoformat(), "status": "pending"}]
        if rng.random() < 0.05:
            facts["bookkeeping_records"] = [{"financial_year_end": f"{rng.randint(2018, 2025)}-12-31"}]
        yield facts


def available() -> bool:
    """Whether this policykit has ``Policy.retention()``."""
    return hasattr(policykit.Policy, "retention")


_CLI_PROBE = """
import json, resource, sys, time
from benchmarks.measure import peak_rss_mb
from policykit.cli import main
start = time.perf_counter()
main(args=sys.argv[1:], standalone_mode=False)
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mb": max(peak_rss_mb(), workers)}))
"""


def _write_lines(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for facts in candidates(n, seed=99):
            out.write(json.dumps(facts) + "\n")


def _one(value: float) -> Stats:
    return Stats(value, value, value, (value,))


def measure(
    repeats: int, min_time: float, n_candidates: int, n_stream: int, *, log: Callable[[str], None]
) -> list[Row]:
    """The retention rows of the table (slots until ``retention()`` exists)."""
    labels = {
        "retention_cold": ("policykit retention(), cold (engine every time), per candidate", "candidates/s"),
        "retention_warm": ("policykit retention(), warm, per candidate", "candidates/s"),
        "retention_stream": (f"policykit retention(), {n_stream:,} candidates streamed from JSON lines", "s"),
        "retention_stream_memory": ("memory growth over that stream", "MiB"),
        "retention_cli": (f"policykit retention FILE.jsonl (command line), {n_stream:,} candidates", "s"),
        "retention_cli_memory": ("peak memory of that command above a 10,000-line run", "MiB"),
    }
    if not available():
        pending = "slot: retention() is not on main yet"
        return [Row(key, label, unit, pending=pending) for key, (label, unit) in labels.items()]

    def row(key: str, value: Stats, **kw: Any) -> Row:
        label, unit = labels[key]
        return Row(key, label, unit, value, **kw)

    data = list(candidates(n_candidates))
    rows = []
    with policykit.load_policy(memo_size=0) as cold, policykit.load_policy() as warm:
        for key, policy in (("retention_cold", cold), ("retention_warm", warm)):
            log(f"timing: {labels[key][0]} ...")
            ask = policy.retention

            def loop(chunk: list[Any], ask: Any = ask) -> None:
                for facts in chunk:
                    ask(facts)

            rows.append(row(key, throughput(loop, data, repeats=repeats, min_time=min_time)))

    with tempfile.TemporaryDirectory(prefix="policykit-bench-") as tmp:
        full, short = Path(tmp) / "candidates.jsonl", Path(tmp) / "first-10000.jsonl"
        log(f"retention stream: writing {n_stream:,} candidates as JSON lines ...")
        _write_lines(full, n_stream)
        _write_lines(short, min(10_000, n_stream))
        log("retention stream: json.loads and retention() per line, in a fresh process ...")
        api = json.loads(run_python(["-m", "benchmarks.retention", str(full)], timeout=3600))
        log("retention stream: the policykit retention command, in fresh processes ...")
        cli = {
            name: json.loads(run_python(["-c", _CLI_PROBE, "retention", "--jobs", "0", str(path),
                                         "--output", os.devnull], timeout=3600))
            for name, path in (("full", full), ("first_10000", short))
        }
    seconds = api["seconds"]
    rows.append(row("retention_stream", _one(seconds), extra={"retention_stream": api},
                    note=f"{api['candidates'] / seconds:,.0f} candidates/s through the API in a fresh process; RSS "
                         f"{api['rss_at_checkpoint_mb']:.0f} → {api['rss_at_end_mb']:.0f} MiB, "
                         f"peak {api['peak_rss_mb']:.0f} MiB"))
    rows.append(row("retention_stream_memory", _one(api["growth_mb"])))
    cli_seconds = cli["full"]["seconds"]
    rows.append(row("retention_cli", _one(cli_seconds), extra={"retention_cli": {**cli, "candidates": n_stream}},
                    note=f"{n_stream / cli_seconds:,.0f} candidates/s with --jobs 0 (a worker process per CPU), "
                         f"loading the policy and writing a JSON verdict per line included; peak RSS (largest "
                         f"process) {cli['first_10000']['peak_rss_mb']:.0f} MiB for "
                         f"10,000 lines, {cli['full']['peak_rss_mb']:.0f} MiB for {n_stream:,}"))
    rows.append(row("retention_cli_memory",
                    _one(cli["full"]["peak_rss_mb"] - cli["first_10000"]["peak_rss_mb"])))
    return rows


def stream(path: Path, checkpoint: int = 10_000) -> dict[str, Any]:
    """Read candidates from a JSON-lines file and ask ``retention()`` for each; time and memory."""
    policy = policykit.load_policy()
    ask, loads = policy.retention, json.loads
    samples: list[tuple[int, float]] = []
    count = 0
    start = time.perf_counter()
    with path.open(encoding="utf-8") as lines:
        for count, line in enumerate(lines, 1):
            ask(loads(line))
            if count % checkpoint == 0 and (count == checkpoint or count % (checkpoint * 10) == 0):
                samples.append((count, rss_mb()))
    seconds = time.perf_counter() - start
    samples.append((count, rss_mb()))
    at = dict(samples)
    base = at.get(checkpoint, samples[0][1])
    return {
        "candidates": count,
        "checkpoint": checkpoint,
        "seconds": seconds,
        "rss_at_checkpoint_mb": base,
        "rss_at_end_mb": at[count],
        "growth_mb": at[count] - base,
        "peak_rss_mb": peak_rss_mb(),
        "rss_samples_mb": samples,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: stream a JSON-lines file through ``retention()``; print the result as JSON."""
    parser = argparse.ArgumentParser(description="stream candidates from JSON lines through retention()")
    parser.add_argument("file", type=Path)
    parser.add_argument("--checkpoint", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(json.dumps(stream(args.file, args.checkpoint)))


if __name__ == "__main__":
    main()
