"""Mutation testing of the modules where a wrong answer is a compliance failure, with mutmut.

    python benchmarks/mutation.py                 # every target, each bounded in time
    python benchmarks/mutation.py dates engine    # some targets
    python benchmarks/mutation.py --budget 300 --children 2 --out docs/mutation.md

mutmut changes the code one small edit at a time (a comparison flipped, a constant changed, a call
dropped) and runs the tests that cover the changed function; a mutant that no test notices
"survives". Each target below names the module, the functions mutated and the tests that guard them,
so a run is practical on a small machine: the targets run one after another in a scratch copy of the
repository (``build/mutation/<target>``), each stopped after ``--budget`` seconds (what was judged by
then is reported; the rest is counted as not run).

The score is killed / (killed + survived + no test + timeout). The report (``docs/mutation.md``, and
the same as JSON beside ``benchmarks/results/``) lists every surviving mutant with its diff; each is
either killed by a new test or explained there as equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
MAX_DIFFS = 60  # survivors shown with their diff, per target (the rest by name)
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".ci-venv*", "build", "site", "__pycache__", ".pytest_cache", ".mypy_cache",
    ".ruff_cache", ".hypothesis", "mutants", "*.so", "sweep-*.db",
)


@dataclass(frozen=True)
class Target:
    """One module, the functions of it that are mutated (mutmut name globs), and its tests."""

    name: str
    title: str
    source: str
    functions: tuple[str, ...]
    tests: tuple[str, ...]
    pytest_args: tuple[str, ...] = ()


TARGETS = [
    Target("dates", "Swedish date arithmetic", "src/policykit/_dates.py", ("*",),
           ("tests/unit/test_dates.py", "tests/unit/test_dates_errors.py")),
    Target("normaliser", "the normaliser and rule combination", "src/policykit/_disclosure/decision.py",
           ("*Normaliser*", "*x__effective*", "*x_combine*"),
           ("tests/unit/test_normaliser_oracle.py", "tests/unit/test_reference.py")),
    # (the adapter's loader of the Python 3.13 binding shim is left out: it does nothing on 3.11)
    Target("engine", "the durable-rules adapter", "src/policykit/_engine/adapter.py",
           ("*EngineRules*", "*x__compile*", "*x__cube_json*", "*x__rule_name*", "*x__delete*"),
           ("tests/unit/test_engine.py", "tests/unit/test_engine_failures.py")),
    Target("memo", "the memo of decide()", "src/policykit/_disclosure/evaluator.py",
           ("*DisclosureEvaluator*decide*", "*DisclosureEvaluator*_remember*", "*DisclosureEvaluator*evaluate*"),
           ("tests/property/test_memo_time.py", "tests/unit/test_memo_key.py")),
    Target("sweep", "the sweep's apply path", "src/policykit/_sweep/sql.py", ("*write*", "*x__run*"),
           ("tests/unit/test_sweep_atomicity.py", "tests/unit/test_sweep.py"),
           ("-k", "atomicity or (sqlite and apply)")),
]


@dataclass
class Result:
    target: Target
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False

    @property
    def judged(self) -> int:
        return sum(n for s, n in self.counts.items() if s in ("killed", "survived", "no tests", "timeout"))

    @property
    def score(self) -> float | None:
        return self.counts.get("killed", 0) / self.judged if self.judged else None


def _config(target: Target) -> str:
    def toml_list(items: tuple[str, ...] | list[str]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"

    return (
        "\n[tool.mutmut]\n"
        f"source_paths = {toml_list([target.source])}\n"
        f"pytest_add_cli_args_test_selection = {toml_list([*target.tests, *target.pytest_args])}\n"
        'pytest_add_cli_args = ["-p", "no:randomly", "-q", "-p", "no:cacheprovider"]\n'
        'also_copy = ["src", "rules", "tests", "examples", "benchmarks", "docs"]\n'
    )


def _mutmut(workdir: Path, *args: str, timeout: float | None = None) -> tuple[str, bool]:
    env = {**os.environ, "PYTHONPATH": "src", "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "mutation")}
    proc = subprocess.Popen([sys.executable, "-m", "mutmut", *args], cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return out, False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        return out, True


def run_target(target: Target, budget: float, children: int) -> Result:
    workdir = WORK / target.name
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(ROOT, workdir, ignore=COPY_IGNORE)
    with (workdir / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write(_config(target))
    module = target.source.removeprefix("src/").removesuffix(".py").replace("/", ".")
    globs = [f"{module}.{g}" if g != "*" else f"{module}.*" for g in target.functions]
    start = time.monotonic()
    print(f"== {target.name}: {target.title} ({target.source}), at most {budget:.0f} s", file=sys.stderr)
    _, stopped = _mutmut(workdir, "run", "--max-children", str(children), *globs, timeout=budget)
    result = Result(target, seconds=time.monotonic() - start, stopped=stopped)
    out, _ = _mutmut(workdir, "results", "--all", "true", timeout=300)
    wanted = [re.compile(re.escape(g).replace(r"\*", ".*")) for g in globs]
    for line in out.splitlines():
        m = re.fullmatch(r"\s+(\S+): (.+)", line)
        if not m or not any(w.fullmatch(m.group(1)) for w in wanted):
            continue
        status = m.group(2).strip()
        result.counts[status] = result.counts.get(status, 0) + 1
        if status in ("survived", "no tests"):
            diff = ""
            if len(result.survivors) < MAX_DIFFS:
                diff = _diff_only(_mutmut(workdir, "show", m.group(1), timeout=120)[0])
            result.survivors.append((m.group(1), diff))
    return result


def _diff_only(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("---")), 0)
    return "\n".join(lines[start:]).strip()


def render(results: list[Result], *, budget: float, children: int) -> str:
    out = [
        "# Mutation testing",
        "",
        "mutmut edits the code one small change at a time and runs the tests that cover the changed",
        "function; a mutant no test notices survives. Produced by `python benchmarks/mutation.py`",
        f"(each target at most {budget:.0f} s, {children} worker(s)); the test subsets are listed in that script.",
        "",
        "| target | module | mutants judged | killed | survived | no test | timeout | not run | score |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r.counts
        not_run = sum(n for s, n in c.items() if s not in ("killed", "survived", "no tests", "timeout"))
        score = f"{r.score:.0%}" if r.score is not None else "–"
        out.append(
            f"| {r.target.name} ({r.target.title}) | `{r.target.source}` | {r.judged} | {c.get('killed', 0)} | "
            f"{c.get('survived', 0)} | {c.get('no tests', 0)} | {c.get('timeout', 0)} | {not_run} | {score} |"
        )
    for r in results:
        if not r.survivors:
            continue
        out += ["", f"## Survivors: {r.target.name}", ""]
        for name, diff in r.survivors:
            out += [f"### `{name}`", ""] + (["```diff", diff, "```", ""] if diff else [])
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", choices=[[], *[t.name for t in TARGETS]], default=[],
                        help="targets to run (default: all)")
    parser.add_argument("--budget", type=float, default=600, help="seconds per target (default 600)")
    parser.add_argument("--children", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the Markdown report here (e.g. docs/mutation.md); JSON beside it")
    args = parser.parse_args()
    chosen = [t for t in TARGETS if not args.targets or t.name in args.targets]
    results = [run_target(t, args.budget, args.children) for t in chosen]
    text = render(results, budget=args.budget, children=args.children)
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        data = {r.target.name: {"counts": r.counts, "score": r.score, "seconds": round(r.seconds, 1),
                                "stopped_by_budget": r.stopped, "survivors": [n for n, _ in r.survivors]}
                for r in results}
        (ROOT / "benchmarks" / "results" / "mutation.json").write_text(json.dumps(data, indent=2) + "\n",
                                                                       encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
