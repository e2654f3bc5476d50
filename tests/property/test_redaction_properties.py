"""Properties of field-level redaction and of exports, over generated records and requests."""

from __future__ import annotations

from typing import Any

from hypothesis import given

import policykit
from policykit._records.annotations import iter_fields
from policykit._records.redact import is_empty
from tests.property.strategies import disclosure_requests, leaves, records

COMPELLED: dict[str, Any] = {
    "operation": "disclose",
    "purpose": "discrimination_disputes",
    "recipient": {"kind": "authority", "country": "SE", "legal_obligation": True,
                  "legal_obligation_jurisdiction": "SE"},
}
NEVER_PORTED = {"reference_notes", "interview_notes", "test_results", "background_check"}


@given(record=records(), request=disclosure_requests())
def test_redaction_never_returns_a_field_whose_category_is_forbidden(
    bundled_policy: policykit.Policy, record: Any, request: dict[str, Any]
) -> None:
    """No value of a category the decision forbids survives, in the data or in the record copy."""
    r = bundled_policy.redact(record, request)
    if r.decision is None:
        assert all(is_empty(v) for _, _, v in iter_fields(record))
        return
    forbidden = {c for c, ok in r.decision.by_category.items() if not ok}
    for category, value in leaves(type(record), r.data):
        assert category not in forbidden or is_empty(value), category
    if r.record is not None:
        for _, spec, value in iter_fields(r.record):
            assert spec.category is not None
            assert spec.category.id not in forbidden or is_empty(value), spec.category.id
    assert {w.category for w in r.withheld} == forbidden


@given(record=records(), request=disclosure_requests())
def test_a_request_that_allows_every_held_category_returns_the_record_unchanged(
    bundled_policy: policykit.Policy, record: Any, request: dict[str, Any]
) -> None:
    """Whenever the decision lets every held category go, nothing is withheld or changed."""
    r = bundled_policy.redact(record, request)
    if r.decision is not None and not r.decision.allowed:
        return
    assert r.withheld == ()
    assert r.record == record
    assert r.data == record.model_dump(mode="json")


@given(record=records())
def test_a_compelled_disclosure_returns_every_record_unchanged(
    bundled_policy: policykit.Policy, record: Any
) -> None:
    """A disclosure the law compels allows every category, so every record comes back as it is."""
    r = bundled_policy.redact(record, COMPELLED)
    assert r.decision is None or r.decision.allowed
    assert r.record == record
    assert r.data == record.model_dump(mode="json")


@given(record=records())
def test_a_portability_export_never_holds_notes_test_results_or_checks(
    bundled_policy: policykit.Policy, record: Any
) -> None:
    """Reference notes, interview notes, test results and background checks are never ported."""
    doc = bundled_policy.export(record, "portability")
    assert not NEVER_PORTED & set(doc["data"])
    assert not NEVER_PORTED & set(doc["categories"])


@given(record=records())
def test_an_access_export_holds_every_annotated_field(bundled_policy: policykit.Policy, record: Any) -> None:
    """Every leaf of the record appears under its category, with its JSON value."""
    doc = bundled_policy.export(record, "access")
    for path, spec, _ in iter_fields(record):
        assert spec.category is not None
        assert path in doc["data"][spec.category.id], path
    count = sum(len(fields) for fields in doc["data"].values())
    assert count == sum(1 for _ in iter_fields(record))
