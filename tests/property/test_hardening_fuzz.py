"""Fuzzing the trust boundaries: the API, the command line (as a subprocess) and the rule loader.

The oracle of every test: the input is refused with a PolicyKitError (never an InternalError, which
would be a bug, and never another exception), or the answer equals the answer of a policy with the
memo off (``memo_size=0``: every question goes to the engine). Sizes are bounded so that the suite
runs in CI on every push; the command-line test runs few examples (each is a process).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policykit
from policykit.errors import DefinitionError, InternalError, PolicyKitError
from policykit.testing import disclosure_requests

MEMOISED = policykit.load_policy()
ENGINE_ONLY = policykit.load_policy(memo_size=0)

atoms = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["", "SE", "ſe", "ıs", "SE\u3000", "on", "yes", "NO", "2024-02-29", "2024-W01-1", "9999-12-31",
                     "0001-01-01T00:30:00+05:00", "UTC+99", "name", "bookkeeping_record", "transfer"]),
)
json_like = st.recursive(atoms, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                              inner, max_size=4),
                         max_leaves=20)


def _ask(policy: policykit.Policy, request: Any) -> tuple[str, Any]:
    try:
        return "answer", policy.decide(request).to_dict()
    except InternalError as exc:  # a bug: fail loudly
        raise AssertionError(f"InternalError for {request!r}") from exc
    except PolicyKitError as exc:
        return "refused", exc.code


def _one_shot(value: Any, kind: str) -> Any:
    """The same categories as a one-shot iterable (the memo must never key them by address)."""
    if not isinstance(value, list):
        return value
    return iter(value) if kind == "iter" else (x for x in value) if kind == "gen" else value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disclosure_requests(), st.data())
def test_api_answers_equal_the_memo_less_answers(request: policykit.DisclosureRequest, data: st.DataObject) -> None:
    """Valid requests with one field replaced by anything JSON-like, sometimes with the categories as an
    iterator or generator, asked twice of the memoised policy: refused alike, or answered alike."""
    raw = request.model_dump(mode="json")
    parts = [(None, k) for k in raw] + [(p, k) for p in ("recipient", "candidate") for k in raw[p]]
    if data.draw(st.booleans()):
        part, key = data.draw(st.sampled_from(parts))
        (raw if part is None else raw[part])[key] = data.draw(json_like)
    kind = data.draw(st.sampled_from(["list", "iter", "gen"]))
    expected = _ask(ENGINE_ONLY, {**raw, "data_categories": _one_shot(raw.get("data_categories"), kind)})
    for _ in range(2):
        got = _ask(MEMOISED, {**raw, "data_categories": _one_shot(raw.get("data_categories"), kind)})
        assert got == expected


@settings(max_examples=200, deadline=None)
@given(json_like)
def test_any_json_like_value_is_refused_or_answered_alike(value: Any) -> None:
    assert _ask(MEMOISED, value) == _ask(ENGINE_ONLY, value)


@settings(max_examples=100, deadline=None)
@given(json_like)
def test_retention_and_requests_only_raise_policykit_errors(value: Any) -> None:
    asks = (MEMOISED.retention, MEMOISED.handle_request,
            lambda v: MEMOISED.retention({"applications": ["2020-01-01"], "as_of": "2024-01-01", "x": v}))
    for ask in asks:
        try:
            ask(value)
        except InternalError as exc:
            raise AssertionError(f"InternalError for {value!r}") from exc
        except PolicyKitError:
            pass


# ---- the command line, as a subprocess ------------------------------------------------------------

cli_inputs = st.one_of(
    json_like.map(lambda v: json.dumps(v).encode()),
    disclosure_requests().map(lambda r: json.dumps(r.model_dump(mode="json")).encode()),
    st.binary(max_size=200),
    st.sampled_from([b"a: &a [*a]\n", b"[" * 3000, b'{"a": 1, "a": 2}', b"as_of: 2023-02-29\n", b"\xff\xfe{}"]),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cli_inputs)
def test_the_command_line_answers_or_exits_2_with_one_line(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "request.json"
        path.write_bytes(content)
        result = subprocess.run([sys.executable, "-m", "policykit.cli", "decide", "--json", str(path)],
                                capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ))
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        expected = ENGINE_ONLY.decide(json.loads(content)).to_dict()
        assert json.loads(result.stdout) == expected
    else:
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("policykit: error:")
        assert "internal" not in lines[0].lower() and "unexpectedly" not in lines[0]


# ---- the rule loader -------------------------------------------------------------------------------

yaml_snippets = st.lists(st.sampled_from([
    "&a [x, x, x]", "*a", "&b {k: *a}", "[*a, *a, *a, *a]", "&c [*c]", "{", "[", "]", "- ", "? [x]\n: y",
    "!!timestamp 2023-02-29", "!!binary AAAA", "!!python/object:os.system x", "2023-02-29", "~", "'\\x00'",
    "\t", "\n", "key: value", "&d " + "[" * 40 + "]" * 40,
]), min_size=1, max_size=12).map(" ".join)


_RULES_COPY: dict[str, Path] = {}


def _rules_copy() -> Path:
    """One copy of the bundled rules for the whole module (each example rewrites one file, then
    restores it)."""
    if "dir" not in _RULES_COPY:
        target = Path(tempfile.mkdtemp()) / "rules"
        shutil.copytree(policykit.bundled_rules_dir(), target)
        _RULES_COPY["dir"] = target
    return _RULES_COPY["dir"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["countries.yaml", "vocabulary.yaml", "disclosure.yaml", "policy.yaml"]),
       st.sampled_from(["prepend", "replace", "append"]), yaml_snippets)
def test_the_rule_loader_refuses_with_definition_errors(name: str, where: str, snippet: str) -> None:
    """A rule file with anchors, aliases (recursive ones too), odd tags and broken syntax spliced in:
    loaded, or refused with a DefinitionError; never another exception, never a hang."""
    rules = _rules_copy()
    target = rules / name
    original = (policykit.bundled_rules_dir() / name).read_text(encoding="utf-8")
    text = {"prepend": f"x_fuzz: {snippet}\n{original}", "append": f"{original}\nx_fuzz: {snippet}\n",
            "replace": f"{snippet}\n"}[where]
    target.write_text(text, encoding="utf-8")
    try:
        policykit.load_policy(rules).close()
    except DefinitionError:
        pass
    finally:
        target.write_text(original, encoding="utf-8")


def test_fixtures_are_sane() -> None:
    """The memoised and memo-less policies agree on a plain allowed question (the oracle's premise)."""
    request = {"operation": "transfer", "purpose": "present_candidates_to_clients", "data_categories": ["name"],
               "recipient": {"kind": "recruitment_client", "country": "SE", "active_assignment": True,
                             "confidentiality_undertaking": True, "data_agreement_signed": True,
                             "relevant_to_candidate_competence": True}}
    assert _ask(MEMOISED, request) == _ask(ENGINE_ONLY, request) == ("answer", ENGINE_ONLY.decide(request).to_dict())
    assert ENGINE_ONLY.decide(request).allowed
