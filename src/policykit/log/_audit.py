"""Reading a decision log: verify its chain, replay its questions against other rules, count it."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, cast

from policykit._disclosure.decision import DisclosureRequest
from policykit._policy import Policy, load_policy
from policykit._requests.response import DataSubjectRequest
from policykit._retention.verdict import RetentionFacts
from policykit._serial import JsonSpec, to_data
from policykit.errors import DecisionLogError, PolicyKitError
from policykit.log._log import GENESIS
from policykit.log._record import (
    Recorder,
    canonical,
    disclosure_answer,
    record_digest,
    request_answer,
    retention_answer,
)
from policykit.log._sinks import read_jsonl, read_sql

__all__ = ["Problem", "ReplayReport", "VerifyReport", "read_log", "replay", "stats", "verify"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_FIELDS = ("seq", "ts", "policy", "family", "question", "answer", "context", "prev", "hash")
FAMILIES = ("disclosure", "retention", "request")


def read_log(log: str | Path) -> Iterator[tuple[str, bytes]]:
    """Every stored line of a log, in order: (where it is, the raw line). ``log`` is a JSON lines
    file (with its rotated segments) or a SQLAlchemy URL."""
    text = str(log)
    if "://" in text:
        return read_sql(text)
    return read_jsonl(Path(text))


def _parse(line: bytes) -> dict[str, Any]:
    """A record, or ``ValueError`` saying why the line is not one."""
    try:
        record = json.loads(line)
    except ValueError:
        raise ValueError("the line is not valid JSON") from None
    if not isinstance(record, dict):
        raise ValueError("the line is not a JSON object")
    missing = [f for f in _FIELDS if f not in record]
    if missing:
        raise ValueError(f"it lacks {', '.join(missing)}")
    extra = sorted(set(record) - set(_FIELDS))
    if extra:
        raise ValueError(f"it has fields a record never has: {', '.join(extra)}")
    seq = record["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("its seq is not a positive whole number")
    for name in ("hash", "prev"):
        if not isinstance(record[name], str) or not _HEX64.fullmatch(record[name]):
            raise ValueError(f"its {name} is not a SHA-256 digest")
    policy = record["policy"]
    if not isinstance(policy, dict) or not _FINGERPRINT.fullmatch(str(policy.get("fingerprint"))):
        raise ValueError("its policy has no valid fingerprint")
    if record["family"] not in FAMILIES:
        raise ValueError(f"its family {record['family']!r} is none of {', '.join(FAMILIES)}")
    return record


def record_hash(record: dict[str, Any]) -> str:
    """The hash a record should carry (:func:`~policykit.log._record.record_digest`)."""
    body = canonical({k: record[k] for k in ("answer", "family", "policy", "question")})
    context = canonical(record["context"])
    return record_digest(str(record["prev"]), hashlib.sha256(body).digest(), hashlib.sha256(context).digest(),
                         record["seq"], str(record["ts"]))


# ------------------------------------------------------------------------------------------------
# verify


@dataclass(frozen=True, slots=True)
class Problem:
    """The first bad record: where it is, its sequence number (if readable), what is wrong."""

    where: str
    seq: int | None
    kind: str  # edited, deleted, reordered, inserted
    detail: str

    def __str__(self) -> str:
        seq = f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.where}{seq}: {self.kind}: {self.detail}"


@dataclass(slots=True)
class _Chain:
    """What :func:`verify` has found so far."""

    records: int = 0
    head: tuple[int, str] = (0, GENESIS)
    problem: Problem | None = None
    truncated: str | None = None  # an incomplete last line (a write cut short), not counted
    versions: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :func:`verify`."""

    log: str
    records: int = 0
    head: tuple[int, str] = (0, GENESIS)
    problem: Problem | None = None
    truncated: str | None = None  # an incomplete last line (a write cut short), not counted
    versions: Mapping[str, int] = field(default_factory=dict)

    _JSON: ClassVar[JsonSpec] = (
        "log",
        ("intact", "ok"),
        "records",
        ("head", lambda r: {"seq": r.head[0], "hash": r.head[1]}),
        ("first_bad", "problem"),
        ("incomplete_last_line", "truncated"),
        ("versions", lambda r: dict(sorted(r.versions.items()))),
    )

    @property
    def ok(self) -> bool:
        """Whether the chain is intact."""
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return cast("dict[str, Any]", to_data(self))

    def render(self) -> str:
        """The report as text."""
        versions = ", ".join(f"{v} ({n:,})" for v, n in sorted(self.versions.items())) or "none"
        if self.problem is None:
            lines = [
                f"{self.log}: intact: {self.records:,} records, seq 1 to {self.head[0]:,}; policy versions: {versions}",
                f"head: seq {self.head[0]} hash {self.head[1]}",
            ]
        else:
            lines = [
                f"{self.log}: TAMPERED: the chain holds for {self.records:,} records, then",
                f"  {self.problem}",
            ]
        if self.truncated:
            lines.append(f"note: {self.truncated}: the last line is an incomplete record (a write cut short by a "
                         "crash); it is not part of the chain")
        return "\n".join(lines)


def verify(log: str | Path) -> VerifyReport:
    """Check a log's chain, sequence numbers, hashes and fingerprints. Stops at the first bad record
    and says what is wrong with it: *edited* (its content no longer matches its hash, or the record
    after it was chained to a different one), *deleted* (sequence numbers are missing), *reordered*
    (a record stands before one that precedes it), *inserted* (a record whose sequence number was
    already used)."""
    chain = _Chain()
    _follow(log, chain)
    return VerifyReport(str(log), chain.records, chain.head, chain.problem, chain.truncated, chain.versions)


def _follow(log: str | Path, report: _Chain) -> None:
    """Follow the chain until the first bad record, counting the good ones in ``report``."""
    hashes = bytearray()  # the hash of every good record, 32 bytes each, by seq
    last_seq, last_hash, last_where = 0, GENESIS, "the start of the log"
    lines = read_log(log)
    pending: tuple[str, bytes] | None = None
    for where, raw in lines:
        if pending is not None:  # a line without its newline that is not the last: damage
            report.problem = Problem(pending[0], None, "edited", "the line is cut short")
            return
        try:
            record = _parse(raw)
        except ValueError as exc:
            if not raw.endswith(b"\n") and "://" not in str(log):
                pending = (where, raw)
                continue
            report.problem = Problem(where, None, "edited", f"not a decision record: {exc}")
            return
        seq = record["seq"]
        if record_hash(record) != record["hash"]:
            report.problem = Problem(where, seq, "edited", "its content no longer matches its hash")
            return
        if seq == last_seq + 1:
            if record["prev"] != last_hash:
                if last_seq == 0:
                    report.problem = Problem(where, seq, "deleted",
                                             "the first record is chained to a record the log no longer holds")
                else:
                    report.problem = Problem(
                        last_where, last_seq, "edited",
                        f"the record after it (seq {seq}, {where}) was chained to different content: this record was "
                        "changed and given a new hash",
                    )
                return
        elif seq > last_seq + 1:
            missing = last_seq + 1
            later = _find_later(lines, missing)
            span = f"seq {missing}" if seq == missing + 1 else f"seq {missing} to {seq - 1}"
            if later is not None:
                report.problem = Problem(where, seq, "reordered",
                                         f"it stands before {span} ({later}): records were moved")
            else:
                report.problem = Problem(where, seq, "deleted", f"{span} missing before it (after {last_where})")
            return
        else:
            earlier = bytes(hashes[(seq - 1) * 32: seq * 32]).hex()
            if earlier == record["hash"]:
                detail = f"it repeats record seq {seq}, which the chain already holds"
            else:
                detail = f"its seq {seq} was already used by an earlier record; this one is not part of the chain"
            report.problem = Problem(where, seq, "inserted", detail)
            return
        hashes += bytes.fromhex(record["hash"])
        report.records += 1
        report.versions[str(record["policy"].get("version"))] += 1
        last_seq, last_hash, last_where = seq, record["hash"], where
    if pending is not None:
        report.truncated = pending[0]
    report.head = (last_seq, last_hash)


def _find_later(lines: Iterator[tuple[str, bytes]], seq: int) -> str | None:
    for where, raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("seq") == seq:
            return where
    return None


# ------------------------------------------------------------------------------------------------
# replay

_PRIMARY = {
    "disclosure": ("allowed", "reasons", "obligations"),
    "retention": ("outcome", "anonymise_on", "retain_until", "deadline", "permitted_purposes", "erase_now"),
    "request": ("outcome", "deadline", "fee", "erase_now", "retain", "deliver", "exclude", "refusal_grounds"),
}


def _verdict(family: str, answer: dict[str, Any]) -> str:
    if family == "disclosure":
        if answer.get("allowed"):
            return "allowed"
        reasons = answer.get("reasons") or []
        return "denied " + ", ".join(reasons) if reasons else "denied"
    return str(answer.get("outcome"))


@dataclass(slots=True)
class _Replay:
    """What :func:`replay` has found so far (the fields of :class:`ReplayReport`)."""

    log: str
    rules: list[dict[str, str]]
    records: int = 0
    by_family: Counter[str] = field(default_factory=Counter)
    changed: int = 0
    explanation_only: int = 0  # same answer, other rules or clauses behind it
    unanswerable: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_clause: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changed_seqs: list[int] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


def _most_common(name: str) -> Callable[[ReplayReport], dict[str, int]]:
    """A counter of the report as a mapping, the most common first."""
    return lambda r: dict(getattr(r, name).most_common())


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The result of :func:`replay`."""

    log: str
    rules: list[dict[str, str]]
    records: int
    by_family: Counter[str]
    changed: int
    explanation_only: int  # same answer, other rules or clauses behind it
    unanswerable: int
    transitions: Counter[str]
    by_rule: Counter[str]
    by_clause: Counter[str]
    examples: dict[str, list[dict[str, Any]]]
    changed_seqs: list[int]
    problems: list[dict[str, Any]]

    _JSON: ClassVar[JsonSpec] = (
        "log",
        "rules",
        "records",
        ("by_family", lambda r: dict(sorted(r.by_family.items()))),
        "changed",
        "explanation_only",
        "unanswerable",
        ("transitions", _most_common("transitions")),
        ("by_rule", _most_common("by_rule")),
        ("by_clause", _most_common("by_clause")),
        "examples",
        "changed_seqs",
        ("unanswerable_examples", "problems"),
    )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return cast("dict[str, Any]", to_data(self))

    def render(self) -> str:
        """The report as text."""
        rules = ", ".join(f"{r['directory']} (version {r['version']})" for r in self.rules)
        families = ", ".join(f"{n:,} {f}" for f, n in sorted(self.by_family.items())) or "none"
        out = [
            f"policykit log replay: {self.log} against {rules}",
            f"Replayed {self.records:,} logged answers ({families}).",
            f"Changed: {self.changed:,}; same answer for other rules or clauses: {self.explanation_only:,}; "
            f"not answerable by the new rules: {self.unanswerable:,}.",
        ]
        if self.transitions:
            out.append("")
            out.append("How the answers change:")
            out += [f"  {t}: {n:,}" for t, n in self.transitions.most_common()]
        if self.by_rule:
            out.append("")
            out.append("Changed answers by rule (fired before or after, not both):")
            out += [f"  {r}: {n:,}" for r, n in self.by_rule.most_common()]
        if self.by_clause:
            out.append("")
            out.append("Changed answers by clause:")
            out += [f"  {c}: {n:,}" for c, n in self.by_clause.most_common()]
        for rule, examples in self.examples.items():
            out.append("")
            out.append(f"e.g. ({rule}):")
            for e in examples:
                out.append(f"  seq {e['seq']} ({e['family']}): {e['before']} -> {e['after']}")
                out.append(f"    {json.dumps(_compact(e['question']), ensure_ascii=False, sort_keys=True)}")
        for p in self.problems:
            out.append(f"not answerable: seq {p['seq']}: {p['error']}")
        if not self.changed and not self.unanswerable:
            out.append("No logged answer would change.")
        return "\n".join(out)


def _compact(question: Any) -> Any:
    """A question without its default-looking values, for examples (false, null, empty)."""
    if isinstance(question, dict):
        return {k: _compact(v) for k, v in question.items() if v not in (False, None, [], {})}
    return question


def _ask_again(policy: Policy, recorder: Recorder, family: str, question: dict[str, Any]) -> Any:
    """The answer ``policy`` gives to a logged question, in the form a record holds it."""
    scrub = recorder.scrub
    if family == "disclosure":
        return scrub(disclosure_answer(policy.decide(DisclosureRequest.parse(question)).outcome))
    if family == "retention":
        q = dict(question)
        options = {k: q.pop(k) for k in ("anchor", "review_interval_months") if k in q}
        return scrub(retention_answer(policy.retention(RetentionFacts.parse(q), **options)))
    return scrub(request_answer(policy.handle_request(DataSubjectRequest.parse(question))))


def replay(log: str | Path, rules: Sequence[str | Path | Policy], *, examples: int = 3) -> ReplayReport:
    """Ask the rules in ``rules`` every question ``log`` holds and report the answers that would
    change, counted by the rules and clauses behind the change, with examples.

    With several rule directories, each question goes to the latest version in force on the
    question's date (its ``as_of`` or ``received_on``; versions are dated by their version string,
    ``YYYY-MM-DD``)."""
    policies = [r if isinstance(r, Policy) else load_policy(r) for r in rules]
    owned = [p for p, r in zip(policies, rules, strict=True) if p is not r]
    if not policies:
        raise DecisionLogError("replay: expected at least one rules directory")
    policies.sort(key=lambda p: p.version)
    recorders = {id(p): Recorder(p) for p in policies}
    report = _Replay(str(log), [{"directory": str(p.rules.directory), "version": p.version} for p in policies])
    try:
        for where, raw in read_log(log):
            try:
                record = _parse(raw)
            except ValueError as exc:
                if not raw.endswith(b"\n"):
                    continue  # an incomplete last line
                raise DecisionLogError(f"{where}: not a decision record ({exc}); run 'policykit log verify'") from None
            family, question, before = record["family"], record["question"], record["answer"]
            report.records += 1
            report.by_family[family] += 1
            day = str(question.get("as_of") or question.get("received_on") or "")
            policy = policies[0]
            for p in policies:
                if p.version <= day:
                    policy = p
            try:
                after = _ask_again(policy, recorders[id(policy)], family, question)
            except PolicyKitError as exc:
                report.unanswerable += 1
                if len(report.problems) < examples:
                    report.problems.append({"seq": record["seq"], "error": str(exc)})
                continue
            after = json.loads(canonical(after))  # compare like with like: the stored JSON form
            keys = _PRIMARY[family]
            if all(before.get(k) == after.get(k) for k in keys):
                if before.get("rule_ids") != after.get("rule_ids") or before.get("clauses") != after.get("clauses"):
                    report.explanation_only += 1
                continue
            report.changed += 1
            report.changed_seqs.append(record["seq"])
            was, now = _verdict(family, before), _verdict(family, after)
            report.transitions[f"{was} -> {now}"] += 1
            rules_changed = sorted(set(before.get("rule_ids") or ()) ^ set(after.get("rule_ids") or ()))
            rules_changed = rules_changed or ["(same rules)"]
            clauses_changed = sorted(set(before.get("clauses") or ()) ^ set(after.get("clauses") or ()))
            for r in rules_changed:
                report.by_rule[r] += 1
                bucket = report.examples.setdefault(r, [])
                if len(bucket) < examples:
                    bucket.append({"seq": record["seq"], "family": family, "before": was, "after": now,
                                   "question": question})
            for c in clauses_changed:
                report.by_clause[c] += 1
    finally:
        for p in owned:
            p.close()
    return ReplayReport(**{f.name: getattr(report, f.name) for f in fields(report)})


# ------------------------------------------------------------------------------------------------
# stats


def stats(log: str | Path) -> dict[str, Any]:
    """Counts of a log's records by family, outcome, recipient kind, policy version and day."""
    out: dict[str, Counter[str]] = {k: Counter() for k in ("family", "outcome", "recipient_kind", "version", "day")}
    total = 0
    for where, raw in read_log(log):
        try:
            record = _parse(raw)
        except ValueError as exc:
            if not raw.endswith(b"\n"):
                continue
            raise DecisionLogError(f"{where}: not a decision record ({exc}); run 'policykit log verify'") from None
        total += 1
        family = record["family"]
        answer, question = record["answer"], record["question"]
        out["family"][family] += 1
        if family == "disclosure":
            out["outcome"][f"disclosure: {'allowed' if answer.get('allowed') else 'denied'}"] += 1
            kind = (question.get("recipient") or {}).get("kind")
            out["recipient_kind"][str(kind)] += 1
        else:
            out["outcome"][f"{family}: {answer.get('outcome')}"] += 1
        out["version"][str(record["policy"].get("version"))] += 1
        out["day"][str(record["ts"])[:10]] += 1
    result: dict[str, Any] = {"log": str(log), "records": total}
    for k, counter in out.items():
        result[k] = dict(sorted(counter.items()))
    return result


def render_stats(data: dict[str, Any]) -> str:
    """:func:`stats` as text."""
    out = [f"{data['log']}: {data['records']:,} records"]
    for title, key in (("by family", "family"), ("by outcome", "outcome"), ("by recipient kind", "recipient_kind"),
                       ("by policy version", "version"), ("by day (UTC)", "day")):
        out.append("")
        out.append(f"{title}:")
        out += [f"  {k}: {n:,}" for k, n in data[key].items()] or ["  (none)"]
    return "\n".join(out)
