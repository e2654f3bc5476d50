"""Loading acceptance cases (the request/answer format of the policy's worked examples) and
comparing a policykit answer with a case's ``expected`` block."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).parent / "cases"


def load_cases(area: str) -> list[dict[str, Any]]:
    """Every case of ``area`` from every file under ``cases/``, each tagged with its file."""
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")).get("cases", []):
            if case["area"] == area:
                cases.append({**case, "_file": path.name})
    return cases


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def answer_value(answer: Any, key: str) -> Any:
    """The attribute of an answer that a key of ``expected`` maps onto."""
    if key == "reason":
        return answer.reasons[0] if answer.reasons else None
    return getattr(answer, key)


def mismatches(answer: Any, expected: dict[str, Any]) -> list[str]:
    """Every key of ``expected`` whose value differs from the answer's; lists compare as sets."""
    problems = []
    for key, raw in expected.items():
        got = _plain(answer_value(answer, key))
        want = _plain(raw)
        if isinstance(want, list) and isinstance(got, list):
            same = sorted(map(str, want)) == sorted(map(str, got))
        else:
            same = got == want
        if not same:
            problems.append(f"{key}: expected {want!r}, got {got!r}")
    return problems
