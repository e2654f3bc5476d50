"""Rule overlays: a directory that extends another adds, replaces and removes entries by id, and its
errors name the file and line each entry came from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import policykit
from policykit import errors
from policykit._analysis.invariants import load_invariants
from policykit._ruleset.ruleset import load_rules

BUNDLED = policykit.bundled_rules_dir()


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def overlay(tmp_path: Path, extends: str = "bundled", name: str = "overlay", version: str = "x-1") -> Path:
    directory = tmp_path / name
    write(directory, "policy.yaml", f"extends: {extends}\npolicy:\n  version: {version!r}\n")
    return directory


def bundled_yaml(name: str) -> dict:
    return yaml.safe_load((BUNDLED / name).read_text(encoding="utf-8"))


def test_an_overlay_of_policy_yaml_alone_is_the_bundled_policy_with_another_label(tmp_path: Path) -> None:
    rules = load_rules(overlay(tmp_path, version="2022-06-22-copy"))
    bundled = load_rules()
    assert rules.version == "2022-06-22-copy"
    # the other policy fields are kept key by key
    assert rules.meta.model_dump(exclude={"version"}) == bundled.meta.model_dump(exclude={"version"})
    assert rules.disclosure.rules == bundled.disclosure.rules
    assert rules.clauses == bundled.clauses
    assert rules.parameters == bundled.parameters


def test_the_fingerprint_covers_every_layer(tmp_path: Path) -> None:
    first = load_rules(overlay(tmp_path, version="v1"))
    second = load_rules(overlay(tmp_path, name="other", version="v2"))
    bundled = load_rules()
    assert len({first.fingerprint, second.fingerprint, bundled.fingerprint}) == 3
    again = load_rules(tmp_path / "overlay")
    assert again.fingerprint == first.fingerprint


def test_an_entry_with_a_known_id_is_replaced_whole_in_place(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    original = next(r for r in bundled_yaml("disclosure.yaml")["rules"] if r["id"] == "D1-SALE")
    replaced = {**original, "title": "Selling personal data is never allowed (overlay)"}
    write(directory, "disclosure.yaml", yaml.safe_dump({"rules": [replaced]}, allow_unicode=True))
    rules = load_rules(directory)
    bundled = load_rules()
    assert rules.disclosure.rule("D1-SALE").title == "Selling personal data is never allowed (overlay)"
    assert [r.id for r in rules.disclosure.rules] == [r.id for r in bundled.disclosure.rules]
    # the replaced rule's source is the overlay's file
    assert rules.disclosure.rule("D1-SALE").source.line == 2


def test_a_new_id_is_appended_and_a_parameter_replaced(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    write(directory, "policy.yaml", "extends: bundled\nparameters:\n  review_interval_months: 12\n")
    write(directory, "clauses.yaml", (
        "clauses:\n"
        "  - id: P-ANDR-9\n    section: P-ANDR\n    sv: Ny klausul.\n    en: A new clause.\n"
        "    enforcement: documented\n    reason: An example.\n"
    ))
    rules = load_rules(directory)
    assert rules.parameters.review_interval_months == 12
    assert rules.parameters.timezone == load_rules().parameters.timezone
    assert rules.clauses[-1].id == "P-ANDR-9"
    assert len(rules.clauses) == len(load_rules().clauses) + 1


def test_remove_deletes_entries_by_id_and_by_key(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    write(directory, "countries.yaml", "remove:\n  aliases: [UK]\n")
    rules = load_rules(directory)
    assert "UK" not in rules.vocabulary.country_aliases
    assert "UK" in load_rules().vocabulary.country_aliases


def test_a_list_of_names_is_a_set_the_overlay_adds_to(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    # NO is in the bundled list already: it stays where it is and is not repeated; CH is added
    write(directory, "countries.yaml", "efta_eea: [NO, CH]\n")
    rules = load_rules(directory)
    assert bundled_yaml("countries.yaml")["efta_eea"] == ["IS", "LI", "NO"]  # the oracle: the bundled file
    assert rules.vocabulary.country("CH").in_eea is True
    assert all(rules.vocabulary.country(c).in_eea for c in ("IS", "LI", "NO"))
    assert load_rules().vocabulary.country("CH").in_eea is False


def test_an_overlay_fact_is_added_to_the_bundled_facts(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    write(directory, "disclosure.yaml", "facts: [recipient.approved_by_candidate]\n")
    rules = load_rules(directory)
    bundled_facts = bundled_yaml("disclosure.yaml")["facts"]
    assert bundled_facts  # the bundled policy declares an optional fact of its own
    assert set(bundled_facts) | {"recipient.approved_by_candidate"} <= set(rules.disclosure.facts)
    assert "recipient.approved_by_candidate" not in load_rules().disclosure.facts


def test_remove_deletes_a_name_from_a_list_of_names(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    write(directory, "countries.yaml", "remove:\n  efta_eea: [LI]\n")
    rules = load_rules(directory)
    assert rules.vocabulary.country("LI").in_eea is False
    assert rules.vocabulary.country("IS").in_eea is True
    assert load_rules().vocabulary.country("LI").in_eea is True
    write(directory, "countries.yaml", "remove:\n  efta_eea: [CH]\n")
    with pytest.raises(errors.RuleSchemaError, match=r"expected an id or key of 'efta_eea' in the base to remove, got 'CH'"):
        load_rules(directory)


def test_removing_what_the_base_lacks_names_the_overlay_line_and_the_nearest_id(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    write(directory, "disclosure.yaml", "# a comment\nremove:\n  rules:\n    - D1-SALES\n")
    with pytest.raises(errors.RuleSchemaError) as info:
        load_rules(directory)
    assert info.value.file == str(directory.resolve() / "disclosure.yaml")
    assert info.value.line == 4
    assert "'D1-SALE'" in str(info.value)


def test_an_error_in_an_overlay_entry_names_the_overlay_file_and_line(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    original = next(r for r in bundled_yaml("disclosure.yaml")["rules"] if r["id"] == "D1-SALE")
    broken = {**original, "reason": "SALE_PROHIBITTED"}
    write(directory, "disclosure.yaml", "# one rule changed\n" + yaml.safe_dump({"rules": [broken]}))
    with pytest.raises(errors.UnknownTermError) as info:
        load_rules(directory)
    # the overlay is the directory loaded: its files are named as in a plain directory
    assert info.value.file == "disclosure.yaml"
    text = (directory / "disclosure.yaml").read_text(encoding="utf-8").splitlines()
    assert text[info.value.line - 1].strip() == "reason: SALE_PROHIBITTED"
    assert "SALE_PROHIBITED" in str(info.value)


def test_an_error_in_a_kept_base_entry_names_the_base_file_and_line(tmp_path: Path) -> None:
    """Removing a clause the base's rules cite: the error points at a citing line of the base."""
    directory = overlay(tmp_path)
    write(directory, "clauses.yaml", "remove:\n  clauses: [P-TP-10]\n")
    with pytest.raises(errors.UnknownClauseError) as info:
        load_rules(directory)
    assert info.value.file is not None
    file = Path(info.value.file)
    assert file.parent == BUNDLED.resolve()
    line = file.read_text(encoding="utf-8").splitlines()[info.value.line - 1]
    assert "P-TP-10" in line


def test_a_chain_of_overlays_and_a_path_base(tmp_path: Path) -> None:
    first = overlay(tmp_path, name="first", version="v1")
    write(first, "countries.yaml", 'efta_eea: ["IS", "LI", "NO", "CH"]\n')
    second = overlay(tmp_path, extends="../first", name="second", version="v2")
    rules = load_rules(second)
    assert rules.version == "v2"
    assert {c.code: c.in_eea for c in rules.vocabulary.countries}["CH"] is True


def test_a_cycle_of_extends_is_refused(tmp_path: Path) -> None:
    overlay(tmp_path, extends="../b", name="a")
    overlay(tmp_path, extends="../a", name="b")
    with pytest.raises(errors.RuleSchemaError, match="cycle"):
        load_rules(tmp_path / "a")


def test_extends_must_name_an_existing_directory(tmp_path: Path) -> None:
    directory = overlay(tmp_path, extends="../nowhere")
    with pytest.raises(errors.RuleFileError, match="nowhere") as info:
        load_rules(directory)
    assert info.value.line == 1


def test_a_plain_directory_needs_every_file(tmp_path: Path) -> None:
    directory = tmp_path / "plain"
    shutil.copytree(BUNDLED, directory)
    (directory / "retention.yaml").unlink()
    with pytest.raises(errors.RuleFileError, match="expected a rule file"):
        load_rules(directory)


def test_invariants_are_inherited_and_overlaid(tmp_path: Path) -> None:
    directory = overlay(tmp_path)
    rules = load_rules(directory)
    inherited = load_invariants(rules)
    assert [i.id for i in inherited] == [i.id for i in load_invariants(load_rules())]
    first = inherited[0].id
    write(directory, "invariants.yaml", f"remove:\n  invariants: [{first}]\n")
    assert [i.id for i in load_invariants(rules)] == [i.id for i in inherited[1:]]
