"""``DecisionLog``: the buffered, hash-chained writer behind ``load_policy(decision_log=...)``."""

from __future__ import annotations

import atexit
import collections
import contextlib
import datetime as dt
import hashlib
import os
import secrets
import threading
import time
import weakref
from binascii import hexlify
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from policykit._disclosure.decision import DisclosureRequest
from policykit._guard import unexpected
from policykit._policy import set_log_hook
from policykit._retention.verdict import RetentionFacts
from policykit.errors import DecisionLogError, PolicyKitError
from policykit.log._record import NULL, Body, Part, Recorder, _bound, context_part
from policykit.log._sinks import JsonLinesSink, LoggingSink, Sink, SqlSink, StoredRecord

if TYPE_CHECKING:
    from policykit._policy import Policy

__all__ = ["GENESIS", "DecisionLog", "attach", "open_log"]

GENESIS = "0" * 64  # the "previous hash" of the first record
Durability = Literal["batch", "record"]
KEY_ENV = "POLICYKIT_LOG_KEY"
_TS = b"%s.%06dZ"  # a record's time: the second (ISO 8601, UTC), then the microseconds
# a stored line: one JSON object on one line (the body's members follow the context; see ``_finish``)
_LINE = b'{"seq":%d,"ts":"%s","prev":"%s","hash":"%s","context":%s,%s}\n'
_MESSAGE = b"%s%s%s%d\n%s"  # what a record's hash is taken over (``_record.record_digest``)

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

    A sink that fails raises :class:`~policykit.errors.DecisionLogError`; the log then refuses every
    further record (the answers that cannot be logged are not given) until it is closed.

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
    ) -> None:
        if durability not in ("batch", "record"):
            raise DecisionLogError(f"durability: expected 'batch' or 'record', got {durability!r}")
        if not isinstance(batch_size, int) or not 1 <= batch_size <= 1_000_000:
            raise DecisionLogError(f"batch_size: expected a whole number from 1 to 1,000,000, got {batch_size!r}")
        if not 0.001 <= float(flush_seconds) <= 3600:
            raise DecisionLogError(f"flush_seconds: expected 0.001 to 3600 seconds, got {flush_seconds!r}")
        self.sink = sink if isinstance(sink, Sink) else _sink_for(sink)
        self.durability = durability
        self.batch_size = 1 if durability == "record" else batch_size
        self.flush_seconds = float(flush_seconds)
        key = subject_key if subject_key is not None else os.environ.get(KEY_ENV)
        if isinstance(key, str):
            key = key.encode()
        if key is not None and len(key) < 16:
            raise DecisionLogError("subject_key: expected at least 16 bytes")
        self._key: bytes = key if key is not None else secrets.token_bytes(32)
        self.keyed = key is not None
        self._pending: collections.deque[tuple[Any, ...]] = collections.deque()
        self._lock = threading.Lock()
        self._error: DecisionLogError | None = None
        self._closed = False
        self._refusing = False  # failed or closed: every further record is refused
        tail = self.sink.tail()
        self._seq, self._prev = tail if tail is not None else (0, GENESIS)
        self._prev_raw = bytes.fromhex(self._prev)
        self._prefixes: dict[int, bytes] = {}  # the ISO 8601 text of recent seconds
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self.records_written = 0
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"<DecisionLog {self.sink.name} seq={self._seq} durability={self.durability}>"

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------
    def context(self, context: Mapping[str, Any] | None) -> Part:
        """The stored form of a caller's context (``subject_ref`` as a keyed HMAC)."""
        return context_part(context, self._key)

    def add(self, body: Body, context: Part) -> None:
        """Queue one record: its body (question, answer, family, policy) and its context. The chain
        is computed when the batch is written."""
        if self._refusing:
            self._refuse()
        pending = self._pending
        pending.append((time.time(), body, context))
        if len(pending) >= self.batch_size:
            self.flush()
        elif self._flusher is None:
            self._start_flusher()

    def _refuse(self) -> None:
        if self._closed:
            raise DecisionLogError("the decision log is closed; no answer can be recorded")
        assert self._error is not None
        raise DecisionLogError(f"the decision log failed earlier and records nothing more: {self._error.message}")

    def flush(self) -> None:
        """Write every waiting record. Raises :class:`~policykit.errors.DecisionLogError` if the sink
        fails (and then refuses every later record)."""
        with self._lock:
            if self._error is not None:
                self._refuse()
            pending = self._pending
            n = len(pending)
            if not n:
                return
            pop = pending.popleft
            batch = [pop() for _ in range(n)]
            try:
                self.sink.write(self._finish(batch))
            except DecisionLogError as exc:
                self._error = exc
                self._refusing = True
                raise
            except Exception as exc:  # a sink of the caller's own
                self._error = DecisionLogError(f"the decision log sink failed: {type(exc).__name__}: {exc}")
                self._refusing = True
                raise self._error from exc

    def _finish(self, batch: list[tuple[Any, ...]]) -> list[StoredRecord]:
        """Number, timestamp and chain a batch: the records exactly as stored.

        A record's hash is SHA-256 over the previous hash (32 bytes), its body's digest, its context's
        digest and ``"{seq}\\n{ts}"`` (``_record.record_digest``); the line is one JSON object
        (``_LINE``). One pass: each hash needs the one before."""
        times, bodies, contexts = zip(*batch, strict=True)
        seconds = list(map(int, times))
        prefixes = self._prefixes
        if len(prefixes) > 4096:
            prefixes.clear()
        for second in set(seconds).difference(prefixes):
            prefixes[second] = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
        stamps = [_TS % (prefixes[s], (t - s) * 1e6) for t, s in zip(times, seconds, strict=True)]
        sha = hashlib.sha256
        line = _LINE.__mod__
        prev = self._prev_raw
        prev_hex = self._prev.encode()
        seq = self._seq
        out: list[StoredRecord] = []
        append = out.append
        for stamp, body, context in zip(stamps, bodies, contexts, strict=True):
            seq += 1
            prev = sha(_MESSAGE % (prev, body[1], context[1], seq, stamp)).digest()
            digest = hexlify(prev)
            append((seq, stamp, body[2], body[3], digest, line((seq, stamp, prev_hex, digest, context[0], body[0]))))
            prev_hex = digest
        self._seq = seq
        self._prev = prev_hex.decode()
        self._prev_raw = prev
        self.records_written += len(out)
        return out

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            thread = threading.Thread(target=_flush_loop, args=(weakref.ref(self),), name="policykit-log-flush",
                                      daemon=True)
            self._flusher = thread
            thread.start()

    def close(self) -> None:
        """Write every waiting record, then release the sink. Safe to call twice."""
        if self._closed:
            return
        try:
            if self._error is None:
                self.flush()
        finally:
            self._closed = True
            self._refusing = True
            self._wake.set()
            self.sink.close()
            _LIVE.discard(self)
        if self._error is not None:
            raise self._error

    @property
    def head(self) -> tuple[int, str]:
        """The last written record's sequence number and hash (publish it to anchor the chain)."""
        return self._seq, self._prev


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
        if log._pending and log._error is None:
            with contextlib.suppress(DecisionLogError):  # kept in log._error: the next answer raises it
                log.flush()
        del log


@atexit.register
def _flush_all() -> None:
    for log in list(_LIVE):
        with contextlib.suppress(DecisionLogError):
            log.flush()


def _sink_for(spec: str | os.PathLike[str]) -> Sink:
    text = os.fspath(spec)
    if text.startswith("logging:"):
        return LoggingSink(text.removeprefix("logging:") or "policykit.decisions")
    if "://" in text:
        return SqlSink(text)
    if Path(text).suffix == ".jsonl":
        return JsonLinesSink(text)
    raise DecisionLogError(
        f"decision_log: expected a path ending in .jsonl, a database URL such as sqlite:///decisions.db, "
        f"'logging:LOGGER' or a DecisionLog, got {text!r}"
    )


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
    clock = time.time
    no_context = NULL
    evaluate: Callable[[Any], Any] = policy._disclosure.decide  # what Policy.decide calls (and guards, as here)
    today = policy._clock.today  # the day the evaluators judge a question without as_of on
    entry_of = recorder.disclosure_entry
    entries = recorder.entries.get
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
            if entry is None or entry[1] is not outcome or now >= entry[2] or entry[0]() is not request:
                entry = entry_of(request, outcome, today())
            body = entry[3]
        else:
            body = _mapping_body(decision, outcome, now)
        pending.append((now, body, ctx))
        if len(pending) >= batch_size:
            log.flush()
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
            by_snapshot[snap] = (outcome, entry[2], entry[3])
        return entry[3]

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
