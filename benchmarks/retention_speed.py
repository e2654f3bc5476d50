"""How fast is ``policy.retention()`` per candidate? A quick measurement, not a test.

    .venv/bin/python benchmarks/retention_speed.py [N]

Prints microseconds per candidate for: the engine alone (one durable-rules evaluation), a cold
``retention()`` (memo cleared before every call, so each asks the engine), and a warm ``retention()``
over N varied candidates (the memo holds the few fact combinations; the rest is date arithmetic),
from a plain mapping and from typed ``RetentionFacts``.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from typing import Any

import policykit


def candidates(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        first = dt.date(2018, 1, 1) + dt.timedelta(days=rnd.randrange(2500))
        apps = [first + dt.timedelta(days=rnd.randrange(400)) for _ in range(rnd.randint(1, 3))]
        facts: dict[str, Any] = {"applications": [a.isoformat() for a in apps], "as_of": "2026-06-01"}
        if rnd.random() < 0.6:
            facts["consent_withdrawn_on"] = (max(apps) + dt.timedelta(days=rnd.randrange(1200))).isoformat()
        if rnd.random() < 0.1:
            facts["disputes"] = [{"opened_on": max(apps).isoformat(), "status": "pending"}]
        if rnd.random() < 0.1:
            facts["bookkeeping_records"] = [{"financial_year_end": "2023-12-31"}]
        out.append(facts)
    return [f for f in out if all(d <= "2026-06-01" for d in [*f["applications"], f.get("consent_withdrawn_on", "")])]


def per_call(label: str, n: int, seconds: float) -> None:
    print(f"{label:<48} {seconds / n * 1e6:8.1f} µs per candidate  ({n / seconds:,.0f}/s)")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    policy = policykit.load_policy()
    data = candidates(n)
    n = len(data)
    names = list(policy.rules.retention.facts)
    point = dict.fromkeys(names, False) | {"has_applications": True, "triggered": True}

    k = 20_000
    start = time.perf_counter()
    for _ in range(k):
        policy.evaluate_retention_facts(point)
    per_call("engine alone (durable-rules, one evaluation)", k, time.perf_counter() - start)

    k = min(n, 20_000)
    start = time.perf_counter()
    for facts in data[:k]:
        policy.clear_memo()
        policy.retention(facts)
    per_call("retention(), cold (memo cleared every call)", k, time.perf_counter() - start)

    policy.clear_memo()
    misses = policy.retention_memo_info()["misses"]
    start = time.perf_counter()
    for facts in data:
        policy.retention(facts)
    per_call("retention(), memoised, from a mapping", n, time.perf_counter() - start)

    typed = [policykit.RetentionFacts.parse(f) for f in data]
    start = time.perf_counter()
    for parsed in typed:
        policy.retention(parsed)
    per_call("retention(), memoised, from RetentionFacts", n, time.perf_counter() - start)
    info = policy.retention_memo_info()
    print(f"engine calls for {2 * n:,} memoised candidates: {info['misses'] - misses} (memo size {info['size']})")


if __name__ == "__main__":
    main()
