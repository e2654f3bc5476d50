"""Users' own pydantic models, annotated with data categories.

A service marks each field of its candidate model with the data category it holds::

    class Candidate(BaseModel):
        name: Annotated[str, policykit.Category("name")]
        email: Annotated[str, policykit.Category("contact_info")]
        cv: Annotated[bytes, policykit.Category("application_documents")]
        score_band: Annotated[str, policykit.Category("test_results", non_identifying=True)]
        references: list[Reference]            # nested models carry their own categories

``non_identifying=True`` declares a structured attribute that identifies no one once detached (a
score band, an application year); anonymisation may keep it (docs/redaction.md). The direct
identifiers (name, birth date, contact details, photo, LinkedIn profile) can never be so marked.

A field with no category, or an unknown category, is an :class:`~policykit.errors.AnnotationError`
raised when the model is inspected (``check_model``), not when a record is sent.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from policykit._ruleset.vocabulary import DataCategory
from policykit.errors import AnnotationError, did_you_mean

__all__ = ["DIRECT_IDENTIFIERS", "Category", "FieldSpec", "check_model", "iter_fields"]

DIRECT_IDENTIFIERS = frozenset({"name", "birth_date", "contact_info", "photo", "linkedin_profile"})


@dataclass(frozen=True, slots=True)
class Category:
    """The data category a field of a user's model holds (``Annotated[str, Category("name")]``)."""

    id: str
    non_identifying: bool = False

    def __post_init__(self) -> None:
        known = [c.value for c in DataCategory]
        if self.id not in known:
            raise AnnotationError(
                f"expected a data category of the vocabulary, got {self.id!r}"
                + did_you_mean(self.id, known)
                + f"; categories: {', '.join(known)}"
            )
        if self.non_identifying and self.id in DIRECT_IDENTIFIERS:
            raise AnnotationError(
                f"category {self.id!r} identifies the person by itself, so it cannot be marked "
                "non_identifying"
            )


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an annotated model: a leaf with a category, or a nested model (or list of them)."""

    name: str
    category: Category | None
    nested: type[BaseModel] | None = None
    many: bool = False

    @property
    def is_leaf(self) -> bool:
        """Whether the field holds data directly (not a nested model)."""
        return self.nested is None


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """``(Model, many)`` when the annotation is a model, an optional model or a list/tuple of models."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _nested_model(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _nested_model(args[0])
        return None, False
    if origin in (list, tuple, set, frozenset) or (origin is not None and origin.__name__ == "Sequence"):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        if len(args) == 1:
            model, _ = _nested_model(args[0])
            return model, model is not None
        return None, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


@lru_cache(maxsize=256)
def check_model(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """Inspect a model class: every field must carry a :class:`Category` or be a nested model whose
    fields do. Raises :class:`AnnotationError` naming the model and field otherwise."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise AnnotationError(f"expected a pydantic model class, got {model!r}")
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        categories = [m for m in info.metadata if isinstance(m, Category)]
        nested, many = _nested_model(info.annotation)
        where = f"{model.__name__}.{name}"
        if len(categories) > 1:
            raise AnnotationError(f"{where}: expected one Category, got {len(categories)}")
        if nested is not None:
            if categories:
                raise AnnotationError(
                    f"{where}: a nested model carries its categories on its own fields; remove the "
                    f"Category({categories[0].id!r}) here"
                )
            check_model(nested)
            specs.append(FieldSpec(name, None, nested, many))
            continue
        if not categories:
            raise AnnotationError(
                f"{where}: expected Annotated[..., policykit.Category('<category>')], found no data "
                f"category; every field must say what it holds (categories: "
                f"{', '.join(c.value for c in DataCategory)})"
            )
        specs.append(FieldSpec(name, categories[0]))
    return tuple(specs)


def iter_fields(record: BaseModel, prefix: str = "") -> Iterator[tuple[str, FieldSpec, Any]]:
    """Every leaf value of a record: ``(dotted path, spec, value)``; lists of models are indexed."""
    for spec in check_model(type(record)):
        value = getattr(record, spec.name)
        path = f"{prefix}{spec.name}"
        if spec.is_leaf:
            yield path, spec, value
        elif value is None:
            continue
        elif spec.many:
            for i, item in enumerate(value):
                yield from iter_fields(item, f"{path}[{i}].")
        else:
            yield from iter_fields(value, f"{path}.")


