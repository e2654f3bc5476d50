"""The reference evaluator: the disclosure rules' meaning in plain Python, independent of the engine.

The engine compiles each rule into disjoint cubes, guards category-scoped pieces with group flags,
asks durable-rules which fire, and ``_disclosure.decision.combine`` turns the fired rules into an answer. This
module does none of that: it evaluates each rule's full condition (``_ruleset.conditions.evaluate``, the
reference semantics of the condition language) for each requested category, and combines the
results with its own implementation of the documented semantics:

* per category, a forbid overrides a permit and no permit means deny (``NO_APPLICABLE_PERMIT``);
  the forbids that keep a category back are listed for it;
* a request is allowed when every requested category is;
* the rules that fired and the reasons (of the forbids that fired, deciding one first) follow
  decision order, without repeats; ``NO_APPLICABLE_PERMIT`` comes last;
* data that go out carry their duties: a category that may go carries the obligations of the permits
  that fired for it, one that may not carries none; the request carries those of every permit that
  fired for a category that may go (all of them on an allow, the released part's on a partly refused
  request, none when nothing may go), in decision order, without repeats;
* an allow cites the permits' clauses and the purpose's clause; a deny cites the deciding forbid's
  clauses (or the general prohibition's, when no rule permits) and the recipient kind's clause, then,
  when some categories may go, the clauses of the permits that release them and the purpose's clause.

The differential tests (``tests/unit/test_reference.py``, ``policykit verify --differential``) check
the engine against it on every cube of the request space, so a bug in the compiler, the adapter or
``combine`` shows up as a disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from policykit._disclosure.decision import Outcome
from policykit._ruleset.conditions import Value, evaluate, fields_of

if TYPE_CHECKING:
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["ReferenceEvaluator"]

NO_PERMIT = "NO_APPLICABLE_PERMIT"


class ReferenceEvaluator:
    """Answers disclosure questions from normalised facts, rule by rule, in plain Python.

    ``outcome(facts, categories)`` takes the facts keyed by field name (without ``category``) and
    the requested categories. Each rule's truth is remembered by the values of the fields it tests,
    which keeps exhaustive runs fast without changing what is computed.
    """

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._rules = rules.disclosure.rules
        self._default_deny = rules.citations.of("default_deny")
        self._fields = [tuple(sorted(fields_of(r.condition))) for r in self._rules]
        self._seen: list[dict[tuple[Value, ...], bool]] = [{} for _ in self._rules]
        vocab = rules.vocabulary
        self._purpose_clause = {p.id: p.clause for p in vocab.purposes}
        self._kind_clause = {k.id: k.clause for k in vocab.recipient_kinds}
        self._category_order = {c: i for i, c in enumerate(vocab.ids("data_categories"))}

    def fires(self, index: int, point: Mapping[str, Value]) -> bool:
        """Whether rule ``index`` holds at a complete point (``category`` included)."""
        key = tuple([point[f] for f in self._fields[index]])
        seen = self._seen[index]
        got = seen.get(key)
        if got is None:
            got = seen[key] = evaluate(self._rules[index].condition, point)
        return got

    def outcome(self, facts: Mapping[str, Value], categories: Sequence[str]) -> Outcome:
        """The answer for these facts and categories."""
        cats = sorted(set(categories), key=self._category_order.__getitem__)
        forbids: dict[str, list[int]] = {}
        permits: dict[str, list[int]] = {}
        for c in cats:
            point = {**facts, "category": c}
            fired = [i for i in range(len(self._rules)) if self.fires(i, point)]
            forbids[c] = [i for i in fired if self._rules[i].effect == "forbid"]
            permits[c] = [i for i in fired if self._rules[i].effect == "permit"]
        by_category = {c: not forbids[c] and bool(permits[c]) for c in cats}
        allowed = all(by_category.values())
        fired_any = sorted({i for c in cats for i in (*forbids[c], *permits[c])})
        forbid_any = [i for i in fired_any if self._rules[i].effect == "forbid"]
        uncovered = any(not forbids[c] and not permits[c] for c in cats)
        reasons = _unique([self._reason(i) for i in forbid_any] + ([NO_PERMIT] if uncovered else []))
        category_reasons = {
            c: _unique([self._reason(i) for i in forbids[c]] + ([] if forbids[c] or permits[c] else [NO_PERMIT]))
            for c in cats
        }
        category_rules = {c: tuple(self._rules[i].id for i in forbids[c]) for c in cats}
        deciding = self._rules[forbid_any[0]] if forbid_any else None
        released = [c for c in cats if by_category[c]]
        category_obligations = {
            c: _unique([o for i in permits[c] for o in self._rules[i].obligations]) if c in released else ()
            for c in cats
        }
        releasing = sorted({i for c in released for i in permits[c]})
        obligations = [o for i in releasing for o in self._rules[i].obligations]
        clauses: list[str] = []
        if allowed:
            for i in fired_any:
                if self._rules[i].effect == "permit":
                    clauses.extend(self._rules[i].clauses)
            purpose_clause = self._purpose_clause.get(str(facts["purpose"]))
            if purpose_clause:
                clauses.append(purpose_clause)
        else:
            clauses.extend(deciding.clauses if deciding is not None else self._default_deny)
            kind_clause = self._kind_clause.get(str(facts["recipient.kind"]))
            if kind_clause:
                clauses.append(kind_clause)
            if releasing:
                clauses.extend(c for i in releasing for c in self._rules[i].clauses)
                purpose_clause = self._purpose_clause.get(str(facts["purpose"]))
                if purpose_clause:
                    clauses.append(purpose_clause)
        return Outcome(
            allowed=allowed,
            reasons=reasons,
            obligations=_unique(obligations),
            by_category=by_category,
            category_reasons=category_reasons,
            rule_ids=tuple(self._rules[i].id for i in fired_any),
            clauses=_unique(clauses),
            deciding_rule=deciding.id if deciding is not None else None,
            category_rules=category_rules,
            category_obligations=category_obligations,
        )

    def _reason(self, index: int) -> str:
        return self._rules[index].reason or ""


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
