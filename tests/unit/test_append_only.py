"""One append-only helper protects both policykit tables: the sweep's audit table and the decision
log's SQL table. Every rewriting statement is refused by the database, on SQLite and PostgreSQL, for
table names that need quoting too; appending still works, and the DDL can run again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

sa = pytest.importorskip("sqlalchemy")

from policykit._append_only import make_append_only  # noqa: E402
from policykit._sweep.sql import audit_table  # noqa: E402
from policykit.log._sinks import log_table  # noqa: E402

AUDIT_ROW = {"run_id": "r", "candidate_id": "1", "as_of": dt.date(2024, 1, 1), "policy_version": "v",
             "retention_mode": "anonymise", "rule_ids": "[]", "clauses": "[]", "erased": "[]",
             "deleted_rows": "{}", "recorded_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}
LOG_ROW = {"recorded_at": "2024-01-01T00:00:00Z", "family": "disclosure", "policy_version": "v",
           "hash": "0" * 64, "record": "{}"}


def _rewrites(dialect: str, name: str, key: str, column: str, columns: list[str]) -> list[str]:
    listed = ", ".join(f'"{c}"' for c in columns)
    changed = ", ".join("'forged'" if c == column else f'"{c}"' for c in columns)
    statements = [
        f"UPDATE {name} SET \"{column}\" = 'forged'",
        f"DELETE FROM {name}",
        f"INSERT INTO {name} ({listed}) SELECT {changed} FROM {name} WHERE true "
        f"ON CONFLICT (\"{key}\") DO UPDATE SET \"{column}\" = 'forged'",
    ]
    if dialect == "sqlite":
        statements += [
            f"REPLACE INTO {name} ({listed}) SELECT {changed} FROM {name}",
            f"INSERT OR REPLACE INTO {name} ({listed}) SELECT {changed} FROM {name}",
            f"UPDATE OR REPLACE {name} SET \"{column}\" = 'forged'",
        ]
    else:
        statements += [f"TRUNCATE {name}", f"DELETE FROM ONLY {name}"]
    return statements


@pytest.mark.parametrize(
    ("kind", "table_name"),
    [("audit", "policykit_audit"), ("audit", "Audit Log"), ("log", "policykit_decision_log"), ("log", "Decision's Log")],
)
def test_both_tables_refuse_every_rewrite(
    backend: str, new_database: Callable[[], str], kind: str, table_name: str
) -> None:
    engine = sa.create_engine(new_database())
    try:
        if kind == "audit":
            table, key, column, row = audit_table(table_name), "id", "policy_version", AUDIT_ROW
            message = "the policykit audit log is append-only"
        else:
            table, key, column, row = log_table(table_name), "seq", "family", {"seq": 1, **LOG_ROW}
            message = "the policykit decision log is append-only"
        with engine.begin() as conn:
            table.create(conn)
            make_append_only(conn, table, message, key=key)
            make_append_only(conn, table, message, key=key)  # again: nothing breaks, nothing doubles
            conn.execute(table.insert().values(**row))
        name = engine.dialect.identifier_preparer.format_table(table)
        columns = [c.name for c in table.columns]
        with engine.connect() as conn:
            before = [tuple(r) for r in conn.execute(sa.select(table))]
        for statement in _rewrites(engine.dialect.name, name, key, column, columns):
            with pytest.raises(sa.exc.DatabaseError, match=message), engine.begin() as conn:
                conn.exec_driver_sql(statement)
        with engine.begin() as conn:  # appending is allowed
            conn.execute(table.insert().values(**({"seq": 2, **LOG_ROW} if kind == "log" else AUDIT_ROW)))
        with engine.connect() as conn:
            after = [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c[key]))]
        assert after[:1] == before and len(after) == 2
    finally:
        engine.dispose()


def test_the_message_is_quoted_as_a_literal(backend: str, new_database: Callable[[], str]) -> None:
    engine = sa.create_engine(new_database())
    try:
        table = log_table("t")
        with engine.begin() as conn:
            table.create(conn)
            make_append_only(conn, table, "it's append-only'); DROP TABLE t; --", key="seq")
            conn.execute(table.insert().values(seq=1, **LOG_ROW))
        with pytest.raises(sa.exc.DatabaseError, match="it's append-only"), engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM t")
        assert sa.inspect(engine).has_table("t")
    finally:
        engine.dispose()
