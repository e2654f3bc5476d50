"""The code in docs/retention.md runs, and its command lines work."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from policykit.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "retention.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
COMMANDS = [
    line for block in re.findall(r"```bash\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    for line in block.splitlines() if line.startswith("policykit ")
]


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(code: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Every Python block of the page runs as written, from the repository root."""
    monkeypatch.chdir(ROOT)
    exec(compile(code, str(PAGE), "exec"), {"__name__": "__docs__"})
    capsys.readouterr()


@pytest.mark.parametrize("command", COMMANDS)
def test_command_lines_run(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every policykit command of the page exits 0 (outputs go to a temporary directory)."""
    monkeypatch.chdir(ROOT)
    args = shlex.split(command, comments=True)[1:]
    if "-o" in args:
        args[args.index("-o") + 1] = str(tmp_path / "out.jsonl")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


def test_page_has_code() -> None:
    """The page shows code to run (so the tests above test something)."""
    assert len(BLOCKS) >= 4
    assert len(COMMANDS) >= 3
