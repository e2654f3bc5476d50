"""Every data-subject request case (the policy's worked examples and policykit's own) through the
public API."""

from __future__ import annotations

from typing import Any

import pytest

import policykit
from tests.acceptance.cases import load_cases, mismatches

CASES = load_cases("data_subject_request")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_request_case(bundled_policy: policykit.Policy, case: dict[str, Any]) -> None:
    """The response matches the case's expected answer and cites exactly the case's clauses."""
    response = bundled_policy.handle_request(case["inputs"])
    problems = mismatches(response, case["expected"])
    if "clauses" in case:
        want, got = sorted(case["clauses"]), sorted(response.clauses)
        if want != got:
            problems.append(f"clauses: expected {want}, got {got}")
    report = "\n  ".join(problems)
    assert not problems, f"{case['id']} ({case['_file']}):\n  {report}\n\n{response.explain()}"


def test_every_case_id_is_unique() -> None:
    """Case ids identify cases across files."""
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))


def test_every_request_type_and_outcome_has_a_case() -> None:
    """The cases cover each kind of request and each outcome at least once."""
    kinds = {c["inputs"]["request"] for c in CASES}
    outcomes = {c["expected"]["outcome"] for c in CASES}
    assert kinds == {
        "access", "erasure", "restriction", "portability", "portability_direct_transmission", "objection",
        "rectification",
    }
    assert outcomes == {"fulfil", "fulfil_with_redaction", "partial", "refuse", "not_applicable"}
