"""The examples of docs/spark.md run (its ```py blocks, in order, with the test session's ``spark``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.spark.support import require_spark

require_spark()

pytestmark = pytest.mark.slow  # a local Spark session: minutes, not seconds

PAGE = Path(__file__).resolve().parents[2] / "docs" / "spark.md"
FENCE = re.compile(r"^```py\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def test_the_spark_page_examples_run(spark: Any) -> None:
    blocks = FENCE.findall(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    namespace: dict[str, Any] = {"__name__": "docs.spark", "spark": spark}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"spark.md, block {number}", "exec"), namespace)
