"""Shared fixtures and hypothesis profiles.

Profiles: ``dev`` (the default, quick) and ``ci`` (more examples, no deadline); choose one with
``HYPOTHESIS_PROFILE=ci``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import policykit

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def bundled_policy() -> Iterator[policykit.Policy]:
    """The bundled policy, loaded once for the whole session."""
    with policykit.load_policy() as policy:
        yield policy
