"""Every ```python block of the hand-written docs runs, page by page, in order.

Blocks of one page share a namespace, as a reader following the page would. Code meant only to be
read goes in another fence (```text, ```yaml, ```bash).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import policykit

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def pages_with_code() -> list[Path]:
    """Hand-written pages (everything but the generated docs/policy/) that hold python blocks."""
    pages = sorted(p for p in DOCS.rglob("*.md") if "policy" not in p.relative_to(DOCS).parts[:1])
    return [p for p in pages if FENCE.search(p.read_text(encoding="utf-8"))]


def test_the_docs_have_runnable_examples() -> None:
    """The tutorial, the how-to pages and the error page show code that the tests run."""
    names = {p.relative_to(DOCS).as_posix() for p in pages_with_code()}
    assert {"tutorial.md", "howto/edited-rules.md", "errors.md"} <= names


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_python_blocks_run(page: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each python block of the page runs without error after the blocks before it."""
    namespace: dict[str, object] = {"__name__": f"docs.{page.stem}"}
    for number, block in enumerate(FENCE.findall(page.read_text(encoding="utf-8")), start=1):
        try:
            exec(compile(block, f"{page.name}, block {number}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{page.relative_to(DOCS)} block {number} failed: {type(exc).__name__}: {exc}\n\n{block}")
    capsys.readouterr()
    for value in namespace.values():
        if isinstance(value, policykit.Policy):
            value.close()
