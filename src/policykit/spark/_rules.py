"""Shipping the rules to Spark's Python workers, and loading them there once.

No policy object crosses the wire: the driver reads the rule set's documents (the files of the rules
directory, a few hundred kilobytes), and the job carries them as bytes with the rule set's
fingerprint. A worker that first meets a fingerprint writes the documents to a private temporary
directory, loads and checks them with ``load_policy`` (the same loader, the same checks, the same
engine as on the driver), confirms the fingerprint, and keeps the policy for every later task of the
job (Spark reuses its Python workers). Documents of different rule sets never mix: the cache is keyed
by fingerprint.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policykit._policy import Policy, load_policy
from policykit._ruleset.reading import bundled_rules_dir
from policykit.errors import EngineError, RuleFileError

__all__ = ["RulesBundle", "bundle_rules", "worker_policy"]

MAX_RULES_BYTES = 16 * 1024 * 1024  # a rules directory is a few hundred kB; refuse anything absurd


@dataclass(frozen=True, slots=True)
class RulesDocuments:
    """The files of one rules directory, and the fingerprint the loader gave them on the driver."""

    fingerprint: str
    files: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class RulesBundle:
    """What a job carries: the documents of one rule set (or of each version of a history)."""

    versions: tuple[RulesDocuments, ...]

    @property
    def key(self) -> tuple[str, ...]:
        """The cache key on a worker: the fingerprints, in order."""
        return tuple(v.fingerprint for v in self.versions)


def _documents(directory: Path, fingerprint: str) -> RulesDocuments:
    head = yaml.safe_load((directory / "policy.yaml").read_text(encoding="utf-8"))
    if isinstance(head, dict) and head.get("extends"):
        raise RuleFileError(
            "expected a complete rules directory: this one extends another (an overlay), and policykit.spark "
            "ships one directory's documents to the workers; point rules= at a complete copy",
            file=directory / "policy.yaml",
        )
    files = []
    total = 0
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        data = path.read_bytes()
        total += len(data)
        if total > MAX_RULES_BYTES:
            raise RuleFileError(
                f"expected a rules directory of at most {MAX_RULES_BYTES // 2**20} MB to ship with the job, "
                "found more", file=directory,
            )
        files.append((path.name, data))
    return RulesDocuments(fingerprint, tuple(files))


def bundle_rules(rules: str | Path | Sequence[str | Path] | None) -> tuple[Policy, RulesBundle]:
    """Load the rules on the driver (every check runs here, before any task starts) and bundle their
    documents for the workers. ``rules`` is a rules directory, or ``None`` for the bundled policy."""
    if rules is not None and not isinstance(rules, (str, Path)):
        dirs = list(rules)
        if len(dirs) != 1:
            raise RuleFileError(
                f"expected one rules directory, got {len(dirs)}: a history of several versions is not yet "
                "supported by policykit.spark", file=Path(str(dirs[0])) if dirs else Path("."),
            )
        rules = dirs[0]
    directory = bundled_rules_dir() if rules is None else Path(rules)
    policy = load_policy(directory)
    return policy, RulesBundle((_documents(policy.rules.directory, policy.rules.fingerprint),))


_POLICIES: dict[tuple[str, ...], Policy] = {}
_LOCK = threading.Lock()


def _materialise(docs: RulesDocuments) -> Policy:
    folder = Path(tempfile.mkdtemp(prefix=f"policykit-rules-{docs.fingerprint}-"))
    try:
        for name, data in docs.files:
            if "/" in name or "\\" in name or name in ("", ".", ".."):
                raise RuleFileError(f"expected a plain file name in the shipped rules, got {name!r}", file=folder)
            (folder / name).write_bytes(data)
        policy = load_policy(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if policy.rules.fingerprint != docs.fingerprint:
        raise EngineError(
            f"the rules loaded on a worker have fingerprint {policy.rules.fingerprint}, expected "
            f"{docs.fingerprint} (the driver's): refusing to judge with different rules"
        )
    return policy


def worker_policy(bundle: RulesBundle) -> Any:
    """The policy of ``bundle`` in this Python process: loaded from its documents the first time,
    then reused."""
    key = bundle.key
    policy = _POLICIES.get(key)
    if policy is None:
        with _LOCK:
            policy = _POLICIES.get(key)
            if policy is None:
                policy = _materialise(bundle.versions[0])
                _POLICIES[key] = policy
    return policy
