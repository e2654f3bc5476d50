"""The policy lives in ``rules/`` only: no clause id, controller name or legal period in ``src/``.

Python holds the machinery; what the policy says (which clause a sentence cites, who the controller
is, how long a period lasts) comes from the rule files, so that a revision or an overlay changes it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import policykit
from policykit._dates import number_word

SRC = Path(policykit.__file__).parent
RULES = policykit.bundled_rules_dir()
CLAUSE_ID = re.compile(r"\bP-[A-Z]+(-[A-Za-z0-9]+)+\b")


def _source_files() -> list[Path]:
    """The package's own files; an installed wheel also carries the bundled rules under the package
    (``policykit/rules``): those are the policy, not the machinery, and are left out."""
    rules = (SRC / "rules").resolve()
    return sorted(
        p for p in SRC.rglob("*")
        if p.is_file() and p.suffix in {".py", ".yaml", ".yml", ".txt", ".md"} and not p.resolve().is_relative_to(rules)
    )


def _hits(pattern: re.Pattern[str]) -> list[str]:
    return [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in _source_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def _periods() -> set[tuple[int, str]]:
    """Every period the bundled rules set: (count, unit), from the parameters and the date rules."""
    policy = yaml.safe_load((RULES / "policy.yaml").read_text(encoding="utf-8"))
    periods = {(n, "month") for name, n in policy["parameters"].items() if name.endswith("_months")}
    retention = (RULES / "retention.yaml").read_text(encoding="utf-8")
    for unit in ("year", "month"):
        periods |= {(int(n), unit) for n in re.findall(rf"\b{unit}s: (\d+)", retention)}
    return periods


def test_the_period_list_is_not_empty() -> None:
    """The check below has periods to look for: the evidence window's years at least."""
    assert (policykit.load_rules().retention.evidence_window.years, "year") in _periods()


def test_src_holds_no_clause_id() -> None:
    """Clause ids are cited from the rule files (``citations`` in policy.yaml, the rules' clauses)."""
    assert _hits(CLAUSE_ID) == []


@pytest.mark.parametrize("field", ["name", "short_name"])
def test_src_holds_no_controller_name(field: str) -> None:
    """The controller is named by ``policy.controller`` of policy.yaml."""
    controller = yaml.safe_load((RULES / "policy.yaml").read_text(encoding="utf-8"))["policy"]["controller"]
    assert _hits(re.compile(re.escape(controller[field]))) == []


def test_src_holds_no_legal_period() -> None:
    """A period the rules set (the evidence window, the bookkeeping period, the request deadlines, the
    relevance review) is not written into Python, in digits or in words."""
    alternatives = [
        rf"\b(?:{n}|{number_word(n)})[- ]{unit}s?\b" for n, unit in sorted(_periods())
    ]
    assert _hits(re.compile("|".join(alternatives), re.IGNORECASE)) == []
