"""The Spark tests' shared pieces: whether pyspark is here, and rows in the input format.

The Spark tests need the ``spark`` extra (pyspark, pyarrow, pandas) and a Java runtime. Without them
they are skipped and say why; under CI (``CI=true``) a missing piece is a failure instead, so CI can
never pass by skipping them.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
from collections.abc import Mapping
from typing import Any

import pytest

REQUIRED = ("pyspark", "pyarrow", "pandas")


def missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    absent = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if absent:
        return (f"the 'spark' extra is not installed ({', '.join(absent)} missing): "
                "pip install -e '.[spark]' to run the Spark tests")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (java on PATH or JAVA_HOME): Spark needs one to run the Spark tests"
    return None


def require_spark() -> None:
    """Skip the calling test module when Spark cannot run; under CI, fail instead."""
    reason = missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the Spark tests, but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def iso(value: Any) -> Any:
    """Dates and timestamps as ISO text, recursively (the input format's text form)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: iso(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [iso(v) for v in value]
    return value
