"""JSON Schemas of the rule files: generated from the loader's models, committed up to date, named by
each rule file's first line, and in agreement with the loader on real and broken files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

import policykit
from policykit._schemas import SCHEMAS, stale_schemas
from policykit.cli import main
from policykit.errors import DefinitionError

ROOT = Path(__file__).parents[2]
RULES = ROOT / "rules"
SCHEMA_DIR = RULES / "schemas"
RULE_FILES = sorted(RULES.glob("*.yaml"))
FIRST_LINE = "# yaml-language-server: $schema="


def _schema_named_by(path: Path) -> tuple[Path, dict[str, Any]]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(FIRST_LINE), f"{path.name} does not name its schema in its first line"
    schema_path = (path.parent / first.removeprefix(FIRST_LINE)).resolve()
    return schema_path, json.loads(schema_path.read_text(encoding="utf-8"))


def _errors(schema: dict[str, Any], data: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(data)]


def test_the_committed_schemas_are_what_the_models_generate() -> None:
    """CI runs the same check: 'policykit schema --check --out rules/schemas'."""
    assert stale_schemas(SCHEMA_DIR) == []
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(f"{k}.schema.json" for k in SCHEMAS)


def test_every_rule_file_has_a_schema_and_names_it() -> None:
    files = {file for file, _, _ in SCHEMAS.values() if file is not None}
    assert files == {p.name for p in RULE_FILES}
    for path in RULE_FILES:
        schema_path, _ = _schema_named_by(path)
        assert schema_path == (SCHEMA_DIR / f"{path.stem}.schema.json").resolve()


@pytest.mark.parametrize("path", [*RULE_FILES, ROOT / "examples" / "sweep" / "mapping.yaml",
                                  ROOT / "src" / "policykit" / "_sweep" / "default_mapping.yaml"],
                         ids=lambda p: p.name)
def test_every_shipped_file_is_valid_under_its_schema(path: Path) -> None:
    _, schema = _schema_named_by(path)
    assert _errors(schema, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    ("file", "edit", "where"),
    [
        # a misspelt field: the editor underlines it, and the loader refuses it
        ("vocabulary.yaml", lambda d: d["data_categories"][0].update(identifyability="direct"), "data_categories.0"),
        # a missing required field
        ("disclosure.yaml", lambda d: d["rules"][0].pop("clauses"), "rules.0"),
        # a wrong type
        ("policy.yaml", lambda d: d["parameters"].update(aggregate_min_cell="ten"), "parameters.aggregate_min_cell"),
        # a letter text in one language only
        ("letters.yaml", lambda d: d["greeting"].pop("sv"), "greeting"),
    ],
)
def test_the_schema_and_the_loader_both_reject_a_broken_file(tmp_path: Path, file: str, edit: Any, where: str) -> None:
    data = yaml.safe_load((RULES / file).read_text(encoding="utf-8"))
    edit(data)
    _, schema = _schema_named_by(RULES / file)
    errors = _errors(schema, data)
    assert errors and errors[0].startswith(where), errors
    rules = tmp_path / "rules"
    rules.mkdir()
    for other in RULES.iterdir():
        if other.is_file():
            (rules / other.name).write_bytes(other.read_bytes())
    (rules / file).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DefinitionError, match=file.replace(".", r"\.")):
        policykit.load_policy(rules)


def test_policykit_schema_writes_and_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    stale = runner.invoke(main, ["schema", "--check", "--out", str(tmp_path)])
    assert stale.exit_code == 1
    assert "12 schema(s)" in stale.output
    written = runner.invoke(main, ["schema", "--out", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in SCHEMA_DIR.iterdir())
    assert runner.invoke(main, ["schema", "--check", "--out", str(tmp_path)]).exit_code == 0
