"""The code in docs/sweep.md runs: its command lines and its mapping (tests/docs runs its Python)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import policykit
from policykit.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "sweep.md"
TEXT = PAGE.read_text(encoding="utf-8")
YAML = re.findall(r"```yaml\n(.*?)```", TEXT, re.S)
LINES = [line for block in re.findall(r"```bash\n(.*?)```", TEXT, re.S) for line in block.splitlines()]
GENERATE = [line for line in LINES if line.startswith("python examples/sweep/generate.py")]
SWEEPS = [line for line in LINES if line.startswith("policykit sweep") and "sqlite:" in line]


def test_the_command_lines_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Generate the example database, dry run, apply: each exits 0, and the dry run changed nothing."""
    assert GENERATE and len(SWEEPS) >= 2
    monkeypatch.chdir(tmp_path)
    for line in GENERATE:
        args = shlex.split(line, comments=True)
        subprocess.run([sys.executable, str(ROOT / args[1]), *args[2:]], check=True, capture_output=True)
    outputs = []
    for line in SWEEPS:
        result = CliRunner().invoke(main, shlex.split(line, comments=True)[1:])
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert "dry run (nothing changed)" in outputs[0]
    assert "Anonymised" in outputs[1]


def test_the_mapping_shown_is_a_valid_mapping(tmp_path: Path) -> None:
    """The abridged mapping on the page loads."""
    (path := tmp_path / "mapping.yaml").write_text(YAML[0], encoding="utf-8")
    mapping = policykit.load_mapping(path)
    assert mapping.candidates.columns["test_score_band"].non_identifying
