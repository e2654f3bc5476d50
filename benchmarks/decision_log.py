"""The decision log's cost, side by side with the unlogged figures of the same run.

``measure()`` times ``decide()`` on the workload's typed requests with a JSON lines log in batch mode
(the default durability, written by a writer process, the default writer), warm and cold, the same
with ``durability="record"`` (written inline), and with a SQL log on SQLite. The floor rows time what
an inline writer adds on the answering thread; the writer row times the writer process's own loop,
the bound on a logged warm decide with a writer process. Each logged measurement alternates, round by
round, with its unlogged peer (the same policy options, the same questions): the row keeps the
per-round ratios (``paired_ratio``), on which the targets are judged; the report also gives each row
as a ratio to the unlogged rows of the table.

``python -m benchmarks.decision_log --total N --checkpoint C`` (run in a fresh process by
``measure()``) answers N questions with a JSON lines log, cycling through the workload's typed
requests so that the memo and the log's caches are full after the first pass, and reads the resident
set size along the way: what the log adds as it grows.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import policykit
from benchmarks.measure import Stats, peak_rss_mb, rss_mb, run_python, stats
from benchmarks.report import Row
from benchmarks.workload import sample, to_typed, workload
from policykit.log import JsonLinesSink
from policykit.log._writer import Chain, Decoder, Encoder, store_for

__all__ = ["measure", "probe"]


def _rate(decide: Callable[[Any], Any], chunks: list[list[Any]], start: int, min_time: float) -> tuple[float, int]:
    """Decisions per second over consecutive chunks (from ``start``) for at least ``min_time`` seconds;
    and the chunk to start from next."""
    clock = time.perf_counter
    done, i, n = 0, start, len(chunks)
    began = clock()
    while True:
        for r in chunks[i % n]:
            decide(r)
        done += len(chunks[i % n])
        i += 1
        elapsed = clock() - began
        if elapsed >= min_time:
            return done / elapsed, i


def _paired(plain: policykit.Policy, logged: policykit.Policy, typed: list[Any], repeats: int, min_time: float,
            *, fill_memo: bool) -> tuple[Stats, Stats, Stats]:
    """The logged policy and its unlogged peer timed in alternating rounds on the same questions (on a
    shared, loaded machine the load changes between measurements taken minutes apart; within a round
    both see the same): the logged rates, the unlogged rates and the per-round ratios."""
    chunks = [typed[i : i + 1000] for i in range(0, len(typed), 1000)]
    for policy in (plain, logged):
        for chunk in chunks if fill_memo else chunks[:1]:
            for r in chunk:
                policy.decide(r)
    gc.collect()
    rates: tuple[list[float], list[float]] = ([], [])
    start = 0 if fill_memo else 1
    for _ in range(repeats):
        unlogged, _next = _rate(plain.decide, chunks, start, min_time)
        rate, start = _rate(logged.decide, chunks, start, min_time)
        rates[0].append(rate)
        rates[1].append(unlogged)
    return stats(rates[0]), stats(rates[1]), stats([a / b for a, b in zip(*rates, strict=True)])


def _queued(typed: list[Any], path: Path) -> list[Any]:
    """The queued records of a logged policy that answered ``typed`` (nothing written yet)."""
    decision_log = policykit.DecisionLog(path, batch_size=1_000_000, flush_seconds=3600, writer="inline")
    with policykit.load_policy(decision_log=decision_log) as logged:
        for r in typed:
            logged.decide(r)
        batch = list(decision_log._pending)
        decision_log._pending.clear()
    decision_log.close()
    return batch


def _beside_warm(typed: list[Any], repeats: int, min_time: float,
                 others: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Per round, the rate of an unlogged warm decide on ``typed`` (under ``"decide"``), then each of
    ``others`` (timed right after it, so that each round's ratio compares like with like)."""
    chunks = [typed[i : i + 1000] for i in range(0, len(typed), 1000)]
    rates: dict[str, list[float]] = {"decide": [], **{name: [] for name in others}}
    with policykit.load_policy() as plain:
        for r in typed:
            plain.decide(r)
        gc.collect()
        start = 0
        for _ in range(repeats):
            rate, start = _rate(plain.decide, chunks, start, min_time)
            rates["decide"].append(rate)
            for name, measure in others.items():
                rates[name].append(measure())
    return rates


def _floor(typed: list[Any], repeats: int, min_time: float, work: Path) -> list[Row]:
    """What any logged warm decide must add on the caller's thread, whatever the code around it: (a)
    appending finished record lines to the file (batches of 1,000, as the batch mode writes them) and
    (b) the SHA-256 chain alone (one hash per record over the previous hash and the record's message),
    each timed in alternating rounds with an unlogged warm decide; and the bound they set on a logged
    warm decide: unlogged + (a) + (b), as a ratio to the unlogged rate of the same round."""
    target = work / "floor"
    target.mkdir()
    batch = _queued(typed[:1000], target / "source.jsonl")
    records = Chain(None).finish(batch)  # the records exactly as the log would store them
    messages = [body[1] + context[1] + b"%d\n%s" % (r[0], r[1]) for (_t, body, context), r in
                zip(batch, records, strict=True)]
    sink = JsonLinesSink(target / "floor.jsonl")
    clock = time.perf_counter
    n = len(records)

    def write_rate() -> float:
        done, began = 0, clock()
        while clock() - began < min_time:
            for _ in range(50):  # then the file is emptied (one truncation per 50,000 records)
                sink.write(records)
            os.ftruncate(sink._fd, 0)
            done += 50 * n
        return done / (clock() - began)

    def chain_rate() -> float:
        sha = hashlib.sha256
        prev = b"\0" * 32
        done, began = 0, clock()
        while clock() - began < min_time:
            for m in messages:
                prev = sha(prev + m).digest()
            done += n
        return done / (clock() - began)

    rates = _beside_warm(typed, repeats, min_time, {"write": write_rate, "chain": chain_rate})
    sink.close()
    shutil.rmtree(target, ignore_errors=True)
    bound = [1 / (1 / d + 1 / w + 1 / c) for d, w, c in zip(rates["decide"], rates["write"], rates["chain"],
                                                             strict=True)]
    ratio = stats([b / d for b, d in zip(bound, rates["decide"], strict=True)])
    peer = stats(rates["decide"])

    def share(key: str) -> str:
        per = [d / x for d, x in zip(rates["decide"], rates[key], strict=True)]
        return f"{1e6 / stats(rates[key]).median:.2f} µs a record = {stats(per).median:.2f}× an unlogged warm decide"

    return [
        Row("log_floor_write", "floor (a): appending finished record lines to a JSON lines file, 1,000 a write",
            "records/s", stats(rates["write"]), note=share("write"), extra={"unlogged_peer": peer.to_dict()}),
        Row("log_floor_chain", "floor (b): the SHA-256 chain alone, one hash a record", "records/s",
            stats(rates["chain"]), note=share("chain"), extra={"unlogged_peer": peer.to_dict()}),
        Row("log_floor_bound", "bound on a logged warm decide: unlogged warm decide + (a) + (b), nothing else",
            "decisions/s", stats(bound),
            note=f"÷ the unlogged warm decide of the same rounds ({peer.median:,.0f}/s): {ratio.median:.2f} "
                 f"({ratio.low:.2f}–{ratio.high:.2f}); the most any logged warm decide could keep on one thread",
            extra={"unlogged_peer": peer.to_dict(), "paired_ratio": ratio.to_dict()}),
    ]


def _writer(typed: list[Any], repeats: int, min_time: float, work: Path) -> Row:
    """The writer process's own rate: its loop (decode a batch as the answering process sends it,
    number, timestamp, chain and format the records, append the lines to the file) timed in one
    process, in alternating rounds with an unlogged warm decide. With a writer process a logged warm
    decide can go no faster than this loop; on two cores its ratio to the unlogged warm decide is the
    bound on the logged warm ratio."""
    target = work / "writer"
    target.mkdir()
    batch = _queued(typed[:1000], target / "source.jsonl")
    encoder, decoder = Encoder(), Decoder()
    decoder.decode(encoder.encode(batch))
    data = encoder.encode(batch)  # as sent once the writer holds the bodies (a warm decide's case)
    sink = JsonLinesSink(target / "writer.jsonl")
    store = store_for(sink, Chain(None))
    decode = decoder.decode
    clock = time.perf_counter
    n = len(batch)

    def loop_rate() -> float:
        done, began = 0, clock()
        while clock() - began < min_time:
            for _ in range(50):
                store(decode(data))
            os.ftruncate(sink._fd, 0)
            done += 50 * n
        return done / (clock() - began)

    by_name = _beside_warm(typed, repeats, min_time, {"loop": loop_rate})
    rates = (by_name["decide"], by_name["loop"])
    sink.close()
    shutil.rmtree(target, ignore_errors=True)
    peer = stats(rates[0])
    ratio = stats([w / d for d, w in zip(*rates, strict=True)])
    result = stats(rates[1])
    return Row(
        "log_writer_rate", "the writer process's loop: decode a batch, chain, format and append its records",
        "records/s", result,
        note=f"{1e6 / result.median:.2f} µs a record; ÷ the unlogged warm decide of the same rounds "
             f"({peer.median:,.0f}/s): {ratio.median:.2f} ({ratio.low:.2f}–{ratio.high:.2f}), the bound on a "
             "logged warm decide with a writer process",
        extra={"unlogged_peer": peer.to_dict(), "paired_ratio": ratio.to_dict()},
    )


def _logged(case: tuple[str, str, dict[str, Any], str, bool], typed: list[Any], repeats: int, min_time: float,
            work: Path, *, writer: str | None = None) -> Row:
    """One logged row: the logged policy timed in alternating rounds with its unlogged peer. ``case``:
    (row id, label, the policy's options, the sink, whether the memo is filled first)."""
    row_id, label, options, sink, fill = case
    target = work / row_id
    target.mkdir()
    if sink == "sqlite":
        decision_log = policykit.DecisionLog(f"sqlite:///{target / 'decisions.db'}", writer=writer)  # type: ignore[arg-type]
    else:
        decision_log = policykit.DecisionLog(target / "decisions.jsonl", writer=writer,  # type: ignore[arg-type]
                                             durability="record" if sink == "record" else "batch")
    with policykit.load_policy(decision_log=decision_log, **options) as policy, \
            policykit.load_policy(**options) as plain:
        result, peer, ratio = _paired(plain, policy, typed, repeats, min_time, fill_memo=fill)
    decision_log.close()
    shutil.rmtree(target)
    return Row(
        row_id, f"policykit {label}", "decisions/s", result,
        note=f"{decision_log.records_written:,} records written; ÷ its unlogged peer timed in the same "
             f"rounds ({peer.median:,.0f}/s): {ratio.median:.2f} ({ratio.low:.2f}–{ratio.high:.2f})",
        extra={"unlogged_peer": peer.to_dict(), "paired_ratio": ratio.to_dict()},
    )


def writers(repeats: int, min_time: float) -> list[str]:
    """``--writers``: the warm and cold logged ratios with each writer, the writer process's loop and
    the floor of the inline writer, as lines of text (with the load average before and after)."""
    typed = [to_typed(q) for q in sample(workload(), None, seed=11)]
    out = [f"load average {os.getloadavg()[0]:.2f} at the start"]
    work = Path(tempfile.mkdtemp(prefix="policykit-log-writers-"))
    try:
        for writer in ("process", "inline"):
            for name, options, fill in (("warm", {}, True), ("cold", {"memo_size": 0}, False)):
                row = _logged((f"{name}-{writer}", f"{name}, writer={writer}", options, "jsonl", fill), typed,
                              repeats, min_time, work, writer=writer)
                out.append(f"{row.label}: {row.note}")
        for row in (_writer(typed, repeats, min_time, work), *_floor(typed, repeats, min_time, work)):
            assert row.stats is not None
            out.append(f"{row.id}: {row.stats.median:,.0f} {row.unit}; {row.note}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.append(f"load average {os.getloadavg()[0]:.2f} at the end")
    return out


def measure(typed: list[Any], repeats: int, min_time: float, memory_total: int, memory_checkpoint: int,
            *, log: Callable[[str], None]) -> list[Row]:
    """The decision-log rows of the benchmark table."""
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="policykit-log-bench-"))
    try:
        cases: list[tuple[str, str, dict[str, Any], str, bool]] = [
            ("log_warm_typed", "decide(), warm, typed, logged: JSON lines, batches, writer process (the defaults)", {},
             "jsonl", True),
            ("log_cold_typed", "decide(), cold, typed, logged: JSON lines, batches, writer process", {"memo_size": 0},
             "jsonl", False),
            ("log_warm_typed_record", "decide(), warm, typed, logged: JSON lines, each record written at once", {},
             "record", True),
            ("log_sql_sqlite", "decide(), warm, typed, logged: SQL table on SQLite, batches, writer process", {},
             "sqlite", True),
        ]
        for case in cases:
            log(f"timing: {case[1]} ...")
            rows.append(_logged(case, typed, repeats, min_time, work))
        log("timing: the floor of a logged warm decide (writing lines, the chain) ...")
        rows += _floor(typed, repeats, min_time, work)
        log("timing: the writer process's loop ...")
        rows.append(_writer(typed, repeats, min_time, work))
        # the memo and the log's caches fill during the first pass through the workload; the growth is
        # measured after it
        memory_checkpoint = max(memory_checkpoint, min(memory_total // 2, 2 * len(typed)))
        log(f"memory: {memory_total:,} logged decisions in a fresh process ...")
        result = json.loads(run_python(
            ["-m", "benchmarks.decision_log", "--total", str(memory_total), "--checkpoint", str(memory_checkpoint),
             "--dir", str(work)],
            timeout=3600,
        ))
        growth = result["growth_mb"]
        rows.append(Row(
            "log_memory_growth",
            f"memory growth from {memory_checkpoint:,} to {memory_total:,} logged decisions (JSON lines, batches; "
            "after a pass through the workload fills the caches)",
            "MiB", Stats(growth, growth, growth, (growth,)), extra={"log_memory": result},
            note=f"RSS {result['rss_at_checkpoint_mb']:.0f} → {result['rss_at_end_mb']:.0f} MiB, peak "
                 f"{result['peak_rss_mb']:.0f} MiB; the writer process +{result['writer_growth_mb']:.1f} MiB "
                 f"(counted in the growth); {result['records']:,} records, "
                 f"{result['log_bytes'] / 1e6:,.0f} MB of log; {result['decisions_per_second']:,.0f} decisions/s",
        ))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _rss_of(pid: int) -> float:
    """Another process's resident set size now, in MiB (0 where /proc cannot tell)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def probe(total: int, checkpoint: int, directory: Path) -> dict[str, Any]:
    """Answer ``total`` logged questions; the resident set size along the way, in MiB."""
    typed = [to_typed(q) for q in workload()]
    path = directory / "memory.jsonl"
    log = policykit.DecisionLog(path)
    policy = policykit.load_policy(decision_log=log)
    decide = policy.decide
    marks = {checkpoint, *(total * k // 10 for k in range(1, 11))}
    samples: list[tuple[int, float]] = []
    gc.collect()
    start = time.perf_counter()
    n = len(typed)
    writer = log.writer_pid  # the writer process's memory counts too
    writer_samples: list[tuple[int, float]] = []
    for i in range(1, total + 1):
        decide(typed[i % n])
        if i in marks:
            samples.append((i, rss_mb()))
            if writer is not None:
                writer_samples.append((i, _rss_of(writer)))
    policy.close()
    log.close()
    elapsed = time.perf_counter() - start
    at = dict(samples)
    at_writer = dict(writer_samples) if writer_samples else {checkpoint: 0.0, total: 0.0}
    size = path.stat().st_size
    path.unlink()
    return {
        "decisions": total,
        "records": log.records_written,
        "log_bytes": size,
        "checkpoint": checkpoint,
        "rss_at_checkpoint_mb": at[checkpoint],
        "rss_at_end_mb": at[total],
        # the answering process's growth and the writer process's
        "growth_mb": at[total] - at[checkpoint] + at_writer[total] - at_writer[checkpoint],
        "peak_rss_mb": peak_rss_mb(),
        "rss_samples_mb": samples,
        "writer_rss_samples_mb": writer_samples,
        "writer_growth_mb": at_writer[total] - at_writer[checkpoint],
        "seconds": elapsed,
        "decisions_per_second": total / elapsed,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: print the memory probe's result as JSON (``--dir``), or, with ``--writers``, the
    rows that compare the writers (a few minutes; the full table is ``benchmarks/run.py``'s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--checkpoint", type=int, default=10_000)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--writers", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.writers:
        print("\n".join(writers(args.repeats, args.min_time)))
    elif args.dir is None:
        parser.error("--dir is required for the memory probe")
    else:
        print(json.dumps(probe(args.total, args.checkpoint, args.dir)))


if __name__ == "__main__":
    main()
