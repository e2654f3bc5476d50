"""Every disclosure case (the policy's worked examples and policykit's own) through the public API."""

from __future__ import annotations

from typing import Any

import pytest

import policykit
from tests.acceptance.cases import load_cases, mismatches

CASES = load_cases("disclosure")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_disclosure_case(bundled_policy: policykit.Policy, case: dict[str, Any]) -> None:
    """The decision matches the case's expected answer and cites exactly the case's clauses."""
    decision = bundled_policy.decide(case["inputs"])
    problems = mismatches(decision, case["expected"])
    if "clauses" in case:
        want, got = sorted(case["clauses"]), sorted(decision.clauses)
        if want != got:
            problems.append(f"clauses: expected {want}, got {got}")
    report = "\n  ".join(problems)
    assert not problems, f"{case['id']} ({case['_file']}):\n  {report}\n\n{decision.explain()}"


def test_every_case_id_is_unique() -> None:
    """Case ids identify cases across files."""
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
