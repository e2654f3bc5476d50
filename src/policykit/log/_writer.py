"""The decision log's chain and its writer process.

:class:`Chain` numbers, timestamps and hash-chains a batch of queued records: the records exactly as
stored. It runs either on the answering side (``DecisionLog(writer="inline")``) or in a writer process
(:class:`ProcessWriter`, the default for a JSON lines or SQL log in batch mode), which owns the sink:
the answering process only queues records and ships each batch over a pipe.

The writer process imports this module and the sinks only (not the policy): :data:`_BOOT` registers
the ``policykit`` and ``policykit.log`` packages without running their ``__init__`` modules. It is
started with ``subprocess`` (a fresh interpreter, never a fork of the answering process, whose other
threads a fork would copy mid-step) and talks over a :class:`multiprocessing.connection.Connection`.

The protocol (one message each, answering side first): the sink's description; the writer answers
``("ready", seq, hash)`` (the tail it continues) or ``("error", message)``. Then batches: ``B`` +
the pickled batch (written, no answer unless it fails: then ``("error", message)`` once, and every
later batch is refused), ``S`` + the pickled batch (written, then answered with ``("ok", seq, hash,
records written)`` or the error), ``Q`` (answered like ``S``, then the writer closes the sink and
ends). End of file (the answering process is gone) ends the writer too: everything it received is
written before it ends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import pickle
import signal
import socket
import subprocess
import sys
from binascii import hexlify
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from policykit.errors import DecisionLogError
from policykit.log._question import DESCRIBED, TABLE_SIZE, QuestionSpec, QuestionWriter
from policykit.log._sinks import JsonLinesSink, Sink, SqlSink, StoredRecord

__all__ = ["GENESIS", "Chain", "Decoder", "Encoder", "ProcessWriter", "serve", "store_for"]

GENESIS = "0" * 64  # the "previous hash" of the first record
_TS = b"%s.%06dZ"  # a record's time: the second (ISO 8601, UTC), then the microseconds
# a stored line: one JSON object on one line (the body's members follow the context; see ``Chain.finish``)
_LINE = b'{"seq":%d,"ts":"%s","prev":"%s","hash":"%s","context":%s,%s}\n'
_MESSAGE = b"%s%s%s%d\n%s"  # what a record's hash is taken over (``_record.record_digest``)
# the most record bodies a writer process keeps for reuse (see ``Encoder``): as many as the answering side
# keeps by request (``_record``), so that a request asked again finds its body in the writer too (with
# fewer, a service cycling through more requests than that would have every body sent, and written,
# again)
_BODIES = TABLE_SIZE

# A queued record: (time.time() when answered, its Body, its context Part); see ``_record``. Queued
# for a writer process, a disclosure record's body may be described instead (``_question.DESCRIBED``):
# the writer process writes it.
Queued = tuple[float, Any, tuple[bytes, bytes]]


class Chain:
    """Where a log's chain ends, and the step that continues it by a batch."""

    def __init__(self, tail: tuple[int, str] | None) -> None:
        self.seq, self.prev = tail if tail is not None else (0, GENESIS)
        self._prev_raw = bytes.fromhex(self.prev)
        self._prefixes: dict[int, bytes] = {}  # the ISO 8601 text of recent seconds
        self.written = 0

    def finish(self, batch: Iterable[Queued]) -> list[StoredRecord]:
        """Number, timestamp and chain a batch: the records exactly as stored.

        A record's hash is SHA-256 over the previous hash (32 bytes), its body's digest, its context's
        digest and ``"{seq}\\n{ts}"`` (``_record.record_digest``); the line is one JSON object
        (``_LINE``). One pass: each hash needs the one before."""
        return self._run(batch, records=True)

    def lines(self, batch: Iterable[Queued]) -> bytes:
        """The same records as :meth:`finish`, as the bytes of their lines only (what a JSON lines
        file gets): the writer process's loop, without the fields only a SQL table needs."""
        return b"".join(self._run(batch, records=False))

    def _run(self, batch: Iterable[Queued], *, records: bool) -> list[Any]:
        """The loop of :meth:`finish` (``records``: each record as stored) and :meth:`lines` (each
        record's line only)."""
        prefixes = self._prefixes
        if len(prefixes) > 4096:
            prefixes.clear()
        sha = hashlib.sha256
        line = _LINE.__mod__
        message = _MESSAGE.__mod__
        stamp_of = _TS.__mod__
        prev = self._prev_raw
        prev_hex = self.prev.encode()
        seq = start = self.seq
        out: list[Any] = []
        append = out.append
        last_second = -1
        prefix = b""
        for t, body, context in batch:
            second = int(t)
            if second != last_second:
                prefix = prefixes.get(second) or self._prefix(second)
                last_second = second
            stamp = stamp_of((prefix, (t - second) * 1e6))
            seq += 1
            prev = sha(message((prev, body[1], context[1], seq, stamp))).digest()
            digest = hexlify(prev)
            text = line((seq, stamp, prev_hex, digest, context[0], body[0]))
            append((seq, stamp, body[2], body[3], digest, text) if records else text)
            prev_hex = digest
        self.seq = seq
        self.prev = prev_hex.decode()
        self._prev_raw = prev
        self.written += seq - start
        return out

    def _prefix(self, second: int) -> bytes:
        text = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
        self._prefixes[second] = text
        return text


# ------------------------------------------------------------------------------------------------
# the writer process's side


class Encoder:
    """A batch as sent to a writer process: each body the writer has not had yet is sent once, with a
    number; a body it has is sent as its number (a warm decide's record reuses its request's body
    object, which would otherwise be pickled again in every batch). Bounded: after :data:`_BODIES`
    bodies both sides start again.

    A described body (``(DESCRIBED, spec, values, answer)``, see ``_question``) is sent as it is; the
    writer writes its body once, when it arrives. The :class:`~._question.QuestionSpec` it names is
    sent with the first batch after :meth:`add_spec`."""

    def __init__(self) -> None:
        self._numbers: dict[int, int] = {}  # id(body) -> its number, for the bodies the writer holds
        self._kept: list[Any] = []  # the numbered bodies: kept alive, so that their ids are not reused
        self._specs: list[QuestionSpec] = []
        self._specs_sent = 0

    def add_spec(self, spec: QuestionSpec) -> int:
        """Number a policy's question spec (sent with the next batch); described bodies name it."""
        self._specs.append(spec)
        return len(self._specs) - 1

    def encode(self, batch: list[Queued]) -> bytes:
        times, bodies, contexts = zip(*batch, strict=True)
        numbers, kept = self._numbers, self._kept
        reset = len(kept) > _BODIES
        if reset:
            numbers.clear()
            kept.clear()
        refs = list(map(numbers.get, map(id, bodies)))
        new: list[Any] = []
        if None in refs:
            for i, body in enumerate(bodies):
                if refs[i] is None:
                    number = numbers.get(id(body))
                    if number is None:
                        number = numbers[id(body)] = len(kept)
                        kept.append(body)
                        new.append(body)
                    refs[i] = number
        specs = self._specs[self._specs_sent:]
        self._specs_sent = len(self._specs)
        return pickle.dumps((reset, new, times, refs, contexts, specs), protocol=pickle.HIGHEST_PROTOCOL)


class Decoder:
    """The writer process's side of :class:`Encoder`: it writes the bodies of described records."""

    def __init__(self) -> None:
        self._bodies: list[Any] = []
        self._writers: list[QuestionWriter] = []

    def decode(self, data: bytes | memoryview) -> Iterable[Queued]:
        reset, new, times, refs, contexts, specs = pickle.loads(data)
        writers = self._writers
        writers.extend(map(QuestionWriter, specs))
        bodies = self._bodies
        if reset:
            bodies.clear()
        bodies.extend(body if body[0] is not DESCRIBED else writers[body[1]].body(body[2], body[3]) for body in new)
        return zip(times, map(bodies.__getitem__, refs), contexts, strict=True)


def open_sink(spec: tuple[Any, ...]) -> Sink:
    """A sink from its description: ``("jsonl", path)`` or ``("sql", url)``."""
    kind, target = spec
    if kind == "jsonl":
        return JsonLinesSink(target)
    if kind == "sql":
        return SqlSink(target)
    raise DecisionLogError(f"unknown decision-log sink {kind!r}")  # pragma: no cover - internal


def serve(fd: int) -> None:
    """The writer process's loop over the connection on ``fd`` (see the module's docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the answering process, which then flushes
    conn = Connection(fd)
    parent = os.getppid()
    try:
        sink = open_sink(conn.recv())
        chain = Chain(sink.tail())
    except DecisionLogError as exc:
        conn.send(("error", exc.message))
        return
    except Exception as exc:  # reported to the answering side, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", chain.seq, chain.prev))
    try:
        _loop(conn, parent, chain, store_for(sink, chain))
    finally:
        with contextlib.suppress(Exception):
            sink.close()
        conn.close()


def store_for(sink: Sink, chain: Chain) -> Callable[[Iterable[Queued]], None]:
    """Chain and write queued records: a JSON lines file without rotation gets the lines alone."""
    if isinstance(sink, JsonLinesSink) and sink.max_bytes is None:
        lines, raw = chain.lines, sink.write_lines
        return lambda records: raw(lines(records))
    finish, write = chain.finish, sink.write
    return lambda records: write(finish(records))


def _loop(conn: Connection, parent: int, chain: Chain, store: Callable[[Iterable[Queued]], None]) -> None:
    error: str | None = None
    recv, poll = conn.recv_bytes, conn.poll
    decode = Decoder().decode
    while True:
        while not poll(1.0):
            if os.getppid() != parent:  # the answering process is gone (and a fork of it holds the pipe)
                return
        try:
            data = recv()
        except (EOFError, OSError):  # the answering process is gone: everything received is written
            return
        kind = data[:1]
        if len(data) > 1 and error is None:
            try:
                store(decode(memoryview(data)[1:]))
            except DecisionLogError as exc:
                error = exc.message
            except Exception as exc:  # reported to the answering side, which raises it
                error = f"the decision log sink failed: {type(exc).__name__}: {exc}"
            if error is not None and kind == b"B":
                conn.send(("error", error))
        if kind != b"B":
            conn.send(("error", error) if error is not None else ("ok", chain.seq, chain.prev, chain.written))
            if kind == b"Q":
                return


# the writer process's program: the packages without their ``__init__`` modules, then ``serve``
_BOOT = """\
import sys, types
root = sys.argv[1]
for name, sub in (("policykit", ""), ("policykit.log", "/log")):
    package = types.ModuleType(name)
    package.__path__ = [root + sub]
    sys.modules[name] = package
from policykit.log._writer import serve
serve(int(sys.argv[2]))
"""
_ROOT = str(Path(__file__).resolve().parent.parent)


# ------------------------------------------------------------------------------------------------
# the answering side


class ProcessWriter:
    """The answering side of a writer process: ships batches, waits for acknowledgements.

    Not thread-safe by itself: the :class:`~policykit.log.DecisionLog` calls it under its lock."""

    def __init__(self, spec: tuple[Any, ...], label: str) -> None:
        self.label = label
        if not sys.executable:  # pragma: no cover - an embedded interpreter
            raise DecisionLogError("a writer process needs sys.executable; use writer='inline'")
        self._owner = os.getpid()
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-c", _BOOT, _ROOT, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise DecisionLogError(f"cannot start the decision log's writer process: {exc}") from None
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.head: tuple[int, str] = (0, GENESIS)
        self.written = 0
        self._ended = False
        self._encoder = Encoder()
        try:
            self.conn.send(spec)
            reply = self._reply()
        except DecisionLogError:
            self.stop()
            raise
        if reply[0] != "ready":
            self.stop()
            raise DecisionLogError(reply[1])
        self.head = (reply[1], reply[2])

    @property
    def pid(self) -> int:
        return self.process.pid

    def add_spec(self, spec: QuestionSpec) -> int:
        """Number a policy's question spec: the writer writes the bodies that name it."""
        return self._encoder.add_spec(spec)

    def _died(self) -> DecisionLogError:
        code = self.process.poll()
        if code is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.process.wait(1.0)
        how = "is not answering" if code is None else f"ended (exit status {code})"
        return DecisionLogError(
            f"the decision log's writer process (pid {self.process.pid}) {how}; the records sent to it since "
            f"the last flush may not be written: run 'policykit log verify {self.label}'"
        )

    def _reply(self) -> tuple[Any, ...]:
        try:
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        return reply

    def check(self) -> None:
        """Raise the error the writer reported for a batch shipped earlier, if it did."""
        try:
            waiting = self.conn.poll()
        except OSError:
            raise self._died() from None
        if waiting:
            reply = self._reply()
            raise DecisionLogError(reply[1])

    def _mine(self) -> None:
        if os.getpid() != self._owner:  # a fork of the process that opened the log: the pipe is not its own
            raise DecisionLogError(
                f"this decision log was opened by process {self._owner}; a process forked from it must "
                "open its own log"
            )

    def ship(self, batch: list[Queued]) -> None:
        """Send a batch to be written (blocks while the writer is a pipe's worth behind)."""
        self._mine()
        self.check()
        if batch:
            self._send(b"B", batch)

    def sync(self, batch: list[Queued], *, last: bool = False) -> None:
        """Send a batch (possibly empty) and wait until the writer has written everything before it."""
        self._mine()
        self.check()
        self._send(b"Q" if last else b"S", batch)
        reply = self._reply()
        if reply[0] != "ok":
            raise DecisionLogError(reply[1])
        _, seq, prev, self.written = reply
        self.head = (seq, prev)

    def _send(self, kind: bytes, batch: list[Queued]) -> None:
        data = kind + self._encoder.encode(batch) if batch else kind
        try:
            self.conn.send_bytes(data)
        except OSError:
            raise self._died() from None

    def stop(self) -> None:
        """Close the pipe (the writer writes what it received and ends) and wait for the process."""
        if self._ended:
            return
        self._ended = True
        if os.getpid() != self._owner:  # a fork's copy: closing it leaves the owner's writer running
            self.conn.close()
            return
        stop_process(self.conn, self.process)


def stop_process(conn: Connection, process: subprocess.Popen[bytes]) -> None:
    """End a writer process: close its pipe, wait for it (kill it if it hangs)."""
    conn.close()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:  # pragma: no cover - a hung sink
        process.kill()
        process.wait()

