"""The how-to pages on data-subject requests and redaction run: every ```python block, in order, with
the blocks of one page sharing a namespace as a reader's session would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import policykit

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
PAGES = ["requests.md", "redaction.md"]


@pytest.mark.parametrize("name", PAGES)
def test_the_python_blocks_of_the_page_run(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each block runs after the ones before it; the pages' own asserts check the answers they show."""
    monkeypatch.chdir(DOCS.parent)  # the pages read examples/ relative to a checkout
    text = (DOCS / name).read_text(encoding="utf-8")
    blocks = FENCE.findall(text)
    assert blocks, f"{name} shows no python"
    namespace: dict[str, object] = {"__name__": f"docs.{Path(name).stem}"}
    for number, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"{name}, block {number}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{name} block {number} failed: {type(exc).__name__}: {exc}\n\n{block}")
    capsys.readouterr()
    for value in namespace.values():
        if isinstance(value, policykit.Policy):
            value.close()


def test_the_example_service_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """examples/subject_requests.py answers, exports, and redacts the example record."""
    monkeypatch.chdir(DOCS.parent)
    from examples import subject_requests  # noqa: PLC0415 - imported from the checkout only here

    subject_requests.main()
    out = capsys.readouterr().out
    assert "access: fulfil, due 2025-04-11, fee 0 SEK" in out
    assert "erasure: partial" in out
    assert "withheld health_adjustments: SPECIAL_CATEGORY_NO_EXPLICIT_CONSENT" in out
