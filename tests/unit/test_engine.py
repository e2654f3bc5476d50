"""The durable-rules adapter: isolation, no accumulation, thread safety, failing closed."""

from __future__ import annotations

import ctypes
import json
import random
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import policykit
from policykit._disclosure.decision import normalise
from policykit._engine import adapter as _engine
from policykit.errors import EngineError
from tests.acceptance.cases import load_cases

REQUESTS = [c["inputs"] for c in load_cases("disclosure")]
ALLOWED = next(c["inputs"] for c in load_cases("disclosure") if c["id"] == "D01")


def _answers(policy: policykit.Policy) -> list[tuple[bool, tuple[str, ...]]]:
    return [(d.allowed, d.reasons) for d in map(policy.decide, REQUESTS)]


def test_only_the_adapter_imports_durable_rules() -> None:
    """durable-rules sits behind exactly one module."""
    src = Path(policykit.__file__).parent
    importers = sorted(
        p.relative_to(src).as_posix() for p in src.rglob("*.py")
        if any(
            line.lstrip().startswith(("import durable", "from durable")) or 'import_module("durable' in line
            for line in p.read_text().splitlines()
        )
    )
    assert importers == ["_engine/adapter.py"]


def test_a_missing_engine_shim_is_an_engine_error(tmp_path: Path) -> None:
    """On Python 3.13+ the adapter needs the PyEval_CallObject shim; without it, a clear EngineError."""
    missing = tmp_path / "_pyeval_shim.so"
    with pytest.raises(EngineError, match=r"Python 3\.13: policykit's engine shim .*_pyeval_shim\.so is missing"):
        _engine._load_engine((3, 13), shim=missing)


def test_an_unloadable_engine_shim_is_an_engine_error(tmp_path: Path) -> None:
    broken = tmp_path / "_pyeval_shim.so"
    broken.write_text("not a shared object")
    with pytest.raises(EngineError, match="engine shim .* could not be loaded"):
        _engine._load_engine((3, 13), shim=broken)


def test_an_engine_that_does_not_import_is_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "durable_rules_engine", None)   # makes the import fail
    with pytest.raises(EngineError, match=r"durable_rules_engine, from durable-rules==2\.0\.28\) could not be imported"):
        _engine._load_engine((3, 11))


@pytest.mark.skipif(sys.version_info < (3, 13), reason="the shim is built and loaded on Python 3.13 and later only")
def test_the_installed_shim_defines_pyeval_callobject() -> None:
    """The shim built at installation is loaded into the interpreter and calls through to PyObject_Call."""
    call = ctypes.pythonapi.PyEval_CallObject
    call.restype = ctypes.py_object
    call.argtypes = [ctypes.py_object, ctypes.py_object]
    assert call(len, ("abcd",)) == 4
    assert call(divmod, (17, 5)) == (3, 2)


def test_each_loaded_policy_gets_its_own_engine_ruleset() -> None:
    """Loading the same rules twice creates two engine rulesets with distinct names."""
    with policykit.load_policy() as a, policykit.load_policy() as b:
        assert a._disclosure.engine.name != b._disclosure.engine.name
        assert _answers(a) == _answers(b)


def test_closing_one_policy_leaves_another_working() -> None:
    """Deleting one policy's ruleset does not touch another's."""
    a = policykit.load_policy(memo_size=0)
    b = policykit.load_policy(memo_size=0)
    a.close()
    with pytest.raises(EngineError, match="closed"):
        a.decide(ALLOWED)
    assert b.decide(ALLOWED).allowed
    b.close()


def test_two_versions_in_one_process_do_not_interfere(tmp_path: Path) -> None:
    """An edited copy and the bundled policy, asked in turn, each answer by their own rules."""
    edited = tmp_path / "rules"
    shutil.copytree(policykit.bundled_rules_dir(), edited)
    countries = edited / "countries.yaml"
    countries.write_text(countries.read_text().replace('efta_eea: ["IS", "LI", "NO"]', 'efta_eea: ["IS", "LI", "NO", "US"]'))
    request = {**ALLOWED, "recipient": {**ALLOWED["recipient"], "country": "US"}}
    with policykit.load_policy(memo_size=0) as bundled, policykit.load_policy(edited, memo_size=0) as copy:
        for _ in range(3):
            assert bundled.decide(request).reasons == ("OUTSIDE_EU_EEA",)
            assert copy.decide(request).allowed


def test_nothing_accumulates_in_the_engine() -> None:
    """Thousands of questions leave the engine holding only its session state."""
    with policykit.load_policy(memo_size=0) as policy:
        engine = policy._disclosure.engine
        policy.decide(REQUESTS[0])
        baseline = engine.stored_facts()
        for i in range(3000):
            policy.decide(REQUESTS[i % len(REQUESTS)])
        assert engine.stored_facts() == baseline <= 1


def test_concurrent_questions_from_threads_get_the_sequential_answers() -> None:
    """Eight threads asking the engine (no memo) at once get exactly the answers asked one by one."""
    with policykit.load_policy(memo_size=0) as policy:
        expected = _answers(policy)
        failures: list[str] = []

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(300):
                i = rng.randrange(len(REQUESTS))
                d = policy.decide(REQUESTS[i])
                if (d.allowed, d.reasons) != expected[i]:
                    failures.append(f"request {i}: {(d.allowed, d.reasons)} != {expected[i]}")

        threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []


def test_a_rule_fires_at_most_once_per_category_group() -> None:
    """Rules compile to disjoint pieces, so no rule fires twice for the same categories."""
    with policykit.load_policy(memo_size=0) as policy:
        engine = policy._disclosure.engine
        for request in REQUESTS:
            req = policykit.DisclosureRequest.parse(request)
            key, cats = _engine_key(policy, req)
            fired = engine.evaluate(dict(zip(policy._disclosure.fact_names, key, strict=True)), cats)
            groups = [(r.rule_index, r.categories) for r in fired]
            assert len(groups) == len(set(groups))


def _engine_key(policy: policykit.Policy, req: policykit.DisclosureRequest) -> tuple[Any, ...]:
    return normalise(req, policy.rules, policy.today())


@pytest.mark.parametrize(
    ("function", "replacement", "message"),
    [
        ("assert_fact", lambda handle, payload: (1, 0), "status 1"),
        ("start_action_for_state", lambda handle, state: None, "did not complete"),
        ("assert_fact", lambda handle, payload: (_ for _ in ()).throw(RuntimeError("boom")), "boom"),
    ],
)
def test_an_engine_failure_raises_and_never_allows(
    monkeypatch: pytest.MonkeyPatch, function: str, replacement: Any, message: str
) -> None:
    """Whatever goes wrong inside the engine surfaces as EngineError; nothing is answered."""
    with policykit.load_policy(memo_size=0) as policy:
        allowed_request = ALLOWED
        assert policy.decide(allowed_request).allowed
        monkeypatch.setattr(_engine.durable_rules_engine, function, replacement)
        with pytest.raises(EngineError, match=message):
            policy.decide(allowed_request)


def test_an_exception_while_collecting_still_retracts_the_fact(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the fact is asserted still retracts it (no state leaks into the next question)."""
    with policykit.load_policy(memo_size=0) as policy:
        engine = policy._disclosure.engine
        policy.decide(ALLOWED)
        baseline = engine.stored_facts()

        def broken(handle: int, state: str) -> str:
            raise RuntimeError("collect failed")

        monkeypatch.setattr(_engine.durable_rules_engine, "complete_and_start_action", broken)
        with pytest.raises(EngineError, match="collect failed"):
            policy.decide(ALLOWED)
        monkeypatch.undo()
        assert engine.stored_facts() == baseline
        assert policy.decide(ALLOWED).allowed


def test_compiled_rules_fit_the_engine_limits() -> None:
    """durable-rules accepts at most 4096 rules per ruleset and 255 properties per fact."""
    with policykit.load_policy() as policy:
        engine = policy._disclosure.engine
        assert len(engine.rules) < 4096
        payload = engine.payload(dict.fromkeys(policy._disclosure.fact_names, False) | {
            "operation": "show", "purpose": "bookkeeping", "recipient.kind": "reference",
            "recipient.legal_obligation_jurisdiction": "none"}, ("name",))
        assert payload.count(":") < 255


def _mixed_radix(domains: list[tuple[Any, ...]], values: tuple[Any, ...]) -> int:
    """The facts as one number, written here from the definition (first field most significant)."""
    number = 0
    for domain, value in zip(domains, values, strict=True):
        number = number * len(domain) + domain.index(value)
    return number


def test_the_facts_given_as_one_number_get_the_answer_of_the_facts_given_by_value() -> None:
    """``evaluate_radix`` (the cold path of decide) reads the same facts, sends the same fact and
    checks the same mask as ``evaluate_masked``: for random facts and category sets, the values it
    decodes, the mask and the rules that fired are the same."""
    rng = random.Random(7)
    with policykit.load_policy(memo_size=0) as policy:
        engine = policy._disclosure.engine
        domains = [f.domain for f in engine._fields]
        categories = policy.rules.vocabulary.ids("data_categories")
        sent: list[str] = []
        fire = engine._fire

        def spy(payload: str, expected: int) -> list[Any]:
            sent.append(payload)
            return fire(payload, expected)

        engine._fire = spy  # type: ignore[method-assign]
        for _ in range(400):
            values = tuple(rng.choice(d) for d in domains)
            cats = tuple(c for c in categories if rng.random() < 0.2) or (categories[0],)
            mask, fired, decoded = engine.evaluate_radix(_mixed_radix(domains, values), cats)
            by_value_mask, by_value = engine.evaluate_masked(values, cats)
            assert decoded == values
            assert mask == by_value_mask == engine.expected(values, cats)
            assert [r.name for r in fired] == [r.name for r in by_value]
            assert json.loads(sent[-2]) == json.loads(sent[-1])


def test_a_fact_number_outside_the_domains_is_an_engine_error() -> None:
    with policykit.load_policy(memo_size=0) as policy:
        engine = policy._disclosure.engine
        size = 1
        for f in engine._fields:
            size *= len(f.domain)
        cats = (policy.rules.vocabulary.ids("data_categories")[0],)
        engine.evaluate_radix(size - 1, cats)  # the last number is inside
        for number in (size, -1):
            with pytest.raises(EngineError, match="outside the fields' domains"):
                engine.evaluate_radix(number, cats)


def test_pieces_of_one_rule_share_their_answer_bit() -> None:
    """A policy rule compiled into several pieces (cubes) gives every piece the bit of its (rule,
    categories) pair, and different pairs different bits: the evaluator keys its combined answers by
    the OR of these bits, so questions that fire different pieces of the same rules share one answer."""
    with policykit.load_policy(memo_size=0) as policy:
        rules = policy._disclosure.engine.rules
        pairs: dict[tuple[int, Any], set[int]] = {}
        for r in rules:
            pairs.setdefault((r.rule_index, r.categories), set()).add(r.answer_bit)
        assert all(len(bits) == 1 for bits in pairs.values())
        bits = [next(iter(b)) for b in pairs.values()]
        assert len(set(bits)) == len(bits) and all(b and b & (b - 1) == 0 for b in bits)
        assert any(sum(1 for r in rules if (r.rule_index, r.categories) == p) > 1 for p in pairs)


def test_questions_firing_other_pieces_of_the_same_rules_share_one_outcome() -> None:
    """Two questions whose fired pieces differ but whose (rule, categories) pairs are the same get the
    same Outcome object from the combined cache: combine runs once for both."""
    rng = random.Random(3)
    with policykit.load_policy(memo_size=0) as policy:
        evaluator = policy._disclosure
        engine = evaluator.engine
        domains = [f.domain for f in engine._fields]
        category = (policy.rules.vocabulary.ids("data_categories")[0],)
        seen: dict[tuple[Any, ...], tuple[frozenset[str], Any]] = {}
        for _ in range(3000):
            values = tuple(rng.choice(d) for d in domains)
            fired = engine.evaluate_values(values, category)
            pairs = tuple(sorted((r.rule_index, str(r.categories)) for r in fired))
            names = frozenset(r.name for r in fired)
            clauses = (values[evaluator._purpose_at], values[evaluator._kind_at])
            outcome = evaluator.evaluate_values(values, category)
            earlier = seen.get((pairs, clauses))
            if earlier is not None and earlier[0] != names:
                assert earlier[1] is outcome
                return
            seen.setdefault((pairs, clauses), (names, outcome))
        pytest.fail("no two questions fired different pieces of the same rules")
