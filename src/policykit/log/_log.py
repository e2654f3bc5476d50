"""``DecisionLog``: the buffered, hash-chained writer behind ``load_policy(decision_log=...)``."""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from policykit._disclosure.decision import DisclosureRequest
from policykit._guard import unexpected
from policykit._policy import set_log_hook
from policykit._retention.verdict import RetentionFacts
from policykit.errors import DecisionLogError, PolicyKitError
from policykit.log._question import Body, QuestionSpec
from policykit.log._record import NULL, Part, Recorder, _bound, context_part
from policykit.log._sinks import JsonLinesSink, LoggingSink, Sink, SqlSink
from policykit.log._writer import GENESIS, Chain, ProcessWriter

if TYPE_CHECKING:
    from policykit._policy import Policy

__all__ = ["GENESIS", "DecisionLog", "attach", "open_log"]

Durability = Literal["batch", "record"]
Writer = Literal["process", "inline"]
KEY_ENV = "POLICYKIT_LOG_KEY"
WRITER_ENV = "POLICYKIT_LOG_WRITER"  # the default of ``writer=`` when it is not given

_LIVE: weakref.WeakSet[DecisionLog] = weakref.WeakSet()


class DecisionLog:
    """A tamper-evident log of every answer a policy gives.

    ``sink`` is a path ending in ``.jsonl``, a SQLAlchemy URL (``sqlite:///decisions.db``,
    ``postgresql+psycopg://...``), ``logging:NAME`` (records go to that logger), or a sink object
    (:class:`JsonLinesSink`, :class:`SqlSink`, :class:`LoggingSink`).

    Durability:

    * ``durability="batch"`` (the default): records are kept in memory and written together when
      ``batch_size`` (default 1,000) have gathered, when the oldest waiting record is
      ``flush_seconds`` old (default 1.0; a background thread writes them), and on :meth:`flush`,
      :meth:`close` and interpreter exit. A process killed outright loses at most the records of the
      last ``flush_seconds`` and never more than ``batch_size``; everything written before forms an
      intact chain.
    * ``durability="record"``: each record is written before the answer is returned, so a killed
      process loses nothing it answered. Add ``fsync=True`` on the sink to survive an operating
      system crash too.

    Writer:

    * ``writer="process"`` (the default for a ``.jsonl`` path or a database URL in batch mode): a
      writer process owns the sink. The answering process queues each record and ships every batch
      to it; the writer numbers, timestamps, chains, formats and writes the records (the same bytes
      as the inline writer). :meth:`flush` waits until the writer has written everything queued
      before it. A writer that falls behind makes the shipping block: memory stays bounded.
    * ``writer="inline"``: the thread that ships a batch chains and writes it itself. Always so for
      ``durability="record"``, the logging adapter and a sink object (which cannot move to another
      process). The environment variable ``POLICYKIT_LOG_WRITER`` (``process`` or ``inline``) sets
      the default.

    A sink that fails raises :class:`~policykit.errors.DecisionLogError` (with a writer process: at
    the next batch, flush or close after it failed); the log then refuses every further record (the
    answers that cannot be logged are not given) until it is closed. A writer process that ends
    unexpectedly is such a failure, named as one.

    ``subject_key`` (bytes, at least 16) keys the HMAC under which a context's ``subject_ref`` is
    stored; by default it is read from the environment variable ``POLICYKIT_LOG_KEY``. Without a key, a
    random one is made for this log and never stored: a subject's records can then be linked to each
    other but to nobody.
    """

    def __init__(
        self,
        sink: str | os.PathLike[str] | Sink,
        *,
        durability: Durability = "batch",
        batch_size: int = 1_000,
        flush_seconds: float = 1.0,
        subject_key: bytes | str | None = None,
        writer: Writer | None = None,
    ) -> None:
        if durability not in ("batch", "record"):
            raise DecisionLogError(f"durability: expected 'batch' or 'record', got {durability!r}")
        if not isinstance(batch_size, int) or not 1 <= batch_size <= 1_000_000:
            raise DecisionLogError(f"batch_size: expected a whole number from 1 to 1,000,000, got {batch_size!r}")
        if not 0.001 <= float(flush_seconds) <= 3600:
            raise DecisionLogError(f"flush_seconds: expected 0.001 to 3600 seconds, got {flush_seconds!r}")
        key = subject_key if subject_key is not None else os.environ.get(KEY_ENV)
        if isinstance(key, str):
            key = key.encode()
        if key is not None and len(key) < 16:
            raise DecisionLogError("subject_key: expected at least 16 bytes")
        spec = None if isinstance(sink, Sink) else _spec_for(sink)
        self.writer: Writer = _writer_for(writer, spec, durability)
        self.durability = durability
        self.batch_size = 1 if durability == "record" else batch_size
        self.flush_seconds = float(flush_seconds)
        self._key: bytes = key if key is not None else secrets.token_bytes(32)
        self.keyed = key is not None
        self._pending: collections.deque[tuple[Any, ...]] = collections.deque()
        self._lock = threading.Lock()
        self._error: DecisionLogError | None = None
        self._closed = False
        self._refusing = False  # failed or closed: every further record is refused
        self._clock: Callable[[], float] = time.time  # a record's time (a test may fix it)
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self.sink: Sink | None = None  # the sink, when this process writes it (writer="inline")
        self._chain: Chain | None = None
        self._process: ProcessWriter | None = None
        if self.writer == "process":
            assert spec is not None
            self._process = ProcessWriter(spec, spec[1])
            self.sink_name = spec[0]
            # a log dropped without close(): its writer ends (at exit, _flush_all closes it first)
            weakref.finalize(self, self._process.stop).atexit = False
        else:
            self.sink = sink if isinstance(sink, Sink) else _sink_for(sink)
            self.sink_name = self.sink.name
            self._chain = Chain(self.sink.tail())
        _LIVE.add(self)

    def __repr__(self) -> str:
        seq = self._chain.seq if self._chain is not None else self._process.head[0] if self._process else 0
        return f"<DecisionLog {self.sink_name} seq={seq} durability={self.durability} writer={self.writer}>"

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def writer_pid(self) -> int | None:
        """The writer process's id (``None`` with ``writer="inline"``)."""
        return self._process.pid if self._process is not None else None

    @property
    def records_written(self) -> int:
        """How many records this log has written (with a writer process: as of the last flush)."""
        if self._process is not None:
            return self._process.written
        assert self._chain is not None
        return self._chain.written

    # ---------------------------------------------------------------------------------------
    def context(self, context: Mapping[str, Any] | None) -> Part:
        """The stored form of a caller's context (``subject_ref`` as a keyed HMAC)."""
        return context_part(context, self._key)

    def describe(self, spec: QuestionSpec) -> int | None:
        """With a writer process: the number under which it holds a policy's question spec, so that
        disclosure records can be queued described (their values), for the writer to write; ``None``
        when this process writes the log."""
        if self._process is None:
            return None
        with self._lock:
            return self._process.add_spec(spec)

    def add(self, body: Body, context: Part) -> None:
        """Queue one record: its body (question, answer, family, policy) and its context. The chain
        is computed when the batch is written."""
        if self._refusing:
            self._refuse()
        pending = self._pending
        pending.append((self._clock(), body, context))
        if len(pending) >= self.batch_size:
            self.ship()
        elif self._flusher is None:
            self._start_flusher()

    def _refuse(self) -> None:
        if self._closed:
            raise DecisionLogError("the decision log is closed; no answer can be recorded")
        assert self._error is not None
        raise DecisionLogError(f"the decision log failed earlier and records nothing more: {self._error.message}")

    def _take(self) -> list[tuple[Any, ...]]:
        pending = self._pending
        pop = pending.popleft
        return [pop() for _ in range(len(pending))]

    def ship(self) -> None:
        """Write the waiting records (with a writer process: send them to it, without waiting for
        them to be written). Raises :class:`~policykit.errors.DecisionLogError` if the sink failed."""
        self._send(wait=False)

    def flush(self) -> None:
        """Write every waiting record, and wait until it is written. Raises
        :class:`~policykit.errors.DecisionLogError` if the sink fails (and then refuses every later
        record)."""
        self._send(wait=True)

    def _send(self, *, wait: bool, last: bool = False) -> None:
        """What :meth:`ship` (``wait`` false), :meth:`flush` and :meth:`close` (``last``: the writer
        process ends after this batch) do."""
        with self._lock:
            if self._error is not None or (self._closed and self._pending):
                self._refuse()
            if self._closed:
                return  # nothing waits: nothing to write
            batch = self._take()
            if self._process is not None:
                process = self._process
                self._failing(lambda b: process.sync(b, last=last) if wait else process.ship(b), batch)
            elif batch:
                self._failing(self._write, batch)

    def _write(self, batch: list[Any]) -> None:
        assert self.sink is not None
        assert self._chain is not None
        self.sink.write(self._chain.finish(batch))

    def _failing(self, step: Callable[[list[Any]], None], batch: list[Any]) -> None:
        try:
            step(batch)
        except DecisionLogError as exc:
            self._error = exc
            self._refusing = True
            raise
        except Exception as exc:  # a sink of the caller's own
            self._error = DecisionLogError(f"the decision log sink failed: {type(exc).__name__}: {exc}")
            self._refusing = True
            raise self._error from exc

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            thread = threading.Thread(target=_flush_loop, args=(weakref.ref(self),), name="policykit-log-flush",
                                      daemon=True)
            self._flusher = thread
            thread.start()

    def close(self) -> None:
        """Write every waiting record, then release the sink (and end the writer process). Safe to
        call twice."""
        if self._closed:
            return
        try:
            if self._error is None:
                self._send(wait=True, last=True)
        finally:
            self._closed = True
            self._refusing = True
            self._wake.set()
            if self._process is not None:
                self._process.stop()
            else:
                assert self.sink is not None
                self.sink.close()
            _LIVE.discard(self)
        if self._error is not None:
            raise self._error

    @property
    def head(self) -> tuple[int, str]:
        """The last written record's sequence number and hash (publish it to anchor the chain). With a
        writer process, this flushes first."""
        if self._process is not None:
            if not self._closed and self._error is None:
                self.flush()
            return self._process.head
        assert self._chain is not None
        return self._chain.seq, self._chain.prev


def _flush_loop(ref: weakref.ref[DecisionLog]) -> None:
    while True:
        log = ref()
        if log is None or log._closed:
            return
        wake, seconds = log._wake, log.flush_seconds
        del log
        wake.wait(seconds)
        log = ref()
        if log is None or log._closed:
            return
        if log._error is None and (log._pending or log._process is not None):
            # with a writer process, shipping nothing still collects an error it reported
            with contextlib.suppress(DecisionLogError):  # kept in log._error: the next answer raises it
                log.ship()
        del log


@atexit.register
def _flush_all() -> None:
    for log in list(_LIVE):
        with contextlib.suppress(DecisionLogError):
            if log._process is not None:
                log.close()
            else:
                log.flush()


def _spec_for(spec: str | os.PathLike[str]) -> tuple[str, str]:
    """What a sink argument names: ``("logging", logger)``, ``("sql", url)`` or ``("jsonl", path)``."""
    text = os.fspath(spec)
    if text.startswith("logging:"):
        return "logging", text.removeprefix("logging:") or "policykit.decisions"
    if "://" in text:
        return "sql", text
    if Path(text).suffix == ".jsonl":
        return "jsonl", text
    raise DecisionLogError(
        f"decision_log: expected a path ending in .jsonl, a database URL such as sqlite:///decisions.db, "
        f"'logging:LOGGER' or a DecisionLog, got {text!r}"
    )


def _writer_for(writer: str | None, spec: tuple[str, str] | None, durability: str) -> Writer:
    """The writer a log gets: the one asked for (or ``POLICYKIT_LOG_WRITER``'s, or ``process``), but
    inline where a writer process cannot serve (see :class:`DecisionLog`)."""
    asked = writer if writer is not None else os.environ.get(WRITER_ENV) or "process"
    if asked not in ("process", "inline"):
        source = "writer" if writer is not None else WRITER_ENV
        raise DecisionLogError(f"{source}: expected 'process' or 'inline', got {asked!r}")
    if asked == "inline":
        return "inline"
    movable = spec is not None and spec[0] in ("jsonl", "sql")
    if movable and durability == "batch":
        return "process"
    if writer == "process":
        why = ("durability='record' writes each record before the answer returns" if durability == "record" else
               "a sink object or the logging adapter stays in the answering process")
        raise DecisionLogError(f"writer='process': not with this log ({why}); use writer='inline'")
    return "inline"


def _sink_for(spec: str | os.PathLike[str]) -> Sink:
    kind, target = _spec_for(spec)
    if kind == "logging":
        return LoggingSink(target)
    return SqlSink(target) if kind == "sql" else JsonLinesSink(target)


def open_log(spec: DecisionLog | Sink | str | os.PathLike[str]) -> tuple[DecisionLog, bool]:
    """The log for a ``decision_log=`` argument, and whether the policy owns it (opened it)."""
    if isinstance(spec, DecisionLog):
        return spec, False
    if isinstance(spec, (str, os.PathLike, Sink)):
        return DecisionLog(spec), True
    raise DecisionLogError(
        f"decision_log: expected a path ending in .jsonl, a database URL or a DecisionLog, got {type(spec).__name__}"
    )


# ------------------------------------------------------------------------------------------------
# the hook in the answering path


class _Inside(threading.local):
    """Per thread: whether a data-subject request is being answered (its inner questions are part of
    its answer, not records of their own)."""

    inside = False


def attach(policy: Policy, spec: DecisionLog | Sink | str | os.PathLike[str]) -> DecisionLog:
    """Give ``policy`` a decision log: its answering methods are replaced, on this instance only, by
    ones that record each answer. A policy without a log runs the unchanged methods."""
    log, owned = open_log(spec)
    recorder = Recorder(policy)
    local = _Inside()
    logged_decide = _decide_hook(policy, log, recorder)

    def logged_decide_many(requests: Iterable[Any], context: Mapping[str, Any] | None = None) -> list[Any]:
        return [logged_decide(r, context) for r in requests]

    policy.decide = logged_decide  # type: ignore[method-assign]
    policy.decide_many = logged_decide_many  # type: ignore[method-assign]
    _attach_others(policy, log, owned, recorder, local)
    policy.decision_log = log
    return log


def _decide_hook(policy: Policy, log: DecisionLog, recorder: Recorder) -> Callable[..., Any]:
    """The logged ``decide`` (see :func:`attach`)."""
    pending = log._pending
    batch_size = log.batch_size
    clock = log._clock
    no_context = NULL
    evaluate: Callable[[Any], Any] = policy._disclosure.decide  # what Policy.decide calls (and guards, as here)
    today = policy._clock.today  # the day the evaluators judge a question without as_of on
    entries = recorder.entries.get
    described: list[int | None] = []  # the number of the recorder's question spec in the writer process

    def entry_of(request: Any, outcome: Any, day: Any) -> Any:
        # with a writer process, a new question's body is queued described (its values) and written
        # there: the answering thread does not write it
        if not described:
            described.append(log.describe(recorder.question_spec()) if log.writer == "process" else None)
        return recorder.disclosure_entry(request, outcome, day, described[0])

    # a plain-dict request answered from the memo, by its value snapshot: (outcome, valid until, body)
    by_snapshot: dict[Any, tuple[Any, float, Body]] = {}

    def logged_decide(request: Any, context: Mapping[str, Any] | None = None) -> Any:
        # the hot path of a logged policy: the record body of a request seen before is kept with it (by
        # the request's identity, while it lives), so recording costs a lookup and an append; the chain
        # is computed when the batch is written. (handle_request asks the evaluators, never this.)
        ctx = no_context if context is None else log.context(context)
        try:
            decision = evaluate(request)
        except PolicyKitError:
            raise
        except Exception as exc:  # only PolicyKitError leaves the API (as in Policy.decide)
            raise unexpected("decide", exc) from exc
        if log._refusing:
            log._refuse()
        outcome = decision.outcome
        now = clock()
        if type(request) is DisclosureRequest:
            entry = entries(id(request))
            # an entry holds (the request, weakly; its outcome; until when its body holds; the body)
            # (an outcome the engine gave afresh, equal to the one kept, has the same answer: an
            # Outcome compares every field its answer is written from)
            if (entry is None or (entry.outcome is not outcome and entry.outcome != outcome) or now >= entry.until
                    or entry() is not request):
                entry = entry_of(request, outcome, today())
            body = entry.body
        else:
            body = _mapping_body(decision, outcome, now)
        pending.append((now, body, ctx))
        if len(pending) >= batch_size:
            log.ship()
        elif log._flusher is None:
            log._start_flusher()
        return decision

    def _mapping_body(decision: Any, outcome: Any, now: float) -> Body:
        source = decision._source  # (the caller's mapping, its value snapshot) when answered from memory
        snap = source[1] if source is not None else None
        if snap is not None:
            known = by_snapshot.get(snap)
            if known is not None and known[0] is outcome and now < known[1]:
                return known[2]
        entry = entry_of(decision.request, outcome, today())
        if snap is not None:
            _bound(by_snapshot)
            by_snapshot[snap] = (outcome, entry.until, entry.body)
        body: Body = entry.body
        return body

    return logged_decide


def _attach_others(policy: Policy, log: DecisionLog, owned: bool, recorder: Recorder, local: _Inside) -> None:
    """The hooks of ``retention``, ``handle_request`` and ``close`` (see :func:`attach`)."""
    add = log.add
    no_context = NULL
    retention: Callable[..., Any] = policy.retention
    handle: Callable[..., Any] = policy.handle_request
    close: Callable[[], None] = policy.close

    def logged_retention(facts: Any, *, anchor: str | None = None, review_interval_months: int | None = None,
                         context: Mapping[str, Any] | None = None) -> Any:
        ctx = no_context if context is None else log.context(context)
        verdict = retention(facts, anchor=anchor, review_interval_months=review_interval_months)
        if local.inside:
            return verdict
        parsed = RetentionFacts.parse(facts)
        options = {"anchor": anchor, "review_interval_months": review_interval_months}
        question = recorder.retention_question(parsed, verdict.as_of, options)
        add(recorder.body("retention", question, recorder.retention_answer(verdict)), ctx)
        return verdict

    def logged_handle(request: Any, context: Mapping[str, Any] | None = None) -> Any:
        ctx = no_context if context is None else log.context(context)
        outer = local.inside
        local.inside = True
        try:
            response = handle(request)
        finally:
            local.inside = outer
        if not outer:
            question = recorder.request_question(response.request)
            add(recorder.body("request", question, recorder.request_answer(response)), ctx)
        return response

    def logged_close() -> None:
        try:
            close()
        finally:
            if owned:
                log.close()
            else:
                log.flush()

    policy.retention = logged_retention  # type: ignore[method-assign]
    policy.handle_request = logged_handle  # type: ignore[method-assign]
    policy.close = logged_close  # type: ignore[method-assign]


set_log_hook(attach)
