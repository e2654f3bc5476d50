"""The decision log: a tamper-evident record of every answer a policy gives.

``load_policy(decision_log="decisions.jsonl")`` (or a SQLAlchemy URL, or a :class:`DecisionLog`)
records every answer of ``decide``, ``decide_many``, ``retention`` and ``handle_request``. Each record
holds a sequence number, a UTC timestamp, the policy's name, version and fingerprint, the family, the
question reduced to vocabulary ids, booleans and dates, the answer, the caller's context (a service
name, and a subject reference only as a keyed HMAC) and the hash of the record before it.

:func:`verify` checks a log's chain; :func:`replay` asks other rules every question a log holds;
:func:`stats` counts what it holds. The command line: ``policykit log verify|replay|stats``.
"""

from policykit.log._audit import ReplayReport, VerifyReport, read_log, replay, stats, verify
from policykit.log._log import GENESIS, DecisionLog
from policykit.log._record import TEXT, subject_hmac
from policykit.log._sinks import JsonLinesSink, LoggingSink, Sink, SqlSink, StoredRecord

__all__ = [
    "GENESIS",
    "TEXT",
    "DecisionLog",
    "JsonLinesSink",
    "LoggingSink",
    "ReplayReport",
    "Sink",
    "SqlSink",
    "StoredRecord",
    "VerifyReport",
    "read_log",
    "replay",
    "stats",
    "subject_hmac",
    "verify",
]
