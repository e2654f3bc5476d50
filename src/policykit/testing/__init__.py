"""Helpers for the test suites of services that embed policykit.

Hypothesis strategies (lower-case nouns, each returning a typed strategy)::

    disclosure_requests(policy=None, **fixed)     # valid DisclosureRequests over the whole vocabulary
    malformed_disclosure_requests()                # inputs decide() must refuse with a QueryError
    retention_facts(**fixed)                       # consistent RetentionFacts
    candidate_records(Model, **fixed)              # instances of your model annotated with categories

Assertions whose failure message is the decision's full explanation::

    assert_allowed(policy, request)
    assert_denied(policy, request, reason="OUTSIDE_EU_EEA")

The reference evaluator, for checking an engine against the rules' plain meaning::

    reference_outcome(policy, request)             # what the rules say, computed without the engine

A pytest plugin (``policykit.testing.plugin``, registered as an entry point) provides a
session-scoped ``policykit_policy`` fixture: the bundled policy, or the rules directory given with
``--policykit-rules DIR``.

This module imports hypothesis; ``import policykit`` never does. See ``docs/testing.md``.
"""

from __future__ import annotations

import datetime as dt
import string
import types
import typing
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, TypeVar, Union, get_args, get_origin

from hypothesis import strategies as st
from pydantic import BaseModel

from policykit._disclosure.decision import Decision, DisclosureRequest, Outcome
from policykit._disclosure.reference import ReferenceEvaluator
from policykit._policy import Policy
from policykit._records.annotations import check_model
from policykit._retention.verdict import RetentionFacts
from policykit._ruleset.ruleset import RuleSet, load_rules

__all__ = [
    "ReferenceEvaluator",
    "assert_allowed",
    "assert_denied",
    "candidate_records",
    "disclosure_requests",
    "malformed_disclosure_requests",
    "reference_outcome",
    "retention_facts",
]

M = TypeVar("M", bound=BaseModel)
Fixed = Any  # a plain value, or a strategy for one

_DAYS = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2035, 12, 31))


@lru_cache(maxsize=8)
def _bundled_rules() -> RuleSet:
    return load_rules()


def _rules_of(policy: Policy | RuleSet | None) -> RuleSet:
    if policy is None:
        return _bundled_rules()
    if isinstance(policy, RuleSet):
        return policy
    return policy.rules


def _strategy(value: Fixed) -> st.SearchStrategy[Any]:
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


# ------------------------------------------------------------------------------------------------
# disclosure requests


def _country_codes(rules: RuleSet) -> st.SearchStrategy[str]:
    vocab = rules.vocabulary
    codes = [c.code for c in vocab.countries]
    inside = [c.code for c in vocab.countries if c.in_eea]
    aliases = list(vocab.country_aliases)
    plain = st.sampled_from(codes) | st.sampled_from(inside) | st.sampled_from(aliases or codes)
    # odd but valid: lower case and surrounding spaces are accepted
    return plain | plain.map(str.lower) | plain.map(lambda c: f" {c} ")


def _recipient(rules: RuleSet, fixed: Mapping[str, Fixed]) -> st.SearchStrategy[dict[str, Any]]:
    vocab = rules.vocabulary
    flags = (
        "active_assignment", "confidentiality_undertaking", "data_agreement_signed",
        "relevant_to_candidate_competence", "specific_process_requirement", "legitimate_need_kul",
        "legal_obligation", "subprocessors_in_eea", "approved_by_candidate", "dpf_certified",
    )
    required: dict[str, st.SearchStrategy[Any]] = {
        "kind": st.sampled_from(vocab.ids("recipient_kinds")),
        "country": _country_codes(rules),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {flag: st.booleans() for flag in flags}
    optional.update({
        "receives_copy": st.none() | st.booleans(),
        "legal_obligation_jurisdiction": st.none() | st.sampled_from(["SE", "EU", "se", " eu ", "US", "NO", "UK"]),
        "role": st.none() | st.sampled_from(["controller", "processor", "sub_processor"]),
        "gdpr_transfer_mechanism": st.none() | st.sampled_from(["adequacy_decision", "scc", "bcr"]),
    })
    for name, value in fixed.items():
        required[name] = _strategy(value)
        optional.pop(name, None)
    return st.fixed_dictionaries(required, optional=optional)


def _candidate(fixed: Mapping[str, Fixed]) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "consent_status": st.sampled_from(["given", "withdrawn"]),
        "consent_withdrawn_on": st.none() | _DAYS,
        "objection_in_writing": st.booleans(),
        "objection_received_on": st.none() | _DAYS,
        "explicit_consent_special_category": st.booleans(),
        "special_category_relevant": st.booleans(),
        "consent_to_sale": st.booleans(),
        "latest_application": st.none() | _DAYS | _DAYS.map(dt.date.isoformat),
        "anonymised": st.booleans(),
        "consent_to_show_profile": st.booleans(),
        "portability_request_on_file": st.booleans(),
        "placement_started_on": st.none() | _DAYS,
    }
    required = {name: _strategy(value) for name, value in fixed.items()}
    for name in fixed:
        optional.pop(name, None)
    return st.fixed_dictionaries(required, optional=optional)


def _odd_text() -> st.SearchStrategy[str]:
    """Strings a careless caller might send as a free-text purpose or context: empty, long, unicode."""
    return st.text(max_size=40) | st.sampled_from(["", " ", "Rekrytering", "présent_candidates", "\u200bsales", "🙂"])


def disclosure_requests(policy: Policy | RuleSet | None = None, **fixed: Fixed) -> st.SearchStrategy[DisclosureRequest]:
    """Valid disclosure requests over the whole vocabulary of ``policy`` (the bundled one by default).

    Besides the usual values the requests include odd but valid ones: purposes outside the policy
    (free text), lower-case and padded country codes and aliases (``uk``, `` EL ``), duplicate
    categories, huge cell sizes, withdrawals dated before or after the question, any referee context.

    ``fixed`` pins fields to a value or a strategy: ``disclosure_requests(operation="transfer")``;
    ``recipient={...}`` and ``candidate={...}`` pin fields of those parts, e.g.
    ``disclosure_requests(recipient={"kind": "prospective_client"})``.
    """
    rules = _rules_of(policy)
    vocab = rules.vocabulary
    fixed = dict(fixed)
    recipient = _recipient(rules, fixed.pop("recipient", {}))
    pinned_candidate = fixed.pop("candidate", {})
    candidate = _candidate(pinned_candidate)
    purposes = st.sampled_from([*vocab.ids("purposes"), *vocab.ids("out_of_policy_purposes")]) | _odd_text()
    contexts = st.lists(
        st.sampled_from([*vocab.referee_identification_context, "interview_feedback", "salary"]) | _odd_text(),
        max_size=3,
    )
    required: dict[str, st.SearchStrategy[Any]] = {
        "operation": st.sampled_from(vocab.ids("operations")),
        "data_categories": st.lists(st.sampled_from(vocab.ids("data_categories")), min_size=1, max_size=5),
        "purpose": purposes,
        "recipient": recipient,
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "contains_special_category": st.booleans(),
        "contains_criminal_data": st.booleans(),
        "art10_statutory_basis": st.booleans(),
        "identifiable": st.booleans(),
        "min_cell_size": st.none() | st.integers(0, 40) | st.integers(0, 10**30),
        "disclosed_context": contexts,
        "as_of": st.none() | _DAYS | _DAYS.map(dt.date.isoformat),
        "candidate": candidate,
    }
    if pinned_candidate:
        required["candidate"] = optional.pop("candidate")
    for name, value in fixed.items():
        required[name] = _strategy(value)
        optional.pop(name, None)
    return st.fixed_dictionaries(required, optional=optional).map(DisclosureRequest.parse)


def malformed_disclosure_requests(policy: Policy | RuleSet | None = None) -> st.SearchStrategy[Any]:
    """Inputs that ``decide()`` must refuse with a :class:`~policykit.errors.QueryError`: a valid
    request with one thing broken (a missing field, a wrong type, an unknown term, an unknown field, an
    impossible date, a negative or fractional number, odd unicode), or something that is not a mapping
    at all. Never a valid request."""
    rules = _rules_of(policy)
    vocab = rules.vocabulary
    base = st.fixed_dictionaries({
        "operation": st.sampled_from(vocab.ids("operations")),
        "data_categories": st.lists(st.sampled_from(vocab.ids("data_categories")), min_size=1, max_size=3),
        "purpose": st.sampled_from(vocab.ids("purposes")),
        "recipient": st.fixed_dictionaries({
            "kind": st.sampled_from(vocab.ids("recipient_kinds")),
            "country": st.sampled_from(["SE", "NO", "US"]),
        }),
    })
    known = {
        "operations": set(vocab.ids("operations")),
        "categories": set(vocab.ids("data_categories")),
        "kinds": set(vocab.ids("recipient_kinds")),
        "countries": {c.code for c in vocab.countries} | set(vocab.country_aliases),
    }
    unknown_word = st.text(alphabet=string.ascii_letters + "_åäöé\u200b🙂ＳＥ", min_size=1, max_size=20)
    not_bool: st.SearchStrategy[Any] = st.sampled_from([0, 1, "true", "yes", None, [], 1.0, "ja"])
    not_int: st.SearchStrategy[Any] = st.sampled_from([-1, -(10**30), 1.5, "10", True, []])
    bad_dates = st.sampled_from(
        ["2024-02-30", "2023-13-01", "yesterday", "2024-01-01T10:00:00", "20240101", "", 20240101]
    )
    drop, setter = _dropped, _set

    mutations: list[st.SearchStrategy[Any]] = [
        # a required field missing
        st.tuples(base, st.sampled_from([("operation",), ("data_categories",), ("purpose",), ("recipient",),
                                         ("recipient", "kind"), ("recipient", "country")]))
        .map(lambda bp: drop(bp[1])(bp[0])),
        # unknown terms
        st.tuples(base, unknown_word.filter(lambda w: w not in known["operations"]))
        .map(lambda bw: setter(bw[0], ("operation",), bw[1])),
        st.tuples(base, unknown_word.filter(lambda w: w not in known["categories"]))
        .map(lambda bw: setter(bw[0], ("data_categories",), [*bw[0]["data_categories"], bw[1]])),
        st.tuples(base, unknown_word.filter(lambda w: w not in known["kinds"]))
        .map(lambda bw: setter(bw[0], ("recipient", "kind"), bw[1])),
        st.tuples(base, unknown_word.filter(lambda w: w.strip().upper() not in known["countries"]))
        .map(lambda bw: setter(bw[0], ("recipient", "country"), bw[1])),
        # wrong types
        st.tuples(base, st.sampled_from(["contains_special_category", "contains_criminal_data",
                                         "art10_statutory_basis", "identifiable"]), not_bool)
        .map(lambda b: setter(b[0], (b[1],), b[2])),
        st.tuples(base, st.sampled_from(["active_assignment", "confidentiality_undertaking",
                                         "data_agreement_signed", "legal_obligation", "subprocessors_in_eea"]),
                  not_bool)
        .map(lambda b: setter(b[0], ("recipient", b[1]), b[2])),
        st.tuples(base, st.sampled_from(["objection_in_writing", "anonymised", "explicit_consent_special_category"]),
                  not_bool)
        .map(lambda b: setter(b[0], ("candidate", b[1]), b[2])),
        st.tuples(base, not_int).map(lambda b: setter(b[0], ("min_cell_size",), b[1])),
        st.tuples(base, st.sampled_from([[], "name", 7, None, [None], [["name"]]]))
        .map(lambda b: setter(b[0], ("data_categories",), b[1])),
        st.tuples(base, st.sampled_from([7, None, ["transfer"], {"op": "transfer"}]))
        .map(lambda b: setter(b[0], ("operation",), b[1])),
        st.tuples(base, st.sampled_from([7, None, [], "recruitment_client"]))
        .map(lambda b: setter(b[0], ("recipient",), b[1])),
        st.tuples(base, st.sampled_from([49, None, ["SE"], 4.2]))
        .map(lambda b: setter(b[0], ("recipient", "country"), b[1])),
        # values outside a closed set
        st.tuples(base, st.sampled_from(["revoked", "GIVEN", "", "withdrawn "]))
        .map(lambda b: setter(b[0], ("candidate", "consent_status"), b[1])),
        st.tuples(base, st.sampled_from(["owner", "Controller", ""]))
        .map(lambda b: setter(b[0], ("recipient", "role"), b[1])),
        # impossible or malformed dates
        st.tuples(base, bad_dates).map(lambda b: setter(b[0], ("as_of",), b[1])),
        st.tuples(base, bad_dates).map(lambda b: setter(b[0], ("candidate", "consent_withdrawn_on"), b[1])),
        # unknown fields
        st.tuples(base, st.sampled_from([(), ("recipient",), ("candidate",)]),
                  st.sampled_from(["consent", "Operation", "countr", "extra", "ålder", "\u200boperation"]))
        .map(lambda b: setter(b[0], (*b[1], b[2]), True)),
        # not a mapping at all
        st.sampled_from([None, [], "transfer", 42, 3.5, b"{}", ("operation", "transfer")]),
    ]
    return st.one_of(mutations)


def _dropped(path: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function that gives a copy of a request without the field at ``path``."""
    def go(d: dict[str, Any]) -> dict[str, Any]:
        d = _copy(d)
        target = d
        for key in path[:-1]:
            target = target[key]
        target.pop(path[-1], None)
        return d
    return go


def _set(d: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of a request with ``value`` at ``path`` (its mappings made as needed)."""
    d = _copy(d)
    target = d
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return d


def _copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_copy(v) for v in d]
    return d


# ------------------------------------------------------------------------------------------------
# retention facts


def retention_facts(**fixed: Fixed) -> st.SearchStrategy[RetentionFacts]:
    """Consistent retention facts: one to four applications (dates, or timestamps in any zone), and
    possibly withdrawals, an objection (in any form), an erasure request, a closed process, disputes,
    bookkeeping records and special-category items, each dated on or after the first application.
    ``as_of`` is left out (today) unless pinned, and then every event is dated on or before today (a
    later event cannot be known yet); ``fixed`` pins any field to a value or a strategy."""
    # two days before today in UTC is on or before today in every time zone
    ceiling = dt.date(2039, 12, 31) if "as_of" in fixed else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)

    @st.composite
    def build(draw: st.DrawFn) -> RetentionFacts:
        apps = draw(st.lists(st.dates(min_value=dt.date(2015, 1, 1), max_value=min(dt.date(2035, 12, 31), ceiling)),
                             min_size=1, max_size=4))
        first = min(apps)
        later = st.dates(min_value=first, max_value=min(dt.date(2037, 12, 31), ceiling))
        stamped = draw(st.booleans())
        # a timestamp's Stockholm date must be the drawn day (later dates are drawn from it): before
        # 22:00 UTC it is, in winter (UTC+1) and summer (UTC+2) alike
        facts: dict[str, Any] = {
            "applications": [
                f"{a.isoformat()}T{draw(st.integers(0, 21)):02d}:30:00{draw(st.sampled_from(['Z', '+00:00']))}"
                if stamped else a.isoformat()
                for a in apps
            ],
        }
        withdrawals = draw(st.lists(later, max_size=3))
        if withdrawals:
            facts["consent_withdrawn_on"] = [w.isoformat() for w in withdrawals]
        if draw(st.booleans()):
            facts["objection_received_on"] = draw(later).isoformat()
            facts["objection_form"] = draw(st.sampled_from(["email", "letter", "portal", "phone", "in_person"]))
            facts["objection_documented_in_writing_by_controller"] = draw(st.booleans())
        if draw(st.booleans()):
            facts["erasure_requested_on"] = draw(later).isoformat()
        if draw(st.booleans()):
            facts["process_closed_on"] = draw(later).isoformat()
        disputes = []
        for _ in range(draw(st.integers(0, 2))):
            opened = draw(later)
            if draw(st.booleans()):
                disputes.append({"opened_on": opened.isoformat(), "status": "pending"})
            else:
                resolved = draw(st.dates(min_value=opened, max_value=ceiling))
                disputes.append({"opened_on": opened.isoformat(), "status": "resolved",
                                 "resolved_on": resolved.isoformat()})
        if disputes:
            facts["disputes"] = disputes
        if draw(st.booleans()):
            facts["bookkeeping_records"] = [{"financial_year_end": draw(_DAYS).isoformat()}]
        if draw(st.booleans()):
            facts["special_category_items"] = [
                {"category": draw(st.sampled_from(["health", "ethnic_origin", "religion"])),
                 "explicit_consent": draw(st.booleans())}
            ]
        for name, value in fixed.items():
            facts[name] = draw(_strategy(value))
        return RetentionFacts.parse(facts)

    return build()


# ------------------------------------------------------------------------------------------------
# users' annotated models


def _for_annotation(annotation: Any) -> st.SearchStrategy[Any]:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _for_annotation(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return st.one_of([_for_annotation(a) for a in get_args(annotation)])
    if annotation is type(None):
        return st.none()
    if origin in (list, tuple, set, frozenset):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        inner = _for_annotation(args[0]) if args else st.none()
        items = st.lists(inner, max_size=3)
        return items if origin is list else items.map(origin)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return candidate_records(annotation)
    if annotation is str:
        return st.text(max_size=30)
    return st.from_type(annotation)


def candidate_records(model: type[M], **fixed: Fixed) -> st.SearchStrategy[M]:
    """Instances of ``model``, a pydantic model whose fields carry :class:`~policykit.Category`
    annotations (checked with :func:`policykit.check_model`; an unannotated field is an
    :class:`~policykit.errors.AnnotationError` at once). Nested models and lists of them are built
    recursively; optional fields are sometimes left out. ``fixed`` pins fields to values or
    strategies."""
    check_model(model)
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        if name in fixed:
            required[name] = _strategy(fixed[name])
            continue
        strategy = _for_annotation(info.annotation)
        (required if info.is_required() else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional).map(model.model_validate)


# ------------------------------------------------------------------------------------------------
# assertions and the reference


def _decide(policy: Policy, request: DisclosureRequest | Mapping[str, Any]) -> Decision:
    if not isinstance(policy, Policy):
        raise TypeError(f"expected a policykit.Policy as the first argument, got {type(policy).__name__}")
    return policy.decide(request)


def assert_allowed(policy: Policy, request: DisclosureRequest | Mapping[str, Any]) -> Decision:
    """Assert that ``policy`` allows ``request``; return the decision. On failure the message is the
    decision's explanation: which rules fired, why, citing the clauses."""
    decision = _decide(policy, request)
    if not decision.allowed:
        raise AssertionError(
            f"expected the disclosure to be allowed, but it was denied ({', '.join(decision.reasons)})\n\n"
            + decision.explain()
        )
    return decision


def assert_denied(
    policy: Policy, request: DisclosureRequest | Mapping[str, Any], reason: str | None = None
) -> Decision:
    """Assert that ``policy`` denies ``request`` and, when ``reason`` is given, that it is the
    deciding reason (``decision.reasons[0]``, as ``expected.reason`` in acceptance cases); return the
    decision. On failure the message is the decision's explanation."""
    decision = _decide(policy, request)
    if decision.allowed:
        raise AssertionError("expected the disclosure to be denied, but it was allowed\n\n" + decision.explain())
    if reason is not None and decision.reasons[0] != reason:
        others = f" (also: {', '.join(decision.reasons[1:])})" if len(decision.reasons) > 1 else ""
        among = " It is among the other reasons." if reason in decision.reasons else ""
        raise AssertionError(
            f"expected the deciding reason {reason}, got {decision.reasons[0]}{others}.{among}\n\n"
            + decision.explain()
        )
    return decision


def reference_outcome(policy: Policy, request: DisclosureRequest | Mapping[str, Any]) -> Outcome:
    """What the rules say about ``request``, computed by the reference evaluator (plain Python, rule
    by rule) instead of the engine: compare it with ``policy.decide(request).outcome``."""
    decision = _decide(policy, request)  # checks and normalises the request the same way
    req = decision.request
    normaliser = policy._disclosure.normaliser
    day = policy.today() if req.as_of is None else req.as_of
    values, categories = normaliser.normalise(req, day)
    facts = dict(zip(normaliser.fact_names, values, strict=True))
    return _reference(policy.rules).outcome(facts, categories)


_REFERENCES: dict[int, tuple[RuleSet, ReferenceEvaluator]] = {}


def _reference(rules: RuleSet) -> ReferenceEvaluator:
    got = _REFERENCES.get(id(rules))
    if got is None or got[0] is not rules:
        got = (rules, ReferenceEvaluator(rules))
        if len(_REFERENCES) > 16:
            _REFERENCES.clear()
        _REFERENCES[id(rules)] = got
    return got[1]
