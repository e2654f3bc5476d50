"""A missing service skips a local run and fails CI (tests/services.py)."""

from __future__ import annotations

import pytest

from tests.services import missing_service


@pytest.mark.parametrize(("env", "value"), [("CI", "true"), ("CI", "1"), ("POLICYKIT_REQUIRE_SERVICES", "1")])
def test_under_ci_a_missing_service_fails(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("POLICYKIT_REQUIRE_SERVICES", raising=False)
    monkeypatch.setenv(env, value)
    with pytest.raises(pytest.fail.Exception, match="no PostgreSQL server.*CI requires it"):
        missing_service("no PostgreSQL server for tests")


def test_locally_a_missing_service_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("POLICYKIT_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed"):
        missing_service("Chromium is not installed")
