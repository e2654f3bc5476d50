"""Append-only tables, enforced by the database: the trigger DDL shared by the sweep's audit table and
the decision log's SQL table.

The statements are built from the dialect's identifier preparer (every table, schema, trigger and
function name is quoted), and the refusal message is a SQL string literal with its quotes doubled.
Nothing here imports SQLAlchemy: the caller passes its connection and table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["make_append_only"]


def make_append_only(conn: sa.Connection, table: sa.Table, message: str, *, key: str) -> None:
    """Make ``table`` append-only in the database itself; every refusal raises ``message``.

    * SQLite: BEFORE UPDATE and BEFORE DELETE triggers, and a BEFORE INSERT trigger that refuses a row
      whose ``key`` (the primary-key column) is already taken. Without it a REPLACE, INSERT OR
      REPLACE, UPSERT or UPDATE OR REPLACE would delete the old row without firing the delete trigger.
    * PostgreSQL: a row trigger on UPDATE and DELETE (an INSERT ... ON CONFLICT DO UPDATE is an
      update) and a statement trigger on TRUNCATE, both calling one plpgsql function.

    Safe to run again on a protected table: SQLite's triggers are created if missing; PostgreSQL's
    function is replaced and its triggers dropped and made again.
    """
    prep = conn.dialect.identifier_preparer
    name = prep.format_table(table)
    refuse = "'" + message.replace("'", "''") + "'"
    column = prep.quote(key)

    def ident(suffix: str) -> str:
        own = prep.quote(f"{table.name}_{suffix}")
        return f"{prep.quote_schema(table.schema)}.{own}" if table.schema is not None else own

    dialect = conn.dialect.name
    if dialect == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {ident('no_' + op.lower())} BEFORE {op} ON {name} "
                f"BEGIN SELECT RAISE(ABORT, {refuse}); END"
            )
        conn.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS {ident('no_replace')} BEFORE INSERT ON {name} "
            f"WHEN NEW.{column} IS NOT NULL AND EXISTS (SELECT 1 FROM {name} WHERE {column} = NEW.{column}) "
            f"BEGIN SELECT RAISE(ABORT, {refuse}); END"
        )
    elif dialect == "postgresql":
        function = ident("append_only")
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION {refuse}; END $$"
        )
        for suffix, when, level in (("no_change", "BEFORE UPDATE OR DELETE", "ROW"),
                                    ("no_truncate", "BEFORE TRUNCATE", "STATEMENT")):
            trigger = prep.quote(f"{table.name}_{suffix}")
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger} ON {name}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {trigger} {when} ON {name} FOR EACH {level} EXECUTE FUNCTION {function}()"
            )
    else:
        raise ValueError(f"append-only tables are made on SQLite and PostgreSQL, not {dialect}")
