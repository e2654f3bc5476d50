"""Services some tests need (a PostgreSQL server, Chromium, the docs extra): a local run without one
skips those tests and says why; CI (``CI=true``, as CI services set it, or
``POLICYKIT_REQUIRE_SERVICES=1``) fails them instead, so a green CI run has run every test."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing_service", "services_required"]


def services_required() -> bool:
    """Whether a missing service is a failure rather than a skip."""
    return os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get("POLICYKIT_REQUIRE_SERVICES") == "1"


def missing_service(message: str) -> NoReturn:
    """Skip the test (a local run), or fail it (CI): ``message`` says what is missing and how to get it."""
    if services_required():
        pytest.fail(f"{message}; CI requires it (CI=true or POLICYKIT_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)
