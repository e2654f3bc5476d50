"""An example candidate record, as an applicant-tracking system might hold it.

Every field says which data category it holds (``policykit.Category``); nested models carry their
own categories. ``non_identifying=True`` marks structured attributes that identify no one once
detached from the record, which anonymisation may keep.

Load the shipped example: ``Candidate.model_validate_json(Path("examples/records/candidate.json").read_text())``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from policykit import Category


class Reference(BaseModel):
    """A referee and what they said (reference-call notes hold the referee's data too)."""

    model_config = ConfigDict(frozen=True)

    referee_name: Annotated[str, Category("reference_notes")]
    referee_phone: Annotated[str | None, Category("reference_notes")] = None
    statement: Annotated[str, Category("reference_notes")]


class Application(BaseModel):
    """One application to one position."""

    model_config = ConfigDict(frozen=True)

    submitted_on: Annotated[dt.date, Category("application_documents", non_identifying=True)]
    position_family: Annotated[str, Category("application_documents", non_identifying=True)]
    cv_text: Annotated[str, Category("application_documents")]
    cover_letter: Annotated[str | None, Category("application_documents")] = None
    outcome: Annotated[str | None, Category("interview_notes", non_identifying=True)] = None


class Candidate(BaseModel):
    """A candidate in the applicant-tracking system."""

    model_config = ConfigDict(frozen=True)

    candidate_id: Annotated[str, Category("name")]
    name: Annotated[str, Category("name")]
    birth_date: Annotated[dt.date | None, Category("birth_date")] = None
    email: Annotated[str, Category("contact_info")]
    phone: Annotated[str | None, Category("contact_info")] = None
    photo_url: Annotated[str | None, Category("photo")] = None
    linkedin_url: Annotated[str | None, Category("linkedin_profile")] = None
    applications: list[Application] = []
    interview_notes: Annotated[list[str], Category("interview_notes")] = []
    references: list[Reference] = []
    test_score_band: Annotated[str | None, Category("test_results", non_identifying=True)] = None
    test_report: Annotated[str | None, Category("test_results")] = None
    health_adjustments: Annotated[str | None, Category("special_category_data")] = None
