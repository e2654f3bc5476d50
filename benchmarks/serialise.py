"""What the one serializer costs on the hot path: ``Decision.to_dict()``, which goes through
``policykit._serial.to_data``, against a hand-written peer that builds the same dict directly (the
method as it was written before the serializer served it).

Both are timed in alternating rounds on the same decisions (the answers of the benchmark's
workload, from a warm policy), so that a change of load on a shared machine affects both alike; the
row reports the serializer's rate and its ratio to the peer's in each round.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import policykit
from benchmarks.measure import Stats, stats
from benchmarks.report import Row

__all__ = ["hand_written", "measure"]


def hand_written(d: policykit.Decision) -> dict[str, Any]:
    """``Decision.to_dict()`` written out by hand: the peer the serializer is measured against."""
    return {
        "allowed": d.allowed,
        "reasons": list(d.reasons),
        "obligations": list(d.obligations),
        "by_category": dict(d.by_category),
        "category_obligations": {c: list(o) for c, o in d.category_obligations.items() if o},
        "rule_ids": list(d.rule_ids),
        "clauses": list(d.clauses),
        "policy_version": d.policy_version,
    }


def _rate(convert: Callable[[Any], object], decisions: list[Any], min_time: float) -> float:
    clock = time.perf_counter
    done = 0
    start = clock()
    while True:
        for d in decisions:
            convert(d)
        done += len(decisions)
        elapsed = clock() - start
        if elapsed >= min_time:
            return done / elapsed


def measure(typed: list[Any], repeats: int, min_time: float, *, log: Callable[[str], None]) -> list[Row]:
    """The serializer's row of the benchmark table (and its hand-written peer's)."""
    log("timing: Decision.to_dict() through the serializer, and written by hand ...")
    with policykit.load_policy() as policy:
        decisions = [policy.decide(r) for r in typed[:2000]]
        for d in decisions:
            if d.to_dict() != hand_written(d):
                raise AssertionError(f"the serializer and the hand-written peer differ on {d!r}")
        gc.collect()
        served: list[float] = []
        peer: list[float] = []
        for _ in range(repeats):
            served.append(_rate(lambda d: d.to_dict(), decisions, min_time))
            peer.append(_rate(hand_written, decisions, min_time))
    ratio: Stats = stats([a / b for a, b in zip(served, peer, strict=True)])
    by_hand = stats(peer)
    return [
        Row("serial_decision", "Decision.to_dict() through the one serializer (to_data)", "calls/s", stats(served),
            note=f"÷ the same dict written by hand, timed in the same rounds ({by_hand.median:,.0f}/s): "
                 f"{ratio.median:.2f} ({ratio.low:.2f}–{ratio.high:.2f})",
            extra={"hand_written_peer": by_hand.to_dict(), "paired_ratio": ratio.to_dict()}),
    ]
