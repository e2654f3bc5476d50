"""Loading ``rules/retention.yaml``: the retention rules, typed and checked.

A retention rule says, for a condition over the yes/no facts of ``_ruleset.facts.retention_schema``, what it
decides: the record's mode, a parallel track (bookkeeping records, special-category items), or a note
the verdict must carry. Its ``then`` names anchors and periods symbolically (``{from: window_anchor,
years: 2}``); Python computes the dates.

Beyond the shape, loading checks what makes the rules safe to evaluate:

* every term resolves: modes, purposes, category attributes, anchors allowed in each slot, parameters;
* exactly one ``mode`` rule applies to every combination of facts, and at most one rule of each other
  track: the fact space is finite, so both are checked exhaustively (with cubes) when the rules load.

Errors name the file and the line, like the rest of the loader.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policykit._dates import number_word
from policykit._ruleset.conditions import Condition, parse_condition
from policykit._ruleset.conditions import Field as FactField
from policykit._ruleset.cubes import Cube, intersect, subtract, to_cubes
from policykit._ruleset.facts import retention_schema, with_words
from policykit._ruleset.loading import Parameters, Predicate, RuleFamily, SourceRef, _Loader, _RawPredicate, _validate
from policykit._ruleset.vocabulary import Vocabulary
from policykit.errors import ConditionError, RuleSchemaError, UnknownTermError, did_you_mean

__all__ = [
    "ANCHORS",
    "TRACKS",
    "DateSpec",
    "EraseSpec",
    "RetentionRule",
    "RetentionRules",
    "load_retention",
]

TRACKS = ("mode", "bookkeeping", "special_category", "special_category_without_consent", "recording", "note")
Track = Literal["mode", "bookkeeping", "special_category", "special_category_without_consent", "recording", "note"]

ANCHORS: dict[str, str] = {
    "latest_application": "the latest application date",
    "window_anchor": "the anchor of the evidence window",
    "trigger": "the date consent ended",
    "resolution": "the date the dispute was resolved",
    "latest_activity": "the latest activity on the record",
    "retain_until": "the last day of retention",
    "process_closed": "the date the recruitment process closed",
    "as_of": "the date of the verdict",
    "bfl_year_end": "31 December of the calendar year in which the financial year ended",
    "bookkeeping_retain_until": "the last day the accounting records are kept",
    "interview": "the day of the recorded interview",
    "recording_consent_withdrawn": "the day consent to the recording was withdrawn",
}

# which anchors each date slot may use, per track
_SLOTS: dict[str, dict[str, tuple[str, ...]]] = {
    "mode": {
        "retain_until": ("window_anchor", "latest_application", "bookkeeping_retain_until"),
        "anonymise_on": ("retain_until", "trigger", "resolution", "window_anchor", "latest_application"),
        "deadline": ("trigger", "resolution", "retain_until"),
        "review_on": ("latest_activity", "latest_application"),
    },
    "bookkeeping": {"retain_until": ("bfl_year_end",), "erase_on": ("retain_until",)},
    "special_category": {"erase_on": ("process_closed", "trigger", "as_of")},
    "special_category_without_consent": {"erase_on": ("as_of", "process_closed", "trigger")},
    "recording": {"erase_on": ("interview", "recording_consent_withdrawn", "trigger", "as_of")},
    "note": {},
}

_CATEGORY_ATTRIBUTES = ("identifying", "evidence", "free_text")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ------------------------------------------------------------------------------------------------
# typed rules


class DateSpec(_Frozen):
    """A date a rule names: the earliest known of ``anchors``, plus calendar years and months (Lag
    1930:173 1 §), plus days. ``months_parameter`` names a parameter that gives the months instead.

    A date written ``{earliest: [DATE, DATE, ...]}`` has no anchors of its own: it is the earliest of
    its ``alternatives`` that is known (each with its own anchors and period)."""

    anchors: tuple[str, ...]
    years: int = 0
    months: int = 0
    days: int = 0
    months_parameter: str | None = None
    working_day: bool = False
    alternatives: tuple[DateSpec, ...] = ()

    def describe(self, parameters: Parameters | None = None) -> str:
        """Say the date in words, e.g. ``the anchor of the evidence window + N years``."""
        if self.alternatives:
            return "the earliest of: " + "; ".join(a.describe(parameters) for a in self.alternatives)
        base = " or ".join(ANCHORS[a] for a in self.anchors)
        if len(self.anchors) > 1:
            base = f"the earliest of {base}"
        parts = []
        if self.years:
            parts.append(f"{self.years} year{'s' if self.years != 1 else ''}")
        months = self.months
        if self.months_parameter is not None:
            months = getattr(parameters, self.months_parameter) if parameters is not None else 0
            if parameters is None:
                parts.append(f"the {self.months_parameter.replace('_', ' ')}")
        if months:
            parts.append(f"{months} month{'s' if months != 1 else ''}")
        if self.days:
            parts.append(f"{self.days} day{'s' if self.days != 1 else ''}")
        text = base + (" + " + " + ".join(parts) if parts else "")
        if self.working_day:
            text += ", moved to the next working day if it falls on a Saturday, Sunday or Swedish holiday"
        return text


class EraseSpec(_Frozen):
    """What a rule erases at once: vocabulary categories chosen by attribute, and named items."""

    where: tuple[tuple[str, bool], ...] = ()
    categories: tuple[str, ...] = ()
    items: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        """The categories, then the items."""
        return (*self.categories, *self.items)


class RetentionRule(_Frozen):
    """One retention rule: when its condition holds, it decides its track as ``then`` says."""

    id: str
    decides: Track
    title: str
    description: str
    clauses: tuple[str, ...]
    ambiguities: tuple[str, ...] = ()
    when: Condition
    mode: str | None = None
    legal_hold: bool = False
    retain_until: DateSpec | None = None
    anonymise_on: DateSpec | None = None
    deadline: DateSpec | None = None
    review_on: DateSpec | None = None
    erase_on: DateSpec | None = None
    permitted_purposes: tuple[str, ...] | None = None
    erase_now: EraseSpec = EraseSpec()
    #: a ``recording`` rule: the data category its items belong to
    category: str | None = None
    #: a ``recording`` rule: an item whose erasure day falls while a discrimination dispute is
    #: pending is kept until that dispute is resolved
    until_dispute_resolved: bool = False
    source: SourceRef


class RetentionRules(_Frozen, RuleFamily):
    """The retention family: its fact schema, predicates and rules in file (priority) order.

    ``evidence_window`` is the window end of the ``evidence_window`` mode rule, which the reading of
    the dates needs (has the window ended when consent ended?); ``anonymisation_erase`` is what the
    ``anonymise_now`` mode rule erases, which is also what any record erases once its date has come.
    """

    facts: dict[str, FactField]
    predicates: dict[str, Predicate]
    rules: tuple[RetentionRule, ...]
    evidence_window: DateSpec
    anonymisation_erase: EraseSpec
    #: the end of the review period of an active candidate (the ``review_on`` of the mode rules), which
    #: the lapse of consent after an unconfirmed period needs (parameter consent_lapses_after_review)
    review_period: DateSpec | None = None

    @property
    def has_recordings(self) -> bool:
        """Whether a ``recording`` rule judges recorded items (otherwise they are accepted and ignored)."""
        return any(r.decides == "recording" for r in self.rules)

    def rule(self, rule_id: str) -> RetentionRule:
        """The rule with this id."""
        found: RetentionRule = RuleFamily.rule(self, rule_id)
        return found


# ------------------------------------------------------------------------------------------------
# raw shapes


class _RawErase(_Raw):
    categories: dict[str, bool] = {}
    items: list[str] = []


class _RawThen(_Raw):
    mode: str | None = None
    legal_hold: bool = False
    retain_until: Any = None
    anonymise_on: Any = None
    deadline: Any = None
    review_on: Any = None
    erase_on: Any = None
    permitted_purposes: list[str] | Literal["all"] | None = None
    erase_now: _RawErase | None = None
    category: str | None = None
    until_dispute_resolved: bool = False


class _RawRule(_Raw):
    id: str
    decides: Track
    title: str
    description: str
    clauses: list[str]
    ambiguities: list[str] = []
    when: Any
    then: _RawThen = Field(default_factory=_RawThen)


class _RawRetentionFile(_Raw):
    predicates: dict[str, _RawPredicate] = {}
    rules: list[_RawRule]


# ------------------------------------------------------------------------------------------------
# loading


def _date_spec(loader: _Loader, raw: Any, slot: str, track: str, *, path: tuple[str | int, ...]) -> DateSpec:
    name = "retention.yaml"
    where = loader.line(name, path)
    if isinstance(raw, dict) and "earliest" in raw:
        options = raw["earliest"]
        if set(raw) != {"earliest"} or not isinstance(options, list) or len(options) < 2:
            raise RuleSchemaError(
                f"expected {{earliest: [DATE, DATE, ...]}} (two dates or more, nothing beside) for {slot!r}, "
                f"got {raw!r}",
                file=name, line=where,
            )
        alternatives = tuple(
            _date_spec(loader, option, slot, track, path=(*path, "earliest", i)) for i, option in enumerate(options)
        )
        return DateSpec(anchors=tuple(dict.fromkeys(a for alt in alternatives for a in alt.anchors)),
                        alternatives=alternatives)
    if not isinstance(raw, dict) or "from" not in raw:
        raise RuleSchemaError(
            f"expected a date as {{from: ANCHOR, years: n, months: n, days: n}} (or {{earliest: [DATE, ...]}}) "
            f"for {slot!r}, got {raw!r}",
            file=name, line=where,
        )
    keys = ["from", "years", "months", "days", "working_day"]
    unknown = set(raw) - set(keys)
    if unknown:
        key = sorted(unknown)[0]
        raise RuleSchemaError(
            f"unexpected key {key!r} in the date {slot!r}" + did_you_mean(key, keys),
            file=name, line=loader.line(name, (*path, key)),
        )
    working_day = raw.get("working_day", False)
    if not isinstance(working_day, bool):
        raise RuleSchemaError(
            f"expected working_day to be true or false, got {working_day!r}",
            file=name, line=loader.line(name, (*path, "working_day")),
        )
    anchors = raw["from"] if isinstance(raw["from"], list) else [raw["from"]]
    allowed = _SLOTS[track].get(slot, ())
    if not anchors:
        raise RuleSchemaError(f"expected at least one anchor for {slot!r}, got []", file=name, line=where)
    for i, a in enumerate(anchors):
        apath = (*path, "from", i) if isinstance(raw["from"], list) else (*path, "from")
        if not isinstance(a, str) or a not in allowed:
            raise UnknownTermError(
                f"expected an anchor allowed for {slot!r} in a {track!r} rule ({', '.join(allowed)}), got {a!r}"
                + did_you_mean(str(a), allowed),
                file=name, line=loader.line(name, apath),
            )
    values: dict[str, int] = {}
    months_parameter = None
    for unit in ("years", "months", "days"):
        value = raw.get(unit, 0)
        if unit == "months" and isinstance(value, dict):
            pname = value.get("parameter")
            if set(value) != {"parameter"} or not isinstance(pname, str) or pname not in _INT_PARAMETERS:
                raise UnknownTermError(
                    f"expected {{parameter: NAME}} naming an integer parameter of policy.yaml "
                    f"({', '.join(_INT_PARAMETERS)}), got {value!r}"
                    + did_you_mean(str(pname), _INT_PARAMETERS),
                    file=name, line=loader.line(name, (*path, unit)),
                )
            months_parameter = pname
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RuleSchemaError(
                f"expected a whole number of {unit} (0 or more), got {value!r}",
                file=name, line=loader.line(name, (*path, unit)),
            )
        values[unit] = value
    return DateSpec(anchors=tuple(anchors), months_parameter=months_parameter, working_day=working_day, **values)


_INT_PARAMETERS = ("review_interval_months",)


def load_retention(loader: _Loader, vocab: Vocabulary, params: Parameters) -> RetentionRules:
    """Read and check ``retention.yaml``. Parameters are read when dates are computed (so per-call
    overrides apply); here they only need to exist, and the lapse of consent needs a review date."""
    name = "retention.yaml"
    doc = loader.docs[name]
    raw: _RawRetentionFile = _validate(_RawRetentionFile, doc, name)
    schema = retention_schema()
    predicates, conditions = loader.predicates(name, raw.predicates, schema)
    loader.unique([r.id for r in raw.rules], "rule id", name, ("rules",))
    rules: list[RetentionRule] = []
    for i, r in enumerate(raw.rules):
        path = ("rules", i)
        _check_citations(loader, r, name, path)
        when = parse_condition(r.when, schema, conditions, file=name, line_of=doc.line, path=(*path, "when"))
        if not to_cubes(when, schema):
            raise ConditionError(
                f"expected a condition that can hold, but rule {r.id!r} can never apply",
                file=name, line=loader.line(name, (*path, "when")),
            )
        tpath = (*path, "then")
        _check_mode_fields(loader, vocab, r, name, tpath)
        _check_recording_keys(loader, r, vocab, name, tpath)
        dates = _rule_dates(loader, r, name, tpath)
        purposes = _permitted_purposes(loader, vocab, r.then, name, tpath)
        erase = _erase_spec(loader, vocab, r.then, name, tpath)
        try:
            rule = RetentionRule(
                id=r.id, decides=r.decides, title=r.title, description=" ".join(r.description.split()),
                clauses=tuple(r.clauses), ambiguities=tuple(r.ambiguities), when=when, mode=r.then.mode,
                legal_hold=r.then.legal_hold, permitted_purposes=purposes, erase_now=erase,
                category=r.then.category, until_dispute_resolved=r.then.until_dispute_resolved,
                source=SourceRef(file=name, line=loader.line(name, path)), **dates,
            )
        except ValidationError as exc:  # pragma: no cover - the raw model already checked the shape
            raise RuleSchemaError(str(exc), file=name, line=loader.line(name, path)) from None
        rules.append(rule)
    _check_tracks(loader, rules, schema, name)
    window, erase = _evidence_window(loader, rules, name), _anonymisation_erase(loader, rules, name)
    review_period = _review_period(loader, rules, params, name)
    # the texts of the schema say the window's length as the rules set it
    schema = with_words(schema, {"window_years": number_word(window.years)})
    return RetentionRules(
        facts=schema, predicates=predicates, rules=tuple(rules), evidence_window=window,
        anonymisation_erase=erase, review_period=review_period,
    )


def _check_recording_keys(loader: _Loader, r: _RawRule, vocab: Vocabulary, name: str, tpath: tuple[Any, ...]) -> None:
    """A ``recording`` rule names the data category of its items and an ``erase_on``; no other rule
    sets those keys."""
    then = r.then
    if r.decides != "recording":
        for key, value in (("category", then.category), ("until_dispute_resolved", then.until_dispute_resolved)):
            if value not in (None, False):
                raise RuleSchemaError(
                    f"expected no {key!r} in a {r.decides!r} rule ({r.id!r}); only recording rules set it",
                    file=name, line=loader.line(name, (*tpath, key)),
                )
        return
    if then.category is None or then.erase_on is None:
        missing = "category" if then.category is None else "erase_on"
        raise RuleSchemaError(
            f"expected {missing!r} in the 'then' of recording rule {r.id!r}, found none",
            file=name, line=loader.line(name, tpath),
        )
    loader.check_term(then.category, vocab.ids("data_categories"), "a data category", name, (*tpath, "category"))


def _review_period(loader: _Loader, rules: list[RetentionRule], params: Parameters, name: str) -> DateSpec | None:
    """The review_on of the mode rules (one date for all of them), which the lapse of consent counts from."""
    specs = list(dict.fromkeys(r.review_on for r in rules if r.decides == "mode" and r.review_on is not None))
    if params.consent_lapses_after_review and len(specs) != 1:
        raise RuleSchemaError(
            "expected exactly one review_on among the mode rules, since the parameter consent_lapses_after_review "
            f"makes consent lapse the day after it, got {len(specs)}",
            file=name, line=loader.line(name, ("rules",)),
        )
    return specs[0] if len(specs) == 1 else None


def _check_citations(loader: _Loader, r: _RawRule, name: str, path: tuple[str | int, ...]) -> None:
    """A rule cites at least one known clause, and its ambiguities are register ids."""
    if not r.clauses:
        raise RuleSchemaError(
            f"expected rule {r.id!r} to cite at least one clause, got none",
            file=name, line=loader.line(name, (*path, "clauses")),
        )
    loader.check_clauses(r.clauses, name, (*path, "clauses"))
    for j, a in enumerate(r.ambiguities):
        if not (a.startswith("A-") and a[2:].isdigit()):
            raise RuleSchemaError(
                f"expected an ambiguity id such as A-04, got {a!r}",
                file=name, line=loader.line(name, (*path, "ambiguities", j)),
            )


def _check_mode_fields(
    loader: _Loader, vocab: Vocabulary, r: _RawRule, name: str, tpath: tuple[str | int, ...]
) -> None:
    """A mode rule names a known mode and its permitted purposes; no other rule sets either."""
    then = r.then
    if r.decides == "mode":
        if then.mode is None:
            raise RuleSchemaError(
                f"expected a 'mode' in the 'then' of mode rule {r.id!r}, found none",
                file=name, line=loader.line(name, tpath),
            )
        loader.check_term(then.mode, vocab.ids("retention_modes"), "a retention mode", name, (*tpath, "mode"))
        if then.permitted_purposes is None:
            raise RuleSchemaError(
                f"expected 'permitted_purposes' in the 'then' of mode rule {r.id!r}, found none",
                file=name, line=loader.line(name, tpath),
            )
        return
    for key in ("mode", "permitted_purposes"):
        if getattr(then, key) is not None:
            raise RuleSchemaError(
                f"expected no {key!r} in a {r.decides!r} rule ({r.id!r}); only mode rules set it",
                file=name, line=loader.line(name, (*tpath, key)),
            )


def _rule_dates(loader: _Loader, r: _RawRule, name: str, tpath: tuple[str | int, ...]) -> dict[str, DateSpec | None]:
    """The rule's date slots, each allowed for its track and read into a ``DateSpec``."""
    dates: dict[str, DateSpec | None] = {}
    for slot in ("retain_until", "anonymise_on", "deadline", "review_on", "erase_on"):
        value = getattr(r.then, slot)
        if value is None:
            dates[slot] = None
            continue
        if slot not in _SLOTS[r.decides]:
            raise RuleSchemaError(
                f"expected no {slot!r} in a {r.decides!r} rule ({r.id!r}); it may set "
                f"{', '.join(_SLOTS[r.decides]) or 'no dates'}",
                file=name, line=loader.line(name, (*tpath, slot)),
            )
        dates[slot] = _date_spec(loader, value, slot, r.decides, path=(*tpath, slot))
    return dates


def _permitted_purposes(
    loader: _Loader, vocab: Vocabulary, then: _RawThen, name: str, tpath: tuple[str | int, ...]
) -> tuple[str, ...] | None:
    """``all`` or a list of known purposes (``None`` when the rule sets none)."""
    purposes = vocab.ids("purposes")
    if then.permitted_purposes == "all":
        return purposes
    if then.permitted_purposes is None:
        return None
    for j, purpose in enumerate(then.permitted_purposes):
        loader.check_term(purpose, purposes, "a purpose", name, (*tpath, "permitted_purposes", j))
    return tuple(then.permitted_purposes)


def _erase_spec(
    loader: _Loader, vocab: Vocabulary, then: _RawThen, name: str, tpath: tuple[str | int, ...]
) -> EraseSpec:
    """What ``erase_now`` erases: the categories chosen by attribute, and items that are not categories."""
    if then.erase_now is None:
        return EraseSpec()
    for key in then.erase_now.categories:
        loader.check_term(
            key, _CATEGORY_ATTRIBUTES, "a data-category attribute", name,
            (*tpath, "erase_now", "categories", key),
        )
    where = tuple(sorted(then.erase_now.categories.items()))
    picked = tuple(
        c.id for c in vocab.data_categories if where and all(getattr(c, k) == v for k, v in where)
    )
    cats = set(vocab.ids("data_categories"))
    for j, item in enumerate(then.erase_now.items):
        if item in cats:
            raise RuleSchemaError(
                f"expected an item that is not a data category under 'items', got {item!r}; "
                "choose categories by attribute under 'categories'",
                file=name, line=loader.line(name, (*tpath, "erase_now", "items", j)),
            )
    return EraseSpec(where=where, categories=picked, items=tuple(then.erase_now.items))


def _evidence_window(loader: _Loader, rules: list[RetentionRule], name: str) -> DateSpec:
    """The one mode rule with ``mode: evidence_window`` whose retain_until runs from the window anchor."""
    windows = [r for r in rules if r.mode == "evidence_window"]
    if len(windows) != 1 or windows[0].retain_until is None or windows[0].retain_until.anchors != ("window_anchor",):
        raise RuleSchemaError(
            "expected exactly one mode rule with 'mode: evidence_window' whose retain_until runs from "
            f"window_anchor (the evidence window), got {[r.id for r in windows]}",
            file=name, line=windows[-1].source.line if windows else loader.line(name, ("rules",)),
        )
    return windows[0].retain_until


def _anonymisation_erase(loader: _Loader, rules: list[RetentionRule], name: str) -> EraseSpec:
    """What the first ``mode: anonymise_now`` rule erases; it must erase categories."""
    erasing = [r for r in rules if r.mode == "anonymise_now"]
    if not erasing or not erasing[0].erase_now.categories:
        raise RuleSchemaError(
            "expected a mode rule with 'mode: anonymise_now' that erases categories (erase_now.categories)",
            file=name, line=erasing[0].source.line if erasing else loader.line(name, ("rules",)),
        )
    return erasing[0].erase_now


def _describe(cube: Cube) -> str:
    return ", ".join(
        f"{f}={'/'.join(str(v).lower() for v in sorted(vals, key=str))}" for f, vals in sorted(cube.items())
    )


def _check_tracks(loader: _Loader, rules: list[RetentionRule], schema: dict[str, FactField], name: str) -> None:
    """Exactly one mode rule for every combination of facts; at most one rule of each other track."""
    for track in TRACKS:
        if track == "note":
            continue
        members = [r for r in rules if r.decides == track]
        cubes = [(r, to_cubes(r.when, schema)) for r in members]
        for a in range(len(cubes)):
            for b in range(a + 1, len(cubes)):
                for ca in cubes[a][1]:
                    for cb in cubes[b][1]:
                        both = intersect(ca, cb)
                        if both is not None:
                            raise ConditionError(
                                f"expected at most one {track!r} rule to apply to any facts, but "
                                f"{cubes[a][0].id!r} and {cubes[b][0].id!r} both apply when {_describe(both)}",
                                file=name, line=cubes[b][0].source.line,
                            )
        if track == "mode":
            rest: list[Cube] = [{}]
            for _, rule_cubes in cubes:
                for cube in rule_cubes:
                    rest = [piece for part in rest for piece in subtract(part, cube, schema)]
            if rest:
                raise ConditionError(
                    f"expected a mode rule for every combination of facts, but none applies when "
                    f"{_describe(rest[0]) or 'any facts hold'}",
                    file=name, line=loader.line(name, ("rules",)),
                )
