"""Where decision-log records go: JSON lines files (rotated by size), a SQL table, or ``logging``.

A sink receives whole batches of finished records (the chain is already computed) and either stores
all of them or raises. It also tells the log where the chain ends, so a log reopened by a new
process continues it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from policykit._append_only import make_append_only
from policykit.errors import DecisionLogError

__all__ = ["JsonLinesSink", "LoggingSink", "Sink", "SqlSink", "StoredRecord", "segments"]

DEFAULT_TABLE = "policykit_decision_log"


# One finished record: (seq, ts, family, policy version, hash, line); ts, hash and line are bytes,
# line is the record as one JSON object ending in a newline. A plain tuple: a batch of them is built
# for every write.
StoredRecord = tuple[int, bytes, str, str, bytes, bytes]


class Sink:
    """The interface of a sink: ``tail()`` (the last record's seq and hash, or ``None``),
    ``write(records)`` (store all or raise), ``sync()``, ``close()``."""

    name = "sink"

    def tail(self) -> tuple[int, str] | None:  # pragma: no cover - interface
        raise NotImplementedError

    def write(self, records: Sequence[StoredRecord]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def sync(self) -> None:
        """Make what was written durable against an operating-system crash (``fsync``)."""

    def close(self) -> None:
        """Release the sink."""


# ------------------------------------------------------------------------------------------------
# JSON lines


def segments(path: Path) -> list[Path]:
    """The rotated segments of a JSON lines log, oldest first: ``decisions.000001.jsonl``, ... The
    active file (``decisions.jsonl``) comes after them."""
    pattern = re.compile(re.escape(path.stem) + r"\.(\d{6,})" + re.escape(path.suffix))
    found = []
    if path.parent.is_dir():
        for p in path.parent.iterdir():
            m = pattern.fullmatch(p.name)
            if m:
                found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def _last_line(path: Path) -> bytes | None:
    """The last complete line of a file (without its newline), or ``None`` if it has none."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        step = 4096
        pos = end
        data = b""
        while pos > 0:
            pos = max(0, pos - step)
            f.seek(pos)
            data = f.read(end - pos)
            cut = data.rstrip(b"\n").rfind(b"\n")
            if cut >= 0 or pos == 0:
                lines = data.rstrip(b"\n")
                return lines[cut + 1:] if cut >= 0 else (lines or None)
            step *= 2
    return None


def _tail_of(line: bytes, where: Path) -> tuple[int, str]:
    try:
        record = json.loads(line)
        return int(record["seq"]), str(record["hash"])
    except (ValueError, KeyError, TypeError):
        raise DecisionLogError(
            f"{where}: the last record is not a decision-log record; run 'policykit log verify {where}'"
        ) from None


class JsonLinesSink(Sink):
    """Records as JSON lines in ``path`` (a ``.jsonl`` file), one per line.

    ``max_bytes`` rotates the file: when a write would take it past that size, it is renamed to the
    next segment (``decisions.000001.jsonl``, ``decisions.000002.jsonl``...) and a new file is begun.
    Segments are never renamed again; a segment exceeds ``max_bytes`` only when one record does. One
    process writes a log at a time: the file is locked, and a second writer is refused.
    ``fsync=True`` syncs the file after every write.

    A record cut short by a crash (a last line without its newline) is removed when the log is
    reopened: it was never complete, and the chain continues from the last complete record.
    """

    name = "jsonl"

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int | None = None, fsync: bool = False) -> None:
        self.path = Path(path)
        if max_bytes is not None and max_bytes < 1024:
            raise DecisionLogError(f"max_bytes: expected at least 1024, got {max_bytes}")
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._fd = -1
        self._size = 0
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError as exc:
            raise DecisionLogError(f"cannot open the decision log {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DecisionLogError(
                f"{self.path}: another process is writing this decision log; give each process its own log"
            ) from None
        size = os.fstat(fd).st_size
        if size:
            os.lseek(fd, max(0, size - 1), os.SEEK_SET)
            if os.read(fd, 1) != b"\n":  # a record cut short by a crash: drop the partial line
                keep = self._complete_size(fd, size)
                os.ftruncate(fd, keep)
                size = keep
        self._fd = fd
        self._size = size

    @staticmethod
    def _complete_size(fd: int, size: int) -> int:
        """The size of the file up to and including its last newline."""
        pos = size
        while pos > 0:
            start = max(0, pos - 4096)
            os.lseek(fd, start, os.SEEK_SET)
            chunk = os.read(fd, pos - start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                return start + i + 1
            pos = start
        return 0

    def tail(self) -> tuple[int, str] | None:
        for candidate in (self.path, *reversed(segments(self.path))):
            line = _last_line(candidate) if candidate.exists() else None
            if line:
                return _tail_of(line, candidate)
        return None

    def write(self, records: Sequence[StoredRecord]) -> None:
        if self.max_bytes is None:
            self._write(b"".join([r[5] for r in records]))
            return
        chunk: list[bytes] = []
        size = 0
        for r in records:
            line = r[5]
            if self._size + size + len(line) > self.max_bytes and self._size + size > 0:
                if chunk:
                    self._write(b"".join(chunk))
                    chunk, size = [], 0
                self._rotate()
            chunk.append(line)
            size += len(line)
        if chunk:
            self._write(b"".join(chunk))

    def write_lines(self, data: bytes) -> None:
        """Append complete record lines (the bytes of :meth:`write`'s lines, joined), without rotation:
        for a sink without ``max_bytes``."""
        if data:
            self._write(data)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            raise DecisionLogError(f"cannot write to the decision log {self.path}: {exc.strerror or exc}") from None
        self._size += len(data)

    def _rotate(self) -> None:
        existing = segments(self.path)
        number = 1
        if existing:
            m = re.search(r"\.(\d+)" + re.escape(self.path.suffix) + "$", existing[-1].name)
            number = int(m.group(1)) + 1 if m else len(existing) + 1
        target = self.path.with_name(f"{self.path.stem}.{number:06d}{self.path.suffix}")
        try:
            os.fsync(self._fd)
            os.rename(self.path, target)
        except OSError as exc:
            raise DecisionLogError(f"cannot rotate the decision log {self.path}: {exc.strerror or exc}") from None
        os.close(self._fd)
        self._fd = -1
        self._open()

    def sync(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


def read_jsonl(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every line of a JSON lines log, segments first: (``file:line``, the line)."""
    files = [*segments(path), path] if path.exists() else segments(path)
    if not files:
        raise DecisionLogError(f"no decision log at {path}")
    for f in files:
        with f.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                yield f"{f.name}:{number}", line


# ------------------------------------------------------------------------------------------------
# SQL


def _sqlalchemy() -> Any:
    try:
        import sqlalchemy  # noqa: PLC0415 - an optional dependency, needed by SQL logs only
    except ImportError:  # pragma: no cover - depends on the environment
        raise DecisionLogError(
            "a SQL decision log needs SQLAlchemy: pip install 'policykit[sweep]'"
        ) from None
    return sqlalchemy


def log_table(name: str = DEFAULT_TABLE, schema: str | None = None) -> Any:
    """The decision-log table: one row per record; ``record`` holds the canonical JSON."""
    sa = _sqlalchemy()
    return sa.Table(
        name, sa.MetaData(schema=schema),
        # on SQLite an INTEGER primary key is the row id: one B-tree per row instead of the table's and
        # a separate index's (BIGINT would not be)
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.Text, nullable=False),  # ISO 8601, UTC
        sa.Column("family", sa.Text, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )


class SqlSink(Sink):
    """Records as rows of a table (``policykit_decision_log`` unless ``table`` names another), through
    SQLAlchemy, on SQLite or PostgreSQL. The table is created on first use with the triggers that make
    it append-only, the same protection as the sweep's audit table: the database refuses UPDATE,
    DELETE, REPLACE and upserts (and TRUNCATE on PostgreSQL).

    Each batch is one transaction (one ``executemany`` of a prepared INSERT). On SQLite, when the
    sink opens the database from a URL, its connections use write-ahead logging
    (``journal_mode=WAL``) and ``synchronous=NORMAL``: a committed batch survives a killed process,
    and an operating-system crash or power loss can undo the last committed batches. ``fsync=True``
    sets ``synchronous=FULL``, so that a committed batch survives those too (each commit then waits
    for the disk). On PostgreSQL a commit is durable as the server is configured
    (``synchronous_commit``)."""

    name = "sql"

    def __init__(self, url: Any, *, table: str = DEFAULT_TABLE, schema: str | None = None,
                 fsync: bool = False) -> None:
        sa = _sqlalchemy()
        self._sa = sa
        try:
            self.engine = url if isinstance(url, sa.engine.Engine) else sa.create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise DecisionLogError(f"cannot use the decision log {url!r}: {exc}") from None
        if self.engine.dialect.name == "sqlite" and not isinstance(url, sa.engine.Engine):
            synchronous = "FULL" if fsync else "NORMAL"

            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA synchronous={synchronous}")
                cursor.close()

            sa.event.listen(self.engine, "connect", pragmas)
        self.table = log_table(table, schema)
        self.label = self.engine.url.render_as_string(hide_password=True)
        # rows go in through the driver's executemany (one statement per batch, no per-row objects);
        # the table name is a quoted identifier, the values are bound parameters
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        name = self.engine.dialect.identifier_preparer.format_table(self.table)
        self._insert = (
            f"INSERT INTO {name} (seq, recorded_at, family, policy_version, hash, record) "
            f"VALUES ({', '.join([mark] * 6)})"
        )
        try:
            if not sa.inspect(self.engine).has_table(table, schema=schema):
                with self.engine.begin() as conn:
                    self.table.create(conn, checkfirst=True)
                    make_append_only(conn, self.table, "the policykit decision log is append-only", key="seq")
        except sa.exc.SQLAlchemyError as exc:
            raise DecisionLogError(
                f"cannot create the decision log table in {self.label}: {_first_line(exc)}"
            ) from None

    def tail(self) -> tuple[int, str] | None:
        sa = self._sa
        t = self.table
        try:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
        except sa.exc.SQLAlchemyError as exc:
            raise DecisionLogError(f"cannot read the decision log in {self.label}: {_first_line(exc)}") from None
        return None if row is None else (int(row[0]), str(row[1]))

    def write(self, records: Sequence[StoredRecord]) -> None:
        sa = self._sa
        rows = [
            (seq, ts.decode(), family, version, digest.decode(), line[:-1].decode())
            for seq, ts, family, version, digest, line in records
        ]
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(self._insert, rows)
        except sa.exc.SQLAlchemyError as exc:
            raise DecisionLogError(f"cannot write to the decision log in {self.label}: {_first_line(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()


def read_sql(url: str, table: str = DEFAULT_TABLE) -> Iterator[tuple[str, bytes]]:
    """Every record of a SQL decision log, by sequence number: (``table#row``, the record)."""
    sa = _sqlalchemy()
    try:
        engine = sa.create_engine(url)
        t = log_table(table)
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                label = engine.url.render_as_string(hide_password=True)
                raise DecisionLogError(f"no decision log table {table!r} in {label}")
            for number, (record,) in enumerate(conn.execute(sa.select(t.c.record).order_by(t.c.seq)), 1):
                yield f"{table}#{number}", record.encode()
        engine.dispose()
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        raise DecisionLogError(f"cannot read the decision log {url!r}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


# ------------------------------------------------------------------------------------------------
# logging


class LoggingSink(Sink):
    """Records handed to the standard :mod:`logging` module: each record is one log message (its
    canonical JSON) on ``logger`` (default ``policykit.decisions``) at ``level`` (default INFO), with
    the record's fields as ``extra={"decision": {...}}`` for structured handlers.

    The handlers decide where the records go. A handler that writes each message on its own line
    (``logging.FileHandler`` with ``format="%(message)s"``) produces a file ``policykit log verify`` can
    check. A chain begun this way starts afresh in each process unless ``resume`` gives the last
    record's ``(seq, hash)``. A handler's own errors are reported by ``logging`` (``raiseExceptions``),
    not by policykit: use a file or SQL sink where losing a record must stop the service.
    """

    name = "logging"

    def __init__(self, logger: str | logging.Logger = "policykit.decisions", *, level: int = logging.INFO,
                 resume: tuple[int, str] | None = None) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level
        self._resume = resume

    def tail(self) -> tuple[int, str] | None:
        return self._resume

    def write(self, records: Sequence[StoredRecord]) -> None:
        log = self.logger.log
        for r in records:
            text = r[5][:-1].decode()
            log(self.level, "%s", text, extra={"decision": json.loads(text)})
