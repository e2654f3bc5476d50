"""Shared fixtures and hypothesis profiles.

Profiles: ``dev`` (the default, quick) and ``ci`` (more examples, no deadline); choose one with
``HYPOTHESIS_PROFILE=ci``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import policykit
from tests.services import missing_service
from tests.sweep_support import PG_ENV, drop_postgres_database, new_postgres_database, postgres_url

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# mutation testing (benchmarks/mutation.py) runs the covering tests once per mutant: few examples,
# the same ones every time, so a run is quick and reproducible
settings.register_profile(
    "mutation", max_examples=12, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def bundled_policy() -> Iterator[policykit.Policy]:
    """The bundled policy, loaded once for the whole session."""
    with policykit.load_policy() as policy:
        yield policy


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each sweep test runs on SQLite and on PostgreSQL. PostgreSQL is skipped only when no server was
    started (POLICYKIT_TEST_POSTGRES_URL unset: a local run); .ci/run starts one, so CI runs both, and
    under CI a missing server fails the test instead (tests/services.py)."""
    if request.param == "postgresql" and postgres_url() is None:
        missing_service(f"no PostgreSQL server for tests: {PG_ENV} is not set (.ci/run starts one)")
    return str(request.param)


@pytest.fixture
def new_database(backend: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of empty databases on the test's backend (SQLite files, or PostgreSQL databases that
    are dropped afterwards); returns their URLs."""
    made: list[str] = []

    def make() -> str:
        if backend == "sqlite":
            path = tmp_path / f"candidates-{len(made)}.db"
            made.append(str(path))
            sqlite3.connect(path).close()
            return f"sqlite:///{path}"
        url, name = new_postgres_database()
        made.append(name)
        return url

    yield make
    if backend == "postgresql":
        for name in made:
            drop_postgres_database(name)
