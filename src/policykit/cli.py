"""The ``policykit`` command line.

Exit status: 0 when the command did its job (a denied disclosure is still an answer: 0, unless
``--fail-on-deny`` asks for 1), 1 when a check fails, 2 for bad input (a one-line error on stderr).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import multiprocessing
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import click
from pydantic import BaseModel, ValidationError

try:  # progress bars for long runs; rich comes with the cli extra, click's bar is the fallback
    from rich.console import Console
    from rich.progress import Progress
except ImportError:  # pragma: no cover
    Progress = None  # type: ignore[assignment,misc]

import policykit
from policykit._analysis.diff import diff as run_diff
from policykit._analysis.diff import render_diff
from policykit._analysis.invariants import load_invariants
from policykit._analysis.verify import case_coverage, render_report
from policykit._analysis.verify import verify as run_verify
from policykit._dates import parse_day
from policykit._input import (
    InputFileError,
    JsonInputError,
    Limits,
    check_value,
    loads_json,
    read_stream,
    read_text_file,
)
from policykit._ruleset.reading import load_yaml_text
from policykit._sweep.report import sweep_context
from policykit.errors import PolicyKitError, RuleFileError, did_you_mean, short_repr
from policykit.log import replay as replay_log
from policykit.log import stats as log_counts
from policykit.log import verify as verify_log
from policykit.log._audit import render_stats

F = TypeVar("F", bound=Callable[..., Any])

rules_option = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    multiple=True,
    help="A rules directory to load instead of the bundled policy. Given several times, the directories "
    "are the versions of a history: each question is answered by the version in force on its date.",
)
single_rules_option = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A rules directory to load instead of the bundled policy.",
)

Policyish = policykit.Policy | policykit.PolicyHistory
Dirs = tuple[Path, ...]


log_option = click.option(
    "--log",
    "log_sink",
    metavar="SINK",
    default=None,
    help="Record the answer in this decision log: a .jsonl file or a database URL (docs/decision-log.md).",
)


def _fail(message: str) -> NoReturn:
    click.echo(f"policykit: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _limits() -> Limits:
    try:
        return Limits.from_env()
    except PolicyKitError as exc:
        _fail(str(exc))


def _read_text(source: str, limits: Limits) -> str:
    """The text of a file (a regular file, not a symbolic link unless --follow-symlinks, at most
    max_bytes, UTF-8), or of stdin for ``-``; a problem is a one-line error naming the source."""
    name = "stdin" if source == "-" else source
    try:
        if source == "-":
            return read_stream(sys.stdin, max_bytes=limits.max_bytes)
        return read_text_file(source, max_bytes=limits.max_bytes, follow_symlinks=_OPTIONS["follow_symlinks"])
    except InputFileError as exc:
        _fail(f"cannot read {name}: {exc}")


def _read_mapping(source: str) -> Any:
    """Read one JSON (or YAML 1.2) document from a file, or from stdin for ``-``: bounded in size and
    depth before it is expanded, duplicate keys refused, and the file's text never quoted back."""
    limits = _limits()
    text = _read_text(source, limits)
    name = "stdin" if source == "-" else source
    what = "JSON"
    try:
        data = loads_json(text, limits)
    except JsonInputError as exc:
        _fail(f"{name}: {exc}")
    except json.JSONDecodeError:
        what = "YAML"
        try:
            data = load_yaml_text(text, limits)
        except RuleFileError as exc:
            where = f" (line {exc.line})" if exc.line is not None else ""
            _fail(f"{name} is neither JSON nor YAML{where}: {exc.detail.removeprefix('expected valid YAML: ')}")
    if not isinstance(data, dict):
        kind = {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "a list",
                type(None): "nothing"}.get(type(data), type(data).__name__)
        _fail(f"{name}: expected one JSON object or YAML mapping of fields, but read {kind} (as {what})")
    try:
        check_value(data, limits, name)
    except PolicyKitError as exc:
        _fail(str(exc))
    return data


def _answer(
    source: str,
    rules_dir: Dirs,
    ask: Callable[[Any, Any], Any],
    as_json: bool,
    render: Callable[[Any], str] | None = None,
    *,
    log_sink: str | None = None,
) -> Any:
    """Read one question (a bare question, or a case with an ``inputs`` block), ask it, print the
    answer explained or as JSON, and return it. Bad input is a one-line error and status 2."""
    data = _read_mapping(source)
    policy = _load(rules_dir, log_sink)
    data = data.get("inputs", data) if isinstance(data.get("inputs"), dict) else data
    try:
        answer = ask(policy, data)
        if as_json:
            text = json.dumps(answer.to_dict(), indent=2, ensure_ascii=False) + "\n"
        else:
            text = render(answer) if render is not None else answer.explain() + "\n"
        _close(policy)  # the answer is shown only once the decision log holds it
    except PolicyKitError as exc:
        _fail(str(exc))
    click.echo(text, nl=False)
    return answer


def _load_one(rules_dir: Path | None, log_sink: str | None = None) -> policykit.Policy:
    try:
        return policykit.load_policy(rules_dir, decision_log=log_sink, limits=_limits(),
                                     follow_symlinks=_OPTIONS["follow_symlinks"])
    except PolicyKitError as exc:
        _fail(str(exc))


def _load(rules_dir: Dirs | Path | None, log_sink: str | None = None) -> Policyish:
    """The policy of one rules directory (the bundled one if none), or the history of several."""
    dirs = rules_dir if isinstance(rules_dir, tuple) else (() if rules_dir is None else (rules_dir,))
    if len(dirs) <= 1:
        return _load_one(dirs[0] if dirs else None, log_sink)
    if log_sink is not None:
        _fail("--log records the answers of one rules directory; give one --rules with it")
    try:
        return policykit.load_history(*dirs)
    except PolicyKitError as exc:
        _fail(str(exc))


def _close(policy: Policyish) -> None:
    """Close a policy, writing its decision log (a log that cannot be written fails the command)."""
    if isinstance(policy, policykit.PolicyHistory):
        policy.close()
        return
    if policy.decision_log is not None:
        try:
            policy.close()
        except PolicyKitError as exc:
            _fail(str(exc))


class _Guarded(click.Group):
    """Every command: a PolicyKitError (or anything else unexpected) is one line on stderr and exit
    status 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except PolicyKitError as exc:
            _fail(str(exc))
        except RecursionError:
            _fail("the input is nested too deeply to process (see the POLICYKIT_LIMIT_* settings)")
        except Exception as exc:
            _fail(f"policykit failed unexpectedly ({type(exc).__name__}); nothing was answered")


# options of the whole command line (set by main)
_OPTIONS: dict[str, Any] = {"follow_symlinks": False}


@click.group(cls=_Guarded, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(policykit.__version__, prog_name="policykit")
@click.option("--follow-symlinks", is_flag=True,
              help="Read request, rule and mapping files that are symbolic links (refused by default).")
def main(follow_symlinks: bool) -> None:
    """Answer questions about a candidate privacy policy: the bundled one, or the rules of --rules.

    Input is bounded before it is read: set POLICYKIT_LIMIT_MAX_BYTES, _MAX_DEPTH, _MAX_ITEMS,
    _MAX_STRING, _MAX_ALIASES or _MAX_RULE_FILE_BYTES to change a limit (see docs/security.md).
    """
    _OPTIONS["follow_symlinks"] = follow_symlinks


@main.command()
@click.argument("request", metavar="REQUEST.json")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.option("--fail-on-deny", is_flag=True, help="Exit with status 1 when the disclosure is denied.")
@rules_option
@log_option
def decide(request: str, as_json: bool, fail_on_deny: bool, rules_dir: Dirs, log_sink: str | None) -> None:
    """May these data go to this recipient? REQUEST.json holds one disclosure request, as a JSON object
    or a YAML mapping ('-' reads stdin)."""
    decision = _answer(request, rules_dir, lambda policy, data: policy.decide(data), as_json, log_sink=log_sink)
    if fail_on_deny and not decision.allowed:
        sys.exit(1)


def _as_of(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_day(value, field="--as-of").isoformat()
    except PolicyKitError:
        _fail(f"--as-of: expected a date as YYYY-MM-DD, got {short_repr(value)}")


def _facts_of(data: dict[str, Any], as_of: str | None) -> dict[str, Any]:
    facts = data["inputs"] if isinstance(data.get("inputs"), dict) else data
    if as_of is not None and "as_of" not in facts:
        facts = {**facts, "as_of": as_of}
    return facts


@main.command()
@click.argument("facts", metavar="FACTS.json|FILE.jsonl")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON (JSON lines are always JSON).")
@click.option("--as-of", "as_of", metavar="DATE", help="Judge as of this date (YYYY-MM-DD) where the facts give none.")
@click.option(
    "--lines", "lines_mode", is_flag=True,
    help="Read JSON lines (one candidate per line); implied by a .jsonl or .ndjson file name.",
)
@click.option(
    "--anchor", type=click.Choice(["latest_application", "latest_application_or_process_closed"]), default=None,
    help="Where the evidence window starts (interpretation A-04); default: the policy's parameter.",
)
@click.option("--review-interval-months", type=click.IntRange(1, 120), default=None,
              help="Months after the latest activity to review an active candidate (A-33).")
@click.option("--jobs", type=click.IntRange(0, 64), default=1, show_default=True,
              help="JSON lines: worker processes judging lines in parallel (0: one per CPU); output order is kept.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the verdicts here instead of to standard output.")
@rules_option
@log_option
def retention(
    facts: str, *, as_json: bool, as_of: str | None, lines_mode: bool, anchor: str | None,
    review_interval_months: int | None, jobs: int, output: Path | None, rules_dir: Dirs, log_sink: str | None,
) -> None:
    """When must a candidate's record be anonymised?

    FACTS.json holds one candidate's retention facts ('-' reads stdin) and prints the explained verdict.
    FILE.jsonl holds one candidate per line (a JSON object, optionally with an "id" that is echoed
    back) and writes one JSON verdict per line, in input order, streaming; a line that cannot be
    judged gets an {"error": ...} line and a message on stderr, and the command exits with status 2
    at the end. With --log, the lines are judged in this process (--jobs is not used), so that one
    process writes the log.
    """
    day = _as_of(as_of)
    policy = _load(rules_dir, log_sink)
    options: dict[str, Any] = {"anchor": anchor, "review_interval_months": review_interval_months}
    if lines_mode or facts.endswith((".jsonl", ".ndjson")):
        with _open_output(output) as out:
            failed = _retention_lines(policy, facts, day, options, out, jobs=1 if log_sink else jobs,
                                      rules_dir=rules_dir)
        _close(policy)
        if failed:
            click.echo(f"policykit: error: {failed} line(s) could not be judged", err=True)
            sys.exit(2)
        return
    data = _read_mapping(facts)
    try:
        verdict = policy.retention(_facts_of(data, day), **options)
        _close(policy)
    except PolicyKitError as exc:
        _fail(str(exc))
    text = json.dumps(verdict.to_dict(), indent=2, ensure_ascii=False) if as_json else verdict.explain()
    with _open_output(output) as out:
        out.write(text + "\n")


@contextlib.contextmanager
def _open_output(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        return
    try:
        handle = output.open("w", encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    with handle:
        yield handle


def _count_lines(source: str) -> int | None:
    if source == "-":
        return None
    try:
        with open(source, "rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return None


@contextlib.contextmanager
def _progress(total: int | None) -> Iterator[Callable[[], None]]:
    """A progress bar on a terminal (rich if installed, else click's); nothing otherwise."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    if Progress is None:  # pragma: no cover - rich is in the cli extra
        with click.progressbar(length=total or 0, label="candidates", file=sys.stderr) as bar:
            yield lambda: bar.update(1)
        return
    with Progress(transient=True) as bar:
        task = bar.add_task("candidates", total=total)
        yield lambda: bar.advance(task)


def _retention_lines(
    policy: Policyish, source: str, as_of: str | None, options: dict[str, Any], out: IO[str], *,
    jobs: int = 1, rules_dir: Dirs = (),
) -> int:
    """Judge one candidate per line, writing one JSON line per input line in input order; returns how
    many failed. With ``jobs`` other than 1, worker processes judge chunks of lines in parallel."""
    failed = 0
    total = _count_lines(source)
    limits = _limits()
    try:
        handle = sys.stdin.buffer if source == "-" else _open_lines(source)
    except InputFileError as exc:
        _fail(f"cannot read {source}: {exc}")
    workers = (os.cpu_count() or 1) if jobs == 0 else jobs
    with handle, _progress(total) as tick:
        numbered = enumerate(_bounded_lines(handle, limits.max_bytes), start=1)
        if workers == 1:
            results: Iterator[list[tuple[str, str | None]]] = (
                [_judge_line(policy, number, raw, as_of, options)] for number, raw in numbered
            )
            failed = _write_results(results, out, tick)
        else:
            chunks = _chunks(numbered, 2_000)
            with multiprocessing.get_context("spawn").Pool(
                workers, initializer=_init_worker, initargs=(rules_dir, as_of, options)
            ) as pool:
                failed = _write_results(pool.imap(_judge_chunk, chunks), out, tick)
    return failed


def _open_lines(source: str) -> IO[bytes]:
    """A JSON-lines file opened for reading bytes: a regular file (a FIFO or a device is refused), not
    a symbolic link unless --follow-symlinks."""
    follow = _OPTIONS["follow_symlinks"]
    path = Path(source)
    try:
        if not follow and path.is_symlink():
            raise InputFileError("expected a regular file, found a symbolic link (not followed)")
        handle = path.open("rb")
    except OSError as exc:
        raise InputFileError(exc.strerror or type(exc).__name__) from None
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise InputFileError("expected a regular file")
    return handle


class _NotUtf8:
    """A line that is not UTF-8, with the offset of its first bad byte (its bytes are not kept)."""

    def __init__(self, offset: int) -> None:
        self.offset = offset


def _bounded_lines(handle: IO[bytes], max_bytes: int) -> Iterator[str | _NotUtf8 | None]:
    """The lines of a binary stream as text; ``None`` for a line longer than ``max_bytes`` (skipped
    without being held in memory whole); a :class:`_NotUtf8` for a line that is not UTF-8."""
    while True:
        line = handle.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the over-long line
                line = handle.readline(1 << 20)
            yield None
            continue
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _NotUtf8(exc.start)


def _write_results(
    results: Iterator[list[tuple[str, str | None]]], out: IO[str], tick: Callable[[], None]
) -> int:
    failed = 0
    for chunk in results:
        for line, error in chunk:
            if error is not None:
                failed += 1
                click.echo(error, err=True)
            if line:
                out.write(line)
            tick()
    return failed


def _chunks(
    numbered: Iterator[tuple[int, str | _NotUtf8 | None]], size: int
) -> Iterator[list[tuple[int, str | _NotUtf8 | None]]]:
    chunk: list[tuple[int, str | _NotUtf8 | None]] = []
    for item in numbered:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _judge_line(
    policy: Policyish, number: int, raw: str | _NotUtf8 | None, as_of: str | None, options: dict[str, Any]
) -> tuple[str, str | None]:
    """One input line judged: (the JSON output line, or "" for a blank line; an error message or None).
    A line that cannot be read or judged gets an error line; the lines after it are judged as usual."""
    text = raw.strip() if isinstance(raw, str) else ""
    if isinstance(raw, str) and not text:
        return "", None
    ident: Any = None
    error = None
    try:
        if raw is None:
            raise ValueError(f"expected a line of at most {policy.limits.max_bytes:,} bytes (the max_bytes limit)")
        if isinstance(raw, _NotUtf8):
            raise ValueError(f"expected UTF-8 text, found an invalid byte at offset {raw.offset:,}")
        try:
            data = loads_json(text, policy.limits)
        except JsonInputError as exc:
            raise ValueError(str(exc)) from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected one JSON object, got text that is not JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        ident = data.pop("id", None)
        result: dict[str, Any] = policy.retention(_facts_of(data, as_of), **options).to_dict()
    except (PolicyKitError, ValueError) as exc:
        code = getattr(exc, "code", "input.json")
        message = str(exc)
        error = f"policykit: line {number}: {message}"
        result = {"error": {"code": code, "message": message}}
    record = {"line": number, **({"id": ident} if ident is not None else {}), **result}
    return json.dumps(record, ensure_ascii=False) + "\n", error


_WORKER: dict[str, Any] = {}


def _init_worker(rules_dir: Dirs, as_of: str | None, options: dict[str, Any]) -> None:
    """Each worker process loads the policy once."""
    _WORKER.update(policy=_load(rules_dir), as_of=as_of, options=options)


def _judge_chunk(chunk: list[tuple[int, str | _NotUtf8 | None]]) -> list[tuple[str, str | None]]:
    policy, as_of, options = _WORKER["policy"], _WORKER["as_of"], _WORKER["options"]
    return [_judge_line(policy, number, raw, as_of, options) for number, raw in chunk]


@contextlib.contextmanager
def _sweep_progress() -> Iterator[Callable[[policykit.SweepProgress], None]]:
    """A progress bar over the candidate ids on a terminal (rich if installed, else click's)."""
    if not sys.stderr.isatty():
        yield lambda _p: None
        return
    if Progress is None:  # pragma: no cover - rich is in the cli extra
        with click.progressbar(length=1000, label="sweeping", file=sys.stderr) as plain:
            done = [0]

            def click_tick(p: policykit.SweepProgress) -> None:
                step = round((p.fraction or 0) * 1000) - done[0]
                if step > 0:
                    plain.update(step)
                    done[0] += step

            yield click_tick
        return
    with Progress(*Progress.get_default_columns(), "{task.fields[status]}", transient=True) as fancy:
        task = fancy.add_task("sweeping", total=1.0, status="")

        def rich_tick(p: policykit.SweepProgress) -> None:
            fancy.update(task, completed=p.fraction if p.fraction is not None else 0.0,
                       status=f"{p.examined:,} judged, {p.due:,} due")

        yield rich_tick


@contextlib.contextmanager
def _fraction_progress(label: str) -> Iterator[Callable[[float], None] | None]:
    """A progress bar for work measured as a fraction done, on a terminal only (rich if installed,
    else click's); ``None`` elsewhere, so that the work does not even count."""
    if not sys.stderr.isatty():
        yield None
        return
    if Progress is None:  # pragma: no cover - rich is in the cli extra
        with click.progressbar(length=1000, label=label, file=sys.stderr) as plain:
            done = [0]

            def click_tick(fraction: float) -> None:
                step = round(fraction * 1000) - done[0]
                if step > 0:
                    plain.update(step)
                    done[0] += step

            yield click_tick
        return
    with Progress(*Progress.get_default_columns(), transient=True, console=Console(stderr=True)) as fancy:
        task = fancy.add_task(label, total=1.0)
        yield lambda fraction: fancy.update(task, completed=fraction)


@main.command()
@click.option("--db", "db", metavar="URL",
              help="The candidate database: sqlite:///candidates.db, or postgresql+psycopg://user@host/db.")
@click.option("--engine", type=click.Choice(["sql", "spark"]), default="sql", show_default=True,
              help="Where the tables are: a database (sql), or Parquet/CSV files judged on Apache Spark (spark; "
                   "needs the spark extra).")
@click.option("--input", "input_dir", metavar="DIR",
              help="--engine spark: the directory of the mapped tables (TABLE/ or TABLE.parquet, or TABLE.csv).")
@click.option("--output", "output_dir", metavar="DIR",
              help="--engine spark: with --apply, the new directory the anonymised tables and the audit log are "
                   "written to (Parquet).")
@click.option("--master", default="local[*]", show_default=True,
              help="--engine spark: the Spark master (local[*] runs on this machine's cores).")
@click.option("--as-of", "as_of", metavar="DATE",
              help="Judge as of this date (YYYY-MM-DD); default today in Stockholm.")
@click.option("--apply", "apply", is_flag=True,
              help="Anonymise the due candidates (default: a dry run that changes nothing).")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The mapping file (YAML) naming the tables and columns; default: the example schema's.")
@click.option("--json", "as_json", is_flag=True,
              help="Write JSON lines: one per due candidate, one per problem, then a summary.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Candidates judged (and anonymised, in one transaction) at a time.")
@click.option("--no-preselect", "no_preselect", is_flag=True,
              help="Judge every candidate not yet anonymised, instead of those the SQL pre-selects.")
@click.option("--skip", "skip", multiple=True, type=click.Choice(["erase_now", "special_category", "review_due"]),
              help="An action besides anonymisation not to look for in this run (repeatable).")
@click.option("--limit", type=click.IntRange(0, None), default=20, show_default=True,
              help="Due candidates and problems listed in the human report.")
@click.option("--pause", type=click.FloatRange(0, 60), default=0.0,
              help="Seconds to wait between batches, to spare a busy database.")
@rules_option
@log_option
def sweep(
    db: str | None, *, engine: str, input_dir: str | None, output_dir: str | None, master: str, as_of: str | None,
    apply: bool, mapping: Path | None, as_json: bool, batch_size: int, no_preselect: bool, limit: int, pause: float,
    rules_dir: Dirs, log_sink: str | None, skip: tuple[str, ...] = (),
) -> None:
    """Anonymise every candidate whose anonymisation date has come, in a real database.

    A dry run by default: it reports who is due, under which retention mode and rule, and what would
    be erased; and what else the verdicts make due: what is erased at once while a record is kept as
    evidence (the LinkedIn snapshot, talent-pool tags), special-category items whose own date has
    come, and relevance reviews of active candidates (recorded, never acted on). With --apply it
    anonymises them and applies the rest, a batch per transaction, and records each action in the
    audit log in the same transaction; running it twice changes nothing the second time, and a run
    that is killed leaves every candidate either fully anonymised or untouched.

    With --engine spark the tables are Parquet or CSV files under --input, judged on Apache Spark
    (--master, default local[*]); --apply writes the anonymised tables and the audit log to --output,
    a new directory that appears only when complete. The report is the same.

    With --log every retention answer the sweep gets (one per candidate judged) is recorded in that
    decision log; a log that cannot be written stops the sweep (the batch in progress is rolled back).

    Exit status: 0 when done; 1 when some rows could not be judged (reported, skipped, never
    anonymised); 2 when the sweep cannot run (database unreachable, mapping wrong, decision log
    failing).
    """
    day = _as_of(as_of)
    if engine == "spark":
        _spark_sweep(input_dir, output_dir, master=master, db=db, as_of=day, apply=apply, mapping=mapping,
                     as_json=as_json, limit=limit, rules_dirs=tuple(rules_dir), log_sink=log_sink,
                     actions=[k for k in ("erase_now", "special_category", "review_due") if k not in skip])
        return
    if db is None:
        _fail("--db: expected the database URL (or --engine spark with --input DIR)")
    if input_dir is not None or output_dir is not None:
        _fail("--input and --output go with --engine spark; the SQL sweep works in the database given by --db")
    loaded = _load(rules_dir, log_sink)
    # a history sweeps with the version in force on the sweep's date
    policy = loaded.at(day or loaded.today()) if isinstance(loaded, policykit.PolicyHistory) else loaded

    def problem(p: policykit.SweepProblem) -> None:
        if as_json:
            click.echo(json.dumps({"type": "problem", **p.to_dict()}, ensure_ascii=False))
        else:
            click.echo(f"policykit: skipped {p}", err=True)

    def candidate(a: policykit.CandidateAction) -> None:
        click.echo(json.dumps({"type": "candidate", **a.to_dict()}, ensure_ascii=False))

    def action(a: policykit.CandidateAction) -> None:
        click.echo(json.dumps({"type": "action", **a.to_dict()}, ensure_ascii=False))

    try:
        with _sweep_progress() as tick:
            report = policykit.sweep(
                db, as_of=day, apply=apply, mapping=mapping, policy=policy, batch_size=batch_size,
                preselect=not no_preselect, keep=0 if as_json else limit, pause=pause,
                on_candidate=candidate if as_json else None, on_problem=problem, progress=tick,
                on_action=action if as_json else None,
                actions=[k for k in ("erase_now", "special_category", "review_due") if k not in skip],
            )
    except PolicyKitError as exc:
        _fail(str(exc))
    _close(loaded)  # the report is shown only once the decision log holds every answer
    if as_json:
        click.echo(json.dumps({"type": "summary", **report.to_dict()}, ensure_ascii=False))
    else:
        click.echo(report.summary(limit=limit))
    sys.exit(report.exit_status)


def _spark_sweep(
    input_dir: str | None, output_dir: str | None, *, master: str, db: str | None, as_of: str | None,
    apply: bool, mapping: Path | None, as_json: bool, limit: int, rules_dirs: tuple[Path, ...],
    actions: list[str], log_sink: str | None = None,
) -> None:
    if db is not None:
        _fail("--db goes with the SQL sweep; --engine spark reads the tables from --input DIR")
    if input_dir is None:
        _fail("--input: expected the directory of the mapped tables (Parquet or CSV) for --engine spark")
    try:
        from policykit.spark._sweep import run_sweep  # noqa: PLC0415 - pyspark only when asked for
    except PolicyKitError as exc:
        _fail(str(exc))
    logged: policykit.Policy | None = None
    on_judged = None
    if log_sink is not None:
        # the pass's answers go to the log through a logged policy of the same rules, asked again on
        # the driver with the facts each verdict was given for (the log's chain is written in one place)
        loaded = _load(rules_dirs or None, log_sink)
        assert isinstance(loaded, policykit.Policy)  # --log takes one rules directory (_load)
        logged = loaded

        def on_judged(candidate_id: Any, facts: dict[str, Any]) -> None:
            logged.retention(facts, context=sweep_context(candidate_id))
    try:
        report = run_sweep(input_dir, output=output_dir, master=master, as_of=as_of, apply=apply, mapping=mapping,
                           rules=rules_dirs or None, keep=limit, actions=actions, on_judged=on_judged)
    except PolicyKitError as exc:
        if logged is not None:
            with contextlib.suppress(PolicyKitError):
                logged.close()
        _fail(str(exc))
    if logged is not None:
        _close(logged)  # the report is shown only once the decision log holds every answer
    if as_json:
        for p in report.problems:
            click.echo(json.dumps({"type": "problem", **p.to_dict()}, ensure_ascii=False))
        for a in report.sample:
            click.echo(json.dumps({"type": "candidate", **a.to_dict()}, ensure_ascii=False))
        for a in report.action_sample:
            click.echo(json.dumps({"type": "action", **a.to_dict()}, ensure_ascii=False))
        click.echo(json.dumps({"type": "summary", **report.to_dict()}, ensure_ascii=False))
    else:
        for p in report.problems[:limit]:
            click.echo(f"policykit: skipped {p}", err=True)
        click.echo(report.summary(limit=limit))
    sys.exit(report.exit_status)


@main.command()
@click.argument("request", metavar="REQUEST.json")
@click.option("--json", "as_json", is_flag=True, help="Print the response as JSON.")
@click.option("--letter", "letter", type=click.Choice(["sv", "en"]), default=None,
              help="Print the reply to the candidate, in Swedish (sv) or English (en), instead of the explanation.")
@rules_option
@log_option
def request(request: str, as_json: bool, letter: str | None, rules_dir: Dirs, log_sink: str | None) -> None:
    """Answer a data-subject request (access, erasure, restriction, portability, objection,
    rectification). REQUEST.json holds one request, JSON or YAML ('-' reads stdin)."""
    if as_json and letter:
        _fail("--json and --letter exclude each other: choose the data or the letter")
    render = (lambda response: response.letter(letter)) if letter else None
    _answer(request, rules_dir, lambda policy, data: policy.handle_request(data), as_json, render, log_sink=log_sink)


def _import_model(spec: str) -> type[BaseModel]:
    """The pydantic model class named by ``module:Class`` (the current directory is importable) or by
    ``path/to/file.py:Class`` (a file, from any directory)."""
    module_name, sep, class_name = spec.rpartition(":")
    if not sep or not module_name or not class_name:
        _fail(f"--model: expected module:Class or path/to/file.py:Class, e.g. "
              f"examples.candidate_model:Candidate, got {short_repr(spec)}")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            _fail(f"--model: expected a Python file at {module_name!r}, found none")
        loaded = importlib.util.spec_from_file_location(f"_policykit_model_{path.stem}", path)
        if loaded is None or loaded.loader is None:
            _fail(f"--model: cannot import {module_name!r}")
        module = importlib.util.module_from_spec(loaded)
        sys.modules[loaded.name] = module
        try:
            loaded.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # the user's module: any error in it is reported, not raised
            _fail(f"--model: importing {short_repr(module_name)} failed ({type(exc).__name__})")
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            _fail(f"--model: cannot import module {short_repr(module_name)} (from {os.getcwd()}): "
                  f"{short_repr(str(exc), 200)}; run from the directory it is importable from, or name its file: "
                  "--model path/to/file.py:Class")
        except (Exception, SystemExit) as exc:  # importing runs the module's code (docs/security.md)
            _fail(f"--model: importing module {short_repr(module_name)} failed ({type(exc).__name__})")
    model = getattr(module, class_name, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        _fail(f"--model: expected a pydantic model class {class_name!r} in {module_name}, found "
              f"{'nothing' if model is None else type(model).__name__}")
    try:
        policykit.check_model(model)
    except PolicyKitError as exc:
        _fail(str(exc))
    return model


def _read_record(model: type[BaseModel], source: str) -> BaseModel:
    data = _read_mapping(source)
    try:
        return model.model_validate(data)
    except RecursionError:
        _fail(f"{source}: the record is nested too deeply")
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        _fail(f"{source}: not a valid {model.__name__} record: {where}: {err['msg']} "
              f"({exc.error_count()} problem{'s' if exc.error_count() != 1 else ''})")


@main.command()
@click.argument("record", metavar="RECORD.json")
@click.option("--request", "request_file", required=True, metavar="REQ.json",
              help="The disclosure request: recipient, purpose, operation and context.")
@click.option("--model", "model_spec", required=True, metavar="module:Class",
              help="The annotated pydantic model of the record, e.g. examples.candidate_model:Candidate. "
                   "The module is imported, so its code runs: name only modules you trust.")
@click.option("--json", "as_json", is_flag=True, help="Print the data, withheld fields and decision as JSON.")
@rules_option
@log_option
def redact(
    record: str, request_file: str, *, model_spec: str, as_json: bool, rules_dir: Dirs, log_sink: str | None
) -> None:
    """Cut RECORD.json down to the fields that may go under the disclosure request in REQ.json."""
    model = _import_model(model_spec)
    rec = _read_record(model, record)
    req = _read_mapping(request_file)
    req = req.get("inputs", req) if isinstance(req.get("inputs"), dict) else req
    policy = _load(rules_dir, log_sink)
    try:
        result = policy.redact(rec, req)
        _close(policy)
    except PolicyKitError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(json.dumps(result.data, indent=2, ensure_ascii=False))
    if result.obligations:
        click.echo(f"\nObligations that come with the released data: {', '.join(result.obligations)}", err=True)
    if result.withheld:
        click.echo("\nWithheld:", err=True)
        for w in result.withheld:
            click.echo(f"  {w.path} ({w.category}): {w.reason} [{w.rule_id or 'default deny'}; "
                       f"{', '.join(w.clauses)}]", err=True)
    else:
        click.echo("\nNothing withheld.", err=True)


@main.command()
@click.argument("record", metavar="RECORD.json")
@click.option("--kind", type=click.Choice(["access", "portability"]), default="access", show_default=True,
              help="access: everything plus the Art. 15(1) information; portability: what the candidate provided.")
@click.option("--model", "model_spec", required=True, metavar="module:Class",
              help="The annotated pydantic model of the record, e.g. examples.candidate_model:Candidate. "
                   "The module is imported, so its code runs: name only modules you trust.")
@rules_option
def export(record: str, kind: str, model_spec: str, rules_dir: Dirs) -> None:
    """Export RECORD.json as a machine-readable JSON document for an access or portability request."""
    model = _import_model(model_spec)
    rec = _read_record(model, record)
    policy = _load(rules_dir)
    try:
        document = policy.export(rec, kind)
    except PolicyKitError as exc:
        _fail(str(exc))
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@main.command()
@rules_option
def check(rules_dir: Dirs) -> None:
    """Load and check a rules directory; print what it holds. With several directories, check that
    they form a history (ordered effective dates, each extending the one before) and each version."""
    loaded = _load(rules_dir)
    if isinstance(loaded, policykit.PolicyHistory):
        click.echo(f"a history of {len(loaded.versions)} versions:")
        for v in loaded.versions:
            click.echo(f"  {v} in force from {v.effective_from} ({v.directory})")
        for v in loaded.versions:
            _check_one(v.policy)
        return
    _check_one(loaded)


def _check_one(policy: policykit.Policy) -> None:
    rules = policy.rules
    by_mode: dict[str, int] = {}
    for c in rules.clauses:
        by_mode[c.enforcement] = by_mode.get(c.enforcement, 0) + 1
    click.echo(f"{rules.meta.name} {rules.meta.version} ({rules.directory})")
    click.echo(f"  {len(rules.disclosure.rules)} rules, {len(rules.disclosure.predicates)} predicates")
    click.echo(f"  {len(rules.retention.rules)} retention rules, {len(rules.retention.predicates)} predicates")
    click.echo(f"  {len(rules.requests.rules)} data-subject request rules, {len(rules.requests.predicates)} predicates")
    click.echo(
        f"  {len(rules.clauses)} clauses: "
        + ", ".join(f"{n} {mode}" for mode, n in sorted(by_mode.items()))
    )
    try:
        invariants = load_invariants(rules)
    except PolicyKitError as exc:
        _fail(str(exc))
    click.echo(f"  {len(invariants)} invariants")
    click.echo("  ok")


@main.command()
@click.option("-o", "--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the schemas (default: the schemas/ directory of the bundled rules).")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit with status 1 if the schemas there are missing or out of date.")
def schema(out: Path | None, check_only: bool) -> None:
    """Write the JSON Schema of every kind of rule file, generated from the rule loader's models.

    Editors with the YAML language server validate and complete a rule file against the schema its
    first line names ('# yaml-language-server: $schema=schemas/KIND.schema.json')."""
    from policykit._schemas import SCHEMA_DIR, stale_schemas, write_schemas  # noqa: PLC0415

    directory = out if out is not None else policykit.bundled_rules_dir() / SCHEMA_DIR
    if check_only:
        stale = stale_schemas(directory)
        if stale:
            click.echo(f"{len(stale)} schema(s) in {directory} differ from what the rule models generate: "
                       f"{', '.join(stale)}; run 'policykit schema --out {directory}'", err=True)
            sys.exit(1)
        click.echo(f"the schemas in {directory} are up to date")
        return
    written = write_schemas(directory)
    click.echo(f"wrote {len(written)} schemas to {directory}")


def _default_cases() -> list[Path]:
    """The acceptance cases of a checkout, when run from one."""
    return [p for p in (Path("tests/acceptance/cases"), Path("examples/requests")) if p.is_dir()]


@main.command()
@single_rules_option
@click.option("--invariants", "invariants_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An invariants file to check instead of the rules directory's invariants.yaml.")
@click.option("--only", "only", multiple=True, metavar="ID",
              help="Check only this invariant (repeatable); only the questions it covers are enumerated.")
@click.option("--coverage", is_flag=True, help="List, per rule, the questions and acceptance cases that fire it.")
@click.option("--cases", "cases", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directories of acceptance cases (*.yaml) or requests (*.json) for --coverage "
              "[default: tests/acceptance/cases and examples/requests, where they exist].")
@click.option("--differential", is_flag=True,
              help="Also compare every answer with the independent reference evaluator.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--max-counterexamples", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Counterexamples to show per failing invariant.")
@click.option("--jobs", type=click.IntRange(0, 64), default=0,
              help="Processes to spread the work over; 0 uses every core (at most 4).")
def verify(
    *, rules_dir: Path | None, invariants_file: Path | None, only: tuple[str, ...], coverage: bool,
    cases: tuple[Path, ...], differential: bool, as_json: bool, max_counterexamples: int, jobs: int,
) -> None:
    """Check every invariant against the engine's answer to every possible disclosure question.

    The normalised question space is split into cubes on which every rule and invariant is constant,
    and one question per cube is asked of the engine. Exit status 1 when an invariant fails or the
    engine disagrees with the rules.
    """
    policy = _load_one(rules_dir)
    try:
        invariants = load_invariants(policy.rules, invariants_file)
        if only:
            known = {i.id for i in invariants}
            unknown = [i for i in only if i not in known]
            if unknown:
                suggestions = "".join(did_you_mean(u, known) for u in unknown)
                _fail(f"unknown invariant {', '.join(unknown)}{suggestions}")
            invariants = tuple(i for i in invariants if i.id in set(only))
        workers = jobs or min(4, os.cpu_count() or 1)
        with _fraction_progress("verifying: questions checked") as tick:
            report = run_verify(
                policy, invariants, restrict=bool(only), max_counterexamples=max_counterexamples,
                differential=differential, jobs=workers, progress=tick,
            )
    except PolicyKitError as exc:
        _fail(str(exc))
    case_map = None
    if coverage:
        dirs = list(cases) or _default_cases()
        case_map = case_coverage(policy, dirs) if dirs else None
    if as_json:
        data = report.to_dict()
        if case_map is not None:
            data["cases_firing"] = case_map
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(render_report(report, policy, coverage=case_map, show_coverage=coverage))
    if not report.ok:
        sys.exit(1)


@main.command()
@click.argument("old", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("new", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@click.option("--examples", type=click.IntRange(0, 20), default=3, show_default=True,
              help="Example requests to show per group of changes.")
def diff(old: Path, new: Path, as_json: bool, examples: int) -> None:
    """List every disclosure question whose answer changes between two rules directories.

    Changes are grouped by the rule responsible, with counts and example requests. Differences in
    how raw inputs are read (the countries inside the EU/EEA, referee context, the minimum aggregate
    cell) are compared too.
    """
    old_policy = _load_one(old)
    new_policy = _load_one(new)
    try:
        with _fraction_progress("comparing: questions compared") as tick:
            report = run_diff(old_policy, new_policy, examples=examples, progress=tick)
    except PolicyKitError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_diff(report, relative_to={str(old_policy.rules.directory): str(old),
                                                    str(new_policy.rules.directory): str(new)}))


out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the generated pages live (default: docs/policy).",
)


@main.group()
def docs() -> None:
    """Auditor documentation generated from the rules."""


HISTORY_OUT = Path("docs") / "policy-versions"


def _pages(rules_dir: Dirs) -> dict[str, str]:
    from policykit._docs.pages import build_pages  # noqa: PLC0415 - only the docs commands need it
    from policykit._docs.versions import build_history_pages  # noqa: PLC0415

    with _load(rules_dir) as loaded:
        if isinstance(loaded, policykit.PolicyHistory):
            return build_history_pages(loaded)
        return build_pages(loaded)


@docs.command("build")
@out_option
@rules_option
def docs_build(out: Path | None, rules_dir: Dirs) -> None:
    """Write the auditor pages generated from the rules (default: docs/policy). With several --rules
    (a history), write every version's pages under VERSION/, an index of the versions and
    changes.md, what changed and from when (default: docs/policy-versions)."""
    from policykit._docs.pages import DEFAULT_OUT, write_pages  # noqa: PLC0415 - only this command needs it

    target = (DEFAULT_OUT if len(rules_dir) <= 1 else HISTORY_OUT) if out is None else out
    pages = _pages(rules_dir)
    changed = write_pages(pages, target)
    click.echo(f"{len(pages)} pages in {target}: " + (", ".join(changed) + " updated" if changed else "all up to date"))


@docs.command("check")
@out_option
@rules_option
def docs_check(out: Path | None, rules_dir: Dirs) -> None:
    """Exit 1 when the committed pages differ from what the rules generate."""
    from policykit._docs.pages import DEFAULT_OUT, compare_pages  # noqa: PLC0415 - only this command needs it

    target = (DEFAULT_OUT if len(rules_dir) <= 1 else HISTORY_OUT) if out is None else out
    pages = _pages(rules_dir)
    problems = compare_pages(pages, target)
    if problems:
        click.echo(f"policykit: the pages in {target} are stale:", err=True)
        for line in problems:
            click.echo(f"  {line}", err=True)
        rebuild = "policykit docs build" + ("" if out is None else f" --out {target}")
        click.echo(f"Regenerate them with `{rebuild}` and commit the result.", err=True)
        sys.exit(1)
    click.echo(f"{len(pages)} pages in {target} match the rules")


if __name__ == "__main__":  # pragma: no cover
    main()


# ------------------------------------------------------------------------------------------------
# the decision log


@main.group("log")
def log_group() -> None:
    """Check, replay and count a decision log (a .jsonl file or a database URL)."""


@log_group.command("verify")
@click.argument("log", metavar="LOG")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def log_verify(log: str, as_json: bool) -> None:
    """Check LOG's hash chain, sequence numbers and fingerprints. Exit 0 when intact; 1 when tampered,
    naming the first bad record and what is wrong: edited, deleted, reordered or inserted."""
    try:
        report = verify_log(log)
    except PolicyKitError as exc:
        _fail(str(exc))
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render())
    if not report.ok:
        sys.exit(1)


@log_group.command("replay")
@click.argument("log", metavar="LOG")
@click.option("--rules", "rules_dirs", multiple=True, required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The rules to ask (repeat for several versions: each question goes to the one in force on its "
                   "date).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--examples", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Examples shown per rule.")
def log_replay(log: str, rules_dirs: tuple[Path, ...], as_json: bool, examples: int) -> None:
    """Ask other rules every question LOG holds: which logged answers would change, counted by rule and
    clause, with examples."""
    try:
        report = replay_log(log, list(rules_dirs), examples=examples)
    except PolicyKitError as exc:
        _fail(str(exc))
    click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if as_json else report.render())


@log_group.command("stats")
@click.argument("log", metavar="LOG")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def log_stats(log: str, as_json: bool) -> None:
    """Count LOG's records by family, outcome, recipient kind, policy version and day."""
    try:
        data = log_counts(log)
    except PolicyKitError as exc:
        _fail(str(exc))
    click.echo(json.dumps(data, indent=2) if as_json else render_stats(data))
