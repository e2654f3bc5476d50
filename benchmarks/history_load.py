"""What loading a history of two policy versions costs, against loading one version, in fresh processes.

Each run is a fresh interpreter that imports policykit, then loads either the bundled policy alone
(``load_policy()``) or the bundled policy and the 2026-07-01 revision overlay (``load_history(...)``),
and reports the load time and the growth of its peak resident memory over the import. ``run.py``
reports the results as ratios to the one-version load of the same run.

    python -m benchmarks.history_load --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics

from benchmarks.measure import ROOT, run_python

REVISION = ROOT / "examples" / "policies" / "we-select-2026-07-01"

# The growth is that of the resident set (/proc/self/statm, what the loaded policy keeps), not of the
# peak: the import's own transient peak can hide a load's growth entirely.
_PROBE = """
import json, os, resource, sys, time
import policykit
def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
rss0 = rss_mib()
t0 = time.perf_counter()
if sys.argv[1] == "history":
    loaded = policykit.load_history(policykit.bundled_rules_dir(), sys.argv[2])
else:
    loaded = policykit.load_policy()
t1 = time.perf_counter()
rss1 = rss_mib()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"load_ms": (t1 - t0) * 1000, "rss_growth_mib": rss1 - rss0, "peak_mib": peak}))
"""


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Median load time and peak-memory growth of one version and of a two-version history."""
    out: dict[str, dict[str, float]] = {}
    for what in ("policy", "history"):
        samples = [json.loads(run_python(["-c", _PROBE, what, str(REVISION)], timeout=300)) for _ in range(runs)]
        out[what] = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    # a ratio only over a denominator that can carry one (a growth under 0.5 MiB is noise)
    out["ratio"] = {key: out["history"][key] / out["policy"][key] if out["policy"][key] >= 0.5 else float("nan")
                    for key in ("load_ms", "rss_growth_mib")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    print(json.dumps(measure(parser.parse_args().runs), indent=2))


if __name__ == "__main__":
    main()
