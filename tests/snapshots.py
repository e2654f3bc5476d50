"""Committed snapshots (the generated policy pages, the example diff): a mismatch fails with the
unified diff, for review. Nothing is rewritten unless asked explicitly with
``POLICYKIT_UPDATE_SNAPSHOTS=1`` (then the test rewrites the file and still fails once, so an update
is never silent); review ``git diff`` before committing it."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

__all__ = ["check_snapshot", "check_snapshots"]

UPDATE = "POLICYKIT_UPDATE_SNAPSHOTS"
_MAX_LINES = 400


def _diff(expected: str, actual: str, name: str) -> list[str]:
    return list(difflib.unified_diff(
        expected.splitlines(keepends=True), actual.splitlines(keepends=True),
        fromfile=f"{name} (committed)", tofile=f"{name} (generated now)",
    ))


def check_snapshots(actual: dict[str, str], directory: Path, *, pattern: str = "*") -> None:
    """Every file of ``actual`` (relative path -> text) equals the committed one under ``directory``,
    and no committed file matching ``pattern`` is left over."""
    lines: list[str] = []
    stale: list[Path] = []
    for name, text in sorted(actual.items()):
        path = directory / name
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if committed != text:
            lines += _diff(committed, text, name)
            stale.append(path)
    extra = sorted(p for p in directory.rglob(pattern) if p.relative_to(directory).as_posix() not in actual)
    lines += [f"{p.relative_to(directory).as_posix()}: committed, but no longer generated\n" for p in extra]
    if not lines:
        return
    if os.environ.get(UPDATE) == "1":
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual[path.relative_to(directory).as_posix()], encoding="utf-8")
        for path in extra:
            path.unlink()
        pytest.fail(f"updated {len(stale) + len(extra)} snapshot file(s) under {directory}: review `git diff` "
                    "before committing", pytrace=False)
    shown = "".join(lines[:_MAX_LINES]) + (f"... ({len(lines) - _MAX_LINES} more lines)\n" if len(lines) > _MAX_LINES else "")
    pytest.fail(
        f"the committed snapshot under {directory} differs from what is generated now:\n{shown}\n"
        f"Review the change. Only if it is intended, rerun this test with {UPDATE}=1 to rewrite the files.",
        pytrace=False,
    )


def check_snapshot(actual: str, path: Path) -> None:
    """``actual`` equals the committed file ``path``."""
    check_snapshots({path.name: actual}, path.parent, pattern=path.name)
