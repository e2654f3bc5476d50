"""The sweep's anonymisation pass on Spark: the tables of a mapping file in, anonymised tables out.

The same mapping file as the SQL sweep (``load_mapping``), the same checks of the mapping against
the tables (``_sweep.reading.check_tables``), the same reading of rows into facts
(``FactReader``), the same verdicts (``policy.retention()`` on each worker, from the shipped rule
documents) and the same erasure plan (``erase_plan``). What differs is where the rows are:

1. Each fact table is grouped by candidate (one ``collect_list`` per table) and joined to the
   candidates not yet anonymised; ``mapInArrow`` judges one candidate per row and says what to
   erase (whole columns, free-text values of non-identifying columns, rows to delete), or why the
   candidate could not be judged (the problem, with its table, row and column).
2. The anonymised tables are the input tables with those values set to NULL, those rows removed and
   ``anonymised_at`` set; the audit DataFrame has one row per anonymised candidate, with the SQL
   audit table's columns and no personal data.
3. ``output``: every table and the audit log (the earlier entries of the input's audit table, then
   this run's) are written as Parquet into a temporary directory beside ``output``, which is then
   renamed to ``output``: the output appears complete or not at all. Run again on the output, the
   pass finds every candidate anonymised and writes the same tables again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.pandas.types import to_arrow_schema

from policykit._history import PolicyHistory
from policykit._records.anonymise import _structured
from policykit._sweep.mapping import SweepMapping, load_mapping
from policykit._sweep.reading import (
    BadRowError,
    ColumnInfo,
    FactReader,
    NowPlan,
    Plan,
    audit_id,
    audit_key,
    check_items,
    check_tables,
    due_special_rows,
    erase_plan,
    erased_categories,
    ident,
    not_surrogate,
    now_plan,
    review_due_on,
    row_tables,
    special_grounds,
    special_rows,
    surrogate,
)
from policykit._sweep.report import OTHER_ACTIONS, CandidateAction, SweepProblem, SweepReport, chosen_actions
from policykit.errors import PolicyKitError, SweepError
from policykit.spark._rules import RulesBundle, bundle_of, bundle_rules, worker_policy
from policykit.spark._schema import as_date

__all__ = ["AnonymisationResult", "anonymise", "local_session", "read_tables", "run_sweep"]

MAX_PROBLEMS = 1000
SEP = "\x1f"  # joins table, row id and column in a free-text erasure key

# the columns each fact table contributes, after the candidate id and the row id (FactReader's layout)
_FACT_COLUMNS = {
    "applications": ("submitted_at",),
    "consent_withdrawals": ("date",),
    "objections": ("date", "form", "documented_in_writing"),
    "erasure_requests": ("date",),
    "disputes": ("opened_on", "status", "resolved_on"),
    "special_category_items": ("category", "explicit_consent", "process_id", "process_closed_on"),
}


@dataclass(frozen=True)
class AnonymisationResult:
    """What ``anonymise`` returns: the anonymised tables (by name), this run's audit rows, the report
    (the SQL sweep's :class:`~policykit.SweepReport`), and the output directory if one was written."""

    tables: Mapping[str, DataFrame]
    audit: DataFrame
    report: SweepReport
    output: str | None = None


# ------------------------------------------------------------------------------------------------
# input


def read_tables(spark: SparkSession, directory: str, mapping: SweepMapping) -> dict[str, DataFrame]:
    """The tables the mapping names (and its audit table, if present), from ``directory``: for each
    table ``T``, a Parquet dataset ``T/`` or ``T.parquet``, or a CSV file ``T.csv`` with a header
    (types inferred)."""
    names = _table_names(mapping)
    found: dict[str, DataFrame] = {}
    fs, root = _fs(spark, directory)
    for name in [*names, mapping.audit_table]:
        for suffix, kind in (("", "parquet"), (".parquet", "parquet"), (".csv", "csv")):
            path = root.suffix(f"/{name}{suffix}")
            if fs.exists(path):
                location = str(path.toString())
                if kind == "parquet":
                    found[name] = spark.read.parquet(location)
                else:
                    found[name] = spark.read.option("header", "true").option("inferSchema", "true").csv(location)
                break
    return found


def _table_names(m: SweepMapping) -> list[str]:
    names = [m.candidates.table, *(spec.table for _, spec in m.fact_tables())]
    names += [d.table for d in m.delete_rows] + [k.table for k in m.kept] + [t.table for t in m.items]
    if m.special_category_items is not None:
        names.append(m.special_category_items.table)
    return list(dict.fromkeys(names))


def _fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


def _info(field: T.StructField) -> ColumnInfo:
    kind = "datetime" if isinstance(field.dataType, T.TimestampType) else (
        "date" if isinstance(field.dataType, T.DateType) else "other")
    return ColumnInfo(field.nullable, isinstance(field.dataType, T.StringType), kind)


# ------------------------------------------------------------------------------------------------
# judging, on the workers


def _struct(df: DataFrame, columns: list[str | None], prefix: str) -> Column:
    return F.struct(*[  # an unmapped optional column reads as NULL (typed: Arrow has no NULL type here)
        (F.col(c) if c is not None else F.lit(None).cast("string")).alias(f"{prefix}{i}")
        for i, c in enumerate(columns)
    ])


def _judge_batches(
    batches: Iterator[pa.RecordBatch], *, bundle: RulesBundle, mapping: SweepMapping, as_of: dt.date,
    roles: tuple[str, ...], kept: dict[str, tuple[str, ...]], schema: pa.Schema, actions: frozenset[str],
    audit_key: bytes | None, with_facts: bool = False,
) -> Iterator[pa.RecordBatch]:
    policy = worker_policy(bundle)
    reader = FactReader(mapping, as_of, mapping.timezone or policy.rules.parameters.timezone)
    plans: dict[frozenset[str], Plan] = {}
    now_plans: dict[frozenset[str], NowPlan] = {}
    cand = mapping.candidates
    for batch in batches:
        out = []
        for row in batch.to_pylist():
            judged = _judge_one(row, policy, reader, mapping, plans=plans, roles=roles, kept=kept,
                                cand_table=cand.table, actions=actions, now_plans=now_plans, audit_key=audit_key)
            if with_facts and "_facts" in judged:
                judged["facts"] = json.dumps(judged["_facts"], default=_iso, separators=(",", ":"))
            judged.pop("_facts", None)
            out.append(judged)
        yield pa.RecordBatch.from_pylist(out, schema=schema)


def _kept_actions(
    verdict: Any, m: SweepMapping, raw: dict[str, dict[Any, list[Sequence[Any]]]], cid: Any, *, as_of: dt.date,
    actions: frozenset[str], now_plans: dict[frozenset[str], NowPlan],
) -> dict[str, Any]:
    """For a candidate judged and kept: what its verdict makes due besides anonymisation, taken as
    the SQL sweep's ``act`` takes it. ``now_targets``: what ``erase_now`` names (columns as
    ``c SEP table SEP key SEP column``, row deletions as ``d SEP table SEP key``), in the plan's
    order; the driver keeps those where a value or row is still there. ``special_ids``: the
    special-category item rows whose date has come, with the rules that fired for them.
    ``review_on``: a relevance review due (the driver drops one the audit log already holds)."""
    out: dict[str, Any] = {}
    names = frozenset(verdict.erase_now)
    if names and "erase_now" in actions:
        plan = now_plans.get(names)
        if plan is None:
            plan = now_plans[names] = now_plan(m, names)
        targets = [SEP.join(("c", t, k, c)) for t, k, c in plan.columns]
        targets += [SEP.join(("d", t, k)) for t, k in plan.deletes]
        out.update(now_targets=targets, trigger_date=verdict.trigger_date)
    if m.special_category_items is not None and "special_category" in actions:
        specials = due_special_rows(verdict, [r[1] for r in special_rows(raw, cid)])
        if specials:
            rule_ids, clauses, due_on = special_grounds(verdict, specials)
            out.update(
                special_ids=[str(row) for row, _ in specials], special_rules=list(rule_ids),
                special_clauses=list(clauses), special_due_on=due_on,
            )
    review_on = review_due_on(verdict, as_of) if "review_due" in actions else None
    if review_on is not None:
        rule = verdict.outcome.mode_rule
        out.update(review_on=review_on, review_rule=rule.id, review_clauses=list(rule.clauses))
    return out


def _judge_one(
    row: dict[str, Any], policy: Any, reader: FactReader, m: SweepMapping, *, plans: dict[frozenset[str], Plan],
    roles: tuple[str, ...], kept: dict[str, tuple[str, ...]], cand_table: str, actions: frozenset[str],
    now_plans: dict[frozenset[str], NowPlan], audit_key: bytes | None,
) -> dict[str, Any]:
    cid = row["_cid"]
    out: dict[str, Any] = {"_cid": cid, "status": "judged", "due": False}
    raw: dict[str, dict[Any, list[Sequence[Any]]]] = {}
    kept_rows: dict[str, list[tuple[Any, dict[str, Any]]]] = {
        "candidates": [(cid, dict(zip(kept["candidates"], (row["_kept"] or {}).values(), strict=True)))]
    }
    for role in roles:
        items = row[role] or []
        width = len(_FACT_COLUMNS[role])
        raw[role] = {cid: [(cid, *list(item.values())[: width + 1]) for item in items]} if items else {}
        names = kept[role]
        kept_rows[role] = [
            (item["r0"], dict(zip(names, list(item.values())[width + 1:], strict=True))) for item in items
        ]
    try:
        facts = reader.facts(cid, row["_closed"], raw)
        verdict = policy.retention(facts)
    except BadRowError as bad:
        return {**out, "status": "problem", "problem": bad.problem.to_dict()}
    except PolicyKitError as exc:
        problem = SweepProblem(cand_table, ident(cid), ident(cid), None, exc.message, exc.code)
        return {**out, "status": "problem", "problem": problem.to_dict()}
    out.update(
        _facts=facts,
        retention_mode=verdict.retention_mode, mode_rule=verdict.mode_rule, rule_ids=list(verdict.rule_ids),
        clauses=list(verdict.clauses), anonymise_on=verdict.anonymise_on, deadline=verdict.deadline,
        policy_version=verdict.policy_version, audit_id=audit_id(cid, audit_key), surrogate=surrogate(cid),
    )
    if not verdict.due or verdict.legal_hold:
        out.update(_kept_actions(verdict, m, raw, cid, as_of=reader.as_of, actions=actions, now_plans=now_plans))
        return out
    cats = erased_categories(verdict)
    plan = plans.get(cats)
    if plan is None:
        plan = plans[cats] = erase_plan(m, cats)
    free_text: list[tuple[str, Any, str]] = []
    for te in plan.tables:
        for row_id, values in kept_rows[te.role] if te.check else ():
            free_text.extend((te.table, row_id, column) for column in te.check if not _structured(values[column]))
    erased = list(dict.fromkeys([*plan.erased, *(f"{t}.{c}" for t, _, c in free_text)]))
    out.update(
        due=True, erase=[f"{te.table}.{c}" for te in plan.tables for c in te.erase],
        free_text=[f"{t}{SEP}{r}{SEP}{c}" for t, r, c in free_text], deletes=[t for t, _ in plan.deletes],
        erased=erased,
    )
    return out


def _iso(value: Any) -> str:
    """A date of the facts as JSON takes it (ISO 8601, as ``policy.retention()`` reads it)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"a retention fact holds a {type(value).__name__}")


_PROBLEM = T.StructType([T.StructField(n, T.StringType()) for n in
                         ("table", "row_id", "candidate_id", "column", "code", "message")])


def _judged_schema(id_type: T.DataType) -> T.StructType:
    strings = T.ArrayType(T.StringType())
    return T.StructType([
        T.StructField("_cid", id_type), T.StructField("status", T.StringType()), T.StructField("due", T.BooleanType()),
        T.StructField("retention_mode", T.StringType()), T.StructField("mode_rule", T.StringType()),
        T.StructField("rule_ids", strings), T.StructField("clauses", strings),
        T.StructField("anonymise_on", T.DateType()), T.StructField("deadline", T.DateType()),
        T.StructField("policy_version", T.StringType()), T.StructField("erase", strings),
        T.StructField("free_text", strings), T.StructField("deletes", strings), T.StructField("erased", strings),
        T.StructField("problem", _PROBLEM), T.StructField("audit_id", T.StringType()),
        T.StructField("surrogate", T.BooleanType()),
        # the other actions of a kept candidate (``_kept_actions``)
        T.StructField("now_targets", strings), T.StructField("trigger_date", T.DateType()),
        T.StructField("special_ids", strings), T.StructField("special_rules", strings),
        T.StructField("special_clauses", strings), T.StructField("special_due_on", T.DateType()),
        T.StructField("review_on", T.DateType()), T.StructField("review_rule", T.StringType()),
        T.StructField("review_clauses", strings),
        # the facts a verdict was given for, as JSON (when the pass's answers go to a decision log)
        T.StructField("facts", T.StringType()),
    ])


def _judge(tables: Mapping[str, DataFrame], m: SweepMapping, bundle: RulesBundle, as_of: dt.date, *,
           actions: frozenset[str], audit_key: bytes | None, with_facts: bool = False) -> DataFrame:
    cand = m.candidates
    c = tables[cand.table]
    kept = {role: tuple(col for col, spec in t.columns.items() if spec.non_identifying) for role, t in m.categorised()}
    base = c.where(F.col(cand.anonymised_at).isNull()).select(
        F.col(cand.id).alias("_cid"),
        (F.col(cand.process_closed_on) if cand.process_closed_on else F.lit(None)).alias("_closed"),
        (_struct(c, list(kept["candidates"]), "k") if kept["candidates"] else F.lit(None)).alias("_kept"),
    )
    roles = []
    fact_tables: list[tuple[str, Any]] = list(m.fact_tables())
    if m.special_category_items is not None:  # read into the facts as the SQL sweep reads them
        fact_tables.append(("special_category_items", m.special_category_items))
    for role, spec in fact_tables:
        keys = spec.keys()
        names = [keys.get(k) for k in _FACT_COLUMNS[role]]
        if role == "objections":  # optional columns: FactReader reads absent ones as NULL
            assert m.objections is not None
            names = [m.objections.date, m.objections.form, m.objections.documented_in_writing]
        elif role == "special_category_items":
            sp = m.special_category_items
            assert sp is not None
            names = [sp.category, sp.explicit_consent, sp.process_id, sp.process_closed_on]
        t = tables[spec.table]
        cols: list[str | None] = [spec.id, *names, *kept[role]]
        grouped = t.groupBy(F.col(spec.candidate_id).alias("_cid")).agg(
            F.collect_list(_struct(t, cols, "r")).alias(role)
        )
        base = base.join(grouped, "_cid", "left")
        roles.append(role)
    out = _judged_schema(c.schema[cand.id].dataType)
    job = functools.partial(
        _judge_batches, bundle=bundle, mapping=m, as_of=as_of, roles=tuple(roles), kept=kept,
        schema=to_arrow_schema(out), actions=actions, audit_key=audit_key, with_facts=with_facts,
    )
    return base.mapInArrow(job, out)


# ------------------------------------------------------------------------------------------------
# applying


def _stamp_for(field: T.StructField, moment: dt.datetime) -> Column:
    """``anonymised_at`` as the column takes it: a timestamp, a date, or ISO text (as the SQL sweep
    writes it)."""
    if isinstance(field.dataType, T.StringType):
        return F.lit(moment.isoformat().replace("+00:00", "Z"))
    return F.lit(moment).cast(field.dataType)


def _anonymised_tables(
    tables: Mapping[str, DataFrame], m: SweepMapping, due: DataFrame, moment: dt.datetime,
) -> dict[str, DataFrame]:
    out = dict(tables)
    marks = due.select(F.col("_cid").alias("_due_cid"), F.col("erase").alias("_erase"),
                       F.col("free_text").alias("_free"), F.col("deletes").alias("_deletes"))
    cand = m.candidates
    specs: list[tuple[str, Any, str, str | None]] = [(cand.table, cand, cand.id, cand.id)]
    specs += [(spec.table, spec, spec.candidate_id, spec.id) for _, spec in m.fact_tables()]
    mapped = {table for table, *_ in specs}
    specs += [(t.table, None, t.candidate_id, None) for t in m.items if t.columns and t.table not in mapped]
    for table, spec, key, row_id in {s[0]: s for s in specs}.values():
        df = tables[table]
        columns = [*(spec.columns if spec is not None else ()), *sorted(m.item_columns(table))]
        joined = df.join(marks, F.col(key) == F.col("_due_cid"), "left")
        select = []
        for field in df.schema.fields:
            name = field.name
            value = F.col(name)
            if name in columns:
                erased = F.array_contains(F.col("_erase"), f"{table}.{name}")
                if row_id is not None:
                    key_text = F.concat_ws(SEP, F.lit(table), F.col(row_id).cast("string"), F.lit(name))
                    erased = erased | F.array_contains(F.col("_free"), key_text)
                gone = F.col("_due_cid").isNotNull() & erased
                value = F.when(gone, F.lit(None).cast(field.dataType)).otherwise(value)
            elif table == cand.table and name == cand.anonymised_at:
                value = F.when(F.col("_due_cid").isNotNull(), _stamp_for(field, moment)).otherwise(value)
            select.append(value.alias(name))
        out[table] = joined.select(*select)
    for table, candidate_id in row_tables(m):
        df = tables[table]
        doomed = marks.where(F.array_contains(F.col("_deletes"), table)).select("_due_cid")
        out[table] = df.join(doomed, F.col(candidate_id) == F.col("_due_cid"), "left_anti")
    return out


def _deleted_counts(tables: Mapping[str, DataFrame], m: SweepMapping, due: DataFrame) -> DataFrame:
    """Per due candidate, the rows anonymisation deletes, as a map table -> count."""
    counts = due.select("_cid", "deletes")
    pairs = []
    for table, candidate_id in row_tables(m):
        n = tables[table].groupBy(F.col(candidate_id).alias("_cid")).agg(F.count(F.lit(1)).alias("n"))
        part = counts.where(F.array_contains("deletes", table)).join(n, "_cid", "left").select(
            "_cid", F.struct(F.lit(table).alias("t"), F.coalesce("n", F.lit(0)).cast("long").alias("n")).alias("p")
        )
        pairs.append(part)
    if not pairs:
        return counts.select("_cid", F.create_map().cast("map<string,bigint>").alias("deleted_rows"))
    union = functools.reduce(DataFrame.unionByName, pairs)
    grouped = union.groupBy("_cid").agg(F.map_from_entries(F.collect_list("p")).alias("deleted_rows"))
    return counts.join(grouped, "_cid", "left").select(
        "_cid", F.coalesce("deleted_rows", F.create_map().cast("map<string,bigint>")).alias("deleted_rows")
    )


AUDIT_SCHEMA = T.StructType([
    T.StructField("id", T.LongType()), T.StructField("run_id", T.StringType()),
    T.StructField("candidate_id", T.StringType()), T.StructField("as_of", T.DateType()),
    T.StructField("policy_version", T.StringType()), T.StructField("retention_mode", T.StringType()),
    T.StructField("anonymise_on", T.DateType()), T.StructField("rule_ids", T.ArrayType(T.StringType())),
    T.StructField("clauses", T.ArrayType(T.StringType())), T.StructField("erased", T.ArrayType(T.StringType())),
    T.StructField("deleted_rows", T.MapType(T.StringType(), T.LongType())),
    T.StructField("recorded_at", T.TimestampType()), T.StructField("action", T.StringType()),
    T.StructField("due_on", T.DateType()),
])


def _audit(rows: DataFrame, run_id: str, as_of: dt.date, moment: dt.datetime) -> DataFrame:
    """Audit rows, one per action taken: ``rows`` has the verdict's fields, the candidate's
    ``audit_id``, and the action's ``action``, ``rule_ids``, ``clauses``, ``erased``,
    ``deleted_rows`` and ``due_on``."""
    return rows.select(
        F.monotonically_increasing_id().alias("id"), F.lit(run_id).alias("run_id"),
        F.col("audit_id").alias("candidate_id"), F.lit(as_of).alias("as_of"), "policy_version",
        "retention_mode", "anonymise_on", "rule_ids", "clauses", "erased",
        F.col("deleted_rows").cast("map<string,bigint>").alias("deleted_rows"),
        F.lit(moment).cast("timestamp").alias("recorded_at"), "action", "due_on",
    )


def _anonymisations(due: DataFrame, deleted: DataFrame) -> DataFrame:
    """The audit fields of each anonymisation."""
    return due.join(deleted, "_cid", "left").select(
        "audit_id", "policy_version", "retention_mode", "anonymise_on", "rule_ids", "clauses", "erased",
        "deleted_rows", F.lit("anonymise").alias("action"), F.col("anonymise_on").alias("due_on"),
    )


# ------------------------------------------------------------------------------------------------
# the other actions: erased at once, special-category items, relevance reviews (the SQL sweep's ``act``)

_NAMES = T.ArrayType(T.StringType())
_COUNTS = T.MapType(T.StringType(), T.LongType())


def _nonempty(df: DataFrame, column: str) -> Column:
    """A value is left in this column: not NULL (and not '' in a text column), as the SQL sweep says."""
    present = F.col(column).isNotNull()
    if isinstance(df.schema[column].dataType, T.StringType):
        present = present & (F.col(column) != "")
    return present


def _now_left(tables: Mapping[str, DataFrame], kept: DataFrame) -> tuple[DataFrame | None, list[list[str]]]:
    """Per kept candidate, what its ``erase_now`` names and the tables still hold: ``_left_erased``
    (the columns with a value left, in the plan's order) and ``_left_rows`` (rows left per table). Also
    the targets met in this run, split (``c, table, key, column`` or ``d, table, key``)."""
    pairs = kept.where(F.col("now_targets").isNotNull()).select(
        "_cid", F.posexplode("now_targets").alias("pos", "target"))
    targets = sorted(r[0] for r in pairs.select("target").distinct().collect())
    parts = []
    for target in targets:
        kind, table, key, *rest = target.split(SEP)
        df = tables[table]
        if kind == "c":
            part = df.where(_nonempty(df, rest[0])).select(F.col(key).alias("_cid")).distinct().select(
                "_cid", F.lit(target).alias("target"), F.lit(f"{table}.{rest[0]}").alias("name"),
                F.lit(None).cast("long").alias("n"))
        else:
            part = df.groupBy(F.col(key).alias("_cid")).agg(F.count(F.lit(1)).alias("n")).select(
                "_cid", F.lit(target).alias("target"), F.lit(table).alias("name"), "n")
        parts.append(part)
    if not parts:
        return None, []
    found = functools.reduce(DataFrame.unionByName, parts)
    hits = pairs.join(found, ["_cid", "target"])
    grouped = hits.groupBy("_cid").agg(
        F.sort_array(F.collect_list(F.when(F.col("n").isNull(), F.struct("pos", "name")))).alias("_cols"),
        F.collect_list(F.when(F.col("n") > 0, F.struct("name", "n"))).alias("_rows"),
    )
    left = grouped.select(
        "_cid", F.transform("_cols", lambda c: c["name"]).alias("_left_erased"),
        F.map_from_entries("_rows").cast(_COUNTS).alias("_left_rows"),
    ).where((F.size("_left_erased") > 0) | (F.size("_left_rows") > 0))
    return left, [t.split(SEP) for t in targets]


def _reviews_recorded(earlier: DataFrame | None) -> DataFrame | None:
    """The reviews an earlier audit log holds, as ``(_rid, _rdue)``."""
    if earlier is None or not {"action", "due_on", "candidate_id"} <= set(earlier.columns):
        return None
    return earlier.where(F.col("action") == "review_due").select(
        F.col("candidate_id").cast("string").alias("_rid"), F.col("due_on").cast("date").alias("_rdue"))


def _other_actions(
    tables: Mapping[str, DataFrame], m: SweepMapping, judged: DataFrame,
) -> tuple[DataFrame, list[list[str]]]:
    """One row per action due and not yet done (``_order``: its place among a candidate's actions),
    with the audit fields; nothing left to do is no row, so a rerun finds none."""
    kept = judged.where((F.col("status") == "judged") & ~F.col("due"))
    verdict = [F.col(c) for c in ("_cid", "audit_id", "surrogate", "retention_mode", "mode_rule", "anonymise_on",
                                  "deadline", "policy_version")]
    none: Column = F.lit(None).cast(_NAMES)
    left, targets = _now_left(tables, kept)
    parts = []
    if left is not None:
        parts.append(kept.join(left, "_cid").select(
            *verdict, F.lit(0).alias("_order"), F.lit("erase_now").alias("action"), "rule_ids", "clauses",
            F.col("_left_erased").alias("erased"), F.col("_left_rows").alias("deleted_rows"),
            F.col("trigger_date").alias("due_on"), none.alias("_special_ids")))
    sp = m.special_category_items
    if sp is not None:
        parts.append(kept.where(F.col("special_ids").isNotNull()).select(
            *verdict, F.lit(1).alias("_order"), F.lit("special_category").alias("action"),
            F.col("special_rules").alias("rule_ids"), F.col("special_clauses").alias("clauses"),
            F.array().cast(_NAMES).alias("erased"),
            F.create_map(F.lit(sp.table), F.size("special_ids").cast("long")).alias("deleted_rows"),
            F.col("special_due_on").alias("due_on"), F.col("special_ids").alias("_special_ids")))
    reviews = kept.where(F.col("review_on").isNotNull())
    recorded = _reviews_recorded(tables.get(m.audit_table))
    if recorded is not None:
        reviews = reviews.join(recorded, (F.col("audit_id") == F.col("_rid")) & (F.col("review_on") == F.col("_rdue")),
                               "left_anti")
    parts.append(reviews.select(
        *verdict, F.lit(2).alias("_order"), F.lit("review_due").alias("action"),
        F.array("review_rule").alias("rule_ids"), F.col("review_clauses").alias("clauses"),
        F.array().cast(_NAMES).alias("erased"), F.create_map().cast(_COUNTS).alias("deleted_rows"),
        F.col("review_on").alias("due_on"), none.alias("_special_ids")))
    union = functools.reduce(DataFrame.unionByName, [
        p.withColumn("deleted_rows", F.col("deleted_rows").cast(_COUNTS)) for p in parts])
    return union, targets


def _acted_tables(
    tables: dict[str, DataFrame], m: SweepMapping, acts: DataFrame, targets: list[list[str]],
) -> dict[str, DataFrame]:
    """The tables with the other actions taken: ``erase_now`` columns emptied and rows deleted where
    something was left, due special-category item rows deleted."""
    out = dict(tables)
    now = acts.where(F.col("action") == "erase_now").select(
        F.col("_cid").alias("_now_cid"), F.col("erased").alias("_now_erased"),
        F.col("deleted_rows").alias("_now_deleted"))
    columns: dict[tuple[str, str], list[str]] = {}
    for target in targets:
        if target[0] == "c":
            columns.setdefault((target[1], target[2]), []).append(target[3])
    for (table, key), names in columns.items():
        df = out[table]
        joined = df.join(now, F.col(key) == F.col("_now_cid"), "left")
        select = []
        for field in df.schema.fields:
            value = F.col(field.name)
            if field.name in names:
                gone = F.col("_now_cid").isNotNull() & F.array_contains("_now_erased", f"{table}.{field.name}")
                value = F.when(gone, F.lit(None).cast(field.dataType)).otherwise(value)
            select.append(value.alias(field.name))
        out[table] = joined.select(*select)
    for target in targets:
        if target[0] == "d":
            table, key = target[1], target[2]
            doomed = now.where(F.col("_now_deleted")[table].isNotNull()).select("_now_cid")
            out[table] = out[table].join(doomed, F.col(key) == F.col("_now_cid"), "left_anti")
    sp = m.special_category_items
    if sp is not None:
        ids = acts.where(F.col("_special_ids").isNotNull()).select(F.explode("_special_ids").alias("_sid"))
        out[sp.table] = out[sp.table].join(ids, F.col(sp.id).cast("string") == F.col("_sid"), "left_anti")
    return out


# ------------------------------------------------------------------------------------------------
# the pass


def anonymise(
    tables: Mapping[str, DataFrame] | str, mapping: SweepMapping | str | Path | None = None, *,
    as_of: dt.date | str | None = None, output: str | Path | None = None, rules: Any = None, keep: int = 100,
    spark: SparkSession | None = None, actions: Collection[str] | None = None,
    on_judged: Callable[[Any, dict[str, Any]], None] | None = None,
) -> AnonymisationResult:
    """Anonymise, in DataFrames, every candidate whose anonymisation date has come.

    ``tables`` maps each table the mapping names to a DataFrame (or is a directory to read them from,
    see :func:`read_tables`). ``mapping`` is a mapping file or :class:`~policykit.SweepMapping`
    (default: the built-in one that fits the example schema). ``as_of`` defaults to today in the
    policy's time zone. ``output``, when given, is a directory that must not exist yet: the
    anonymised tables and the audit log are written there as Parquet, all at once (written beside
    it, then renamed). ``keep`` due candidates are kept in the report's sample, and ``keep`` other
    actions in its action sample. ``actions`` names the other actions to take, as in the SQL sweep
    (``erase_now``, ``special_category``, ``review_due``; default: all three).

    ``on_judged``, when given, is called on the driver with each candidate judged (not those reported
    as problems), in the order of their ids, before anything is written: the candidate's id and the
    retention facts its verdict was given for (a mapping as ``policy.retention()`` takes it). The
    command line's ``--log`` asks a logged policy again with them, so that the pass's answers go to
    its decision log; an exception it raises stops the pass and nothing is written.

    Returns an :class:`AnonymisationResult`. Raises :class:`~policykit.errors.MappingError` when the
    mapping does not fit the tables, before anything is judged.
    """
    started = time.perf_counter()
    m = mapping if isinstance(mapping, SweepMapping) else load_mapping(mapping)
    source = tables if isinstance(tables, str) else None
    if isinstance(tables, str):
        if spark is None:
            spark = SparkSession.active()
        tables = read_tables(spark, tables, m)
    if not tables:
        raise SweepError("expected the tables of the mapping as DataFrames, got none")
    spark = spark or next(iter(tables.values())).sparkSession
    schemas = {name: df.schema for name, df in tables.items()}
    check_tables(m, schemas, lambda name: {f.name: _info(f) for f in schemas[name].fields},
                 place=f"the input {source}" if source else "the input tables")
    taken = chosen_actions(actions)
    bundle, day, version = _in_force(rules, as_of, m)
    if output is not None:
        fs, target = _fs(spark, str(output))
        if fs.exists(target):
            raise SweepError(f"output: {output} exists already; name a new directory (the pass never overwrites)")

    run_id = str(uuid.uuid4())
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0)
    key = audit_key()
    judged = _judge(tables, m, bundle, day, actions=taken, audit_key=key, with_facts=on_judged is not None).persist()
    acts: DataFrame | None = None
    try:
        # written without a key, an id that may be personal data is refused, as the SQL sweep refuses it
        refused = F.lit(output is not None and key is None) & ~F.col("surrogate")
        due = judged.where(F.col("due") & ~refused)
        deleted = _deleted_counts(tables, m, due)
        every, targets = _other_actions(tables, m, judged)
        acts = every.where(~refused).persist()
        refusals = judged.where(F.col("due") & refused).select("_cid", F.lit("Not anonymised.").alias("outcome"))
        refusals = refusals.unionByName(
            every.where(refused).select("_cid").distinct().select("_cid", F.lit("Not changed.").alias("outcome")))
        audit = _audit(_anonymisations(due, deleted).unionByName(acts.select(*_AUDITED)), run_id, day, moment)
        result_tables = _acted_tables(_anonymised_tables(tables, m, due, moment), m, acts, targets)
        report = _report(tables, m, judged, _Found(due, deleted, acts, refusals), day=day, version=version,
                         run_id=run_id, keep=keep, applied=output is not None, source=source, started=started,
                         taken=taken)
        if on_judged is not None:
            rows = judged.where(F.col("status") == "judged").select("_cid", "facts").orderBy("_cid")
            for row in rows.toLocalIterator():
                on_judged(row["_cid"], json.loads(row["facts"]))
        earlier = tables.get(m.audit_table)
        result_tables[m.audit_table] = (
            audit if earlier is None else earlier.unionByName(audit, allowMissingColumns=True)
        )
        if output is not None:
            _write(spark, result_tables, str(output), run_id, report)
            report = _with_seconds(report, started)
    finally:
        judged.unpersist()
        if acts is not None:
            acts.unpersist()
    return AnonymisationResult(result_tables, audit, report, None if output is None else str(output))


def _in_force(rules: Any, as_of: dt.date | str | None, m: SweepMapping) -> tuple[RulesBundle, dt.date, str]:
    """The bundle of the version in force on the pass's date, the date, and the version; the
    mapping's items checked against its rules."""
    policy, bundle = bundle_rules(rules)
    try:
        day = as_date(as_of) or policy.today()
        if isinstance(policy, PolicyHistory):  # one date for the whole pass: ship the version in force
            in_force = policy.at(day)
            check_items(m, in_force.rules)
            return bundle_of(in_force), day, in_force.version
        check_items(m, policy.rules)
        return bundle, day, policy.version
    finally:
        policy.close()


_AUDITED = ("audit_id", "policy_version", "retention_mode", "anonymise_on", "rule_ids", "clauses", "erased",
            "deleted_rows", "action", "due_on")



def _with_seconds(report: SweepReport, started: float) -> SweepReport:
    return dataclasses.replace(report, seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class _Found:
    """What a pass found to do: the candidates due (and their deleted rows), the other actions, and
    the candidates refused (an id that may be personal data, no audit key) with their outcome."""

    due: DataFrame
    deleted: DataFrame
    acts: DataFrame
    refusals: DataFrame


def _problems(judged: DataFrame, m: SweepMapping, refusals: DataFrame) -> tuple[tuple[SweepProblem, ...], int]:
    """The first problems in candidate order (the rows that could not be read, the refusals), and
    how many there are."""
    found = [
        (r["_cid"], SweepProblem(**{k: r["problem"][k] for k in ("table", "row_id", "candidate_id", "column",
                                                                 "message", "code")}))
        for r in judged.where(F.col("status") == "problem").orderBy("_cid").limit(MAX_PROBLEMS).collect()
    ]
    found += [(r["_cid"], not_surrogate(m, r["outcome"]))
              for r in refusals.orderBy("_cid").limit(MAX_PROBLEMS).collect()]
    found.sort(key=lambda pair: pair[0])
    count = judged.where(F.col("status") == "problem").count() + refusals.count()
    return tuple(p for _, p in found[:MAX_PROBLEMS]), count


def _report(
    tables: Mapping[str, DataFrame], m: SweepMapping, judged: DataFrame, found: _Found, *,
    day: dt.date, version: str, run_id: str, keep: int, applied: bool, source: str | None, started: float,
    taken: frozenset[str],
) -> SweepReport:
    due, deleted, acts = found.due, found.deleted, found.acts
    cand = m.candidates
    total, already = tables[cand.table].select(F.count(F.lit(1)), F.count(cand.anonymised_at)).first() or (0, 0)
    by_mode: dict[tuple[str, str], tuple[int, int]] = {}
    examined = 0
    for row in judged.groupBy("status", "retention_mode", "mode_rule").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.col("due").cast("long")).alias("due")
    ).collect():
        examined += row["n"]
        if row["status"] == "judged":
            by_mode[(row["retention_mode"], row["mode_rule"])] = (row["n"], row["due"] or 0)
    due_count = due.count()  # by mode, a refused candidate counts as due, as in the SQL sweep's report
    problems, problem_count = _problems(judged, m, found.refusals)
    erases: Counter[str] = Counter()
    for row in due.select(F.explode("erased").alias("name")).groupBy("name").count().collect():
        erases[row["name"]] += row["count"]
    for row in deleted.select(F.explode("deleted_rows")).groupBy("key").agg(F.sum("value").alias("n")).collect():
        erases[f"{row['key']} (rows deleted)"] += row["n"]
    sample = []
    for r in due.join(deleted, "_cid", "left").orderBy("_cid").limit(max(keep, 0)).collect():
        sample.append(CandidateAction(
            candidate_id=str(r["_cid"]), retention_mode=r["retention_mode"], mode_rule=r["mode_rule"],
            rule_ids=tuple(r["rule_ids"]), clauses=tuple(r["clauses"]), anonymise_on=r["anonymise_on"],
            deadline=r["deadline"], erased=tuple(r["erased"]), deleted_rows=dict(r["deleted_rows"] or {}),
            applied=applied,
        ))
    counts = {r["action"]: int(r["count"]) for r in acts.groupBy("action").count().collect()}
    action_sample = tuple(
        CandidateAction(
            candidate_id=str(r["_cid"]), retention_mode=r["retention_mode"], mode_rule=r["mode_rule"],
            rule_ids=tuple(r["rule_ids"]), clauses=tuple(r["clauses"]), anonymise_on=r["anonymise_on"],
            deadline=r["deadline"], erased=tuple(r["erased"]), deleted_rows=dict(r["deleted_rows"] or {}),
            applied=applied, action=r["action"], due_on=r["due_on"],
        )
        for r in acts.orderBy("_cid", "_order").limit(max(keep, 0)).collect()
    )
    return SweepReport(
        database=f"spark: {source}" if source else "spark: DataFrames", as_of=day, policy_version=version,
        applied=applied, preselect=False, batch_size=0, run_id=run_id, candidates=int(total),
        already_anonymised=int(already), examined=examined, due=due_count, anonymised=due_count if applied else 0,
        by_mode=by_mode, problems=problems, problem_count=problem_count, sample=tuple(sample),
        seconds=time.perf_counter() - started, erases=dict(erases),
        actions={k: counts[k] for k in OTHER_ACTIONS if counts.get(k)}, action_sample=action_sample,
        skipped_actions=tuple(k for k in OTHER_ACTIONS if k not in taken),
    )


def _write(spark: SparkSession, tables: Mapping[str, DataFrame], output: str, run_id: str,
           report: SweepReport) -> None:
    """Write every table under a temporary directory beside ``output``, then rename it to ``output``."""
    fs, target = _fs(spark, output)
    parent = target.getParent()
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    staging = jvm.org.apache.hadoop.fs.Path(parent, f".{target.getName()}.{run_id}.tmp")
    try:
        for name, df in tables.items():
            df.write.mode("errorifexists").parquet(str(jvm.org.apache.hadoop.fs.Path(staging, name).toString()))
        stream = fs.create(jvm.org.apache.hadoop.fs.Path(staging, "_policykit_report.json"), False)
        try:
            stream.write(bytearray(json.dumps(report.to_dict(), indent=2).encode()))
        finally:
            stream.close()
        if fs.exists(target) or not fs.rename(staging, target):
            raise SweepError(f"output: could not rename the finished output to {output} (does it exist now?)")
    except BaseException:
        fs.delete(staging, True)
        raise


# ------------------------------------------------------------------------------------------------
# the command line's entry point


def local_session(master: str = "local[*]", app_name: str = "policykit-sweep") -> SparkSession:
    """A SparkSession for ``master`` whose Python workers run this interpreter (so they find
    policykit and its engine), without the web UI or console progress bars."""
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master(master).appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def run_sweep(
    input_dir: str, *, output: str | None, master: str, as_of: dt.date | str | None, apply: bool,
    mapping: SweepMapping | str | Path | None, rules: Any, keep: int, actions: Collection[str] | None = None,
    on_judged: Callable[[Any, dict[str, Any]], None] | None = None,
) -> SweepReport:
    """``policykit sweep --engine spark``: read the mapped tables from ``input_dir``, judge them, and
    with ``apply`` write the anonymised tables and the audit log to ``output``."""
    if apply and not output:
        raise SweepError("--apply with --engine spark needs --output DIR: the anonymised tables are written there")
    m = mapping if isinstance(mapping, SweepMapping) else load_mapping(mapping)
    existing = SparkSession.getActiveSession()
    spark = existing or local_session(master)
    try:
        tables = read_tables(spark, input_dir, m)
        result = anonymise(tables, m, as_of=as_of, output=output if apply else None, rules=rules, keep=keep,
                           spark=spark, actions=actions, on_judged=on_judged)
        return dataclasses.replace(result.report, database=f"spark ({master}): {input_dir}")
    finally:
        if existing is None:
            spark.stop()
