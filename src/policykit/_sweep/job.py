"""The retention sweep: anonymise, in a real database, every candidate whose anonymisation date has come.

``policykit.sweep(db, as_of=..., apply=False)`` is the nightly job of a recruitment company:

1. **Check the mapping** (``_sweep.mapping``) against the live database: every table and column it
   names exists, every other column of a mapped table carries a data category. Nothing is read
   before this passes.
2. **Find the candidates.** Pages of candidates not yet anonymised, in id order (keyset pagination:
   memory does not grow with the table). With pre-selection (the default) the database returns only
   candidates that *can* be due: one whose consent has ended (a withdrawal, objection or erasure
   request exists) and none of whose applications is recent enough to keep the evidence window open.
   The bound is conservative by two days, so the SQL never drops a due candidate; the engine decides.
3. **Ask the policy.** Each candidate's facts (applications, withdrawals, objection, erasure request,
   disputes; fetched for a page at once with ``IN``) go to ``policy.retention()`` as of ``as_of``.
   A candidate is due when the verdict says the anonymisation date has come and no dispute holds it.
   A row that cannot be read (a malformed date, say) is reported with its table and id and skipped:
   nothing is ever anonymised on a guess.
4. **Anonymise** (``apply=True``), one page per transaction: the page is re-read and locked (``FOR
   UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), the verdicts recomputed, the identifying
   columns erased, dependent free-text rows deleted, ``anonymised_at`` set and one audit row per
   candidate written, then committed. A candidate is therefore either fully anonymised and audited
   or untouched, whenever the process dies; a rerun skips what is done and finishes the rest.

SQLAlchemy is imported only when a sweep runs (``_sweep.sql``), so ``import policykit`` stays light.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policykit._sweep.report import CandidateAction, SweepPolicy, SweepProblem, SweepProgress, SweepReport
from policykit.errors import MissingDependencyError

if TYPE_CHECKING:
    from policykit._sweep.mapping import SweepMapping

__all__ = ["sweep"]


def sweep(
    db: Any,
    *,
    as_of: dt.date | str | None = None,
    apply: bool = False,
    mapping: SweepMapping | str | Path | None = None,
    policy: SweepPolicy | None = None,
    batch_size: int = 1000,
    preselect: bool = True,
    keep: int = 100,
    pause: float = 0.0,
    on_candidate: Callable[[CandidateAction], None] | None = None,
    on_problem: Callable[[SweepProblem], None] | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
    on_action: Callable[[CandidateAction], None] | None = None,
    actions: Collection[str] | None = None,
) -> SweepReport:
    """Find every candidate whose anonymisation date has come; with ``apply=True``, anonymise them.

    ``db`` is a database URL (``sqlite:///candidates.db``, ``postgresql+psycopg://user@host/db``) or a
    SQLAlchemy ``Engine``. ``as_of`` defaults to today in Europe/Stockholm. ``mapping`` is a
    :class:`SweepMapping`, a mapping file, or ``None`` for the built-in default that fits the example
    schema. ``batch_size`` candidates are judged (and, with ``apply``, anonymised in one transaction)
    at a time; ``pause`` seconds are slept between batches, to spare a busy database.
    ``preselect=False`` judges every candidate not yet anonymised instead of the SQL pre-selection.

    ``on_candidate`` is called for every due candidate (after its batch is committed, with ``apply``)
    and ``on_problem`` for every row skipped; ``progress`` after every batch. ``on_action`` is called
    for every other action due (``CandidateAction.action``: ``erase_now``, ``special_category``,
    ``review_due``). The returned :class:`SweepReport` holds the counts, the problems, the first
    ``keep`` due candidates and the first ``keep`` other actions. ``actions`` names the other
    actions to look for and take (default: all three); anonymisation is always taken.

    Raises :class:`~policykit.errors.MissingDependencyError` without the ``sweep`` extra,
    :class:`~policykit.errors.DatabaseUnreachableError` when the database cannot be reached, and
    :class:`~policykit.errors.MappingError` when the mapping does not fit it; in each case nothing
    has been changed.
    """
    try:
        from policykit._sweep import sql as _sweep_sql  # noqa: PLC0415 - SQLAlchemy only when a sweep runs
    except ImportError as exc:
        raise MissingDependencyError(
            f"the sweep needs the 'sweep' extra (SQLAlchemy and psycopg): pip install 'policykit[sweep]' "
            f"({exc.name or exc} is not installed)"
        ) from None
    return _sweep_sql.run_sweep(
        db, as_of=as_of, apply=apply, mapping=mapping, policy=policy, batch_size=batch_size, preselect=preselect,
        keep=keep, pause=pause, on_candidate=on_candidate, on_problem=on_problem, progress=progress,
        on_action=on_action, actions=actions,
    )
