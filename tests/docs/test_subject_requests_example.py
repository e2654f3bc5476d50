"""The example service of the data-subject request and redaction pages runs (the pages' own code
blocks run in test_code_blocks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_example_service_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """examples/subject_requests.py answers, exports, and redacts the example record."""
    monkeypatch.chdir(DOCS.parent)
    from examples import subject_requests  # noqa: PLC0415 - imported from the checkout only here

    subject_requests.main()
    out = capsys.readouterr().out
    assert "access: fulfil, due 2025-04-11, fee 0 SEK" in out
    assert "erasure: partial" in out
    assert "withheld health_adjustments: SPECIAL_CATEGORY_NO_EXPLICIT_CONSENT" in out
