"""The benchmark's table: rows, the targets of the performance issue, and the Markdown report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import Stats

__all__ = [
    "README_END", "README_START", "SWEEP_END", "SWEEP_START", "Row", "Target", "judge", "render", "sweep_prose",
    "update_readme",
]

README_START = "<!-- benchmark table: start (written by python benchmarks/run.py --update-readme) -->"
README_END = "<!-- benchmark table: end -->"
SWEEP_START = "<!-- sweep figures: start (written by python benchmarks/run.py --update-readme) -->"
SWEEP_END = "<!-- sweep figures: end -->"


@dataclass
class Target:
    """One target of the performance issue, judged against a measurement."""

    text: str
    passed: bool | None  # None: cannot be judged (nothing to compare with)


@dataclass
class Row:
    """One line of the table."""

    id: str
    label: str
    unit: str
    stats: Stats | None = None
    targets: list[Target] = field(default_factory=list)
    note: str = ""
    pending: str | None = None  # a slot: why there is no measurement yet
    extra: dict[str, Any] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "label": self.label,
            "unit": self.unit,
            **({"median": self.stats.median, "low": self.stats.low, "high": self.stats.high,
                "samples": list(self.stats.samples)} if self.stats else {}),
            "ratios": self.ratios,
            "targets": [{"text": t.text, "passed": t.passed} for t in self.targets],
            "note": self.note,
            "pending": self.pending,
            **self.extra,
        }


def judge(rows: list[Row]) -> None:
    """Ratios to policykit, and the targets of the performance issue (PASS, MISS, or ``None`` when
    there is nothing to judge: a slot, or a comparison with an engine that was left out)."""
    measured = {r.id: r.stats.median for r in rows if r.stats is not None}
    warm, cold = measured.get("policykit_warm_typed"), measured.get("policykit_cold_typed")
    cedar_rates = [measured[k] for k in ("cedarpy", "cedarpy_batch") if k in measured]
    cedar = max(cedar_rates) if cedar_rates else None  # the faster of cedarpy's two ways
    for row in rows:
        if row.unit == "decisions/s" and row.stats is not None:
            for key, base in (("policykit_warm_typed", warm), ("policykit_cold_typed", cold), ("cedarpy_best", cedar)):
                if base:
                    row.ratios[key] = row.stats.median / base

    def stream_of_a_million(row: Row, m: float) -> bool | None:
        details = row.extra.get("retention_stream") or row.extra.get("retention_cli") or {}
        if details.get("candidates", 0) < 1_000_000:
            return None  # a shorter stream (a quick run) says nothing about this target
        return m < 30

    def at_least(row: Row, m: float, base: float | None, share: float) -> bool | None:
        paired = row.extra.get("paired_ratio")  # timed in alternating rounds with its unlogged peer
        if paired is not None:
            return bool(paired["median"] >= share)
        return None if base is None else m >= share * base

    targets: dict[str, list[tuple[str, Callable[[Row, float], bool | None]]]] = {
        "policykit_warm_typed": [
            ("≥ 500,000/s", lambda _, m: m >= 500_000),
            ("≥ 10× cedarpy", lambda _, m: None if cedar is None else m >= 10 * cedar),
        ],
        "policykit_warm_mapping": [("≥ 200,000/s", lambda _, m: m >= 200_000)],
        "policykit_cold_typed": [
            ("≥ 40,000/s", lambda _, m: m >= 40_000),
            ("≥ cedarpy", lambda _, m: None if cedar is None else m >= cedar),
        ],
        "log_warm_typed": [("≥ ½ of unlogged warm", lambda r, m: at_least(r, m, warm, 0.5))],
        "log_cold_typed": [("≥ 90% of unlogged cold", lambda r, m: at_least(r, m, cold, 0.9))],
        "log_sql_sqlite": [("≥ 20,000/s", lambda _, m: m >= 20_000)],
        "log_memory_growth": [("flat (≤ 20 MiB)", lambda _, m: m <= 20)],
        "load_policy_fresh": [("< 200 ms", lambda _, m: m < 200)],
        "memory_growth": [("≤ 20 MiB", lambda _, m: m <= 20)],
        "retention_warm": [("≥ 50,000/s", lambda _, m: m >= 50_000)],
        "retention_stream": [("< 30 s for 1,000,000", stream_of_a_million)],
        "retention_stream_memory": [("flat (≤ 20 MiB)", lambda _, m: m <= 20)],
        "retention_cli": [("< 30 s for 1,000,000", stream_of_a_million)],
        "retention_cli_memory": [("flat (≤ 20 MiB)", lambda _, m: m <= 20)],
    }
    for row in rows:
        for text, ok in targets.get(row.id, []):
            row.targets.append(Target(text, None if row.stats is None else ok(row, row.stats.median)))


def _number(value: float, unit: str) -> str:
    if unit in ("decisions/s", "candidates/s", "calls/s", "records/s"):
        return f"{value:,.0f}"
    if unit == "MiB":
        return f"{value:+.1f}"
    return f"{value:,.1f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}×" if value < 10 else f"{value:,.0f}×"


def render(results: dict[str, Any], rows: list[Row], *, title: bool = True) -> str:
    """The Markdown report: where it ran, what was checked, and the table (``title=False``: without
    the heading, for the README)."""
    m = results["machine"]
    eq = results["equivalence"]
    load = ", ".join(f"{x:.2f}" for x in m["load_average"] or [])
    quick = " (QUICK RUN: a check of the harness, not for publication)" if results["quick"] else ""
    lines = [
        *([f"# policykit side-by-side benchmark{quick}", ""] if title else []),
        f"- machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), load average {load} at the start",
        f"- {m['python']} on {m['platform']}; {m['date']}; commit {m['commit']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v),
        f"- workload: {results['workload']['questions']:,} disclosure questions of one context shape "
        f"({results['workload']['allowed']:,} allowed); equivalence: {eq['questions']:,} questions "
        f"({eq['scope']}) answered alike by policykit and {', '.join(eq['engines_checked']) or 'no other engine'}, "
        "rule for rule",
        f"- each figure: median of {results['settings']['repeats']} repetitions of at least "
        f"{results['settings']['min_time']} s; spread = slowest–fastest repetition; ÷ cedarpy divides by the "
        "faster of cedarpy's two ways",
        "",
        "| measurement | median | unit | spread | ÷ policykit warm | ÷ policykit cold | ÷ cedarpy | target | result |",
        "|---|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        if row.stats is None:
            lines.append(f"| {row.label} | — | {row.unit} | | | | | "
                         f"{' · '.join(t.text for t in row.targets)} | {row.pending or 'not measured'} |")
            continue
        s = row.stats
        spread = "" if s.low == s.high else f"{_number(s.low, row.unit)}–{_number(s.high, row.unit)}"
        verdicts = " · ".join(
            "PASS" if t.passed else ("n/a" if t.passed is None else "MISS") for t in row.targets
        )
        lines.append(
            f"| {row.label} | {_number(s.median, row.unit)} | {row.unit} | {spread} | "
            f"{_ratio(row.ratios.get('policykit_warm_typed'))} | {_ratio(row.ratios.get('policykit_cold_typed'))} | "
            f"{_ratio(row.ratios.get('cedarpy_best'))} | {' · '.join(t.text for t in row.targets)} | {verdicts} |"
        )
    notes = [f"- {row.label}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def sweep_prose(results: dict[str, Any]) -> str | None:
    """The README's sentence about the sweep's speed, from the sweep rows of a results file (``None``
    when the run did not measure the sweep), so that the prose and the table cannot disagree."""
    sweep = next((m for m in results.get("measurements", []) if m.get("id") == "db_sweep" and m.get("sweep")), None)
    if sweep is None:
        return None
    runs = sweep["sweep"]
    largest = max(r["n"] for r in runs)

    def run(case: str, *, preselect: bool, apply: bool) -> dict[str, Any] | None:
        return next((r for r in runs if r["n"] == largest and r["case"] == case
                     and r["preselect"] is preselect and r["apply"] is apply), None)

    first, every = run("first", preselect=True, apply=False), run("first", preselect=False, apply=False)
    applied, nightly = run("nightly", preselect=True, apply=True), run("nightly", preselect=True, apply=False)
    if first is None:
        return None
    peaks = [r["peak_rss_mb"] for r in runs]
    text = (f"A dry run over {largest:,} candidates in SQLite takes {first['seconds']:.1f} s with pre-selection "
            f"({first['examined']:,} read and judged, {first['due']:,} due)")
    if every is not None:
        text += f", {every['seconds']:.1f} s judging every candidate"
    if applied is not None:
        text += f"; `--apply` anonymised {applied['anonymised']:,} in {applied['seconds']:.1f} s"
    if nightly is not None:
        text += f", and the dry run the night after took {nightly['seconds']:.1f} s"
    text += (f". Peak memory stays between {min(peaks):.0f} and {max(peaks):.0f} MiB whatever the size "
             "(see [Performance](#performance)).")
    return text


def _replace_between(content: str, start_marker: str, end_marker: str, text: str, where: Path) -> str:
    start, end = content.find(start_marker), content.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"{where} has no benchmark markers ({start_marker} ... {end_marker})")
    return f"{content[: start + len(start_marker)]}\n{text.strip()}\n{content[end:]}"


def update_readme(readme: Path, text: str, prose: str | None = None) -> None:
    """Replace what stands between the README's benchmark markers with ``text``, and the sweep figures
    in its prose with ``prose`` (when given)."""
    content = _replace_between(readme.read_text(encoding="utf-8"), README_START, README_END, text, readme)
    if prose is not None:
        content = _replace_between(content, SWEEP_START, SWEEP_END, prose, readme)
    readme.write_text(content, encoding="utf-8")
