"""Reading rule files: YAML documents with the line number of every node, for error messages.

The documents of a whole rules directory (with any overlay applied) are read in one place,
``_ruleset.overlay.resolve_rules``; every loader works on what it returns.

YAML 1.1 reads ``NO`` (Norway), ``on`` and ``yes`` as booleans; rule files follow YAML 1.2 instead,
where only ``true`` and ``false`` are booleans.

Rule files may be untrusted (a rules directory from elsewhere), so reading is bounded: a regular
file only, not a symbolic link unless the caller allows it, at most ``Limits.max_rule_file_bytes``.
The document is composed into nodes (libyaml shares an aliased node, it does not copy it) and then
walked here with a budget: every use of an alias counts as the values it stands for, so an "alias
bomb" stops at ``max_items`` values and ``max_aliases`` alias uses, and an alias inside its own
anchor is refused, before anything is expanded.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from policykit._input import DEFAULT_LIMITS, InputFileError, Limits, read_text_file
from policykit.errors import RuleFileError, short_repr

__all__ = ["RULE_FILES", "LocatedYaml", "bundled_rules_dir", "load_yaml", "load_yaml_text", "reading_options"]

# how rule files are read in this context: (limits, follow symbolic links); set by load_rules
_OPTIONS: ContextVar[tuple[Limits, bool]] = ContextVar("policykit_reading", default=(DEFAULT_LIMITS, False))


@contextlib.contextmanager
def reading_options(limits: Limits | None = None, *, follow_symlinks: bool = False) -> Iterator[None]:
    """Read every YAML file in this block with these limits and this symbolic-link choice."""
    token = _OPTIONS.set((limits or DEFAULT_LIMITS, follow_symlinks))
    try:
        yield
    finally:
        _OPTIONS.reset(token)


# libyaml's parser when PyYAML was built with it (the wheels are), else the pure-Python one
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """A safe loader whose booleans are YAML 1.2's: ``true`` and ``false`` only."""

    # the implicit tag of a plain scalar depends on its text alone (this class has no path
    # resolvers): kept per class by text, at most 16,384 texts, as libyaml asks for every scalar
    _resolved: dict[str, str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._resolved = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # BaseResolver.resolve for a scalar, without path resolvers (this class has none): a plain
        # scalar's tag is the first implicit resolver that matches it, any other scalar is a string
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:  # pragma: no cover - not in rule files
            return super().resolve(kind, value, implicit)
        if not implicit[0]:
            return self.DEFAULT_SCALAR_TAG
        cache = type(self)._resolved
        tag = cache.get(value)
        if tag is None:
            table = self.yaml_implicit_resolvers
            tag = self.DEFAULT_SCALAR_TAG
            for candidate, regexp in [*table.get(value[0] if value else "", ()), *table.get(None, ())]:
                if regexp.match(value):
                    tag = candidate
                    break
            if len(cache) >= 16_384:
                cache.clear()
            cache[value] = tag
        return tag


_Loader._resolved = {}


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _RequestLoader(_Loader):
    """YAML 1.2 for requests: no timestamps either (a date stays a string, checked as a date by the
    request's own validation, so ``2023-02-29`` is an invalid date, not a crash)."""


_RequestLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Loader.yaml_implicit_resolvers.items()
}

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


class _Budget:
    """What one document may still expand to; the nodes on the current path (recursive aliases)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.items = 0
        self.aliases = 0
        self.seen: set[int] = set()
        self.path: set[int] = set()

    def enter(self, node: yaml.Node, depth: int) -> None:
        limits = self.limits
        self.items += 1
        if self.items > limits.max_items:
            raise RuleFileError(
                f"expected at most {limits.max_items:,} values, aliases counted as what they repeat "
                "(the max_items limit)", line=node.start_mark.line + 1,
            )
        if depth > limits.max_depth:
            raise RuleFileError(
                f"expected mappings and lists nested at most {limits.max_depth} deep (the max_depth limit)",
                line=node.start_mark.line + 1,
            )
        if type(node) is yaml.ScalarNode:
            return
        key = id(node)
        if key in self.path:
            raise RuleFileError("expected no alias inside its own anchor (a recursive alias)",
                                line=node.start_mark.line + 1)
        if key in self.seen:
            self.aliases += 1
            if self.aliases > limits.max_aliases:
                raise RuleFileError(f"expected at most {limits.max_aliases:,} uses of aliases (the max_aliases limit)",
                                    line=node.start_mark.line + 1)
        self.seen.add(key)


def _scalar(node: yaml.Node, loader: _Loader) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise
    except Exception as exc:  # e.g. a timestamp such as 2023-02-29, or an explicit tag that does not fit
        raise RuleFileError(
            f"expected a valid {node.tag.rsplit(':', 1)[-1]} value, got {short_repr(node.value)} "
            f"({type(exc).__name__})",
            line=node.start_mark.line + 1,
        ) from None


_STR = "tag:yaml.org,2002:str"  # a string scalar is its own value (what SafeConstructor returns for it)


def _key(node: yaml.Node, loader: _Loader, seen: set[Any]) -> Any:
    """A mapping key: a scalar (a string, a whole number or a boolean) not among the keys ``seen``."""
    if type(node) is not yaml.ScalarNode:
        raise RuleFileError("expected a string key, got a mapping or a list", line=node.start_mark.line + 1)
    key = node.value if node.tag == _STR else _scalar(node, loader)
    if not isinstance(key, (str, int, bool)) or key is None:
        raise RuleFileError(f"expected a string key, got {short_repr(key)}", line=node.start_mark.line + 1)
    if key in seen:
        raise RuleFileError(f"duplicate key {short_repr(key)} in one mapping", line=node.start_mark.line + 1)
    seen.add(key)
    return key


def _walk(node: yaml.Node, loader: _Loader, path: Path_, lines: dict[Path_, int], budget: _Budget,
          *, depth: int = 1) -> Any:
    budget.enter(node, depth)
    lines[path] = node.start_mark.line + 1
    if type(node) is yaml.ScalarNode:
        return node.value if node.tag == _STR else _scalar(node, loader)
    key_id = id(node)
    budget.path.add(key_id)
    scalar = yaml.ScalarNode
    # a scalar child is counted here rather than through budget.enter (which raises, if a bound is passed)
    leaf_ok = depth < budget.limits.max_depth
    max_items = budget.limits.max_items
    try:
        is_mapping = isinstance(node, yaml.MappingNode)
        if not is_mapping and not isinstance(node, yaml.SequenceNode):  # pragma: no cover - no other node kind
            return _scalar(node, loader)
        keys: list[Any] = []
        seen: set[Any] = set()
        values: list[Any] = []
        pairs: Iterable[tuple[Any, yaml.Node]] = node.value if is_mapping else enumerate(node.value)
        for place, child in pairs:
            if is_mapping:  # place is the key's node
                key = _key(place, loader, seen)
                keys.append(key)
            else:  # place is the index
                key = place
            if type(child) is scalar:  # the common leaf, without a call of its own
                budget.items += 1
                if budget.items > max_items or not leaf_ok:
                    budget.items -= 1
                    budget.enter(child, depth + 1)
                lines[(*path, key)] = child.start_mark.line + 1
                values.append(child.value if child.tag == _STR else _scalar(child, loader))
            else:
                values.append(_walk(child, loader, (*path, key), lines, budget, depth=depth + 1))
        return dict(zip(keys, values, strict=True)) if is_mapping else values
    finally:
        budget.path.discard(key_id)


def _parse(text: str, loader_class: type[_Loader], limits: Limits) -> tuple[Any, dict[Path_, int]]:
    """Compose, then walk with a budget: the data and the line of every node. Errors are
    :class:`RuleFileError` without a file."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = {} if node is None else _walk(node, loader, (), lines, _Budget(limits))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise RuleFileError(f"expected valid YAML: {problem}", line=line) from None
    except RecursionError:  # pragma: no cover - libyaml and the depth limit come first
        raise RuleFileError("expected valid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    return data, lines


def load_yaml(file: Path) -> LocatedYaml:
    """Load one YAML file; a missing, unreadable or oversized file, bad syntax, a duplicate key or an
    input past the limits raises :class:`RuleFileError` (the message never quotes the file's text)."""
    limits, follow = _OPTIONS.get()
    try:
        text = read_text_file(file, max_bytes=limits.max_rule_file_bytes, follow_symlinks=follow)
    except InputFileError as exc:
        message = str(exc)
        if message == "no such file":
            raise RuleFileError("expected a rule file here, found none", file=file) from None
        raise RuleFileError(f"could not read the file: {message}", file=file) from None
    try:
        data, lines = _parse(text, _Loader, limits)
    except RuleFileError as exc:
        raise RuleFileError(exc.detail, file=file, line=exc.line) from None
    return LocatedYaml(file, data, lines)


def load_yaml_text(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """One YAML document of a request (YAML 1.2 booleans, no timestamps), bounded like rule files;
    errors are :class:`RuleFileError` without a file (the caller names its source)."""
    return _parse(text, _RequestLoader, limits)[0]


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
