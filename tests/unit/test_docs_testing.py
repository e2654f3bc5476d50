"""The downstream test files shown in docs/testing.md and the commands of docs/verification.md run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from policykit.cli import main

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
TESTING = ROOT / "docs" / "testing.md"
VERIFICATION = ROOT / "docs" / "verification.md"
BLOCKS = re.findall(r"```python\n(.*?)```", TESTING.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_the_downstream_tests_pass(code: str, pytester: pytest.Pytester) -> None:
    """Each Python block of the how-to, saved as a test file of a downstream project, passes with the
    plugin's `policykit_policy` fixture."""
    pytester.syspathinsert(ROOT)
    pytester.makepyfile(test_downstream=code)
    result = pytester.runpytest("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1 and not outcomes.get("failed"), result.stdout.str()


def test_the_how_to_shows_downstream_tests() -> None:
    """The page has test code using the fixture, the strategies and the assertions."""
    text = "".join(BLOCKS)
    for name in ("def test_", "(policykit_policy)", "assert_denied", "assert_allowed", "disclosure_requests", "candidate_records"):
        assert name in text


QUICK = [
    line for block in re.findall(r"```bash\n(.*?)```", VERIFICATION.read_text(encoding="utf-8"), re.S)
    for line in block.splitlines() if line.startswith("policykit verify --only")
]


@pytest.mark.slow
@pytest.mark.parametrize("command", QUICK)
def test_the_quick_verification_commands_run(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The restricted verify commands of the page exit 0 on the shipped rules."""
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, [*shlex.split(command, comments=True)[1:], "--jobs", "1"])
    assert result.exit_code == 0, result.output
