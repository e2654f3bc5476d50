"""policykit on Apache Spark: the policy's answers for every row of a DataFrame.

Install the extra (``pip install 'policykit[spark]'``: pyspark, pyarrow, pandas) and::

    import policykit.spark

    verdicts = policykit.spark.retention_verdicts(candidates, as_of=datetime.date(2026, 12, 1))
    audit = policykit.spark.decide(transfers)
    result = policykit.spark.anonymise(tables, "mapping.yaml", as_of=..., output="s3a://.../2026-12-01")

Spark only distributes the work. Every answer comes from the library: each Python worker loads the
rule set from its documents, shipped with the job and keyed by fingerprint (``_rules``), and asks
``policy.retention()`` or ``policy.decide()`` row by row through ``mapInArrow``; the same rules, the
same durable-rules engine, the same answers as one process gives. A row that is not a valid question
gets the error's message in the ``error`` column and no answer: one bad row never fails the job.
See docs/spark.md.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from policykit.errors import MissingDependencyError

try:
    import pyarrow as pa
    from pyspark.sql import DataFrame
    from pyspark.sql.pandas.types import to_arrow_schema
except ImportError as _exc:  # pragma: no cover - exercised where the extra is absent
    raise MissingDependencyError(
        "policykit.spark needs the 'spark' extra (pyspark, pyarrow, pandas): pip install 'policykit[spark]' "
        f"({_exc.name or _exc} is not installed)"
    ) from None

from policykit.errors import PolicyKitError
from policykit.spark._rules import RulesBundle, bundle_rules, worker_policy
from policykit.spark._schema import (
    DISCLOSURE_INPUT,
    RETENTION_INPUT,
    as_date,
    check_input,
    decision_schema,
    decision_values,
    plain,
    verdict_schema,
    verdict_values,
)
from policykit.spark._sweep import AnonymisationResult, anonymise, read_tables

__all__ = ["AnonymisationResult", "anonymise", "decide", "read_tables", "retention_verdicts"]

RulesArg = str | Path | Sequence[str | Path] | None


def _error_row(id_column: str, ident: Any, exc: PolicyKitError, fields: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(fields)
    row[id_column] = ident
    row["error"] = exc.message
    row["error_code"] = exc.code
    return row


def _answer_batches(
    batches: Iterator[pa.RecordBatch], answer: Callable[[Any, dict[str, Any]], dict[str, Any]], *,
    bundle: RulesBundle, id_column: str, columns: tuple[str, ...], as_of: dt.date | None, schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    """One answer row per input row (``answer(policy, question)``), or an error row for a question the
    library refuses; the worker's policy is loaded once from the shipped rules."""
    policy = worker_policy(bundle)
    names = schema.names
    for batch in batches:
        out = []
        for row in batch.to_pylist():
            question = {name: plain(value) for name in columns if (value := row[name]) is not None}
            if as_of is not None:
                question.setdefault("as_of", as_of)
            try:
                values = answer(policy, question)
            except PolicyKitError as exc:
                out.append(_error_row(id_column, row[id_column], exc, names))
                continue
            values[id_column] = row[id_column]
            out.append(values)
        yield pa.RecordBatch.from_pylist(out, schema=schema)


def _verdict_of(policy: Any, facts: dict[str, Any]) -> dict[str, Any]:
    return verdict_values(policy.retention(facts))


def _decision_of(policy: Any, request: dict[str, Any]) -> dict[str, Any]:
    return decision_values(policy.decide(request))


def _retention_batches(batches: Iterator[pa.RecordBatch], **job: Any) -> Iterator[pa.RecordBatch]:
    return _answer_batches(batches, _verdict_of, **job)


def _decision_batches(batches: Iterator[pa.RecordBatch], **job: Any) -> Iterator[pa.RecordBatch]:
    return _answer_batches(batches, _decision_of, **job)


def retention_verdicts(
    df: DataFrame, *, as_of: dt.date | str | None = None, rules: RulesArg = None, id_column: str = "id",
) -> DataFrame:
    """One retention verdict per row: ``policy.retention()`` of the row's facts.

    ``df`` has an id column (``id_column``, kept as it is) and retention input fields as columns of the
    same names (docs/spark.md lists the Spark types each may have). ``as_of`` (default: today in the
    policy's time zone, fixed once on the driver) is the date of every verdict whose row has no
    ``as_of`` of its own. ``rules`` is a rules directory (default: the bundled policy).

    Returns a DataFrame with the id, the verdict's fields (``retention_mode``, ``mode_rule``,
    ``latest_application_date``, ``retain_until``, ``anonymise_on``, ``deadline``, ``review_on``,
    ``due``, ``erase_now``, ``erase_on_anonymisation``, ``legal_hold``, ``rule_ids``, ``clauses``,
    ``as_of``, ``policy_version``), and ``error``/``error_code``: set, with every other field null,
    for a row that is not a valid question. A column that is not a retention field, or whose type
    cannot hold it, raises :class:`~policykit.errors.RequestValidationError` before the job starts.
    """
    policy, bundle = bundle_rules(rules)
    try:
        day = as_date(as_of) or policy.today()
        columns = check_input(df.schema, RETENTION_INPUT, id_column=id_column, what="retention question")
        out = verdict_schema(df.schema[id_column])
    finally:
        policy.close()
    job = functools.partial(
        _retention_batches, bundle=bundle, id_column=id_column, columns=tuple(columns), as_of=day,
        schema=to_arrow_schema(out),
    )
    return df.mapInArrow(job, out)


def decide(
    df: DataFrame, *, as_of: dt.date | str | None = None, rules: RulesArg = None, id_column: str = "id",
) -> DataFrame:
    """One disclosure decision per row: ``policy.decide()`` of the row's question.

    ``df`` has an id column (``id_column``) and disclosure question fields as columns of the same
    names: ``operation``, ``data_categories`` (an array), ``purpose``, ``recipient`` and ``candidate``
    (structs with the nested fields), and so on. ``as_of``, when given, is the date of every question
    whose row has none (a logged transfer's own date belongs in the row's ``as_of`` column).

    Returns the id, ``allowed``, ``reasons``, ``obligations``, ``by_category`` (a map),
    ``rule_ids``, ``clauses``, ``policy_version``, and ``error``/``error_code`` for a row that is not
    a valid question (every other field null).
    """
    policy, bundle = bundle_rules(rules)
    try:
        day = as_date(as_of)
        columns = check_input(df.schema, DISCLOSURE_INPUT, id_column=id_column, what="disclosure question")
        out = decision_schema(df.schema[id_column])
    finally:
        policy.close()
    job = functools.partial(
        _decision_batches, bundle=bundle, id_column=id_column, columns=tuple(columns), as_of=day,
        schema=to_arrow_schema(out),
    )
    return df.mapInArrow(job, out)

