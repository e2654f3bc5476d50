"""Rule overlays: a rules directory that extends another and changes only what differs.

An overlay directory's ``policy.yaml`` names the directory it extends in a top-level ``extends`` key:
``bundled`` (the policy shipped with policykit) or a path, relative to the overlay directory. The
overlay holds only the rule files it changes; each of them is merged into the base's file of the same
name, section by section (the semantics are documented in ``docs/rule-format.md``, "Overlays"):

* a top-level section that is a mapping in both files (``parameters``, ``predicates``, ``aliases``)
  is merged key by key: each key of the overlay adds or replaces that key's value whole;
* a top-level section that is a list of entries with an id in both files (``rules``, ``clauses``,
  ``purposes``, ``sections`` by ``code``, ``steps`` by ``step``) is merged by id: an entry whose id the
  base has replaces it whole, in its place; a new id is appended;
* a top-level section that is a list of plain names in both files (``facts``, the country lists) is a
  set: the overlay's names the base lacks are appended, in order, and a name the base has stays where
  it is (so an overlay lists only the names it adds);
* any other value (a scalar, lists of different shapes) replaces the base's;
* ``remove: {section: [id, key or name, ...]}`` deletes entries of the base; removing what the base
  lacks is an error.

The result is one :class:`~policykit._ruleset.reading.LocatedYaml` per file, so the loader reads a resolved
directory exactly as it reads a plain one. The line of every node still points at the file it came
from: a node taken from another directory than the one loaded carries its file in a
:class:`SourcedLine`, and :func:`relocate` turns an error raised with it into one naming that file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policykit._ruleset.reading import LocatedYaml, load_yaml
from policykit.errors import DefinitionError, RuleFileError, RuleSchemaError, did_you_mean

__all__ = [
    "BUNDLED",
    "EXTENDS_KEY",
    "MAX_DEPTH",
    "ResolvedRules",
    "SourcedLine",
    "relocate",
    "resolve_rules",
    "rules_chain",
    "source_directory",
]

#: The top-level key of an overlay's ``policy.yaml`` that names the directory it extends.
EXTENDS_KEY = "extends"
#: The name by which an overlay extends the policy shipped with policykit.
BUNDLED = "bundled"
#: The top-level key of an overlay file that lists entries of the base to delete.
REMOVE_KEY = "remove"
#: The longest chain of overlays (a guard against a runaway chain; cycles are refused before).
MAX_DEPTH = 16
#: The fields by which the entries of a list are identified, the first one all entries carry.
_ID_KEYS = ("id", "code", "step", "purpose")

_PathT = tuple[str | int, ...]


class SourcedLine(int):
    """A line number that also names the file it is in (a node that came from another directory)."""

    file: Path

    def __new__(cls, line: int, file: Path) -> SourcedLine:
        obj = super().__new__(cls, line)
        obj.file = file
        return obj


@dataclass(frozen=True)
class ResolvedRules:
    """The rule documents of a directory with every overlay applied.

    ``chain`` lists the directories from the first base to the one loaded; ``fingerprint`` is a hash
    of every file read along it, so it changes whenever any layer does.
    """

    directory: Path
    chain: tuple[Path, ...]
    docs: dict[str, LocatedYaml]
    fingerprint: str

    @property
    def extends(self) -> Path | None:
        """The directory this one extends, or None for a complete rules directory."""
        return self.chain[-2] if len(self.chain) > 1 else None


def _read_extends(directory: Path, bundled: Callable[[], Path]) -> tuple[Path | None, LocatedYaml]:
    """The directory named by ``extends`` in ``directory/policy.yaml`` (None when it has none)."""
    doc = load_yaml(directory / "policy.yaml")
    if not isinstance(doc.data, dict) or EXTENDS_KEY not in doc.data:
        return None, doc
    value = doc.data[EXTENDS_KEY]
    line = doc.line((EXTENDS_KEY,))
    if not isinstance(value, str) or not value.strip():
        raise RuleSchemaError(
            f"expected 'extends' to name '{BUNDLED}' or a rules directory, got {value!r}",
            file=directory / "policy.yaml", line=line,
        )
    base = bundled() if value == BUNDLED else (directory / value)
    if not base.is_dir():
        raise RuleFileError(
            f"expected 'extends' to name '{BUNDLED}' or an existing rules directory, got {value!r} "
            f"(no directory {base})",
            file=directory / "policy.yaml", line=line,
        )
    return base.resolve(), doc


def rules_chain(directory: Path, bundled: Callable[[], Path]) -> tuple[Path, ...]:
    """The resolved directories a rules directory is built from, the first base first and ``directory``
    last: one directory for a complete rules directory, more for an overlay."""
    return tuple(_chain(directory, bundled))


def _chain(directory: Path, bundled: Callable[[], Path],
           read: dict[Path, LocatedYaml] | None = None) -> list[Path]:
    """The directories from the first base to ``directory``; a cycle or a chain too long is refused.
    ``read`` receives each directory's ``policy.yaml`` as it was read (so it is not read again)."""
    chain = [directory.resolve()]
    place = directory  # the first directory as given (its files are named as given in errors)
    while True:
        base, doc = _read_extends(place, bundled)
        if read is not None:
            read[place] = doc
        if base is None:
            return chain
        if base in chain:
            raise RuleSchemaError(
                "expected a chain of 'extends' that ends in a complete rules directory, got a cycle: "
                + " -> ".join(str(p) for p in [*reversed(chain), base]),
                file=chain[0] / "policy.yaml",
            )
        if len(chain) >= MAX_DEPTH:
            raise RuleSchemaError(
                f"expected at most {MAX_DEPTH} rules directories in a chain of 'extends', got more",
                file=chain[0] / "policy.yaml",
            )
        chain.insert(0, base)
        place = base


class _Merger:
    """Merges one file of each layer, base first, into one located document."""

    def __init__(self, name: str, top: Path) -> None:
        self.name = name
        self.top = top
        self.data: dict[str, Any] = {}
        self.lines: dict[_PathT, int] = {}

    def _line(self, line: int, layer: Path) -> int:
        # nodes of the directory loaded keep plain line numbers (errors name the file relatively, as
        # for a plain directory); the others say which file they are in
        return line if layer == self.top else SourcedLine(line, layer / self.name)

    def apply(self, doc: LocatedYaml, layer: Path, first: bool) -> None:
        if not isinstance(doc.data, dict):
            raise RuleSchemaError(
                f"expected a mapping at the top of the file, got {type(doc.data).__name__}",
                file=layer / self.name, line=doc.line(()),
            )
        data = dict(doc.data)
        if self.name == "policy.yaml":
            data.pop(EXTENDS_KEY, None)
        # the document's lines grouped by their first two steps (section, entry): the unit of merging
        index: dict[_PathT, list[tuple[_PathT, int]]] = {}
        for path, line in doc._lines.items():
            index.setdefault(path[:2], []).append((path[2:], line))
        if first:
            self.data = data
            self.lines = {p: self._line(v, layer) for p, v in doc._lines.items()}
            self.lines.pop((EXTENDS_KEY,), None)
            return
        removals = data.pop(REMOVE_KEY, None)
        if removals is not None:
            self._remove(doc, layer, removals)
        for key, value in data.items():
            self._section(doc, layer, index, key, value)

    def _copy(self, src: _PathT, dst: _PathT, layer: Path, index: dict[_PathT, list[tuple[_PathT, int]]]) -> None:
        """Give the subtree placed at ``dst`` the lines of the overlay's subtree at ``src``."""
        self._drop(dst)
        for rest, line in index.get(src, ()):
            self.lines[(*dst, *rest)] = self._line(line, layer)

    def _drop(self, prefix: _PathT) -> None:
        n = len(prefix)
        for path in [p for p in self.lines if p[:n] == prefix]:
            del self.lines[path]

    def _section(self, doc: LocatedYaml, layer: Path, index: dict[_PathT, list[tuple[_PathT, int]]],
                 key: str, value: Any) -> None:
        old = self.data.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged = dict(old)
            for k, v in value.items():
                merged[k] = v
                self._copy((key, k), (key, k), layer, index)
            self.data[key] = merged
            return
        id_key = _id_key(old, value)
        names = _is_names(old) and _is_names(value)
        if id_key is not None or names:
            entries = list(old or ())
            position = {(e if names else e[id_key]): i for i, e in enumerate(entries)}
            for j, entry in enumerate(value):
                i = position.setdefault(entry if names else entry[id_key], len(entries))
                if i == len(entries):
                    entries.append(entry)
                else:
                    entries[i] = entry
                self._copy((key, j), (key, i), layer, index)
            self.data[key] = entries
            return
        # a whole value replaced, or a section the base lacks
        self.data[key] = value
        self._drop((key,))
        for group, items in index.items():
            if group[:1] == (key,):
                for rest, line in items:
                    self.lines[(*group, *rest)] = self._line(line, layer)

    def _remove(self, doc: LocatedYaml, layer: Path, removals: Any) -> None:
        file = layer / self.name
        if not isinstance(removals, dict):
            raise RuleSchemaError(
                f"expected '{REMOVE_KEY}' to map sections to the ids or keys to delete, got {removals!r}",
                file=file, line=doc.line((REMOVE_KEY,)),
            )
        for section, ids in removals.items():
            where: _PathT = (REMOVE_KEY, section)
            old = self.data.get(section)
            if isinstance(old, (dict, list)):  # a copy: the base document stays as read
                old = self.data[section] = type(old)(old)
            if old is None or not isinstance(ids, list):
                lacks = "" if old is not None else (
                    " (the base has no such section" + did_you_mean(str(section), self.data) + ")")
                raise RuleSchemaError(
                    f"expected '{REMOVE_KEY}.{section}' to list ids or keys of a section of the base, "
                    f"got {ids!r}{lacks}",
                    file=file, line=doc.line(where),
                )
            for j, ident in enumerate(ids):
                self._remove_one(doc, file, section, old, ident, where=(*where, j))

    def _remove_one(self, doc: LocatedYaml, file: Path, section: str, old: Any, ident: Any, *,
                    where: _PathT) -> None:
        if isinstance(old, dict) and ident in old:
            del old[ident]
            self._drop((section, ident))
            return
        id_key = _id_key(old, [])
        ids = list(old) if _is_names(old) else [e[id_key] for e in old] if id_key is not None else []
        if ident in ids:
            i = ids.index(ident)
            del old[i]
            # the entries after it move up one place, and their lines with them
            moved = {p: v for p, v in self.lines.items() if p[:1] == (section,) and len(p) >= 2}
            for p in moved:
                del self.lines[p]
            for p, v in moved.items():
                idx = p[1]
                if isinstance(idx, int) and idx != i:
                    self.lines[(section, idx - (idx > i), *p[2:])] = v
            return
        choices = [str(x) for x in (old if isinstance(old, dict) else ids)]
        raise RuleSchemaError(
            f"expected an id or key of '{section}' in the base to remove, got {ident!r}"
            + did_you_mean(str(ident), choices),
            file=file, line=doc.line(where),
        )

    def result(self) -> LocatedYaml:
        return LocatedYaml(Path(self.name), self.data, self.lines)


def _is_names(value: Any) -> bool:
    """Whether a value is a list of plain names (strings or numbers): a set, merged by union."""
    return isinstance(value, list) and all(
        isinstance(e, (str, int, float)) and not isinstance(e, bool) for e in value)


def _id_key(old: Any, new: Any) -> str | None:
    """The field identifying the entries of two lists of mappings, or None if they are not such lists."""
    if not isinstance(old, list) or not isinstance(new, list) or not old:
        return None
    items = [*old, *new]
    if not all(isinstance(e, dict) for e in items):
        return None
    return next((k for k in _ID_KEYS if all(k in e for e in items)), None)


def resolve_rules(directory: Path, names: Sequence[str], bundled: Callable[[], Path],
                  optional: Iterable[str] = ()) -> ResolvedRules:
    """Read ``names`` from ``directory`` with its overlays applied.

    A plain directory (no ``extends``) must hold every file of ``names`` except ``optional`` ones; an
    overlay holds any of them, and the first directory of its chain supplies the rest. The fingerprint
    of a plain directory is the hash it always had (each file's name and bytes, in ``names`` order).
    """
    top = directory.resolve()
    policy_files: dict[Path, LocatedYaml] = {}  # each directory's policy.yaml, read once by _chain
    chain = _chain(directory, bundled, policy_files)
    optional = set(optional)

    def load(layer: Path, name: str) -> LocatedYaml:
        known = policy_files.get(layer) if name == "policy.yaml" else None
        return known if known is not None else load_yaml(layer / name)

    digest = hashlib.sha256()
    docs: dict[str, LocatedYaml] = {}
    for name in names:
        if len(chain) == 1:  # a plain directory: its documents as they are
            file = directory / name
            if name in optional and not file.is_file():
                continue
            docs[name] = load(directory, name)
            digest.update(name.encode())
            digest.update(file.read_bytes())
            continue
        merger = _Merger(name, top)
        found = False
        for depth, layer in enumerate(chain):
            file = layer / name
            if depth > 0 and not file.is_file():
                continue
            if depth == 0 and name in optional and not file.is_file():
                continue
            doc = load(layer, name)
            digest.update(name.encode())
            digest.update(file.read_bytes())
            merger.apply(doc, layer, first=not found)
            found = True
        if found:
            docs[name] = merger.result()
    if len(chain) > 1:  # the chain itself is part of what was loaded
        digest.update("\n".join(p.name for p in chain).encode())
    return ResolvedRules(directory=directory, chain=tuple(chain), docs=docs,
                         fingerprint=digest.hexdigest()[:16])


def source_directory(doc: LocatedYaml, path: _PathT, default: Path) -> Path:
    """The directory of the file the node at ``path`` came from (``default``: the directory loaded)."""
    line = doc.line(path)
    return line.file.parent if isinstance(line, SourcedLine) else default


def relocate(exc: DefinitionError) -> DefinitionError:
    """The same error naming the file its line is in, when that line came from another directory."""
    line = exc.line
    if not isinstance(line, SourcedLine):
        return exc
    try:
        moved = type(exc)(exc.detail, file=line.file, line=int(line))
    except TypeError:  # pragma: no cover - an error class with another signature keeps its message
        return exc
    return moved
