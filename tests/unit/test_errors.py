"""The error tree: one root, definition-time apart from query-time, stable unique codes."""

from __future__ import annotations

import inspect

import pytest

from policykit import errors

CLASSES = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.PolicyKitError)]


def test_codes_are_unique() -> None:
    """Every error class has its own code."""
    codes = [c.code for c in CLASSES]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_sits_under_one_branch(cls: type[errors.PolicyKitError]) -> None:
    """Each error sits under exactly one branch of the tree (or is a branch root); InternalError, an
    unexpected failure, is its own branch."""
    branches = (errors.DefinitionError, errors.QueryError, errors.EngineError, errors.DecisionLogError,
                errors.SweepError, errors.InternalError)
    assert cls is errors.PolicyKitError or sum(issubclass(cls, b) for b in branches) == 1


def test_query_errors_are_value_errors() -> None:
    """Callers catching ValueError for bad input also catch policykit's query errors."""
    assert issubclass(errors.QueryError, ValueError)


def test_definition_errors_prefix_file_and_line() -> None:
    """'file:line: message' is the form of every definition error."""
    err = errors.UnknownTermError("expected x, got y", file="rules/a.yaml", line=7)
    assert str(err) == "rules/a.yaml:7: expected x, got y"
    assert (err.file, err.line, err.detail) == ("rules/a.yaml", 7, "expected x, got y")


def test_did_you_mean_suggests_close_words_only() -> None:
    """A close match is suggested; an unrelated word gets no suggestion."""
    assert errors.did_you_mean("tranfer", ["transfer", "show"]) == " (did you mean 'transfer'?)"
    assert errors.did_you_mean("zzz", ["transfer", "show"]) == ""


def test_the_docstring_tree_lists_every_error() -> None:
    """The tree drawn in the module docstring names every class."""
    doc = errors.__doc__ or ""
    assert all(cls.__name__ in doc for cls in CLASSES)


def test_mapping_errors_prefix_file_and_line() -> None:
    """A mapping error found in the file names the file and line, like a rule-file error."""
    err = errors.MappingError("expected a data category, got 'nmae'", file="mapping.yaml", line=12)
    assert str(err) == "mapping.yaml:12: expected a data category, got 'nmae'"
    assert str(errors.MappingError("no table 'x'")) == "no table 'x'"
