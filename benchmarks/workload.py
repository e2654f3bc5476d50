"""The benchmark workload: every disclosure question of one fixed context shape.

The shape is a realistic service call: a candidate who has applied and not withdrawn consent or
objected, whose record is not anonymised, asked about one data category at a time, with no Art. 9
or Art. 10 flags raised on the data, no aggregate, no extra context and sub-processors inside the
EU/EEA. What varies is what a recruitment agency's systems actually vary:

* the operation (all five),
* the data category (ten that between them reach every category list in the rules),
* the purpose (the ten purposes of the policy, plus ``client_marketing`` and ``sell_data``),
* the recipient: its kind (all eleven), whether it is inside the EU/EEA (``SE``) or not (``US``),
  and the attributes that matter for that kind of recipient (an assignment, signed agreements,
  relevance to the candidate's competence, a specific process requirement, a legitimate need under
  the Credit Information Act, a legal obligation under Swedish or foreign law).

That is 5 x 10 x 12 x 80 = 48,000 questions, which fits policykit's default memo (65,536). Each
question is one :class:`Question`; it is turned into a typed ``DisclosureRequest``, a plain mapping,
a Cedar request and a Casbin request by the functions below, which only project the question's
fields (no policy logic lives here).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from policykit import DisclosureRequest

__all__ = [
    "CATEGORIES",
    "COUNTRIES",
    "OPERATIONS",
    "PURPOSES",
    "SHAPE",
    "Question",
    "recipients",
    "sample",
    "to_mapping",
    "to_typed",
    "workload",
]

OPERATIONS = ("transfer", "disclose", "show", "sell", "share_aggregate")
CATEGORIES = (
    "name",
    "birth_date",
    "contact_info",
    "photo",
    "interview_notes",
    "application_documents",
    "special_category_data",
    "criminal_offence_data",
    "bookkeeping_record",
    "aggregated_statistics",
)
PURPOSES = (
    "identify_potential_candidates",
    "obtain_reference_statements",
    "sell_recruitment_services",
    "personality_competence_assessment",
    "candidate_portal_services",
    "bookkeeping",
    "present_candidates_to_clients",
    "respond_to_requests",
    "statistics_target_group_optimisation",
    "discrimination_disputes",
    "client_marketing",
    "sell_data",
)
# inside the EU/EEA, and outside it
COUNTRIES = ("SE", "US")
# the legal obligation of an authority: none, under Swedish law, under another country's law
OBLIGATIONS = ("none", "SE", "US")

# What every question of the shape holds fixed (the defaults of a DisclosureRequest, spelled out).
SHAPE: dict[str, Any] = {
    "candidate": {"consent_status": "given", "objection_in_writing": False, "anonymised": False,
                  "explicit_consent_special_category": False, "special_category_relevant": False},
    "contains_special_category": False,
    "contains_criminal_data": False,
    "art10_statutory_basis": False,
    "identifiable": True,
    "min_cell_size": None,
    "disclosed_context": (),
    "recipient.subprocessors_in_eea": True,
    "recipient.receives_copy": None,
}

_B = (False, True)


class Question(NamedTuple):
    """One disclosure question of the workload: the fields that vary."""

    operation: str
    category: str
    purpose: str
    kind: str
    country: str
    active_assignment: bool = False
    agreements: bool = False  # a confidentiality undertaking and a data agreement, both signed
    relevant: bool = False  # relevant to the candidate's professional competence
    requirement: bool = False  # a specific requirement of the process (checks)
    kul_need: bool = False  # a legitimate need under the Credit Information Act
    obligation: str = "none"  # a legal obligation: none, or the country whose law imposes it


def _kind_variants(kind: str) -> Iterator[dict[str, Any]]:
    """The attribute combinations that matter for a recipient of this kind."""
    if kind == "recruitment_client":
        for a, g, r in itertools.product(_B, _B, _B):
            yield {"active_assignment": a, "agreements": g, "relevant": r}
    elif kind in ("existing_client_no_assignment", "prospective_client"):
        for g, r in itertools.product(_B, _B):
            yield {"agreements": g, "relevant": r}
    elif kind == "background_check_provider":
        for q, g in itertools.product(_B, _B):
            yield {"requirement": q, "agreements": g}
    elif kind == "credit_check_provider":
        for q, k, g in itertools.product(_B, _B, _B):
            yield {"requirement": q, "kul_need": k, "agreements": g}
    elif kind == "authority":
        for o in OBLIGATIONS:
            yield {"obligation": o}
    elif kind == "reference":
        yield {}
    else:  # test_provider, subprocessor, other_third_party, data_subject_designated_controller
        for g in _B:
            yield {"agreements": g}


KINDS = (
    "recruitment_client",
    "existing_client_no_assignment",
    "prospective_client",
    "test_provider",
    "background_check_provider",
    "credit_check_provider",
    "authority",
    "reference",
    "subprocessor",
    "other_third_party",
    "data_subject_designated_controller",
)


def recipients() -> list[dict[str, Any]]:
    """Every recipient of the shape: kind, country and the attributes that matter for the kind."""
    return [
        {"kind": kind, "country": country, **variant}
        for kind in KINDS
        for variant in _kind_variants(kind)
        for country in COUNTRIES
    ]


def workload() -> list[Question]:
    """Every question of the shape, in a fixed order."""
    return [
        Question(operation=op, category=cat, purpose=purpose, **rcp)
        for rcp in recipients()
        for op in OPERATIONS
        for purpose in PURPOSES
        for cat in CATEGORIES
    ]


def sample(questions: Sequence[Question], size: int | None, seed: int = 20220622) -> list[Question]:
    """A reproducible shuffled selection (``size=None``: all of them, shuffled)."""
    rng = random.Random(seed)
    if size is None or size >= len(questions):
        chosen = list(questions)
        rng.shuffle(chosen)
        return chosen
    return rng.sample(list(questions), size)


def to_mapping(q: Question) -> dict[str, Any]:
    """The question as a plain mapping shaped like the ``inputs`` of a disclosure case."""
    recipient: dict[str, Any] = {
        "kind": q.kind,
        "country": q.country,
        "active_assignment": q.active_assignment,
        "confidentiality_undertaking": q.agreements,
        "data_agreement_signed": q.agreements,
        "relevant_to_candidate_competence": q.relevant,
        "specific_process_requirement": q.requirement,
        "legitimate_need_kul": q.kul_need,
    }
    if q.obligation != "none":
        recipient["legal_obligation"] = True
        recipient["legal_obligation_jurisdiction"] = q.obligation
    return {
        "operation": q.operation,
        "data_categories": [q.category],
        "purpose": q.purpose,
        "recipient": recipient,
        "candidate": {"consent_status": "given", "objection_in_writing": False},
    }


def to_typed(q: Question) -> DisclosureRequest:
    """The question as a typed ``DisclosureRequest``."""
    return DisclosureRequest.parse(to_mapping(q))
