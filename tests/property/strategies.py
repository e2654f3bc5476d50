"""Hypothesis strategies for the property tests of redaction, exports and data-subject requests:
annotated records, disclosure requests without categories, and data-subject requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from examples.candidate_model import Application, Candidate, Reference
from hypothesis import strategies as st
from pydantic import BaseModel, create_model

from policykit import Category, DataCategory, LegalBasis, Purpose, RecipientKind
from policykit._records.annotations import check_model

CATEGORIES = [c.value for c in DataCategory]
COUNTRIES = ["SE", "NO", "IS", "DE", "FI", "US", "CH", "GB", "IN"]

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
maybe_text = st.none() | texts
dates = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2030, 12, 31))


class Item(BaseModel):
    """A nested item holding free text and contact details."""

    text: Annotated[str, Category("interview_notes")]
    phone: Annotated[str | None, Category("contact_info")] = None


# a model with one optional field per data category of the vocabulary, a list field and nested items
_fields: dict[str, Any] = {c: (Annotated[str | None, Category(c)], None) for c in CATEGORIES}
_fields["tags"] = (Annotated[list[str], Category("linkedin_profile")], [])
_fields["first_item"] = (Item | None, None)
_fields["items"] = (list[Item], [])
Everything: type[BaseModel] = create_model("Everything", **_fields)


def applications() -> st.SearchStrategy[Application]:
    return st.builds(Application, submitted_on=dates, position_family=texts, cv_text=texts,
                     cover_letter=maybe_text, outcome=maybe_text)


def references() -> st.SearchStrategy[Reference]:
    return st.builds(Reference, referee_name=texts, referee_phone=maybe_text, statement=texts)


def candidates() -> st.SearchStrategy[Candidate]:
    """Records of the example Candidate model, with empty and missing values."""
    return st.builds(
        Candidate,
        candidate_id=texts, name=texts, birth_date=st.none() | dates, email=texts, phone=maybe_text,
        photo_url=maybe_text, linkedin_url=maybe_text,
        applications=st.lists(applications(), max_size=3),
        interview_notes=st.lists(texts, max_size=3),
        references=st.lists(references(), max_size=3),
        test_score_band=maybe_text, test_report=maybe_text, health_adjustments=maybe_text,
    )


def everythings() -> st.SearchStrategy[BaseModel]:
    """Records holding any subset of the vocabulary's categories, with nested items."""
    items = st.builds(Item, text=texts, phone=maybe_text)
    values: dict[str, Any] = dict.fromkeys(CATEGORIES, maybe_text)
    return st.builds(Everything, **values, tags=st.lists(texts, max_size=2), first_item=st.none() | items,
                     items=st.lists(items, max_size=3))


def records() -> st.SearchStrategy[BaseModel]:
    return candidates() | everythings()


def disclosure_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Disclosure requests without data_categories: any operation, purpose, recipient and status."""
    b = st.booleans()
    recipient = st.fixed_dictionaries(
        {"kind": st.sampled_from([k.value for k in RecipientKind]), "country": st.sampled_from(COUNTRIES)},
        optional={
            "active_assignment": b, "confidentiality_undertaking": b, "data_agreement_signed": b,
            "relevant_to_candidate_competence": b, "specific_process_requirement": b,
            "legitimate_need_kul": b, "legal_obligation": b,
            "legal_obligation_jurisdiction": st.sampled_from(["SE", "EU", "US"]),
            "role": st.sampled_from(["controller", "processor", "sub_processor"]),
        },
    )
    candidate = st.fixed_dictionaries(
        {},
        optional={
            "consent_status": st.sampled_from(["given", "withdrawn"]), "objection_in_writing": b,
            "explicit_consent_special_category": b, "special_category_relevant": b, "anonymised": b,
        },
    )
    return st.fixed_dictionaries(
        {
            "operation": st.sampled_from(["transfer", "disclose", "show", "sell", "share_aggregate"]),
            "purpose": st.sampled_from([p.value for p in Purpose] + ["client_marketing", "sell_data", "other"]),
            "recipient": recipient,
        },
        optional={"candidate": candidate, "contains_special_category": b},
    )


def subject_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Data-subject requests of every kind, with the fields each kind uses."""
    b = st.booleans()
    held = st.lists(st.sampled_from([*CATEGORIES, "talent_pool_tags", "cv", "misc_item"]), max_size=6, unique=True)
    return st.fixed_dictionaries(
        {
            "request": st.sampled_from(["access", "erasure", "restriction", "portability",
                                        "portability_direct_transmission", "objection", "rectification"]),
            "channel": st.sampled_from(["email", "letter", "portal", "phone", "in_person"]),
            "received_on": st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2026, 12, 31)),
            "recipient": st.fixed_dictionaries({"country": st.sampled_from(COUNTRIES)}),
        },
        optional={
            "candidate_state": st.sampled_from(["active", "evidence_hold", "legal_hold", "anonymised"]),
            "applications": st.lists(st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2026, 12, 31)),
                                     max_size=3),
            "data_held": held,
            "data_categories": st.lists(st.sampled_from(CATEGORIES), max_size=4, unique=True),
            "sources": st.lists(st.sampled_from(["candidate", "linkedin", "referee", "test_provider"]),
                                max_size=3, unique=True),
            "provided_by_candidate": b,
            "legal_basis": st.lists(st.sampled_from([x.value for x in LegalBasis]), max_size=2, unique=True),
            "processed_by_automated_means": b,
            "contains_third_party_data": b,
            "reference_notes_contain": st.lists(st.sampled_from(
                ["statements_about_candidate", "referee_private_contact"]), max_size=2, unique=True),
            "manifestly_unfounded_or_excessive": b,
            "ground": st.sampled_from(["accuracy_contested", "unlawful_processing_erasure_opposed",
                                       "needed_for_legal_claims", "objection_pending_verification", "whim"]),
            "objection_scope": st.lists(st.sampled_from([p.value for p in Purpose]), max_size=3, unique=True),
            "technically_feasible": b,
            "previous_recipients": st.lists(st.fixed_dictionaries(
                {"kind": st.just("recruitment_client"), "country": st.just("SE")}), max_size=1),
        },
    ).map(_fit)


def _fit(request: dict[str, Any]) -> dict[str, Any]:
    """Drop the fields a kind of request may not carry."""
    if request["request"] != "portability_direct_transmission":
        request.pop("recipient")
    if request["request"] != "objection":
        request.pop("objection_scope", None)
    return request


def leaves(model: type[BaseModel], data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(category, value)`` for every leaf present in JSON-ready data shaped like ``model``."""
    for spec in check_model(model):
        if spec.name not in data:
            continue
        value = data[spec.name]
        if spec.is_leaf:
            assert spec.category is not None
            yield spec.category.id, value
        elif value is None:
            continue
        elif spec.many:
            assert spec.nested is not None
            for item in value:
                yield from leaves(spec.nested, item)
        else:
            assert spec.nested is not None
            yield from leaves(spec.nested, value)
