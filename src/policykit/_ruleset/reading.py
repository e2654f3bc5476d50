"""Reading rule files: YAML documents with the line number of every node, for error messages.

The documents of a whole rules directory (with any overlay applied) are read in one place,
``_ruleset.overlay.resolve_rules``; every loader works on what it returns.

YAML 1.1 reads ``NO`` (Norway), ``on`` and ``yes`` as booleans; rule files follow YAML 1.2 instead,
where only ``true`` and ``false`` are booleans.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from policykit.errors import RuleFileError

__all__ = ["RULE_FILES", "LocatedYaml", "bundled_rules_dir", "load_yaml"]


# libyaml's parser when PyYAML was built with it (the wheels are), else the pure-Python one
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """A safe loader whose booleans are YAML 1.2's: ``true`` and ``false`` only."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

Path_ = tuple[str | int, ...]


class LocatedYaml:
    """Plain data loaded from a YAML file, with the (1-based) line of every node by its path."""

    def __init__(self, file: Path, data: Any, lines: dict[Path_, int]) -> None:
        self.file = file
        self.data = data
        self._lines = lines

    def line(self, path: Path_) -> int | None:
        """The line of the node at ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self._lines:
                return self._lines[path]
            if not path:
                return None
            path = path[:-1]


def _walk(node: yaml.Node, loader: _Loader, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, bool)) or key is None:
                raise RuleFileError(
                    f"expected a string key, got {key!r}", line=key_node.start_mark.line + 1
                )
            if key in result:
                raise RuleFileError(
                    f"duplicate key {key!r} in one mapping", line=key_node.start_mark.line + 1
                )
            result[key] = _walk(value_node, loader, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, loader, (*path, i), lines) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(file: Path) -> LocatedYaml:
    """Load one YAML file; a missing file, bad syntax or duplicate key raises :class:`RuleFileError`."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleFileError("expected a rule file here, found none", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"could not read the file as UTF-8 text: {exc}", file=file) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = {} if node is None else _walk(node, loader, (), lines)
    except RuleFileError as exc:
        raise RuleFileError(exc.detail, file=file, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleFileError(f"expected valid YAML: {problem}", file=file, line=line) from None
    finally:
        loader.dispose()
    return LocatedYaml(file, data, lines)


# ------------------------------------------------------------------------------------------------
# a rules directory

RULE_FILES = (
    "policy.yaml",
    "vocabulary.yaml",
    "countries.yaml",
    "clauses.yaml",
    "disclosure.yaml",
    "retention.yaml",
    "requests.yaml",
    "interpretations.yaml",
    "processing.yaml",
)


def bundled_rules_dir() -> Path:
    """The rules directory shipped with policykit (inside the wheel, or beside ``src/`` in a checkout)."""
    packaged = Path(str(resources.files("policykit"))) / "rules"
    if (packaged / "policy.yaml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "rules"
    if (checkout / "policy.yaml").is_file():
        return checkout
    raise FileNotFoundError(  # pragma: no cover - a broken installation
        f"policykit's bundled rules are missing: looked in {packaged} and {checkout}"
    )
