"""The typed rule set and ``load_rules()``: a rules directory loaded into one frozen, cross-checked whole.

``load_rules(directory)`` reads every file of a rules directory (``reading.read_rules_dir``),
validates its shape (pydantic), resolves every term against the vocabulary and every clause id
against the clause register, parses every condition, and checks that each clause is either enforced
by a rule or documented with a reason. Any problem raises a :class:`~policykit.errors.DefinitionError`
naming the file, the line and, for an unknown term, the nearest valid one. Nothing is evaluated from
an unchecked rule.

The typed :class:`RuleSet` is what every reader consumes: the engine, the rule families'
evaluators, the documentation generator and the analysis tools. No reader parses YAML itself.
"""

from __future__ import annotations

from pathlib import Path

from policykit._dates import in_words
from policykit._input import Limits
from policykit._ruleset.accountability import (
    CitingRule,
    Interpretation,
    ProcessingRecord,
    load_interpretations,
    load_processing_record,
)
from policykit._ruleset.letters import Letters, check_letters, load_letters
from policykit._ruleset.loading import (
    Citations,
    Clause,
    ClauseSection,
    DisclosureRules,
    Parameters,
    PolicyMeta,
    RetentionCriterion,
    Right,
    Rule,
    _Frozen,
    _Loader,
)
from policykit._ruleset.overlay import relocate
from policykit._ruleset.reading import bundled_rules_dir, reading_options
from policykit._ruleset.requests import RequestRules, load_requests
from policykit._ruleset.retention import RetentionRule, RetentionRules, load_retention
from policykit._ruleset.vocabulary import Vocabulary
from policykit.errors import DefinitionError, RuleFileError

__all__ = ["RuleSet", "bundled_rules_dir", "load_rules"]


class RuleSet(_Frozen):
    """The whole policy as typed data: metadata, parameters, vocabulary, clauses and rules."""

    directory: Path
    fingerprint: str
    #: the rules directory this one extends (an overlay), or None for a complete directory
    extends: Path | None = None
    meta: PolicyMeta
    parameters: Parameters
    vocabulary: Vocabulary
    sections: tuple[ClauseSection, ...]
    clauses: tuple[Clause, ...]
    disclosure: DisclosureRules
    retention: RetentionRules
    requests: RequestRules
    interpretations: tuple[Interpretation, ...]
    processing: ProcessingRecord
    letters: Letters
    citations: Citations
    rights: tuple[Right, ...]
    retention_criteria: tuple[RetentionCriterion, ...]

    @property
    def version(self) -> str:
        """The policy version, e.g. ``2022-06-22``."""
        return self.meta.version

    def clause(self, clause_id: str) -> Clause:
        """The clause with this id."""
        for c in self.clauses:
            if c.id == clause_id:
                return c
        raise KeyError(clause_id)

    @property
    def rules(self) -> tuple[Rule | RetentionRule, ...]:
        """Every rule of every family: the disclosure rules, then the retention rules."""
        return (*self.disclosure.rules, *self.retention.rules)

    def interpretation(self, interpretation_id: str) -> Interpretation:
        """The entry of the register of interpretations with this id, e.g. ``A-18``."""
        for i in self.interpretations:
            if i.id == interpretation_id:
                return i
        raise KeyError(interpretation_id)


def load_rules(
    directory: str | Path | None = None, *, limits: Limits | None = None, follow_symlinks: bool = False
) -> RuleSet:
    """Load and check a rules directory (the bundled one by default) into a :class:`RuleSet`.

    Rule files are read bounded by ``limits`` (:class:`policykit.Limits`): regular files only, and a
    rule file that is a symbolic link is refused unless ``follow_symlinks`` is true."""
    path = bundled_rules_dir() if directory is None else Path(directory)
    if not path.is_dir():
        raise RuleFileError("expected a rules directory, found none", file=path)
    try:
        with reading_options(limits, follow_symlinks=follow_symlinks):
            return _load_rules(path)
    except DefinitionError as exc:
        raise relocate(exc) from None
    except RecursionError:
        raise RuleFileError("expected rule files nested less deeply", file=path) from None


def _load_rules(path: Path) -> RuleSet:
    loader = _Loader(path)
    sections, clauses = loader.clauses()
    meta, params = loader.meta()
    vocab = loader.vocabulary()
    disclosure = loader.disclosure(vocab, params)
    retention = load_retention(loader, vocab, params)
    requests = load_requests(loader, vocab, words={"window": in_words(retention.evidence_window.years, "year")})
    letters = load_letters(loader, path, bundled=bundled_rules_dir())
    check_letters(loader, letters, vocab, requests)
    loader.coverage(
        clauses, vocab, [*disclosure.rules, *retention.rules, *requests.rules, *requests.response_citations],
        [*disclosure.predicates.values(), *retention.predicates.values(), *requests.predicates.values()],
    )
    every_rule: list[CitingRule] = [*disclosure.rules, *retention.rules, *requests.rules]
    every_predicate = {**requests.predicates, **retention.predicates, **disclosure.predicates}
    interpretations = load_interpretations(loader, every_rule, every_predicate, params)
    processing = load_processing_record(loader, vocab, every_rule)
    citations, rights, criteria = loader.information(i.id for i in interpretations)
    return RuleSet(
        directory=path,
        fingerprint=loader.fingerprint,
        extends=loader.resolved.extends,
        meta=meta,
        parameters=params,
        vocabulary=vocab,
        sections=sections,
        clauses=clauses,
        disclosure=disclosure,
        retention=retention,
        requests=requests,
        interpretations=interpretations,
        processing=processing,
        letters=letters,
        citations=citations,
        rights=rights,
        retention_criteria=criteria,
    )
