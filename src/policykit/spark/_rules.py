"""Shipping the rules to Spark's Python workers, and loading them there once.

No policy object crosses the wire: the driver loads the rules (every check runs there, before any task
starts), then reads the documents of every directory they are built from: the rules directory, the
directories its overlays extend, and each version of a history. The job carries them as bytes, with
each version's fingerprint. A worker that first meets a bundle writes the documents to a private
temporary directory, in the same relative places they had on the driver (so each overlay's
``extends`` finds its base as it did there), loads them with the same loader, checks and engine as the
driver, confirms every fingerprint, and keeps the policy (or history) for every later task of the job
(Spark reuses its Python workers). The bundled policy is not shipped: every worker has policykit
installed, and the fingerprint check refuses a worker whose bundled rules differ from the driver's.
Documents of different rule sets never mix: the cache is keyed by the fingerprints.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from policykit._history import PolicyHistory, load_history
from policykit._policy import Policy, load_policy
from policykit._ruleset.overlay import rules_chain
from policykit._ruleset.reading import bundled_rules_dir
from policykit.errors import EngineError, RuleFileError

__all__ = ["RulesBundle", "bundle_of", "bundle_rules", "worker_policy"]

MAX_RULES_BYTES = 16 * 1024 * 1024  # a rules directory is a few hundred kB; refuse anything absurd
MAX_VERSIONS = 64  # versions of one history shipped with a job


@dataclass(frozen=True, slots=True)
class RulesLayer:
    """The files of one directory a rule set is built from, and where it sits under the bundle's root
    (a relative POSIX path; ``None`` for the bundled policy, which every worker has installed)."""

    place: str | None
    files: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class RulesVersion:
    """One version to load on a worker: its directory (a ``RulesLayer.place``) and the fingerprint the
    loader gave it on the driver."""

    place: str | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class RulesBundle:
    """What a job carries: the documents of every directory of one rule set (or of each version of a
    history, oldest first), and the versions to load from them."""

    layers: tuple[RulesLayer, ...]
    versions: tuple[RulesVersion, ...]

    @property
    def key(self) -> tuple[str, ...]:
        """The cache key on a worker: the fingerprints, in order."""
        return tuple(v.fingerprint for v in self.versions)


def _files(directory: Path, budget: list[int]) -> tuple[tuple[str, bytes], ...]:
    files = []
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        data = path.read_bytes()
        budget[0] += len(data)
        if budget[0] > MAX_RULES_BYTES:
            raise RuleFileError(
                f"expected rules of at most {MAX_RULES_BYTES // 2**20} MB in all to ship with the job, found more",
                file=directory,
            )
        files.append((path.name, data))
    return tuple(files)


def _bundle(versions: Sequence[Policy]) -> RulesBundle:
    """The bundle of ``versions``: each directory of their chains once, placed relative to the
    parent of the deepest directory that holds them all."""
    bundled = bundled_rules_dir().resolve()
    chains = [rules_chain(v.rules.directory, bundled_rules_dir) for v in versions]
    dirs = list(dict.fromkeys(p for chain in chains for p in chain))
    shipped = [p for p in dirs if p != bundled]
    # the parent of the deepest common directory, so that every shipped directory keeps its own name
    # (the fingerprint of an overlay covers the names of its chain)
    root = Path(os.path.commonpath(shipped)).parent if shipped else None

    def place(p: Path) -> str | None:
        return None if p == bundled or root is None else PurePosixPath(*p.relative_to(root).parts).as_posix()

    budget = [0]
    layers = tuple(RulesLayer(place(p), _files(p, budget)) for p in shipped)
    tops = tuple(RulesVersion(place(c[-1]), v.rules.fingerprint) for c, v in zip(chains, versions, strict=True))
    return RulesBundle(layers, tops)


def bundle_of(policy: Policy) -> RulesBundle:
    """The bundle of one loaded version (for a pass that answers every question on one date)."""
    return _bundle([policy])


def _directories(rules: str | Path | Sequence[str | Path] | None) -> list[Path]:
    if rules is None:
        return [bundled_rules_dir()]
    if isinstance(rules, (str, Path)):
        return [Path(rules)]
    dirs = [Path(str(d)) for d in rules]
    if not dirs:
        raise RuleFileError("expected at least one rules directory, got an empty list", file=Path("."))
    if len(dirs) > MAX_VERSIONS:
        raise RuleFileError(f"expected at most {MAX_VERSIONS} versions, got {len(dirs)}", file=dirs[0])
    return dirs


def bundle_rules(rules: str | Path | Sequence[str | Path] | None) -> tuple[Any, RulesBundle]:
    """Load the rules on the driver (every check runs here, before any task starts) and bundle their
    documents for the workers. ``rules`` is a rules directory (a complete one or an overlay), several
    (the versions of a history, in any order), or ``None`` for the bundled policy. Returns the loaded
    :class:`Policy` (one directory) or :class:`PolicyHistory` (several), and the bundle."""
    dirs = _directories(rules)
    if len(dirs) == 1:
        policy = load_policy(dirs[0])
        return policy, _bundle([policy])
    history = load_history(*dirs)
    try:
        return history, _bundle([v.policy for v in history.versions])
    except BaseException:
        history.close()
        raise


_POLICIES: dict[tuple[str, ...], Policy | PolicyHistory] = {}
_LOCK = threading.Lock()


def _safe_place(folder: Path, place: str | None) -> Path:
    if place is None:
        return bundled_rules_dir()
    parts = PurePosixPath(place).parts
    if PurePosixPath(place).is_absolute() or any(part in ("", "..") for part in parts):
        raise RuleFileError(f"expected a relative place for shipped rules, got {place!r}", file=folder)
    return folder.joinpath(*parts)


def _materialise(bundle: RulesBundle) -> Policy | PolicyHistory:
    folder = Path(tempfile.mkdtemp(prefix="policykit-rules-"))
    try:
        for layer in bundle.layers:
            target = _safe_place(folder, layer.place)
            target.mkdir(parents=True, exist_ok=True)
            for name, data in layer.files:
                if "/" in name or "\\" in name or name in ("", ".", ".."):
                    raise RuleFileError(f"expected a plain file name in the shipped rules, got {name!r}", file=folder)
                (target / name).write_bytes(data)
        dirs = [_safe_place(folder, v.place) for v in bundle.versions]
        loaded: Policy | PolicyHistory = load_policy(dirs[0]) if len(dirs) == 1 else load_history(*dirs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    got = [loaded.rules.fingerprint] if isinstance(loaded, Policy) else [
        v.policy.rules.fingerprint for v in loaded.versions]
    if got != list(bundle.key):
        loaded.close()
        raise EngineError(
            f"the rules loaded on a worker have fingerprints {', '.join(got)}, expected {', '.join(bundle.key)} "
            "(the driver's): refusing to judge with different rules (is the same policykit installed on "
            "the driver and every executor?)"
        )
    return loaded


def worker_policy(bundle: RulesBundle) -> Any:
    """The policy (or history) of ``bundle`` in this Python process: loaded from its documents the
    first time, then reused."""
    key = bundle.key
    policy = _POLICIES.get(key)
    if policy is None:
        with _LOCK:
            policy = _POLICIES.get(key)
            if policy is None:
                policy = _materialise(bundle)
                _POLICIES[key] = policy
    return policy
