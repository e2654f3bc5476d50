"""Timing, memory and machine information for the benchmark.

Throughput is measured in repetitions: each repetition runs the measured loop over consecutive
chunks of the (shuffled) workload until at least ``min_time`` seconds have passed, and counts the
operations done. The median of the repetitions is reported, with the slowest and fastest as the
spread. Garbage collection stays on, as in a service.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "ROOT",
    "Stats",
    "machine_info",
    "peak_rss_mb",
    "rss_mb",
    "run_python",
    "stats",
    "throughput",
]

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stats:
    """The median and spread of repeated measurements, in the unit of the measurement."""

    median: float
    low: float
    high: float
    samples: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def stats(samples: Sequence[float]) -> Stats:
    """The median, lowest and highest of the samples."""
    return Stats(statistics.median(samples), min(samples), max(samples), tuple(samples))


def throughput(
    loop: Callable[[list[T]], object],
    items: Sequence[T],
    *,
    repeats: int,
    min_time: float,
    chunk: int = 1000,
    warmup_chunks: int | None = 1,
) -> Stats:
    """Operations per second of ``loop``, which handles one chunk of items per call. Before timing,
    ``loop`` runs over the first ``warmup_chunks`` chunks (``None``: all of them, to fill a memo)."""
    chunks = [list(items[i : i + chunk]) for i in range(0, len(items), chunk)]
    for c in chunks[:warmup_chunks]:
        loop(c)
    rates = []
    clock = time.perf_counter
    n = len(chunks)
    for _ in range(repeats):
        done = 0
        i = 0
        start = clock()
        while True:
            c = chunks[i % n]
            loop(c)
            done += len(c)
            i += 1
            elapsed = clock() - start
            if elapsed >= min_time:
                break
        rates.append(done / elapsed)
    return stats(rates)


def run_python(args: list[str], timeout: float) -> str:
    """Run this Python in a fresh process at the repository's root; its last line of output."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": path},
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed with status {done.returncode}:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """This process's resident set size now, in MiB (``VmRSS``; ``ru_maxrss`` where /proc is missing)."""
    kb = _status_kb("VmRSS")
    if kb is None:  # pragma: no cover - not Linux
        import resource

        kb = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return kb / 1024


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (``VmHWM``)."""
    kb = _status_kb("VmHWM")
    if kb is None:  # pragma: no cover - not Linux
        import resource

        kb = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return kb / 1024


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _package(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def machine_info() -> dict[str, Any]:
    """Where and when the benchmark ran: CPU, cores, load, Python, platform, versions, commit."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": {
            name: _package(name)
            for name in ("policykit", "durable_rules", "pydantic", "cedarpy", "pycasbin", "simpleeval")
        },
        "commit": None if commit is None else commit + ("-dirty" if dirty else ""),
    }
