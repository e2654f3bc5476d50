"""The outcome matrix of the requests page (docs/policy/requests.md) says what the engine answers.

The page is read as a reader sees it; each cell is compared with ``policy.handle_request`` asked the
question the page describes, written out here on its own. A few rows are also checked against the
policy text directly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import policykit
from policykit._ruleset.requests import REQUEST_TYPES

PAGE = Path(__file__).resolve().parents[2] / "docs" / "policy" / "requests.md"
BASE = {
    "channel": "email", "received_on": "2026-03-02", "applications": ["2025-01-10"],
    "data_held": ["name", "contact_info", "application_documents", "reference_notes"], "sources": ["candidate"],
}
WITHDRAWN = {"consent_status": "withdrawn", "consent_withdrawn_on": "2025-06-01"}
ROWS: dict[str, dict[str, Any]] = {  # the page's condition titles, and what each adds to the request
    "Consent given by applying is in force": {"candidate_state": "active"},
    "Consent withdrawn; the record is kept as evidence": {"candidate_state": "evidence_hold", **WITHDRAWN},
    "Consent withdrawn; a discrimination dispute is pending": {"candidate_state": "legal_hold", **WITHDRAWN},
    "The record has been anonymised": {"candidate_state": "anonymised", **WITHDRAWN},
    "Consent in force; the request is manifestly unfounded or excessive": {
        "candidate_state": "active", "manifestly_unfounded_or_excessive": True},
    "Consent in force; the reference notes also hold the referee's private contact details": {
        "candidate_state": "active", "reference_notes_contain": ["statements_about_candidate", "referee_private_contact"]},
}
CELL = re.compile(r"`([a-z_ ]+)`(?: \(\[([A-Z0-9-]+)\]\([^)]*\)\))?")


def page_matrix() -> dict[str, dict[str, tuple[str, str | None]]]:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Outcome matrix", 1)[1].split("</div>", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header = [h.strip().strip("`") for h in lines[0].strip("|").split("|")]
    out: dict[str, dict[str, tuple[str, str | None]]] = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        row = {}
        for kind, cell in zip(header[1:], cells[1:], strict=True):
            match = CELL.fullmatch(cell)
            assert match is not None, cell
            row[kind] = (match.group(1), match.group(2))
        out[cells[0]] = row
    return out


def question(kind: str, extra: dict[str, Any]) -> dict[str, Any]:
    request = {**BASE, "request": kind, **extra}
    if kind == "portability_direct_transmission":
        request["recipient"] = {"kind": "data_subject_designated_controller", "country": "SE"}
    return request


def test_every_cell_is_the_engines_answer(bundled_policy: policykit.Policy) -> None:
    """Each row and column of the page, against handle_request on the question it describes."""
    matrix = page_matrix()
    assert list(matrix) == list(ROWS)
    for title, extra in ROWS.items():
        assert list(matrix[title]) == list(REQUEST_TYPES)
        for kind in REQUEST_TYPES:
            answer = bundled_policy.handle_request(question(kind, extra))
            assert matrix[title][kind] == (answer.outcome, answer.outcome_rule), (title, kind)


def test_rows_the_policy_text_decides() -> None:
    """An anonymised record holds no personal data, so no right applies to it; a manifestly unfounded
    or excessive request is refused (P-RATT-3, GDPR Art. 12(5)); access to reference notes that also
    name the referee is given with the referee's data redacted (Art. 15(4)); erasure while a
    discrimination dispute is pending is refused (Art. 17(3)(e), A-09)."""
    matrix = page_matrix()
    assert {v[0] for v in matrix["The record has been anonymised"].values()} == {"not_applicable"}
    assert {v[0] for v in matrix["Consent in force; the request is manifestly unfounded or excessive"].values()} == {
        "refuse"}
    third = matrix["Consent in force; the reference notes also hold the referee's private contact details"]
    assert third["access"][0] == "fulfil_with_redaction"
    assert matrix["Consent withdrawn; a discrimination dispute is pending"]["erasure"][0] == "refuse"
