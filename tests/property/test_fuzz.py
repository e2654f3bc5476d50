"""Robustness: malformed requests and broken rule files give an answer or a PolicyKitError, never
another exception, and a malformed request is never allowed."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policykit
from policykit._analysis.invariants import load_invariants
from policykit._ruleset.reading import RULE_FILES
from policykit.errors import DefinitionError, PolicyKitError, QueryError
from policykit.testing import disclosure_requests, malformed_disclosure_requests, retention_facts
from tests.oracle import oracle_outcome

POLICY = policykit.load_policy()
# the same policy with the string limit raised, to reach validation with megabyte-long values
LENIENT = policykit.load_policy(limits=policykit.Limits(max_string=2_000_000))
RULES_DIR = policykit.bundled_rules_dir()

odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**18, max_value=10**40),
    st.floats(allow_nan=True), st.text(max_size=30),
    st.sampled_from(["", " ", "\u200b", "ＳＥ", "Å", "🙂", "NO", "yes", "2024-02-30", "x" * 5000]),
    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@given(malformed_disclosure_requests())
def test_malformed_requests_raise_query_errors(data: Any) -> None:
    """Every malformed request is refused with a QueryError whose message names the field that is
    wrong (by its dotted path), an unexpected field, or says that a mapping was expected."""
    with pytest.raises(QueryError) as info:
        POLICY.decide(data)
    message = str(info.value)
    assert (
        "unexpected field" in message
        or "expected a DisclosureRequest or a mapping" in message
        or any(re.search(rf"(^|[ ;]){re.escape(name)}(\[\d+\])?: ", message) for name in FIELD_NAMES)
    ), message


FIELD_NAMES = {
    *policykit.DisclosureRequest.model_fields,
    *(f"recipient.{n}" for n in policykit.Recipient.model_fields),
    *(f"candidate.{n}" for n in policykit.CandidateStatus.model_fields),
}


# (where, a wrong value, what the message must say besides the field's dotted path)
FIELD_ERRORS: list[tuple[tuple[str, ...], Any, str]] = [
    (("operation",), 5, "string"),
    (("operation",), "transferr", "expected an operation"),
    (("data_categories",), [], "at least 1"),
    (("data_categories",), ["name", "salary"], "expected a data category"),
    (("purpose",), None, "string"),
    (("identifiable",), "yes", "boolean"),
    (("min_cell_size",), -1, "greater than or equal to 0"),
    (("min_cell_size",), 2.5, "integer"),
    (("as_of",), "2023-02-29", "calendar date"),
    (("as_of",), "2024-01-01T00:30:00+01:00", "date"),
    (("recipient", "kind"), "friend", "expected a recipient kind"),
    (("recipient", "country"), "Sweden", "ISO 3166-1 alpha-2"),
    (("recipient", "active_assignment"), "true", "boolean"),
    (("recipient", "role"), "owner", "controller"),
    (("candidate", "consent_status"), "revoked", "given"),
    (("candidate", "consent_withdrawn_on"), "2024-02-30", "calendar date"),
    (("candidate", "objection_received_on"), 20240101, "date"),
    (("candidate", "latest_application"), "yesterday", "date"),
]
_NAMES = {"data_categories": "data_categories[1]"}


@given(disclosure_requests(), st.sampled_from(FIELD_ERRORS))
def test_a_refusal_names_the_field_and_what_was_expected(
    request: policykit.DisclosureRequest, error: tuple[tuple[str, ...], Any, str]
) -> None:
    """One field of a valid request set to a wrong value: the QueryError names that field by its
    dotted path (the list index for an unknown category) and says what was expected."""
    path, value, expected = error
    raw = request.model_dump(mode="json")
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(QueryError) as info:
        POLICY.decide(raw)
    message = str(info.value)
    where = ".".join(path)
    if value == ["name", "salary"]:
        where = "data_categories[1]"
    assert where in message and expected in message, message


@given(disclosure_requests(), st.data())
def test_any_field_set_to_anything_answers_or_refuses(request: policykit.DisclosureRequest, data: st.DataObject) -> None:
    """Replace one field (anywhere in the request) with an arbitrary value: the policy either answers
    (the value was acceptable) or raises a QueryError; nothing else escapes."""
    raw = request.model_dump(mode="json")
    parts = [(None, k) for k in raw] + [(p, k) for p in ("recipient", "candidate") for k in raw[p]]
    part, key = data.draw(st.sampled_from(parts))
    target = raw if part is None else raw[part]
    target[key] = data.draw(odd_values)
    refused: QueryError | None = None
    try:
        decision = POLICY.decide(raw)
    except QueryError as exc:
        refused = exc
    if refused is not None:
        assert key in str(refused), str(refused)  # the refusal names the field that was replaced
        return
    # answered: the value was one the field accepts, and the answer is the one the typed request
    # gets from a policy without a memo, whose facts come from the separately written normaliser
    typed = policykit.DisclosureRequest.parse(raw)
    assert decision.outcome == oracle_outcome(POLICY, typed)


@given(st.dictionaries(st.text(max_size=12), odd_values, max_size=6) | odd_values)
def test_garbage_is_never_allowed(data: Any) -> None:
    """Arbitrary mappings and values are refused with a QueryError (no required field survives)."""
    with pytest.raises(QueryError):
        POLICY.decide(data)


@given(retention_facts(), st.data())
def test_retention_answers_or_refuses(facts: policykit.RetentionFacts, data: st.DataObject) -> None:
    """retention() with one field of consistent facts replaced by anything answers or raises a
    PolicyKitError."""
    raw = facts.model_dump(mode="json")
    key = data.draw(st.sampled_from(sorted(raw)))
    raw[key] = data.draw(odd_values)
    refused: PolicyKitError | None = None
    try:
        verdict = POLICY.retention(raw)
    except PolicyKitError as exc:
        refused = exc
    if refused is not None:
        assert key in str(refused), str(refused)  # the refusal names the field that was replaced
        return
    # answered: the dates still follow from one another as the policy says
    if verdict.retain_until is not None and verdict.latest_application_date is not None:
        assert verdict.retain_until >= verdict.latest_application_date
    if verdict.anonymise_on is not None and verdict.retain_until is not None:
        assert verdict.anonymise_on > verdict.retain_until


# ---- broken rule files --------------------------------------------------------------------------

FILES = [*RULE_FILES, "invariants.yaml"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate(data: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "delete":
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    elif how == "rename" and isinstance(parent, dict):
        parent[f"{last}x" if isinstance(last, str) else str(last)] = parent.pop(last)
    else:
        parent[last] = value
    return data


_DOCS = {name: (RULES_DIR / name).read_text(encoding="utf-8") for name in FILES}


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FILES), st.data())
def test_broken_rule_files_raise_definition_errors(name: str, data: st.DataObject) -> None:
    """Mutating one node of one rule file (deleting it, renaming a key, or replacing it with a value
    of another type, a huge number, odd unicode) either still loads or raises a DefinitionError that
    names the file; never another exception."""
    from policykit._ruleset.reading import _Loader as YamlLoader  # noqa: PLC0415 - YAML 1.2 booleans, as the loader reads them

    doc = yaml.load(_DOCS[name], Loader=YamlLoader)
    path = data.draw(st.sampled_from(_paths(doc)))
    how = data.draw(st.sampled_from(["delete", "rename", "replace"]))
    value = data.draw(odd_values)
    mutated = _mutate(doc, path, how, value)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "rules"
        shutil.copytree(RULES_DIR, copy)
        (copy / name).write_text(yaml.safe_dump(mutated, allow_unicode=True, sort_keys=False), encoding="utf-8")
        error: DefinitionError | None = None
        try:
            load_invariants(policykit.load_rules(copy))
        except DefinitionError as exc:
            error = exc
        assert error is None or error.file is not None, error


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("text", ["", "- a\n- b\n", "key: [unclosed\n", "\ufeff\u200b: 1\n", "a: 1\na: 2\n"])
def test_unreadable_rule_files_raise_definition_errors(tmp_path: Path, name: str, text: str) -> None:
    """An empty file, a list, bad YAML, odd unicode or a duplicate key is a DefinitionError naming the file."""
    copy = tmp_path / "rules"
    shutil.copytree(RULES_DIR, copy)
    (copy / name).write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_invariants(policykit.load_rules(copy))
    assert name in str(info.value)


def test_bytes_that_are_not_utf8_raise_a_definition_error(tmp_path: Path) -> None:
    """A rule file that is not UTF-8 text is refused with the file named."""
    copy = tmp_path / "rules"
    shutil.copytree(RULES_DIR, copy)
    (copy / "disclosure.yaml").write_bytes(b"\xff\xfe\x00rules")
    with pytest.raises(DefinitionError, match="disclosure.yaml"):
        policykit.load_rules(copy)


@pytest.mark.parametrize(
    "change",
    [
        {"operation": "t" * 1_000_000},
        {"recipient": {"kind": "r" * 200_000, "country": "SE"}},
        {"recipient": {"kind": "recruitment_client", "country": "S" * 1_000_000}},
        {"as_of": "2" * 100_000},
        {"min_cell_size": "9" * 100_000},
        {"data_categories": ["name", "n" * 500_000]},
    ],
    ids=["operation", "kind", "country", "as_of", "min_cell_size", "category"],
)
def test_errors_about_huge_values_stay_readable(change: dict[str, Any]) -> None:
    """Regression: an error echoed a megabyte-long value in full; now it quotes the start and the length."""
    request = {"operation": "transfer", "data_categories": ["name"], "purpose": "present_candidates_to_clients",
               "recipient": {"kind": "recruitment_client", "country": "SE"}, **change}
    with pytest.raises(QueryError) as info:
        POLICY.decide(request)  # refused by the max_string limit, before validation
    assert len(str(info.value)) < 600
    # with the limit raised, validation refuses it, quoting the start of the value and its length
    with pytest.raises(QueryError) as info:
        LENIENT.decide(request)
    assert len(str(info.value)) < 600
    assert "characters)" in str(info.value)


def test_a_huge_unlisted_purpose_is_explained_briefly() -> None:
    """An unlisted purpose of a megabyte is answered, and the explanation quotes only its start."""
    request = {"operation": "transfer", "data_categories": ["name"], "purpose": "p" * 1_000_000,
               "recipient": {"kind": "recruitment_client", "country": "SE"}}
    with pytest.raises(policykit.InputTooLargeError, match="max_string"):
        POLICY.decide(request)
    decision = LENIENT.decide(request)  # the limit raised: answered
    assert not decision.allowed
    assert len(decision.explain()) < 20_000
