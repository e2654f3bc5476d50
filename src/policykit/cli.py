"""The ``policykit`` command line.

Exit status: 0 when the command did its job (a denied disclosure is still an answer: 0, unless
``--fail-on-deny`` asks for 1), 1 when a check fails, 2 for bad input (a one-line error on stderr).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import yaml
from pydantic import BaseModel, ValidationError

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
@click.argument("request", metavar="REQUEST.json")
@click.option("--json", "as_json", is_flag=True, help="Print the response as JSON.")
@rules_option
def request(request: str, as_json: bool, rules_dir: Path | None) -> None:
    """Answer a data-subject request (access, erasure, restriction, portability, objection,
    rectification). REQUEST.json holds one request ('-' reads stdin)."""
    data = _read_mapping(request)
    policy = _load(rules_dir)
    data = data.get("inputs", data) if isinstance(data.get("inputs"), dict) else data
    try:
        response = policy.handle_request(data)
    except PolicyKitError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(response.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(response.explain())


def _import_model(spec: str) -> type[BaseModel]:
    """The pydantic model class named by ``module:Class`` (the current directory is importable)."""
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        _fail(f"--model: expected module:Class, e.g. examples.candidate_model:Candidate, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        _fail(f"--model: cannot import module {module_name!r}: {exc}")
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
              help="The annotated pydantic model of the record, e.g. examples.candidate_model:Candidate.")
@click.option("--json", "as_json", is_flag=True, help="Print the data, withheld fields and decision as JSON.")
@rules_option
def redact(record: str, request_file: str, model_spec: str, as_json: bool, rules_dir: Path | None) -> None:
    """Cut RECORD.json down to the fields that may go under the disclosure request in REQ.json."""
    model = _import_model(model_spec)
    rec = _read_record(model, record)
    req = _read_mapping(request_file)
    req = req.get("inputs", req) if isinstance(req.get("inputs"), dict) else req
    policy = _load(rules_dir)
    try:
        result = policy.redact(rec, req)
    except PolicyKitError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(json.dumps(result.data, indent=2, ensure_ascii=False))
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
              help="The annotated pydantic model of the record, e.g. examples.candidate_model:Candidate.")
@rules_option
def export(record: str, kind: str, model_spec: str, rules_dir: Path | None) -> None:
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
def check(rules_dir: Path | None) -> None:
    """Load and check a rules directory; print what it holds."""
    policy = _load(rules_dir)
    rules = policy.rules
    by_mode: dict[str, int] = {}
    for c in rules.clauses:
        by_mode[c.enforcement] = by_mode.get(c.enforcement, 0) + 1
    click.echo(f"{rules.meta.name} {rules.meta.version} ({rules.directory})")
    click.echo(f"  {len(rules.rules)} disclosure rules, {len(rules.disclosure.predicates)} predicates")
    click.echo(f"  {len(rules.requests.rules)} data-subject request rules, {len(rules.requests.predicates)} predicates")
    click.echo(
        f"  {len(rules.clauses)} clauses: "
        + ", ".join(f"{n} {mode}" for mode, n in sorted(by_mode.items()))
    )
    click.echo("  ok")


if __name__ == "__main__":  # pragma: no cover
    main()
