"""Regression tests for the hardening findings: each input below crashed, hung, exhausted memory or was
read leniently before. Now: a PolicyKitError with a stable code through the API, one line and exit
status 2 on the command line, within the documented limits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import policykit
from policykit import Limits
from policykit.errors import InputTooLargeError, InternalError, InvalidDateError, PolicyKitError, QueryError, short_repr

POLICY = policykit.load_policy()
ALLOWED: dict[str, Any] = {  # a transfer the policy allows (P-TP-4a)
    "operation": "transfer", "purpose": "present_candidates_to_clients", "data_categories": ["name"],
    "recipient": {"kind": "recruitment_client", "country": "SE", "active_assignment": True,
                  "confidentiality_undertaking": True, "data_agreement_signed": True,
                  "relevant_to_candidate_competence": True},
}


def _deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# ---- the API -------------------------------------------------------------------------------------

@pytest.mark.parametrize("ask", [
    lambda p, v: p.decide({**ALLOWED, "data_categories": v}),
    lambda p, v: p.retention({"applications": v}),
    lambda p, v: p.handle_request({"kind": "access", "request": v}),
], ids=["decide", "retention", "handle_request"])
def test_nesting_100000_deep_is_a_query_error(ask: Any) -> None:
    """Finding 7: a list nested 100,000 deep raised RecursionError in all three APIs."""
    started = time.perf_counter()
    with pytest.raises(InputTooLargeError, match="max_depth"):
        ask(POLICY, _deep(100_000))
    assert time.perf_counter() - started < 30  # bounded work (a loaded machine is slow, not exponential)


@pytest.mark.parametrize(("facts", "field"), [
    ({"applications": ["9999-12-31"], "as_of": "9999-12-31"}, "9999-12-31"),
    ({"applications": ["9999-12-31T23:30:00-05:00"]}, "applications[0]"),
    ({"applications": ["0001-01-01T00:30:00+05:00"]}, "applications[0]"),
    ({"applications": ["2020-01-01"], "as_of": "9999-12-31",
      "bookkeeping_records": [{"financial_year_end": "9999-12-31"}]}, "9999-12-31"),
    ({"applications": ["2020-01-01"], "as_of": "2024-W01-1"}, "as_of"),
])
def test_out_of_range_dates_are_invalid_date_errors(facts: dict[str, Any], field: str) -> None:
    """Finding 7: year-10001 arithmetic raised ValueError, out-of-range aware timestamps OverflowError;
    finding 9: as_of accepted ISO week dates."""
    with pytest.raises(InvalidDateError, match=field.replace("[", r"\[").replace("]", r"\]")):
        POLICY.retention(facts)


def test_a_request_received_in_year_9999_is_a_query_error() -> None:
    """Finding 7: handle_request with received_on 9999-12-31 raised ValueError."""
    request = {"kind": "access", "channel": "email", "received_on": "9999-12-31", "as_of": "9999-12-31",
               "request": {}}
    with pytest.raises(QueryError):
        POLICY.handle_request(request)


@pytest.mark.parametrize("zone", ["", "UTC+99", "/etc/localtime", "../../etc/passwd", "Europe/../../etc/passwd",
                                  "x" * 100_000, "EST5EDT,M3.2.0,M11.1.0", "Mars/Olympus"])
def test_odd_time_zones_are_refused(zone: str) -> None:
    """Findings 7 and 9: '' used the machine's zone, UTC+99 was accepted, a path-like value raised a
    warning as an error, 100,000 characters an OSError."""
    with pytest.raises(QueryError, match="timezone|max_string"):
        POLICY.retention({"applications": ["2020-01-01"], "timezone": zone})


@pytest.mark.parametrize("country", ["ſe", "ıs", "SE\u3000", "\u0455\u0435", "ＳＥ"])
def test_country_codes_are_ascii(country: str) -> None:
    """Finding 9: str.upper() folded 'ſe' to SE and 'ıs' to IS, and strip() removed U+3000."""
    request = {**ALLOWED, "recipient": {**ALLOWED["recipient"], "country": country}}
    with pytest.raises(policykit.errors.UnknownRequestTermError, match="country"):
        POLICY.decide(request)
    assert POLICY.decide(ALLOWED).allowed  # the control: SE itself is in the EU/EEA


def test_limits_are_configurable() -> None:
    """The limits are checked before validation, and a policy can widen them."""
    long_purpose = {**ALLOWED, "purpose": "p" * 20_000}
    with pytest.raises(InputTooLargeError, match="max_string"):
        POLICY.decide(long_purpose)
    with policykit.load_policy(limits=Limits(max_string=50_000)) as lenient:
        assert not lenient.decide(long_purpose).allowed  # an unlisted purpose: answered, denied
    # load_policy's limits bound the rule files too: build the policy from loaded rules instead
    with policykit.Policy(policykit.load_rules(), limits=Limits(max_items=10)) as strict, \
            pytest.raises(InputTooLargeError):
        strict.decide({**ALLOWED, "data_categories": ["name"] * 20})
    with pytest.raises(QueryError):
        Limits(max_depth=0)


def test_unexpected_exceptions_become_internal_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only PolicyKitError leaves the API: a bug surfacing as KeyError is an InternalError with the
    original as its cause, and its message does not quote the input."""
    with policykit.load_policy(memo_size=0) as policy:
        def broken(*_: Any) -> Any:
            raise KeyError("secret input")

        monkeypatch.setattr(policy._disclosure, "evaluate_key", broken)
        with pytest.raises(InternalError) as info:
            policy.decide(ALLOWED)
        assert isinstance(info.value.__cause__, KeyError)
        assert "secret" not in str(info.value) and info.value.code == "internal"


def test_short_repr_never_builds_an_unbounded_repr() -> None:
    """Finding 2: error messages built repr(input) in full first (an alias bomb's repr is gigabytes)."""

    class Loud:
        def __repr__(self) -> str:
            raise AssertionError("a caller's __repr__ was called")

    shared: list[Any] = ["x"] * 9
    for _ in range(30):
        shared = [shared] * 9  # 9**30 strings if expanded
    assert short_repr(shared) == "a list of 9 items"
    assert short_repr(Loud()) == "a Loud object"
    assert short_repr("x" * 10**6).endswith("(1,000,000 characters)")
    assert short_repr(10**5000).endswith("-bit integer")


# ---- rule files ---------------------------------------------------------------------------------

def _rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), target)
    return target


@pytest.mark.parametrize("text", [_alias_bomb(), "a: &a [*a]\n", "a: &a\n  b: *a\n"],
                         ids=["alias-bomb", "recursive-list", "recursive-map"])
def test_rule_files_with_alias_bombs_or_recursive_aliases_are_refused_fast(tmp_path: Path, text: str) -> None:
    """Finding 3: an alias bomb in a rule file ran 35 s to a MemoryError, a recursive alias gave a
    RecursionError."""
    rules = _rules_copy(tmp_path)
    (rules / "countries.yaml").write_text(text, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(policykit.errors.RuleFileError, match="countries.yaml"):
        policykit.load_policy(rules)
    assert time.perf_counter() - started < 10


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link", "system-file-link", "dev-zero"])
def test_rule_files_must_be_regular_files_and_not_links(tmp_path: Path, kind: str) -> None:
    """Finding 3: /dev/zero (or a link to it) ran to MemoryError, a FIFO hung the loader, a link to a
    system file put that file's text in the error."""
    rules = _rules_copy(tmp_path)
    target = rules / "countries.yaml"
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero-link":
        target.symlink_to("/dev/zero")
    elif kind == "system-file-link":
        secret = tmp_path / "secret.txt"
        secret.write_text("root:SECRET-TEXT: not yaml: [\n", encoding="utf-8")
        target.symlink_to(secret)
    else:
        os.symlink("/dev/zero", target)
    with pytest.raises(policykit.errors.RuleFileError, match="countries.yaml") as info:
        policykit.load_policy(rules)
    assert "SECRET" not in str(info.value)


def test_a_linked_rule_file_is_read_when_asked_for(tmp_path: Path) -> None:
    rules = _rules_copy(tmp_path)
    real = tmp_path / "countries.yaml"
    (rules / "countries.yaml").rename(real)
    (rules / "countries.yaml").symlink_to(real)
    with pytest.raises(policykit.errors.RuleFileError, match="symbolic link"):
        policykit.load_policy(rules)
    assert policykit.load_policy(rules, follow_symlinks=True).decide(ALLOWED).allowed


# ---- the command line ---------------------------------------------------------------------------

def _cli(tmp_path: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policykit.cli", *args], input=stdin.decode("latin-1") if stdin else None,
        capture_output=True, text=True, cwd=tmp_path, timeout=timeout, check=False,
        env={**os.environ, **(env or {})},
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("policykit: error:"), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "deep.json": (b"[" * 100_000 + b"]" * 100_000, "max_depth"),
    "dup.json": (json.dumps(ALLOWED)[:-1].encode() + b', "data_categories": ["name"]}', "duplicate key"),
    "notutf8.json": (b'{"operation": "\xff\xfe"}', "UTF-8"),
    "feb29.yaml": (b"as_of: 2023-02-29\n", "as_of"),
    "lol.yaml": (_alias_bomb().encode(), "max_aliases"),
    "big.json": (b'{"purpose": "' + b"p" * 2_000_000 + b'"}', "size limit"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_request_files_are_one_line_and_status_2(tmp_path: Path, name: str) -> None:
    """Findings 2 and 7: deep JSON, non-UTF-8, YAML as_of 2023-02-29 ended with a traceback; a 1.3 KB
    YAML alias bomb ran 53 s to 2.4 GB and a MemoryError."""
    content, expected = BAD_FILES[name]
    (tmp_path / name).write_bytes(content)
    started = time.perf_counter()
    line = _one_line_error(_cli(tmp_path, "decide", name))
    assert expected in line
    assert time.perf_counter() - started < 30


def test_request_yaml_is_yaml_1_2_on_the_command_line(tmp_path: Path) -> None:
    """Finding 9: the command line read request YAML as YAML 1.1 ('on' became true) while the API
    refuses the string 'on' for a boolean."""
    (tmp_path / "r.yaml").write_text(
        "operation: transfer\npurpose: present_candidates_to_clients\ndata_categories: [name]\n"
        "recipient: {kind: recruitment_client, country: SE, active_assignment: on,\n"
        "  confidentiality_undertaking: true, data_agreement_signed: true, relevant_to_candidate_competence: true}\n",
        encoding="utf-8",
    )
    assert "active_assignment" in _one_line_error(_cli(tmp_path, "decide", "r.yaml"))


def test_request_files_must_be_regular_and_not_links(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text(json.dumps(ALLOWED), encoding="utf-8")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert "symbolic link" in _one_line_error(_cli(tmp_path, "decide", "link.json"))
    assert _cli(tmp_path, "--follow-symlinks", "decide", "link.json").returncode == 0
    os.mkfifo(tmp_path / "fifo.json")
    assert "FIFO" in _one_line_error(_cli(tmp_path, "decide", "fifo.json", timeout=20))


@pytest.mark.parametrize(("module", "code", "expected"), [
    ("bad_syntax", "def (\n", "SyntaxError"),
    ("exits", "raise SystemExit(3)\n", "SystemExit"),
    ("raises", "raise RuntimeError('boom')\n", "RuntimeError"),
])
def test_a_bad_model_module_is_one_line_and_status_2(tmp_path: Path, module: str, code: str, expected: str) -> None:
    """Finding 7: a --model that is malformed, raises or has a syntax error ended with a traceback."""
    (tmp_path / f"{module}.py").write_text(code, encoding="utf-8")
    (tmp_path / "r.json").write_text("{}", encoding="utf-8")
    assert expected in _one_line_error(_cli(tmp_path, "export", "r.json", "--model", f"{module}:Model"))
    assert "module:Class" in _one_line_error(_cli(tmp_path, "export", "r.json", "--model", "no-colon"))


def test_retention_lines_go_on_after_bad_lines(tmp_path: Path) -> None:
    """Finding 4: an OverflowError aborted `policykit retention FILE.jsonl`, so later lines were never
    judged. Each bad line now gets an error line and the rest are judged."""
    lines = [
        b'{"id": "a", "applications": ["2020-01-01"], "as_of": "2024-01-01"}',
        b'{"id": "b", "applications": ["0001-01-01T00:30:00+05:00"], "as_of": "2024-01-01"}',
        b'{"id": "c", "applications": ["\xff"]}',
        b'{"id": "d", "applications": ["2020-01-01"], "applications": []}',
        b"[" * 5000 + b"]" * 5000,
        b'{"id": "e", "applications": ["2020-01-01"], "as_of": "2024-01-01"}',
    ]
    (tmp_path / "c.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result = _cli(tmp_path, "retention", "c.jsonl")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5, 6]
    assert [("error" in o) for o in out] == [False, True, True, True, True, False]
    assert out[1]["error"]["code"] == "query.invalid_date"
    assert "duplicate key" in out[3]["error"]["message"]
    assert out[5]["id"] == "e"


def test_cli_limits_come_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps(ALLOWED), encoding="utf-8")
    assert _cli(tmp_path, "decide", "r.json").returncode == 0
    line = _one_line_error(_cli(tmp_path, "decide", "r.json", env={"POLICYKIT_LIMIT_MAX_BYTES": "10"}))
    assert "size limit" in line
    assert "POLICYKIT_LIMIT_MAX_DEPTH" in _one_line_error(
        _cli(tmp_path, "decide", "r.json", env={"POLICYKIT_LIMIT_MAX_DEPTH": "many"}))


def test_errors_are_policykit_errors_with_codes() -> None:
    for error in (InputTooLargeError, InternalError):
        assert issubclass(error, PolicyKitError) and error.code
