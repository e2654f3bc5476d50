"""Memory while answering a long stream of decisions, measured in a fresh process.

``python -m benchmarks.memory --total 1000000 --checkpoint 10000`` loads the bundled policy with its
default memo and answers ``total`` questions, each a new request object, drawn at random (seeded)
from a space about twice the memo's size: every question of the workload, alone and with a second
category (``name`` or ``contact_info``). Some are answered from the memo, the rest by the engine,
and the memo fills up and evicts. Half the requests are plain mappings, half are parsed into typed
requests first. The resident set size is read after ``checkpoint`` decisions, at every tenth of the
stream, and at the end; the result is printed as one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time

import policykit
from benchmarks.measure import peak_rss_mb, rss_mb
from benchmarks.workload import to_mapping, workload

__all__ = ["probe"]

SECOND_CATEGORY = (None, "name", "contact_info")


def probe(total: int, checkpoint: int, seed: int = 1) -> dict[str, object]:
    """Answer ``total`` questions; the resident set size along the way, in MiB."""
    questions = workload()
    rng = random.Random(seed)
    policy = policykit.load_policy()
    space = len(questions) * len(SECOND_CATEGORY)
    parse = policykit.DisclosureRequest.parse
    decide = policy.decide
    samples: list[tuple[int, float]] = []
    marks = {checkpoint, *(total * k // 10 for k in range(1, 11))}
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    allowed = 0
    for i in range(1, total + 1):
        n = rng.randrange(space)
        q = questions[n // len(SECOND_CATEGORY)]
        request = to_mapping(q)
        extra = SECOND_CATEGORY[n % len(SECOND_CATEGORY)]
        if extra is not None:
            request["data_categories"].append(extra)
        allowed += decide(request if i % 2 else parse(request)).allowed
        if i in marks:
            samples.append((i, rss_mb()))
    elapsed = time.perf_counter() - start
    at = dict(samples)
    return {
        "decisions": total,
        "checkpoint": checkpoint,
        "question_space": space,
        "memo_size": policy.memo_info()["max_size"],
        "rss_before_mb": before,
        "rss_at_checkpoint_mb": at[checkpoint],
        "rss_at_end_mb": at[total],
        "growth_mb": at[total] - at[checkpoint],
        "peak_rss_mb": peak_rss_mb(),
        "rss_samples_mb": samples,
        "seconds": elapsed,
        "decisions_per_second": total / elapsed,
        "allowed": allowed,
        "memo": policy.memo_info(),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: print the probe's result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--checkpoint", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.total, args.checkpoint)))


if __name__ == "__main__":
    main()
