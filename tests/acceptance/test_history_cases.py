"""A history answers every acceptance case exactly as the version in force on the case's date does
when loaded on its own (the version is chosen here from the date, independently of the history)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import policykit
from tests.acceptance.cases import load_cases

ROOT = Path(__file__).parents[2]
REVISION = ROOT / "examples" / "policies" / "we-select-2026-07-01"
SWITCH = dt.date(2026, 7, 1)
AREAS = {"disclosure": ("decide", "as_of"), "retention": ("retention", "as_of"),
         "data_subject_request": ("handle_request", "received_on")}
CASES = [c for area in AREAS for c in load_cases(area)]


@pytest.fixture(scope="module")
def versions() -> Iterator[tuple[policykit.PolicyHistory, policykit.Policy, policykit.Policy]]:
    with policykit.load_history(policykit.bundled_rules_dir(), REVISION) as history, \
            policykit.load_policy() as old, policykit.load_policy(REVISION) as new:
        yield history, old, new


def _day(value: Any) -> dt.date:
    if value is None:
        return dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()
    return dt.date.fromisoformat(str(value)[:10])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_history_answers_as_the_version_in_force(
    versions: tuple[policykit.PolicyHistory, policykit.Policy, policykit.Policy], case: dict[str, Any]
) -> None:
    history, old, new = versions
    method, date_field = AREAS[case["area"]]
    single = new if _day(case["inputs"].get(date_field)) >= SWITCH else old
    options = case.get("options", {})
    try:
        want = getattr(single, method)(case["inputs"], **options).to_dict()
    except policykit.QueryError as exc:  # the same refusal, from both
        with pytest.raises(type(exc)):
            getattr(history, method)(case["inputs"], **options)
        return
    got = getattr(history, method)(case["inputs"], **options).to_dict()
    assert got == want
    assert got["policy_version"] == single.version
