"""The ``policykit`` command line.

Exit status: 0 when the command did its job (a denied disclosure is still an answer: 0, unless
``--fail-on-deny`` asks for 1), 1 when a check fails, 2 for bad input (a one-line error on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import yaml

import policykit
from policykit.errors import PolicyKitError

F = TypeVar("F", bound=Callable[..., Any])

rules_option = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A rules directory to load instead of the bundled policy.",
)


def _fail(message: str) -> NoReturn:
    click.echo(f"policykit: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _read_mapping(source: str) -> Any:
    """Read one JSON (or YAML) document from a file, or from stdin for ``-``."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read {source}: {exc.strerror or exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            _fail(f"{source} is neither JSON nor YAML{where}: {getattr(exc, 'problem', None) or 'unreadable'}")
    if not isinstance(data, dict):
        _fail(f"{source}: expected one JSON object, got {type(data).__name__}")
    return data


def _load(rules_dir: Path | None) -> policykit.Policy:
    try:
        return policykit.load_policy(rules_dir)
    except PolicyKitError as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(policykit.__version__, prog_name="policykit")
def main() -> None:
    """Answer questions about the We Select candidate privacy policy (2022-06-22)."""


@main.command()
@click.argument("request", metavar="REQUEST.json")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.option("--fail-on-deny", is_flag=True, help="Exit with status 1 when the disclosure is denied.")
@rules_option
def decide(request: str, as_json: bool, fail_on_deny: bool, rules_dir: Path | None) -> None:
    """May these data go to this recipient? REQUEST.json holds one disclosure request ('-' reads stdin)."""
    data = _read_mapping(request)
    policy = _load(rules_dir)
    data = data.get("inputs", data) if isinstance(data.get("inputs"), dict) else data
    try:
        decision = policy.decide(data)
    except PolicyKitError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(decision.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(decision.explain())
    if fail_on_deny and not decision.allowed:
        sys.exit(1)


@main.command()
@rules_option
def check(rules_dir: Path | None) -> None:
    """Load and check a rules directory; print what it holds."""
    policy = _load(rules_dir)
    rules = policy.rules
    by_mode: dict[str, int] = {}
    for c in rules.clauses:
        by_mode[c.enforcement] = by_mode.get(c.enforcement, 0) + 1
    click.echo(f"{rules.meta.name} {rules.meta.version} ({rules.directory})")
    click.echo(f"  {len(rules.rules)} rules, {len(rules.disclosure.predicates)} predicates")
    click.echo(
        f"  {len(rules.clauses)} clauses: "
        + ", ".join(f"{n} {mode}" for mode, n in sorted(by_mode.items()))
    )
    click.echo("  ok")


out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the generated pages live (default: docs/policy).",
)


@main.group()
def docs() -> None:
    """Auditor documentation generated from the rules."""


@docs.command("build")
@out_option
@rules_option
def docs_build(out: Path | None, rules_dir: Path | None) -> None:
    """Write the auditor pages generated from the rules (default: docs/policy)."""
    from policykit._docs import DEFAULT_OUT, build_pages, write_pages  # noqa: PLC0415 - only this command needs it

    target = DEFAULT_OUT if out is None else out
    with _load(rules_dir) as policy:
        pages = build_pages(policy)
    changed = write_pages(pages, target)
    click.echo(f"{len(pages)} pages in {target}: " + (", ".join(changed) + " updated" if changed else "all up to date"))


@docs.command("check")
@out_option
@rules_option
def docs_check(out: Path | None, rules_dir: Path | None) -> None:
    """Exit 1 when the committed pages differ from what the rules generate."""
    from policykit._docs import DEFAULT_OUT, build_pages, compare_pages  # noqa: PLC0415 - only this command needs it

    target = DEFAULT_OUT if out is None else out
    with _load(rules_dir) as policy:
        pages = build_pages(policy)
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
