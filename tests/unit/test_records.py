"""Users' models annotated with data categories: checked when the model is inspected."""

from __future__ import annotations

from typing import Annotated

import pytest
from examples.candidate_model import Candidate
from pydantic import BaseModel

import policykit
from policykit import Category
from policykit._records.annotations import check_model, iter_fields
from policykit.errors import AnnotationError


class Referee(BaseModel):
    statement: Annotated[str, Category("reference_notes")]


class Person(BaseModel):
    name: Annotated[str, Category("name")]
    email: Annotated[str | None, Category("contact_info")] = None
    referees: list[Referee] = []
    best: Referee | None = None
    band: Annotated[str, Category("test_results", non_identifying=True)] = "a"


def test_fields_nested_models_and_lists_are_inspected() -> None:
    """Leaves carry their Category; nested models and lists of models are followed."""
    specs = {s.name: s for s in check_model(Person)}
    assert specs["name"].category == Category("name")
    assert specs["referees"].nested is Referee
    assert specs["referees"].many
    assert specs["best"].nested is Referee
    assert not specs["best"].many


def test_iter_fields_walks_every_leaf_with_its_path() -> None:
    """Every leaf value of a record is reached, lists indexed."""
    record = Person(name="A", referees=[Referee(statement="x"), Referee(statement="y")], best=Referee(statement="z"))
    paths = [path for path, _, _ in iter_fields(record)]
    assert paths == ["name", "email", "referees[0].statement", "referees[1].statement", "best.statement", "band"]


def test_a_field_without_category_is_an_error_when_the_model_is_inspected() -> None:
    """Not at send time: inspecting the class already fails, naming model and field."""
    class Untagged(BaseModel):
        name: Annotated[str, Category("name")]
        notes: str

    with pytest.raises(AnnotationError, match=r"Untagged\.notes: expected Annotated\[\.\.\., policykit\.Category"):
        check_model(Untagged)


def test_a_nested_model_with_an_untagged_field_is_an_error() -> None:
    """The check reaches into nested models."""
    class Inner(BaseModel):
        loose: int

    class Outer(BaseModel):
        inner: list[Inner]

    with pytest.raises(AnnotationError, match=r"Inner\.loose"):
        check_model(Outer)


def test_an_unknown_category_is_an_error_at_annotation_time() -> None:
    """Category('cv') fails where the model is written, with a suggestion."""
    with pytest.raises(AnnotationError, match="did you mean"):
        Category("contact")


def test_direct_identifiers_cannot_be_marked_non_identifying() -> None:
    """A name identifies by itself; it can never survive anonymisation."""
    with pytest.raises(AnnotationError, match="identifies the person by itself"):
        Category("name", non_identifying=True)


def test_two_categories_on_one_field_are_an_error() -> None:
    """A field holds one category."""
    class Double(BaseModel):
        x: Annotated[str, Category("name"), Category("photo")]

    with pytest.raises(AnnotationError, match="expected one Category, got 2"):
        check_model(Double)


def test_the_example_candidate_model_is_read_field_by_field() -> None:
    """The shipped example model: each field with the category written in examples/candidate_model.py,
    the non-identifying marks, and the nested lists of applications and references."""
    specs = {s.name: s for s in policykit.check_model(Candidate)}
    leaves = {n: (s.category.id, s.category.non_identifying) for n, s in specs.items() if s.category}
    assert leaves == {
        "candidate_id": ("name", False), "name": ("name", False), "birth_date": ("birth_date", False),
        "email": ("contact_info", False), "phone": ("contact_info", False), "photo_url": ("photo", False),
        "linkedin_url": ("linkedin_profile", False), "interview_notes": ("interview_notes", False),
        "test_score_band": ("test_results", True), "test_report": ("test_results", False),
        "health_adjustments": ("special_category_data", False),
    }
    nested = {n: (s.nested.__name__, s.many) for n, s in specs.items() if s.nested is not None}
    assert nested == {"applications": ("Application", True), "references": ("Reference", True)}
