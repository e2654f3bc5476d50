"""The clause register carries the policy verbatim and accounts for every clause."""

from __future__ import annotations

import policykit


def test_every_swedish_clause_appears_verbatim_in_the_original() -> None:
    """Each Swedish clause text (typos included) is a substring of the shipped original policy."""
    rules = policykit.load_rules()
    assert rules.meta.source_text is not None
    original = (rules.directory / rules.meta.source_text).read_text(encoding="utf-8")
    missing = [c.id for c in rules.clauses if c.sv not in original]
    assert missing == []


def test_every_clause_is_enforced_or_documented_with_a_reason() -> None:
    """No clause falls through: rules cite it, the vocabulary defines it, or it says why not."""
    rules = policykit.load_rules()
    cited = {cid for r in (*rules.rules, *rules.requests.rules) for cid in r.clauses}
    for clause in rules.clauses:
        if clause.enforcement == "rules":
            assert clause.id in cited, clause.id
        elif clause.enforcement == "documented":
            assert clause.reason
            assert clause.id not in cited


def test_the_register_has_the_policys_75_clause_ids_in_order() -> None:
    """Ids follow the order of the text, from P-META-1 to P-KONT-7."""
    ids = [c.id for c in policykit.load_rules().clauses]
    assert len(ids) == len(set(ids)) == 75
    assert ids[0] == "P-META-1"
    assert ids[-1] == "P-KONT-7"
