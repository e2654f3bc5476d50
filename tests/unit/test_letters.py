"""The reply to the candidate (RequestResponse.letter, policykit request --letter): every outcome and
every refusal ground in Swedish and English, the deadline, the remedies, and the checks on the
templates of letters.yaml."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import policykit
from policykit.cli import main
from policykit.errors import QueryError, RuleSchemaError
from tests.acceptance.cases import load_cases

ROOT = Path(__file__).parents[2]
RULES = ROOT / "rules"
CASES = load_cases("data_subject_request")
# read independently of the loader: the texts the letter must carry
TEXTS: dict[str, Any] = yaml.safe_load((RULES / "letters.yaml").read_text(encoding="utf-8"))
GROUNDS = [g["id"] for g in yaml.safe_load((RULES / "requests.yaml").read_text(encoding="utf-8"))["grounds"]]
OUTCOMES = [o["id"] for o in yaml.safe_load((RULES / "vocabulary.yaml").read_text(encoding="utf-8"))["request_outcomes"]]
MONTHS = {
    "sv": ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
           "november", "december"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
}
REMEDY = {"sv": ("klaga hos Integritetsskyddsmyndigheten", "rätt att gå till domstol"),
          "en": ("complain to the Swedish data protection authority", "right to go to court")}


@pytest.fixture(scope="module")
def policy() -> policykit.Policy:
    return policykit.load_policy()


def _flat(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


def _written(day: str, lang: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.day} {MONTHS[lang][d.month - 1]} {d.year}"


def _fixed_part(template: str) -> str:
    """The template's text up to its first placeholder (what the letter must contain verbatim)."""
    return _flat(template.split("{", 1)[0])


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_every_request_case_gets_a_letter(policy: policykit.Policy, case: dict[str, Any], lang: str) -> None:
    """The letter says what was asked and when, the outcome in words, the deadline where something is
    done, every refusal ground the case expects, and the remedies, in the language asked."""
    response = policy.handle_request(case["inputs"])
    letter = _flat(response.letter(lang))
    expected = case["expected"]
    assert response.outcome == expected["outcome"]
    assert _fixed_part(TEXTS["requests"][case["inputs"]["request"]][lang]) in letter
    assert _written(case["inputs"]["received_on"], lang) in letter
    assert _fixed_part(TEXTS["outcomes"][expected["outcome"]][lang]) in letter
    if "deadline" in expected and expected["outcome"] != "refuse" and expected["outcome"] != "not_applicable":
        assert _written(expected["deadline"], lang) in letter
    for ground in expected.get("refusal_grounds", []):
        assert _flat(TEXTS["grounds"][ground][lang]) in letter
    for phrase in REMEDY[lang]:
        assert phrase in letter
    assert "support@weselect.com" in letter
    assert "_" not in letter.replace("support@", ""), "a snake_case id leaked into the letter"


def test_the_cases_cover_every_outcome_and_every_refusal_ground(policy: policykit.Policy) -> None:
    """So the test above renders each outcome and each refusal ground in both languages."""
    outcomes, grounds = set(), set()
    for case in CASES:
        response = policy.handle_request(case["inputs"])
        outcomes.add(response.outcome)
        for lang in ("sv", "en"):
            letter = _flat(response.letter(lang))
            grounds.update(g for g in response.refusal_grounds if _flat(TEXTS["grounds"][g][lang]) in letter)
    assert outcomes == set(OUTCOMES)
    assert grounds == set(GROUNDS)


def test_kept_items_are_listed_with_their_date_and_reason(policy: policykit.Policy) -> None:
    """An erasure inside the evidence window: what is erased now, what is kept until when and why, and
    the day of anonymisation (DSR07 in the request cases)."""
    case = next(c for c in CASES if c["id"] == "DSR07")
    response = policy.handle_request(case["inputs"])
    letter = _flat(response.letter("en"))
    assert "We erase: - LinkedIn profile - Tags in our talent pool" in letter
    assert f"We keep these until {_written(case['expected']['retain_until'], 'en')}, because the data show" in letter
    assert f"On {_written(case['expected']['anonymise_on'], 'en')} we anonymise your data" in letter
    sv = _flat(response.letter("sv"))
    assert f"Det här sparar vi till och med den {_written(case['expected']['retain_until'], 'sv')}" in sv
    assert "- Namn - Kontaktinformation" in sv


def test_an_unknown_language_is_a_query_error(policy: policykit.Policy) -> None:
    response = policy.handle_request(CASES[0]["inputs"])
    with pytest.raises(QueryError, match="expected a letter language among sv, en, got 'de'"):
        response.letter("de")


def test_request_letter_on_the_command_line(policy: policykit.Policy) -> None:
    source = ROOT / "examples" / "requests" / "s01-access.json"
    result = CliRunner().invoke(main, ["request", "--letter", "sv", str(source)])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    assert result.output == policy.handle_request(data.get("inputs", data)).letter("sv")
    both = CliRunner().invoke(main, ["request", "--letter", "sv", "--json", str(source)])
    assert both.exit_code == 2


def _edited(tmp_path: Path, edit: Any) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    text = (rules / "letters.yaml").read_text(encoding="utf-8")
    (rules / "letters.yaml").write_text(edit(text), encoding="utf-8")
    return rules


def test_a_missing_ground_text_fails_the_check(tmp_path: Path) -> None:
    rules = _edited(tmp_path, lambda t: re.sub(r"  Art\. 20\(4\):\n(    .*\n){2}", "", t))
    with pytest.raises(RuleSchemaError, match=r"expected a text for 'Art\. 20\(4\)' under 'grounds'"):
        policykit.load_policy(rules)


def test_an_unknown_placeholder_fails_the_check_with_its_line(tmp_path: Path) -> None:
    rules = _edited(tmp_path, lambda t: t.replace("senast den {deadline}.", "senast den {dedline}.", 1))
    with pytest.raises(RuleSchemaError, match=r"letters\.yaml:\d+: at 'outcomes\.fulfil\.sv'.*got \{dedline\} \(did you mean 'deadline'\?\)"):
        policykit.load_policy(rules)


def test_a_text_in_one_language_only_fails_the_check(tmp_path: Path) -> None:
    rules = _edited(tmp_path, lambda t: t.replace('greeting:\n  sv: "Hej!"\n', "greeting:\n", 1))
    with pytest.raises(RuleSchemaError, match=r"greeting\.sv"):
        policykit.load_policy(rules)
