"""The durable-rules adapter: the only module that imports ``durable_rules``.

Each family of rules of a loaded policy is compiled into its own durable-rules ruleset, created
through the engine's C binding (``durable_rules_engine``) under a name unique to that ruleset. A
question is asked by asserting one fact, collecting the names of the rules whose actions the Rete
network schedules, and retracting the fact again, all under the ruleset's lock:

* **isolation**: every compiled ruleset has a unique name, so two policies, two versions, or one
  policy loaded twice never share engine state; ``close()`` (or garbage collection) deletes it;
* **nothing accumulates**: the fact is retracted in a ``finally`` block; one session is reused;
* **threads**: the C code takes no locks, so each ruleset has its own ``threading.Lock``;
* **fail closed**: a sentinel rule matches every fact; if the engine reports anything but a normal
  evaluation, the sentinel is missing or not last, a rule name is unknown or reported twice, or the
  rules reported are not exactly those whose compiled cubes contain the fact,
  :class:`~policykit.errors.EngineError` is raised and the ruleset is replaced by a clean one. An
  engine failure never becomes an allow.

The last check is independent of the Rete network: for every field value (and every category-group
flag) the adapter keeps a bit mask of the compiled rules whose cube admits that value, so the rules
that must fire for a fact are the AND of one mask per field, a few integer operations per question.
A rule the engine silently leaves out (a forbid, say) is detected instead of becoming an allow.

On CPython 3.13 and later the binding needs ``PyEval_CallObject``, which CPython removed from its C
API; policykit's installation compiles a one-function shim for it (``_pyeval_shim.so``, built by
the wheel's build hook) and this module loads it with ``RTLD_GLOBAL`` before importing the binding.
If the engine cannot be loaded, importing this module raises :class:`~policykit.errors.EngineError`.

durable-rules' public ``Host``/``post`` API is not used: its global ruleset names, background timer
threads, swallowed action exceptions and per-session memory are what this module avoids.

Rules that test the ``category`` field are judged per data category. The compiler partially
evaluates such a rule for each category, groups the categories whose residual condition is the same,
and emits one engine rule per group guarded by the group's category flags, so one fact answers for
every requested category at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import math
import os
import sys
import threading
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from policykit._ruleset.conditions import (
    FALSE,
    Condition,
    Field,
    Value,
    fields_of,
    negation_normal_form,
    partial,
)
from policykit._ruleset.cubes import Cube, to_cubes
from policykit.errors import EngineError

__all__ = ["CompiledRule", "EngineRules"]

_SHIM = "_pyeval_shim.so"


def _load_engine(version: tuple[int, int] = sys.version_info[:2], shim: Path | None = None) -> ModuleType:
    """Import durable-rules' C binding; on Python 3.13+ first load the ``PyEval_CallObject`` shim
    with ``RTLD_GLOBAL`` so that the binding's reference to it resolves.

    ``shim`` defaults to the one installed with policykit. Raises :class:`EngineError` naming what is
    missing and how to get it."""
    if version >= (3, 13):
        path = shim if shim is not None else Path(str(resources.files("policykit").joinpath(_SHIM)))
        if not path.is_file():
            raise EngineError(
                f"the durable-rules engine cannot be loaded on Python {version[0]}.{version[1]}: policykit's "
                f"engine shim {path} is missing; it is built when policykit is installed on Python 3.13 or "
                "later (a C compiler is needed): reinstall policykit with this Python"
            )
        try:
            ctypes.CDLL(str(path), mode=os.RTLD_GLOBAL)
        except OSError as error:
            raise EngineError(f"the durable-rules engine shim {path} could not be loaded: {error}") from error
    try:
        # imported here, after the shim above: on 3.13 the binding needs the shim's symbol to load
        import durable_rules_engine  # noqa: PLC0415
    except ImportError as error:
        raise EngineError(
            f"the durable-rules engine (durable_rules_engine, from durable-rules==2.0.28) could not be "
            f"imported on Python {version[0]}.{version[1]}: {error}"
        ) from error
    return cast(ModuleType, durable_rules_engine)  # the binding ships no type information


durable_rules_engine = _load_engine()

_MARKER = "q_"
_SENTINEL = "pk_sentinel"
_SID = "0"
_GROUP = "g"
_COMPACT = (",", ":")  # the fact's JSON without spaces: the engine parses every character of it
_counter = itertools.count()


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One engine rule: a disjoint piece (cube) of one policy rule's condition, for some categories
    (``None``: for every requested category)."""

    name: str
    rule_index: int
    categories: frozenset[str] | None
    cube: tuple[tuple[str, frozenset[Value]], ...]
    #: the bit of this rule's (policy rule, categories) pair. The pieces of one policy rule for the
    #: same categories share it, so the OR over the rules that fired names exactly what an answer
    #: built from ``(rule_index, categories)`` depends on, however many pieces there are.
    answer_bit: int = 0


def _cube_json(cube: Cube, schema: Mapping[str, Field], keys: Mapping[str, str]) -> list[dict[str, Any]]:
    """Engine tests for a cube; ``keys`` gives each field's (short) key in the fact."""
    tests: list[dict[str, Any]] = []
    for name in sorted(cube):
        key = keys[name]
        values = sorted(cube[name], key=str)
        excluded = sorted(set(schema[name].domain) - cube[name], key=str)
        if len(values) == 1:
            tests.append({key: values[0]})
        elif len(excluded) < len(values):
            tests.extend({"$neq": {key: v}} for v in excluded)
        else:  # the values of one field exclude each other, so this still fires once
            tests.append({"$or": [{key: v} for v in values]})
    return tests


def _compile(
    conditions: Sequence[Condition], schema: Mapping[str, Field], categories: Sequence[str]
) -> tuple[list[CompiledRule], list[frozenset[str]]]:
    """Compile conditions into engine rules (disjoint cubes, so each policy rule fires at most once
    per question), and list the category groups the rules guard on."""
    compiled: list[CompiledRule] = []
    groups_seen: dict[frozenset[str], int] = {}
    answer_bits: dict[tuple[int, frozenset[str] | None], int] = {}
    for index, condition in enumerate(conditions):
        scoped: list[tuple[Condition, frozenset[str] | None]]
        if "category" not in fields_of(condition):
            scoped = [(condition, None)]
        else:
            residuals: dict[Condition, list[str]] = {}
            nnf = negation_normal_form(condition)
            for cat in categories:
                residual = partial(nnf, {"category": cat}, schema)
                if residual != FALSE:
                    residuals.setdefault(residual, []).append(cat)
            scoped = [
                (residual, None if len(cats) == len(categories) else frozenset(cats))
                for residual, cats in residuals.items()
            ]
        for g, (residual, scope) in enumerate(scoped):
            guard: Cube = {}
            if scope is not None:
                flag = _GROUP + str(groups_seen.setdefault(scope, len(groups_seen)))
                guard = {flag: frozenset((True,))}
            for k, cube in enumerate(to_cubes(residual, schema)):
                full = {**cube, **guard}
                bit = answer_bits.setdefault((index, scope), 1 << len(answer_bits))
                compiled.append(
                    CompiledRule(f"r{index}_{g}_{k}", index, scope, tuple(sorted(full.items())), bit)
                )
    return compiled, list(groups_seen)


class _GroupKeys(dict[str, str]):
    """Field keys, plus the group flags, whose key is their name."""

    def __missing__(self, name: str) -> str:
        if name.startswith(_GROUP):
            return name
        raise KeyError(name)


class _FlagSchema(dict[str, Field]):
    """The fact schema plus one boolean flag per category group: does the question name any
    category of the group?"""

    def __missing__(self, name: str) -> Field:
        if name.startswith(_GROUP):
            return Field(name, (False, True), name)
        raise KeyError(name)


class EngineRules:
    """One family of rules compiled into a private durable-rules ruleset.

    ``evaluate(facts, categories)`` returns the compiled rules that fired, in priority order.
    """

    def __init__(
        self,
        label: str,
        conditions: Sequence[Condition],
        schema: Mapping[str, Field],
        categories: Sequence[str],
    ) -> None:
        self._schema = _FlagSchema(schema)
        self._categories = tuple(categories)
        self._fields = tuple(f for f in schema.values() if f.name != "category")
        self.field_names = tuple(f.name for f in self._fields)
        # short keys keep the fact small: the engine parses and hashes every property of it
        self._keys = tuple(f"f{i}" for i in range(len(self._fields)))
        keymap = dict(zip(self.field_names, self._keys, strict=True))
        # JSON text of every value of every field (domains are finite), and the fact's template
        self._json_values = tuple({v: json.dumps(v) for v in f.domain} for f in self._fields)
        self._prefix = json.dumps({"sid": _SID, "id": "q", _MARKER: 1}, separators=_COMPACT)[:-1]
        self._template = self._prefix + "".join(f',"{key}":%s' for key in self._keys)
        self._group_json: dict[tuple[str, ...], str] = {}
        self.rules, self._groups = _compile(conditions, schema, categories)
        self._by_name = {r.name: r for r in self.rules}
        self._bit_of = {r.name: 1 << i for i, r in enumerate(self.rules)}
        self._value_masks, self._group_masks = self._masks()
        self._group_mask: dict[tuple[str, ...], int] = {}
        # the facts as one mixed-radix integer (see evaluate_radix): built on first use
        self._radix: tuple[tuple[int, tuple[tuple[tuple[Value, ...], int, str], ...]], ...] | None = None
        self._radix_size = math.prod(len(f.domain) for f in self._fields)
        definition: dict[str, Any] = {}
        for priority, rule in enumerate(self.rules):
            tests = _cube_json(dict(rule.cube), self._schema, _GroupKeys(keymap))
            definition[rule.name] = {"all": [{"m": {"$and": [{_MARKER: 1}, *tests]}}], "pri": priority}
        definition[_SENTINEL] = {"all": [{"m": {_MARKER: 1}}], "pri": len(self.rules) + 1}
        self._label = label
        self._json = json.dumps(definition)
        self._lock = threading.Lock()
        self._holder: dict[str, Any] = {"handle": None}
        self.name = ""
        self._create()
        self._finalizer = weakref.finalize(self, _delete, self._holder, self._lock)

    def _masks(self) -> tuple[tuple[dict[Value, int], ...], tuple[tuple[int, int], ...]]:
        """Per field (in ``field_names`` order) and value, and per category group and flag value
        (False, True), the bit mask of the compiled rules whose cube admits that value."""
        every = (1 << len(self.rules)) - 1
        values = [dict.fromkeys(f.domain, every) for f in self._fields]
        by_name = {f.name: (f, masks) for f, masks in zip(self._fields, values, strict=True)}
        groups = [[every, every] for _ in self._groups]  # (off, on) per group flag
        for i, rule in enumerate(self.rules):
            clear = ~(1 << i)
            for name, allowed in rule.cube:  # a field the cube does not name admits every value
                field = by_name.get(name)
                if field is not None:
                    masks = field[1]
                    for v in field[0].domain:
                        if v not in allowed:
                            masks[v] &= clear
                elif name.startswith(_GROUP):
                    pair = groups[int(name[len(_GROUP):])]
                    if False not in allowed:
                        pair[0] &= clear
                    if True not in allowed:
                        pair[1] &= clear
                else:  # pragma: no cover - the compiler names only schema fields and group flags
                    raise EngineError(f"compiled rule {rule.name} tests an unknown field {name!r}")
        return tuple(values), tuple((off, on) for off, on in groups)

    def expected(self, values: tuple[Value, ...], categories: tuple[str, ...]) -> int:
        """The bit mask (bit ``i`` for ``rules[i]``) of the compiled rules whose cube contains the
        fact: what the engine must report, computed without it."""
        mask = (1 << len(self.rules)) - 1
        try:
            for masks, v in zip(self._value_masks, values, strict=True):
                mask &= masks[v]
        except (KeyError, ValueError) as exc:
            raise EngineError(f"a fact value is outside its field's domain: {exc}") from exc
        return mask & self._group_bits(categories)

    def _create(self) -> None:
        """Create the engine ruleset under a name no other ruleset in the process has."""
        self.name = f"policykit_{self._label}_{next(_counter)}_{uuid.uuid4().hex[:12]}"
        try:
            self._holder["handle"] = durable_rules_engine.create_ruleset(self.name, self._json)
        except Exception as exc:  # the binding raises its own error type
            raise EngineError(f"durable-rules rejected ruleset {self.name}: {exc}") from exc

    def _reset(self) -> None:
        """Discard a ruleset whose state may be inconsistent after a failure, and start a clean one.
        Called with the lock held."""
        old, self._holder["handle"] = self._holder["handle"], None
        if old is not None:
            with contextlib.suppress(Exception):
                durable_rules_engine.delete_ruleset(old)
        self._create()

    @property
    def closed(self) -> bool:
        """Whether the engine ruleset has been deleted."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Delete the engine ruleset. Further evaluations raise :class:`EngineError`."""
        self._finalizer()

    def payload(self, facts: Mapping[str, Value], categories: Sequence[str]) -> str:
        """The JSON fact for one question: every field, every category-group flag, and the marker."""
        return self._payload(tuple(facts[name] for name in self.field_names), tuple(categories))

    def _payload(self, values: tuple[Value, ...], categories: tuple[str, ...]) -> str:
        groups = self._group_text(categories)
        try:
            fact = self._template % tuple([m[v] for m, v in zip(self._json_values, values, strict=True)])
        except (KeyError, ValueError) as exc:
            raise EngineError(f"a fact value is outside its field's domain: {exc}") from exc
        return f"{fact},{groups}}}" if groups else fact + "}"

    def evaluate(self, facts: Mapping[str, Value], categories: Sequence[str]) -> list[CompiledRule]:
        """Ask the engine: the compiled rules that fire for these facts, in priority order."""
        return self.evaluate_values(tuple(facts[name] for name in self.field_names), tuple(categories))

    def evaluate_values(self, values: tuple[Value, ...], categories: tuple[str, ...]) -> list[CompiledRule]:
        """As :meth:`evaluate`, with the facts as a tuple in the order of ``field_names``."""
        payload = self._payload(values, categories)
        return self._fire(payload, self.expected(values, categories))

    def evaluate_masked(self, values: tuple[Value, ...], categories: tuple[str, ...]) -> tuple[int, list[CompiledRule]]:
        """As :meth:`evaluate_values`, with the bit mask of the rules that fired (bit ``i`` for
        ``rules[i]``): once the engine's answer is checked, the mask names the set of fired rules
        exactly, so a caller may key what it derives from that set on this integer."""
        expected = self.expected(values, categories)
        return expected, self._fire(self._payload(values, categories), expected)

    def evaluate_radix(
        self, number: int, categories: tuple[str, ...]
    ) -> tuple[int, list[CompiledRule], tuple[Value, ...]]:
        """As :meth:`evaluate_masked`, with the facts given as one integer: each field's value as its
        index in the field's domain, in mixed radix (the first field most significant, as
        ``number = number * len(domain) + index`` field after field writes it). Returns the mask, the
        fired rules and the facts' values in ``field_names`` order.

        The fields are read a few at a time: for each run of consecutive fields whose domains multiply
        to at most 256, a table gives, per combined index, the run's values, the AND of their rule
        masks and their part of the fact's JSON. A question then costs a handful of ``divmod`` and
        table lookups instead of one dictionary lookup per field for the mask and another for the
        fact; the result is the same (a property test compares the two)."""
        tables = self._radix if self._radix is not None else self._radix_tables()
        if not 0 <= number < self._radix_size:
            raise EngineError(f"a fact number {number} is outside the fields' domains (0 to {self._radix_size - 1})")
        mask = self._group_bits(categories)
        runs: list[tuple[Value, ...]] = []
        parts: list[str] = []
        for radix, table in tables:  # the last (least significant) run first
            number, digit = divmod(number, radix)
            values, run_mask, text = table[digit]
            mask &= run_mask
            runs.append(values)
            parts.append(text)
        runs.reverse()
        parts.reverse()
        groups = self._group_text(categories)
        payload = self._prefix + "".join(parts) + (f",{groups}}}" if groups else "}")
        return mask, self._fire(payload, mask), sum(runs, ())

    def _radix_tables(self) -> tuple[tuple[int, tuple[tuple[tuple[Value, ...], int, str], ...]], ...]:
        """The run tables of :meth:`evaluate_radix`, the last run first."""
        every = (1 << len(self.rules)) - 1
        fields = list(zip(self._fields, self._keys, self._value_masks, self._json_values, strict=True))
        tables: list[tuple[int, tuple[tuple[tuple[Value, ...], int, str], ...]]] = []
        end = len(fields)
        while end > 0:
            start, radix = end - 1, len(fields[end - 1][0].domain)
            while start > 0 and radix * len(fields[start - 1][0].domain) <= 256:
                start -= 1
                radix *= len(fields[start][0].domain)
            table: list[tuple[tuple[Value, ...], int, str]] = [((), every, "")]
            for field, key, masks, texts in fields[start:end]:  # the first field of the run most significant
                table = [
                    ((*values, v), mask & masks[v], f'{text},"{key}":{texts[v]}')
                    for values, mask, text in table
                    for v in field.domain
                ]
            tables.append((radix, tuple(table)))
            end = start
        self._radix = tuple(tables)
        return self._radix

    def _group_bits(self, categories: tuple[str, ...]) -> int:
        """The AND of the category-group flags' rule masks for these categories."""
        if not self._groups:
            return (1 << len(self.rules)) - 1
        groups = self._group_mask.get(categories)
        if groups is None:
            chosen = frozenset(categories)
            groups = (1 << len(self.rules)) - 1
            for group, (off, on) in zip(self._groups, self._group_masks, strict=True):
                groups &= off if chosen.isdisjoint(group) else on
            if len(self._group_mask) < 65_536:
                self._group_mask[categories] = groups
        return groups

    def _group_text(self, categories: tuple[str, ...]) -> str:
        """The category-group flags of the fact's JSON for these categories (empty without groups)."""
        groups = self._group_json.get(categories)
        if groups is None:
            chosen = frozenset(categories)
            flags = {_GROUP + str(i): not chosen.isdisjoint(g) for i, g in enumerate(self._groups)}
            groups = json.dumps(flags, separators=_COMPACT)[1:-1]
            if len(self._group_json) < 65_536:
                self._group_json[categories] = groups
        return groups

    def _fire(self, payload: str, expected: int) -> list[CompiledRule]:
        names: list[str] = []
        with self._lock:
            handle = self._holder["handle"]
            if not self._finalizer.alive or handle is None:
                raise EngineError(f"the engine ruleset {self.name} is closed")
            try:
                result = durable_rules_engine.assert_fact(handle, payload)
                if result[0] != 0:
                    raise EngineError(
                        f"durable-rules returned status {result[0]} for a fact in {self.name}; expected 0"
                    )
                state = result[1]
                action = durable_rules_engine.start_action_for_state(handle, state)
                if action:
                    names.append(_rule_name(action[1]))
                    while message := durable_rules_engine.complete_and_start_action(handle, state):
                        names.append(_rule_name(message))
                durable_rules_engine.retract_fact(handle, payload)
                return self._check(names, expected)
            except Exception as exc:
                # After a failure the session may hold a half-taken action or the fact itself; a
                # ruleset holds no state between questions, so replace it with a clean one.
                self._reset()
                if isinstance(exc, EngineError):
                    raise
                raise EngineError(f"durable-rules failed while evaluating in {self.name}: {exc}") from exc

    def _check(self, names: list[str], expected: int) -> list[CompiledRule]:
        """The compiled rules behind the names the engine reported, after checking that the
        evaluation completed (the sentinel once, last) and that every rule whose cube contains the
        fact, and no other, was reported exactly once."""
        if not names or names[-1] != _SENTINEL or names.count(_SENTINEL) != 1:
            raise EngineError(
                f"durable-rules did not complete the evaluation in {self.name}: fired {names!r}, "
                f"expected the sentinel rule once, last"
            )
        by_name = self._by_name
        bit_of = self._bit_of
        fired = 0
        rules: list[CompiledRule] = []
        for name in names[:-1]:
            bit = bit_of.get(name)
            if bit is None:
                raise EngineError(f"durable-rules reported an unknown rule {name!r} in {self.name}")
            if fired & bit:
                raise EngineError(f"durable-rules reported rule {name!r} twice in {self.name}")
            fired |= bit
            rules.append(by_name[name])
        if fired != expected:
            missing = [r.name for i, r in enumerate(self.rules) if (expected & ~fired) >> i & 1]
            extra = [r.name for i, r in enumerate(self.rules) if (fired & ~expected) >> i & 1]
            raise EngineError(
                f"durable-rules reported rules that disagree with the compiled conditions in {self.name}: "
                f"missing {missing!r}, unexpected {extra!r}"
            )
        return rules

    def stored_facts(self) -> int:
        """How many facts the engine holds for the session (none, or the session state, when idle)."""
        with self._lock:
            handle = self._holder["handle"]
            if handle is None or not self._finalizer.alive:
                return 0
            try:
                return len(json.loads(durable_rules_engine.get_facts(handle, _SID)))
            except Exception as exc:
                if "309" in str(exc):  # ERR_SID_NOT_FOUND: no question asked yet, nothing stored
                    return 0
                raise EngineError(f"durable-rules could not list the facts of {self.name}: {exc}") from exc


def _rule_name(message: str) -> str:
    # a message is '{"<rule name>":{...}}'; rule names are generated and never contain quotes
    start = message.index('"') + 1
    return message[start : message.index('"', start)]


def _delete(holder: dict[str, Any], lock: threading.Lock) -> None:
    with lock:
        handle, holder["handle"] = holder["handle"], None
        if handle is not None:
            with contextlib.suppress(Exception):  # nothing more can be done at teardown
                durable_rules_engine.delete_ruleset(handle)
