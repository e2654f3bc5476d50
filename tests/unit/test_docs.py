"""The auditor pages generated from the rules (``policykit._docs.pages``) and ``policykit docs``."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import policykit
from policykit import cli
from policykit._docs.pages import (
    FAMILIES,
    GENERATED,
    Docs,
    anchor,
    build_pages,
    cell,
    compare_pages,
    disclosure_matrix,
    is_generated,
    standard_request,
    write_pages,
)
from tests.snapshots import check_snapshots

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "policy"


@pytest.fixture(scope="module")
def pages(bundled_policy: policykit.Policy) -> dict[str, str]:
    """The pages the bundled rules generate."""
    return build_pages(bundled_policy)


def test_committed_pages_match_the_rules(pages: dict[str, str]) -> None:
    """docs/policy/ holds exactly what the rules generate. A mismatch shows the diff, to be reviewed;
    the pages are rewritten only when asked (tests/snapshots.py)."""
    check_snapshots(pages, COMMITTED, pattern="*.md")
    assert compare_pages(pages, COMMITTED) == []


def test_output_is_byte_identical_across_loads(pages: dict[str, str]) -> None:
    """A second, independent load of the same rules gives the same bytes."""
    with policykit.load_policy() as fresh:
        assert build_pages(fresh) == pages


def test_every_page_says_it_is_generated(pages: dict[str, str]) -> None:
    """Each page starts with the do-not-edit marker and ends with one newline."""
    for text in pages.values():
        assert is_generated(text)
        assert text.endswith("\n")
        assert not text.endswith("\n\n")


def test_every_family_has_a_page(pages: dict[str, str]) -> None:
    """Disclosure, retention and requests each have a page, linked from the overview."""
    assert [f.name for f in FAMILIES] == ["disclosure", "retention", "requests"]
    for family in FAMILIES:
        assert family.path in pages
        assert f"]({family.path})" in pages["index.md"]


def test_every_rule_appears_on_its_family_page(bundled_policy: policykit.Policy, pages: dict[str, str]) -> None:
    """Every rule of every family present has a section on its family's page, citing its clauses."""
    rules = bundled_policy.rules
    for family in FAMILIES:
        if not family.present(rules):
            continue
        for rule in family.rules(rules):
            section = pages[family.path].split(f"### {rule.id}\n", 1)[1].split("\n### ", 1)[0]
            for clause in rule.clauses:
                assert f"[{clause}](clauses.md#{anchor(clause)})" in section, rule.id
    every = {r.id for f in FAMILIES if f.present(rules) for r in f.rules(rules)}
    assert {r.id for r in rules.rules} <= every


def test_disclosure_rules_appear_with_their_parts(bundled_policy: policykit.Policy, pages: dict[str, str]) -> None:
    """Each disclosure rule: plain-language condition, effect, reason, obligations, clauses."""
    for rule in bundled_policy.rules.disclosure.rules:
        page = pages["disclosure.md"]
        section = page.split(f"### {rule.id}\n", 1)[1].split("\n### ", 1)[0]
        verdict = "**Forbidden** when " if rule.effect == "forbid" else "**Permitted** when "
        assert verdict in section
        if rule.reason:
            assert f"`{rule.reason}`" in section
        for obligation in rule.obligations:
            assert f"`{obligation}`" in section
        for clause in rule.clauses:
            assert f"[{clause}](clauses.md#{anchor(clause)})" in section


def test_plain_language_of_the_agreements_rule(pages: dict[str, str]) -> None:
    """The P-TP-10 rule reads as a sentence about both agreements."""
    section = pages["disclosure.md"].split("### D7-MISSING-AGREEMENTS\n", 1)[1].split("\n### ", 1)[0]
    assert "no confidentiality undertaking is signed or no data (processing) agreement is signed" in section
    assert "unless the disclosure is compelled by Swedish or EU law" in section


def test_every_clause_is_in_the_register(bundled_policy: policykit.Policy, pages: dict[str, str]) -> None:
    """Every clause appears in Swedish and English, linked to its rules or with its reason."""
    register = pages["clauses.md"]
    for clause in bundled_policy.rules.clauses:
        row = next(line for line in register.splitlines() if f'<a id="{anchor(clause.id)}"></a>' in line)
        assert cell(clause.sv) in row
        assert cell(clause.en) in row
        if clause.enforcement == "rules":
            assert "**Enforced by**" in row
        elif clause.enforcement == "documented":
            assert "**Documented only:** " + cell(clause.reason or "") in row
        else:
            assert "**Defines**" in row


def test_every_interpretation_is_in_the_register(bundled_policy: policykit.Policy, pages: dict[str, str]) -> None:
    """Each entry of the register of interpretations has its anchor, choice and implementing rules."""
    page = pages["interpretations.md"]
    for entry in bundled_policy.rules.interpretations:
        assert f'<a id="{anchor(entry.id)}"></a>' in page
        assert f"### {entry.id}: {entry.title}" in page
        for rule_id in entry.rules:  # linked to the page of the rule's family
            assert any(f"[{rule_id}]({family}.md#{anchor(rule_id)})" in page
                       for family in ("disclosure", "retention", "requests")), rule_id


def test_links_point_at_anchors_that_exist(pages: dict[str, str]) -> None:
    """Every link between generated pages names a page and an anchor that exist."""
    anchors: dict[str, set[str]] = {}
    for path, text in pages.items():
        ids = set(re.findall(r'<a id="([^"]+)"></a>', text))
        for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE):
            ids.add(re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower().replace(" ", "-"))
        anchors[path] = ids
    for path, text in pages.items():
        for target, fragment in re.findall(r"\]\(([a-z-]+\.md)?#([\w-]+)\)", text):
            assert fragment in anchors[target or path], f"{path}: {target}#{fragment}"


def _matrix_tables(text: str) -> dict[str, list[list[str]]]:
    """Operation → the rows of its matrix (category, then one cell per recipient kind), parsed from the
    committed page with the markup removed."""
    out = {}
    for section in text.split("\n## ")[1:]:
        title, _, body = section.partition("\n")
        rows = [line.strip("|").split(" | ") for line in body.splitlines() if line.startswith("| **")]
        if rows and title.isidentifier():
            out[title] = [[re.sub(r"<[^>]+>|\*\*", "", c).strip() for c in row] for row in rows]
    return out


def test_committed_matrices_agree_with_the_engine() -> None:
    """A sample of cells of the committed matrices, asked again of a freshly loaded policy."""
    text = (COMMITTED / "disclosure-matrices.md").read_text(encoding="utf-8")
    tables = _matrix_tables(text)
    with policykit.load_policy() as policy:
        vocab = policy.rules.vocabulary
        assert list(tables) == list(vocab.ids("operations"))
        kinds, purposes = vocab.ids("recipient_kinds"), vocab.ids("purposes")
        code = {p: policy.rules.vocabulary.purpose(p).clause.removeprefix("P-SYF-") for p in purposes}  # type: ignore[union-attr]
        cells = [(op, r, k) for op in tables for r in range(len(tables[op])) for k in range(len(kinds))]
        sample = random.Random(20220622).sample(cells, 120)
        sample += [("transfer", 0, 0), ("transfer", 0, 2), ("show", 0, 2)]   # name: client, prospect
        for op, r, k in sample:
            row = tables[op][r]
            category, shown = row[0], row[1 + k]
            answers = {
                p: policy.decide(standard_request(policy.rules, op, category, kinds[k], p)) for p in purposes
            }
            allowed = [p for p in purposes if answers[p].allowed]
            where = f"{op} {category} -> {kinds[k]}: {shown!r}"
            if shown == "✓ any":
                assert allowed == list(purposes), where
            elif shown.startswith("✓ "):
                assert [code[p] for p in allowed] == shown.removeprefix("✓ ").split(", "), where
            else:
                assert not allowed, where
                assert shown in {d.reason for d in answers.values()}, where
        assert tables["transfer"][0][1] == "✓ T07"
        assert tables["transfer"][0][3] == "TRANSFER_TO_NON_ASSIGNMENT_CLIENT_PROHIBITED"
        assert tables["show"][0][3] == "✓ T03, T07"


def test_matrix_reason_is_from_the_purpose_refused_latest(bundled_policy: policykit.Policy) -> None:
    """A refused cell shows the reason of the purpose that passes the most steps."""
    docs = Docs(policy=bundled_policy, rules=bundled_policy.rules)
    matrix = disclosure_matrix(docs, "transfer")
    cell_ = matrix["bookkeeping_record", "recruitment_client"]
    assert not cell_.allowed
    assert (cell_.reason, cell_.reason_purpose) == ("EXCESSIVE_DATA", "present_candidates_to_clients")


def test_record_recipients_are_computed(pages: dict[str, str]) -> None:
    """The record lists the recruitment client for presenting candidates, and no third-country transfer."""
    record = pages["record-of-processing.md"]
    row = next(line for line in record.splitlines() if "[P-SYF-T07](clauses.md#p-syf-t07) |" in line)
    row = row.replace("<wbr>", "")
    assert "present_candidates_to_clients" in row
    assert "recruitment_client (transfer, disclose, show)" in row
    assert "other_third_party" not in row
    assert "None: every recipient outside the EU/EEA is refused" in row


def test_vocabulary_page_shows_dpv_terms(bundled_policy: policykit.Policy, pages: dict[str, str]) -> None:
    """Every DPV term of the vocabulary appears on the vocabulary page."""
    vocab = bundled_policy.rules.vocabulary
    page = pages["vocabulary.md"]
    for kind in ("operations", "data_categories", "legal_bases", "purposes", "recipient_kinds"):
        for term in getattr(vocab, kind):
            for curie in term.dpv:
                assert f"`{curie}`" in page, curie


def test_write_pages_removes_pages_no_longer_generated(tmp_path: Path, pages: dict[str, str]) -> None:
    """A generated page that the rules no longer produce is deleted; a hand-written one is kept."""
    (tmp_path / "old.md").write_text(GENERATED + "\n# Old\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Mine\n", encoding="utf-8")
    changed = write_pages(pages, tmp_path)
    assert "old.md" in changed
    assert not (tmp_path / "old.md").exists()
    assert (tmp_path / "notes.md").exists()
    assert compare_pages(pages, tmp_path) == ["notes.md: no longer generated"]


def test_cli_docs_build_then_check(tmp_path: Path) -> None:
    """`docs build` writes the pages; `docs check` passes, then fails once a page is edited."""
    runner = CliRunner()
    out = tmp_path / "pages"
    built = runner.invoke(cli.main, ["docs", "build", "--out", str(out)])
    assert built.exit_code == 0, built.output
    assert runner.invoke(cli.main, ["docs", "check", "--out", str(out)]).exit_code == 0
    page = out / "disclosure.md"
    page.write_text(page.read_text(encoding="utf-8").replace("Forbidden", "Allowed", 1), encoding="utf-8")
    stale = runner.invoke(cli.main, ["docs", "check", "--out", str(out)])
    assert stale.exit_code == 1
    assert "disclosure.md: differs from what the rules generate" in stale.output
    assert f"policykit docs build --out {out}" in stale.output


def test_cli_docs_check_for_an_edited_rules_copy(tmp_path: Path) -> None:
    """Pages generated from the bundled rules are stale for a copy whose rules changed."""
    rules = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), rules)
    path = rules / "disclosure.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "title: No recipient outside the EU/EEA", "title: Nothing leaves the EU/EEA"), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli.main, ["docs", "check", "--rules", str(rules), "--out", str(COMMITTED)])
    assert result.exit_code == 1
    assert "disclosure.md" in result.output
