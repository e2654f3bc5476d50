"""Exports of a candidate's record for access (Art. 15) and portability (Art. 20) requests.

``Policy.export(record, kind=...)`` turns a user's annotated record (``_records.annotations``) into one JSON-ready
document:

* ``kind="access"``: every annotated field of the record, grouped by data category, with the
  information Art. 15(1) requires (purposes and their stated legal bases, recipients, retention
  criteria, sources, the rights including objection and the right to complain to IMY, and the
  controller's contact details). Fields in categories that hold other people's data (reference notes)
  are listed under ``review``: their third-party parts must be redacted before release (Art. 15(4),
  A-13).
* ``kind="portability"``: only the data the candidate provided under consent or contract, in a
  structured, commonly used and machine-readable format (JSON). Which categories qualify is decided by
  the request rules (``rules/requests.yaml``), as for a portability request whose Art. 20(1)
  conditions are met; the categories left out are listed with the reason. Whether a particular
  request meets those conditions is ``Policy.handle_request``'s question.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel

from policykit._records.annotations import FieldSpec, check_model
from policykit._records.redact import held_categories
from policykit.errors import AnnotationError, RequestValidationError

if TYPE_CHECKING:
    from policykit._requests.response import RequestResponse
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["EXPORT_KINDS", "Exporter", "export_record", "leaves"]



class Exporter(Protocol):
    """What an export asks of a policy: its rule set, today's date and the answer to a portability request."""

    @property
    def rules(self) -> RuleSet: ...

    def today(self) -> dt.date: ...

    def handle_request(self, request: Mapping[str, Any]) -> RequestResponse: ...


EXPORT_KINDS = ("access", "portability")
ExportKind = Literal["access", "portability"]

def leaves(record: BaseModel, dump: Any, prefix: str = "") -> Iterator[tuple[str, FieldSpec, Any]]:
    """Every leaf of a record as ``(path, spec, JSON value)``, walking the record and its JSON dump
    together (so a model's own serialisers are respected); lists of models are indexed."""
    for spec in check_model(type(record)):
        value = getattr(record, spec.name)
        path = f"{prefix}{spec.name}"
        json_value = dump.get(spec.name) if isinstance(dump, dict) else None
        if spec.is_leaf:
            yield path, spec, json_value
        elif value is None:
            continue
        elif spec.many:
            json_items = json_value if isinstance(json_value, list) else []
            for i, item in enumerate(value):
                yield from leaves(item, json_items[i] if i < len(json_items) else {}, f"{path}[{i}].")
        else:
            yield from leaves(value, json_value or {}, f"{path}.")


def _by_category(record: BaseModel, only: set[str] | None = None) -> dict[str, dict[str, Any]]:
    dump = record.model_dump(mode="json")
    data: dict[str, dict[str, Any]] = {}
    for path, spec, value in leaves(record, dump):
        assert spec.category is not None
        if only is None or spec.category.id in only:
            data.setdefault(spec.category.id, {})[path] = value
    return data


def _information(rules: RuleSet, held: tuple[str, ...]) -> dict[str, Any]:
    vocab = rules.vocabulary
    meta = rules.meta
    bases = {b.id: b for b in vocab.legal_bases}
    storage = rules.citations.of("storage")[0]
    sources = rules.citations.of("sources")[0]
    rights = [{"right": r.right, "gdpr": r.gdpr, "clauses": list(r.clauses), "en": r.en} for r in rules.rights]
    return {
        "purposes": [
            {
                "id": p.id,
                "en": p.en,
                "clause": p.clause,
                "legal_bases": [{"id": b, "en": bases[b].en, "gdpr": bases[b].gdpr} for b in p.stated_legal_bases],
            }
            for p in vocab.purposes
        ],
        "recipients": [
            {"kind": k.id, "en": k.en, "clause": k.clause}
            for k in vocab.recipient_kinds
            if k.id != "other_third_party"
        ],
        "storage": {"clause": storage, "en": rules.clause(storage).en},
        "retention_criteria": [
            {"clauses": list(c.clauses), "en": c.en} for c in rules.retention_criteria
        ],
        "sources": {
            "clause": sources,
            "en": rules.clause(sources).en,
            "by_category": {c: list(vocab.category(c).typical_source) for c in held},
        },
        "rights": [
            *rights[:-1],
            {**rights[-1], "authority": {"name": meta.supervisory_authority.name,
                                         "url": meta.supervisory_authority.url}},
        ],
        "contact": {
            "controller": meta.controller.name,
            "organisation_number": meta.controller.organisation_number,
            "address": meta.controller.address,
            "telephone": meta.controller.telephone,
            "email": meta.controller.email,
            "clauses": [*rules.citations.of("controller"), *meta.controller.clauses],
        },
    }


def export_record(
    policy: Exporter, record: BaseModel, kind: str = "access", *, as_of: dt.date | None = None
) -> dict[str, Any]:
    """The access or portability export of ``record`` (see the module)."""
    if kind not in EXPORT_KINDS:
        raise RequestValidationError(f"kind: expected 'access' or 'portability', got {kind!r}")
    if not isinstance(record, BaseModel):
        raise AnnotationError(f"expected an instance of a pydantic model, got {type(record).__name__}")
    check_model(type(record))
    rules = policy.rules
    day = as_of or policy.today()
    held = held_categories(record, rules.vocabulary.ids("data_categories"))
    head: dict[str, Any] = {
        "kind": kind,
        "policy": {"name": rules.meta.name, "version": rules.meta.version},
        "controller": rules.meta.controller.name,
        "generated_on": day.isoformat(),
    }
    if kind == "access":
        data = _by_category(record)
        third_party = [c.id for c in rules.vocabulary.data_categories if c.contains_third_party_data]
        review = [path for c in third_party for path in data.get(c, {})]
        return {
            **head,
            "format": "application/json",
            "categories": list(held),
            "data": data,
            "review": {
                "redact_before_release": review,
                "why": "these fields may hold other people's personal data (the referee's), which are "
                       "redacted beyond what the candidate already knows (Art. 15(4), A-13)",
            },
            "information": _information(rules, held),
        }
    response = policy.handle_request({
        "request": "portability",
        "channel": "portal",
        "received_on": day,
        "data_held": list(held),
        "provided_by_candidate": True,
        "legal_basis": ["consent", "contract"],
    })
    delivered = set(response.deliver)
    return {
        **head,
        "format": response.format or "structured_commonly_used_machine_readable",
        "categories": [c for c in held if c in delivered],
        "data": _by_category(record, delivered),
        "not_included": {d.item: d.reason for d in response.dispositions if d.disposition == "exclude"},
        "rule_ids": list(response.rule_ids),
        "clauses": list(response.clauses),
    }
