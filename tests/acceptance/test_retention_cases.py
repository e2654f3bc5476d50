"""Every retention case (the policy's worked examples and policykit's own) through the public API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import policykit
from tests.acceptance.cases import load_cases, mismatches

CASES = load_cases("retention")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_retention_case(bundled_policy: policykit.Policy, case: dict[str, Any]) -> None:
    """The verdict matches the case's expected answer and cites exactly the case's clauses."""
    verdict = bundled_policy.retention(case["inputs"], **case.get("options", {}))
    problems = mismatches(verdict, case["expected"])
    if "clauses" in case:
        want, got = sorted(case["clauses"]), sorted(verdict.clauses)
        if want != got:
            problems.append(f"clauses: expected {want}, got {got}")
    report = "\n  ".join(problems)
    assert not problems, f"{case['id']} ({case['_file']}):\n  {report}\n\n{verdict.explain()}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_retention_dates_are_dates(bundled_policy: policykit.Policy, case: dict[str, Any]) -> None:
    """Every date of a verdict is a ``datetime.date`` (or ``None``), as the contract says."""
    verdict = bundled_policy.retention(case["inputs"], **case.get("options", {}))
    for name in ("latest_application_date", "retain_until", "anonymise_on", "deadline", "review_on"):
        value = getattr(verdict, name)
        assert value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)), name


def test_every_retention_mode_has_a_case() -> None:
    """The cases produce every retention mode of the vocabulary."""
    modes = {c["expected"].get("retention_mode") for c in CASES}
    assert modes >= {m.value for m in policykit.RetentionMode}


def test_every_case_id_is_unique() -> None:
    """Case ids identify cases across files."""
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))


def test_ambiguous_cases_name_their_ambiguity() -> None:
    """A case marked ambiguous says which interpretation of the register of interpretations (rules/interpretations.yaml) it encodes."""
    for case in CASES:
        if case.get("ambiguous"):
            assert str(case.get("ambiguity", "")).startswith("A-"), case["id"]
