"""The policykit pytest plugin: a ``policykit_policy`` fixture for the tests of services that embed
policykit.

Installed with policykit (entry point ``pytest11``), so it is active wherever policykit is installed.
Its name carries the prefix ``policykit_`` so that it never takes a fixture name (such as ``policy``)
that the test suites it is installed into may use for their own::

    def test_prospects_never_get_a_cv(policykit_policy):
        assert_denied(policykit_policy, {...}, reason="TRANSFER_TO_NON_ASSIGNMENT_CLIENT_PROHIBITED")

``policykit_policy`` is loaded once per test session and closed at its end: the bundled policy, or the
rules directory given with ``pytest --policykit-rules DIR``. The plugin imports neither hypothesis nor
``policykit.testing``'s strategies.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from policykit._policy import Policy, load_policy

__all__ = ["policykit_policy", "pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--policykit-rules DIR``: the rules directory the ``policykit_policy`` fixture loads."""
    group = parser.getgroup("policykit")
    group.addoption(
        "--policykit-rules",
        action="store",
        default=None,
        metavar="DIR",
        help="rules directory for the 'policykit_policy' fixture (default: the bundled policy)",
    )


@pytest.fixture(scope="session")
def policykit_policy(request: pytest.FixtureRequest) -> Iterator[Policy]:
    """The policy under test, loaded once for the session and closed at its end."""
    rules_dir = request.config.getoption("--policykit-rules")
    with load_policy(rules_dir) as loaded:
        yield loaded
