"""docs/errors.md documents every error of policykit.errors, with its code, and no other."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from policykit import errors

ERRORS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
ROW = re.compile(r"^\| `(?P<code>[a-z_.]+)` \| `(?P<name>[A-Za-z]+)` \|", re.MULTILINE)


def error_classes() -> dict[str, str]:
    """Class name → code, for every error class the module defines."""
    return {
        name: cls.code
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.PolicyKitError) and cls.__module__ == errors.__name__
    }


def documented() -> dict[str, str]:
    """Class name → code, from the tables of docs/errors.md."""
    rows = ROW.finditer(ERRORS_PAGE.read_text(encoding="utf-8"))
    return {m["name"]: m["code"] for m in rows}


def test_every_error_is_documented_with_its_code() -> None:
    """The documented errors and codes are exactly those of policykit.errors."""
    assert documented() == error_classes()


def test_codes_are_unique() -> None:
    """No two errors share a code."""
    codes = list(error_classes().values())
    assert len(codes) == len(set(codes))


def test_the_tree_in_the_docs_matches_the_module_docstring() -> None:
    """The error tree drawn on the page is the one in the errors module's docstring."""
    tree = (errors.__doc__ or "").split("::", 1)[1].strip("\n")
    lines = [line.strip() for line in tree.splitlines() if line.strip()]
    page = ERRORS_PAGE.read_text(encoding="utf-8")
    for line in lines:
        assert line in page, line
