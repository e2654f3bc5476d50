"""Rule files are read with line numbers for every node and YAML 1.2 booleans."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from policykit._ruleset.reading import _Loader, load_yaml
from policykit.errors import RuleFileError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_node_knows_its_line(tmp_path: Path) -> None:
    """Nested mappings and list items report the line they start on."""
    doc = load_yaml(write(tmp_path, "a:\n  b: 1\n  c:\n    - x\n    - y\n"))
    assert doc.line(("a", "b")) == 2
    assert doc.line(("a", "c", 1)) == 5
    assert doc.line(("a", "c", 1, "missing")) == 5  # falls back to the nearest ancestor


def test_only_true_and_false_are_booleans(tmp_path: Path) -> None:
    """NO, yes, on and off stay strings (Norway is not false)."""
    doc = load_yaml(write(tmp_path, "codes: [NO, yes, on, off, true, False]\n"))
    assert doc.data["codes"] == ["NO", "yes", "on", "off", True, False]


def test_duplicate_keys_are_an_error_with_the_line(tmp_path: Path) -> None:
    """A repeated key would silently drop the first value in plain YAML."""
    with pytest.raises(RuleFileError, match=r"f\.yaml:3: duplicate key 'a'"):
        load_yaml(write(tmp_path, "a: 1\nb: 2\na: 3\n"))


def test_syntax_errors_name_the_line(tmp_path: Path) -> None:
    """A YAML syntax error is a RuleFileError with the line of the problem."""
    with pytest.raises(RuleFileError, match=r"f\.yaml:2: expected valid YAML"):
        load_yaml(write(tmp_path, "a: [1, 2\nb: 3\n"))


def test_non_utf8_files_are_refused(tmp_path: Path) -> None:
    """Rule files are UTF-8 text."""
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(RuleFileError, match="UTF-8"):
        load_yaml(path)


_SCALARS = [
    "plain", "NO", "yes", "on", "off", "true", "True", "TRUE", "false", "FALSE", "tRUE", "null", "Null", "NULL",
    "~", "", "0", "-1", "+12", "0x1F", "0o17", "017", "1_000", "3.14", "-.5", "1e3", "6.8e-3", ".inf", "-.Inf",
    ".NaN", "2023-02-28", "2023-02-28T10:00:00Z", "2023-02-28 10:00:00.5 +01:00", "P-TP-4b", "SE", "a b",
    "'quoted 1'", '"2023-02-28"', "'true'", "12:30:00", "190:20:30",
]


def _reference_loader() -> type:
    """PyYAML's own pure-Python SafeLoader with the rule files' resolvers (YAML 1.2 booleans): what
    policykit's faster scalar resolution must agree with."""
    class Reference(yaml.SafeLoader):
        pass

    Reference.yaml_implicit_resolvers = {k: list(v) for k, v in _Loader.yaml_implicit_resolvers.items()}
    return Reference


def test_scalars_resolve_as_pyyaml_resolves_them(tmp_path: Path) -> None:
    """Every kind of plain and quoted scalar (numbers, dates, nulls, YAML 1.1 words) reads
    as PyYAML's own resolver reads it, twice (the second time from the resolved-text cache)."""
    text = "values:\n" + "".join(f"  - {s}\n" for s in _SCALARS) + "mapping:\n" + "".join(
        f"  k{i}: {s}\n" for i, s in enumerate(_SCALARS) if s
    )
    expected = yaml.load(text, Loader=_reference_loader())
    for _ in range(2):
        assert load_yaml(write(tmp_path, text)).data == expected
