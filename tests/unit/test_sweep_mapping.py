"""The sweep's mapping file: the built-in default, and every kind of mistake named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

import policykit
from policykit._sweep.mapping import DEFAULT_MAPPING, load_mapping
from policykit.errors import MappingError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sweep" / "mapping.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def default_text() -> str:
    return DEFAULT_MAPPING.read_text(encoding="utf-8")


def test_the_default_mapping_is_the_example_schemas() -> None:
    """examples/sweep/mapping.yaml is the built-in default, word for word (after the first line, which
    names the schema relative to each file)."""
    example, default = EXAMPLE.read_text(encoding="utf-8"), default_text()
    assert example.split("\n", 1)[1] == default.split("\n", 1)[1]
    assert example.startswith("# yaml-language-server: $schema=") and default.startswith("# yaml-language-server: $schema=")


def test_the_default_mapping_loads() -> None:
    """Categories, shorthand, non-identifying attributes, optional tables and the kept table."""
    m = policykit.load_mapping()
    assert m.timezone == "Europe/Stockholm"
    assert m.candidates.columns["email"].category == "contact_info"
    assert m.candidates.columns["test_score_band"].non_identifying
    assert m.objections is not None and m.objections.form == "form"
    assert [t.table for t in m.trigger_tables()] == ["consent_withdrawals", "objections", "erasure_requests"]
    assert [d.table for d in m.delete_rows] == ["reference_notes"]
    assert [k.table for k in m.kept] == ["bookkeeping_records"]
    assert m.candidates.keys() == {"id": "id", "anonymised_at": "anonymised_at", "process_closed_on": "process_closed_on"}


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    email: contact_info", "    email: contact", r"mapping.yaml:\d+: candidates.columns.email: expected a data "
                                                       r"category of the vocabulary, got 'contact' \(did you mean "
                                                       r"'contact_info'\?\)"),
    ("    name: name", "    name: {category: name, non_identifying: true}",
     "candidates.columns.name: category 'name' identifies the person by itself"),
    ("  submitted_at: submitted_at", "  submitted_on: submitted_at", r"applications.submitted_on: unexpected key"),
    ("timezone: Europe/Stockholm", "timezone: Europe/Stockholmm", r"mapping.yaml:\d+: .*IANA time zone"),
    ("    category: reference_notes", "    category: references", "delete_rows\\[0\\].category: expected a data"),
    ("  id: id                          # a surrogate key", "  id: [id]  # ", "candidates.id: "),
])
def test_mistakes_are_named_with_file_and_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    """An unknown category (with a suggestion), a direct identifier marked non-identifying, an unknown
    key, an unknown zone, a list where a name belongs: MappingError at the line."""
    text = default_text()
    assert old in text
    with pytest.raises(MappingError, match=message) as info:
        load_mapping(write(tmp_path, text.replace(old, new, 1)))
    assert info.value.line is not None and info.value.line > 1


def test_the_line_points_at_the_mistake(tmp_path: Path) -> None:
    """The line number is that of the offending entry."""
    text = default_text().replace("    phone: contact_info", "    phone: telephone")
    line = next(i for i, ln in enumerate(text.splitlines(), start=1) if "phone: telephone" in ln)
    with pytest.raises(MappingError) as info:
        load_mapping(write(tmp_path, text))
    assert info.value.line == line


def test_a_missing_section_and_a_missing_file(tmp_path: Path) -> None:
    """Without candidates the mapping is incomplete; a missing file or bad YAML is a MappingError too."""
    with pytest.raises(MappingError, match="candidates: expected a value, found none"):
        load_mapping(write(tmp_path, "applications: {table: applications}\n"))
    with pytest.raises(MappingError, match="expected a mapping file here, found none"):
        load_mapping(tmp_path / "absent.yaml")
    with pytest.raises(MappingError, match=r"mapping.yaml:\d+: expected valid YAML"):
        load_mapping(write(tmp_path, "candidates:\n  table: [unclosed\n"))
    with pytest.raises(MappingError, match="expected a mapping of keys"):
        load_mapping(write(tmp_path, "- just a list\n"))


def test_optional_tables_may_be_left_out(tmp_path: Path) -> None:
    """A database without objections, erasure requests or disputes maps only what it has."""
    m = load_mapping(write(tmp_path, "candidates: {table: people, columns: {full_name: name}}\n"
                                     "applications: {table: applications, submitted_at: applied_on}\n"
                                     "consent_withdrawals: {table: withdrawals, date: withdrawn_on}\n"))
    assert (m.objections, m.erasure_requests, m.disputes, m.delete_rows) == (None, None, None, ())
    assert [t.table for t in m.trigger_tables()] == ["withdrawals"]
    assert m.candidates.columns["full_name"].category == "name"
