"""policykit._records.anonymise: erasing the identifying set from users' annotated records."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from examples.candidate_model import Candidate
from pydantic import BaseModel

import policykit
from policykit import Category
from policykit._records.annotations import iter_fields
from policykit.errors import AnnotationError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "records" / "candidate.json"


@pytest.fixture(scope="module")
def candidate() -> Candidate:
    return Candidate.model_validate_json(EXAMPLE.read_text(encoding="utf-8"))


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON-like value, keys excluded."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def identifying_values(record: BaseModel) -> list[str]:
    """The input's values held in fields not declared non-identifying (and every word of free text)."""
    out: list[str] = []
    for _, spec, value in iter_fields(record):
        assert spec.category is not None
        if spec.category.non_identifying or value in (None, "", []):
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            text = item.isoformat() if isinstance(item, dt.date) else str(item)
            out.append(text)
    return out


def test_no_identifying_value_remains_anywhere(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Walking the whole anonymised example record finds no name, e-mail, phone, URL, free text or
    any other value of an identifying field of the input."""
    result = bundled_policy.anonymise(candidate)
    dumped = result.record.model_dump(mode="json")
    found = list(strings(dumped))
    flat = "\n".join(found)
    for value in identifying_values(candidate):
        assert value not in flat, value
    for needle in ("Sara", "Lindqvist", "Johan", "Berg", "example.se", "linkedin", "+46", "1991-06-14",
                   "PostgreSQL", "step-free", "percentile", "cand-000417"):
        assert needle not in flat, needle
    for text in found:
        assert not re.search(r"@|https?://|\s|\+\d", text), text


def test_structured_non_identifying_fields_are_kept(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Position family, application dates, outcomes and the score band survive; lists keep their shape."""
    record = bundled_policy.anonymise(candidate).record
    assert isinstance(record, Candidate)
    assert [a.position_family for a in record.applications] == ["software_engineering"] * 2
    assert [a.submitted_on for a in record.applications] == [dt.date(2023, 12, 31), dt.date(2023, 4, 3)]
    assert [a.outcome for a in record.applications] == ["not_selected", "withdrew"]
    assert record.test_score_band == "upper_quartile"
    assert len(record.references) == 1


def test_erased_fields_become_none_or_empty(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Optional fields become None; required strings become "" and lists []."""
    record = bundled_policy.anonymise(candidate).record
    assert (record.birth_date, record.phone, record.photo_url, record.linkedin_url) == (None, None, None, None)
    assert (record.name, record.email, record.candidate_id) == ("", "", "")
    assert record.interview_notes == []
    assert record.references[0].referee_name == ""
    assert record.references[0].referee_phone is None
    assert record.applications[0].cover_letter is None
    assert record.health_adjustments is None


def test_the_input_is_not_changed(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Anonymisation returns a copy."""
    bundled_policy.anonymise(candidate)
    assert candidate.name == "Sara Lindqvist"


def test_report_says_what_was_erased_and_why(bundled_policy: policykit.Policy, candidate: Candidate) -> None:
    """Every leaf appears in the report once, erased or kept, with a reason and P-RET-4."""
    report = bundled_policy.anonymise(candidate).report
    paths = [a.path for a in report.actions]
    assert paths == [p for p, _, _ in iter_fields(candidate)]
    by_path = {a.path: a for a in report.actions}
    assert by_path["name"].action == "erased"
    assert "direct identifier" in by_path["name"].reason
    assert by_path["applications[0].cv_text"].action == "erased"
    assert "free text" in by_path["applications[0].cv_text"].reason
    assert by_path["applications[1].position_family"].action == "kept"
    assert all(a.clauses == ("P-RET-4",) for a in report.actions)
    assert {a.path for a in report.kept} == {
        "applications[0].submitted_on", "applications[0].position_family", "applications[0].outcome",
        "applications[1].submitted_on", "applications[1].position_family", "applications[1].outcome",
        "test_score_band",
    }
    text = report.explain()
    assert "references[0].statement" in text
    assert json.loads(json.dumps(report.to_dict()))[0]["path"] == "candidate_id"


class Colour(enum.Enum):
    RED = "red"


class Profile(BaseModel):
    band: Annotated[str, Category("test_results", non_identifying=True)]
    year: Annotated[int, Category("application_documents", non_identifying=True)]
    colour: Annotated[Colour | None, Category("application_documents", non_identifying=True)] = None
    tags: Annotated[tuple[str, ...], Category("application_documents", non_identifying=True)] = ()
    invoice: Annotated[str | None, Category("bookkeeping_record", non_identifying=True)] = None
    blob: Annotated[bytes, Category("application_documents")] = b""
    extra: Annotated[dict[str, str], Category("interview_notes")] = {}


def test_free_text_in_a_non_identifying_field_is_erased(bundled_policy: policykit.Policy) -> None:
    """A value that is free text is erased even when the field is declared non-identifying."""
    profile = Profile(band="Top 5%, said Anna", year=2024, colour=Colour.RED, tags=("python", "sql"),
                      invoice="INV-1", blob=b"%PDF", extra={"k": "v"})
    result = bundled_policy.anonymise(profile)
    record = result.record
    assert record.band == ""
    assert (record.year, record.colour, record.tags) == (2024, Colour.RED, ("python", "sql"))
    assert record.invoice is None
    assert (record.blob, record.extra) == (b"", {})
    reasons = {a.path: a.reason for a in result.report.erased}
    assert "free text" in reasons["band"]
    assert "Bokföringslagen" in reasons["invoice"]


class Unerasable(BaseModel):
    born: Annotated[dt.date, Category("birth_date")]


def test_a_field_that_cannot_be_erased_is_an_error(bundled_policy: policykit.Policy) -> None:
    """A required date cannot be emptied: the error names the field and the fix."""
    with pytest.raises(AnnotationError, match=r"Unerasable\.born: cannot erase .*make it optional"):
        bundled_policy.anonymise(Unerasable(born=dt.date(1990, 1, 1)))


class Unannotated(BaseModel):
    name: Annotated[str, Category("name")]
    nickname: str


def test_a_field_without_a_category_is_an_error(bundled_policy: policykit.Policy) -> None:
    """A field with no category is never silently kept."""
    with pytest.raises(AnnotationError, match=r"Unannotated\.nickname: expected Annotated"):
        bundled_policy.anonymise(Unannotated(name="x", nickname="y"))


def test_not_a_model_is_an_error(bundled_policy: policykit.Policy) -> None:
    """Only pydantic model instances can be anonymised."""
    with pytest.raises(AnnotationError, match="expected an instance of a pydantic model"):
        bundled_policy.anonymise({"name": "x"})  # type: ignore[type-var]


class Inner(BaseModel):
    note: Annotated[str, Category("interview_notes")]
    level: Annotated[str, Category("test_results", non_identifying=True)]


class Outer(BaseModel):
    one: Inner | None = None
    many: tuple[Inner, ...] = ()


def test_nested_models_optional_and_tuples(bundled_policy: policykit.Policy) -> None:
    """Optional nested models and tuples of models are walked; None stays None."""
    record = Outer(one=Inner(note="Talked to Eva", level="senior"), many=(Inner(note="x y", level="junior"),))
    out = bundled_policy.anonymise(record).record
    assert out.one is not None
    assert (out.one.note, out.one.level) == ("", "senior")
    assert isinstance(out.many, tuple)
    assert out.many[0].level == "junior"
    assert bundled_policy.anonymise(Outer()).record.one is None
