"""The decision log: what a record holds, the chain, tampering of each kind, durability, sinks, replay."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import policykit
from policykit.cli import main
from policykit.errors import DecisionLogError, RequestValidationError
from policykit.log import DecisionLog, JsonLinesSink, LoggingSink, Sink, replay, stats, verify
from policykit.log._audit import record_hash

ROOT = Path(__file__).resolve().parents[2]
SWISS = ROOT / "examples" / "rules-switzerland-allowed"
KEY = b"k" * 32

# a Swiss recruitment client shown a name: denied only because Switzerland is outside the EU/EEA
SWISS_SHOW = {
    "operation": "show", "data_categories": ["name"], "purpose": "sell_recruitment_services",
    "as_of": "2026-01-15",
    "recipient": {"kind": "recruitment_client", "country": "CH", "relevant_to_candidate_competence": True},
}
SWEDISH_SHOW = {**SWISS_SHOW, "recipient": {**SWISS_SHOW["recipient"], "country": "SE"}}
RETENTION = {"applications": ["2023-12-31"], "consent_withdrawn_on": "2024-04-02", "as_of": "2026-01-15"}
ERASURE = {"request": "erasure", "channel": "email", "received_on": "2025-03-01", "applications": ["2024-11-02"]}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def write_lines(path: Path, records: list[Any]) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def logged(tmp_path: Path, n: int = 6) -> Path:
    """A log of ``n`` disclosure answers (SE and CH alternating)."""
    path = tmp_path / "decisions.jsonl"
    with policykit.load_policy(decision_log=str(path)) as policy:
        for i in range(n):
            policy.decide(SWISS_SHOW if i % 2 else SWEDISH_SHOW, context={"service": "ats"})
    return path


# ------------------------------------------------------------------------------------------------
# records


def test_a_record_holds_the_question_the_answer_and_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, subject_key=KEY)
    with policykit.load_policy(decision_log=log) as policy:
        decision = policy.decide(SWISS_SHOW, context={"service": "ats", "subject_ref": "candidate-4711"})
    log.close()
    (record,) = lines(path)
    assert record["seq"] == 1
    assert record["prev"] == "0" * 64
    assert record["family"] == "disclosure"
    assert record["policy"] == {"name": policy.name, "version": "2022-06-22", "fingerprint": policy.rules.fingerprint}
    assert dt.datetime.fromisoformat(record["ts"].replace("Z", "+00:00")).tzinfo is not None
    assert record["question"]["recipient"]["country"] == "CH"
    assert record["question"]["as_of"] == "2026-01-15"
    assert record["answer"]["allowed"] is decision.allowed is False
    assert record["answer"]["reasons"] == list(decision.reasons) == ["OUTSIDE_EU_EEA"]
    assert record["answer"]["rule_ids"] == list(decision.rule_ids)
    assert record["answer"]["clauses"] == list(decision.clauses)
    expected_ref = hmac.new(KEY, b"candidate-4711", hashlib.sha256).hexdigest()
    assert record["context"] == {"service": "ats", "subject_ref": f"hmac-sha256:{expected_ref}"}
    # the documented hash: SHA-256 over the previous hash (32 bytes), the SHA-256 of the body (the canonical
    # JSON of answer, family, policy and question), the SHA-256 of the context's canonical JSON, then
    # "seq\nts"; computed here from the docs, not with the library's helpers
    def canonical(value: object) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    body = canonical({k: record[k] for k in ("answer", "family", "policy", "question")})
    message = (bytes.fromhex(record["prev"]) + hashlib.sha256(body).digest()
               + hashlib.sha256(canonical(record["context"])).digest() + f"{record['seq']}\n{record['ts']}".encode())
    assert record["hash"] == hashlib.sha256(message).hexdigest()
    # the line begins with the chain fields, then the context and the body
    assert path.read_bytes().startswith(b'{"seq":1,"ts":"')
    assert "candidate-4711" not in path.read_text()


def test_answers_from_the_memo_and_every_family_are_logged_once(
    tmp_path: Path, bundled_policy: policykit.Policy
) -> None:
    path = tmp_path / "decisions.jsonl"
    typed = policykit.DisclosureRequest.parse(SWEDISH_SHOW)
    with policykit.load_policy(decision_log=str(path)) as policy:
        policy.decide(typed)
        policy.decide(typed)  # from the memo
        policy.decide(dict(SWEDISH_SHOW))
        policy.decide(dict(SWEDISH_SHOW))  # from the memo, as a mapping
        policy.decide_many([SWISS_SHOW, SWEDISH_SHOW])
        policy.retention(RETENTION)
        policy.handle_request(ERASURE)  # asks retention and disclosure questions of its own
        assert policy.memo_info()["hits"] >= 2
    records = lines(path)
    assert [r["family"] for r in records] == ["disclosure"] * 6 + ["retention", "request"]
    assert [r["seq"] for r in records] == list(range(1, 9))
    assert records[6]["answer"]["outcome"] == "evidence_window"
    assert records[6]["answer"]["anonymise_on"] == "2026-01-01"
    assert records[7]["answer"]["outcome"] == bundled_policy.handle_request(ERASURE).outcome
    assert verify(path).ok


def test_a_policy_without_a_log_runs_the_unchanged_methods() -> None:
    with policykit.load_policy() as policy:
        assert "decide" not in vars(policy) and policy.decision_log is None
        assert policy.decide(SWISS_SHOW, context={"service": "ats"}).allowed is False


def test_context_is_checked_and_nothing_else_is_stored(tmp_path: Path) -> None:
    with policykit.load_policy(decision_log=str(tmp_path / "d.jsonl")) as policy:
        with pytest.raises(RequestValidationError, match="context.note: unexpected field"):
            policy.decide(SWISS_SHOW, context={"note": "called about the job"})
        with pytest.raises(RequestValidationError, match="context.service"):
            policy.decide(SWISS_SHOW, context={"service": "the recruiting team's app"})
    assert (tmp_path / "d.jsonl").read_text() == ""


def test_free_text_in_a_question_is_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    question = {**SWEDISH_SHOW, "purpose": "lunch with Anna Svensson", "disclosed_context": ["met at Café Zinc"]}
    with policykit.load_policy(decision_log=str(path)) as policy:
        decision = policy.decide(question)
    text = path.read_text()
    assert "Anna" not in text and "Zinc" not in text
    (record,) = lines(path)
    assert record["question"]["purpose"] == "~text"
    assert verify(path).ok
    # the record still asks the same question: replayed, the answer is the same
    assert replay(path, [policykit.bundled_rules_dir()]).changed == 0
    assert record["answer"]["allowed"] is decision.allowed


# ------------------------------------------------------------------------------------------------
# verification: each kind of tampering


def test_an_intact_log_verifies(tmp_path: Path) -> None:
    report = verify(logged(tmp_path))
    assert report.ok and report.records == 6 and report.head[0] == 6


def test_an_edited_record_is_named(tmp_path: Path) -> None:
    path = logged(tmp_path)
    records = lines(path)
    records[3]["answer"]["allowed"] = not records[3]["answer"]["allowed"]
    write_lines(path, records)
    report = verify(path)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (4, "edited")
    assert report.records == 3


def test_an_edited_and_rehashed_record_is_named(tmp_path: Path) -> None:
    path = logged(tmp_path)
    records = lines(path)
    records[2]["answer"]["allowed"] = not records[2]["answer"]["allowed"]
    records[2]["hash"] = record_hash(records[2])
    write_lines(path, records)
    problem = verify(path).problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "edited")


def test_a_deleted_record_is_named(tmp_path: Path) -> None:
    path = logged(tmp_path)
    records = lines(path)
    del records[2]
    write_lines(path, records)
    problem = verify(path).problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "deleted")
    assert "seq 3" in problem.detail


def test_deleting_the_first_records_is_detected(tmp_path: Path) -> None:
    path = logged(tmp_path)
    write_lines(path, lines(path)[2:])
    problem = verify(path).problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "deleted")


def test_reordered_records_are_named(tmp_path: Path) -> None:
    path = logged(tmp_path)
    records = lines(path)
    records[2], records[3] = records[3], records[2]
    write_lines(path, records)
    problem = verify(path).problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "reordered")


def test_an_inserted_record_is_named(tmp_path: Path) -> None:
    path = logged(tmp_path)
    records = lines(path)
    forged = dict(records[1], seq=3, prev=records[1]["hash"])
    forged["hash"] = record_hash(forged)
    write_lines(path, [*records[:2], forged, *records[2:]])
    problem = verify(path).problem
    assert problem is not None and problem.kind == "inserted" and problem.seq == 3
    # a copy of an earlier record
    write_lines(path, [*records[:4], records[1], *records[4:]])
    problem = verify(path).problem
    assert problem is not None and (problem.seq, problem.kind) == (2, "inserted")


def test_a_line_that_is_not_a_record_is_an_edit(tmp_path: Path) -> None:
    path = logged(tmp_path)
    records: list[Any] = lines(path)
    records[1] = "not json"
    write_lines(path, records)
    problem = verify(path).problem
    assert problem is not None and problem.kind == "edited" and problem.where.endswith(":2")


def test_verify_command_exit_status_names_the_record(tmp_path: Path) -> None:
    path = logged(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(main, ["log", "verify", str(path)])
    assert ok.exit_code == 0 and "intact: 6 records" in ok.output
    records = lines(path)
    records[4]["question"]["recipient"]["country"] = "NO"
    write_lines(path, records)
    bad = runner.invoke(main, ["log", "verify", str(path)])
    assert bad.exit_code == 1
    assert "decisions.jsonl:5 (seq 5): edited" in bad.output
    as_json = runner.invoke(main, ["log", "verify", str(path), "--json"])
    assert json.loads(as_json.output)["first_bad"]["seq"] == 5


# ------------------------------------------------------------------------------------------------
# durability, failures, reopening, rotation, threads


@pytest.mark.parametrize("writer", ["inline", "process"])
def test_batch_mode_writes_when_the_batch_is_full_and_record_mode_at_once(tmp_path: Path, writer: Any) -> None:
    batch = DecisionLog(tmp_path / "b.jsonl", batch_size=5, flush_seconds=3600, writer=writer)
    each = DecisionLog(tmp_path / "r.jsonl", durability="record")
    with policykit.load_policy(decision_log=batch) as p1, policykit.load_policy(decision_log=each) as p2:
        for _ in range(4):
            p1.decide(SWISS_SHOW)
            p2.decide(SWISS_SHOW)
        assert (tmp_path / "b.jsonl").read_text() == ""
        assert len(lines(tmp_path / "r.jsonl")) == 4
        p1.decide(SWISS_SHOW)
        # inline: written before the answer returns; a writer process writes the shipped batch at once
        # too, but on its own time
        deadline = time.monotonic() + (10 if writer == "process" else 0)
        while len(lines(tmp_path / "b.jsonl")) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(lines(tmp_path / "b.jsonl")) == 5
        p1.decide(SWISS_SHOW)
    assert len(lines(tmp_path / "b.jsonl")) == 6  # close() flushed
    batch.close()
    each.close()


def test_batch_mode_writes_after_flush_seconds(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "t.jsonl", batch_size=1000, flush_seconds=0.05)
    with policykit.load_policy(decision_log=log) as policy:
        policy.decide(SWISS_SHOW)
        for _ in range(100):
            if (tmp_path / "t.jsonl").read_text():
                break
            threading.Event().wait(0.02)
        assert len(lines(tmp_path / "t.jsonl")) == 1
    log.close()


class BrokenSink(Sink):
    name = "broken"

    def tail(self) -> None:
        return None

    def write(self, records: Any) -> None:
        raise OSError("disk full")


def test_a_failing_sink_raises_and_refuses_later_answers() -> None:
    log = DecisionLog(BrokenSink(), batch_size=2)
    policy = policykit.load_policy(decision_log=log)
    policy.decide(SWISS_SHOW)
    with pytest.raises(DecisionLogError, match="disk full"):
        policy.decide(SWISS_SHOW)
    with pytest.raises(DecisionLogError, match="failed earlier"):
        policy.decide(SWISS_SHOW)
    with pytest.raises(DecisionLogError):
        policy.close()


def test_a_reopened_log_continues_the_chain_and_drops_a_cut_short_line(tmp_path: Path) -> None:
    path = logged(tmp_path, 3)
    with path.open("ab") as f:
        f.write(b'{"answer":{"allowed":tr')  # a crash in the middle of a write
    report = verify(path)
    assert report.ok and report.records == 3 and report.truncated is not None
    with policykit.load_policy(decision_log=str(path)) as policy:
        policy.decide(SWISS_SHOW)
    assert [r["seq"] for r in lines(path)] == [1, 2, 3, 4]
    assert verify(path).ok


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    with DecisionLog(path), pytest.raises(DecisionLogError, match="another process"):
        DecisionLog(path)


def test_rotation_by_size_keeps_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(JsonLinesSink(path, max_bytes=4096), batch_size=3)
    with policykit.load_policy(decision_log=log) as policy:
        for i in range(40):
            policy.decide(SWISS_SHOW if i % 3 else SWEDISH_SHOW)
    log.close()
    segments = sorted(tmp_path.glob("decisions.*.jsonl"))
    assert len(segments) >= 3
    assert all(p.stat().st_size <= 4096 for p in segments)
    report = verify(path)
    assert report.ok and report.records == 40
    segments[0].unlink()
    problem = verify(path).problem
    assert problem is not None and problem.kind == "deleted"


def test_threads_writing_one_log_keep_it_consistent(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog(path, batch_size=64)
    policy = policykit.load_policy(decision_log=log)
    requests = [SWISS_SHOW, SWEDISH_SHOW, policykit.DisclosureRequest.parse(SWEDISH_SHOW)]

    def work(n: int) -> None:
        for i in range(300):
            policy.decide(requests[(i + n) % 3], context={"service": f"svc-{n}"})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    policy.close()
    log.close()
    report = verify(path)
    assert report.ok and report.records == 2400
    per_service = stats(path)
    assert per_service["records"] == 2400
    services = [r["context"]["service"] for r in lines(path)]
    assert all(services.count(f"svc-{n}") == 300 for n in range(8))


def test_the_logging_adapter_writes_verifiable_lines(tmp_path: Path) -> None:
    out = tmp_path / "via-logging.jsonl"
    logger = logging.getLogger("policykit.decisions.test")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    seen: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = seen.append  # type: ignore[method-assign]
    logger.addHandler(collector)
    try:
        with policykit.load_policy(decision_log=DecisionLog(LoggingSink(logger))) as policy:
            policy.decide(SWISS_SHOW)
            policy.decide(SWEDISH_SHOW)
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(collector)
        handler.close()
    assert verify(out).ok and verify(out).records == 2
    assert seen[0].decision["answer"]["reasons"] == ["OUTSIDE_EU_EEA"]  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------
# SQL (SQLite and PostgreSQL)


def test_sql_sink_is_append_only_and_verifies(new_database: Any) -> None:
    url = new_database()
    log = DecisionLog(url, batch_size=4)
    with policykit.load_policy(decision_log=log) as policy:
        for i in range(10):
            policy.decide(SWISS_SHOW if i % 2 else SWEDISH_SHOW, context={"service": "ats"})
        policy.retention(RETENTION)
    log.close()
    report = verify(url)
    assert report.ok and report.records == 11
    assert stats(url)["family"] == {"disclosure": 10, "retention": 1}
    engine = sa.create_engine(url)
    for statement in ("UPDATE policykit_decision_log SET family = 'x'", "DELETE FROM policykit_decision_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    # a new process continues the chain
    with policykit.load_policy(decision_log=url) as policy:
        policy.decide(SWISS_SHOW)
    assert verify(url).records == 12
    engine.dispose()


# ------------------------------------------------------------------------------------------------
# replay and stats


def test_replay_against_the_same_policy_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    with policykit.load_policy(decision_log=str(path)) as policy:
        for country in ("SE", "CH", "US", "NO"):
            for kind in ("recruitment_client", "background_check_provider", "authority"):
                policy.decide({**SWISS_SHOW, "recipient": {"kind": kind, "country": country}})
        policy.retention(RETENTION)
        policy.retention({"applications": ["2025-06-01"]})  # judged on today's date
        policy.handle_request(ERASURE)
        policy.handle_request({"request": "access", "channel": "email", "received_on": "2025-02-03"})
    report = replay(path, [policykit.bundled_rules_dir()])
    assert report.records == 16
    assert (report.changed, report.explanation_only, report.unanswerable) == (0, 0, 0)


def test_replay_command_and_stats_command(tmp_path: Path) -> None:
    path = logged(tmp_path)
    runner = CliRunner()
    text = runner.invoke(main, ["log", "replay", str(path), "--rules", str(SWISS)])
    assert text.exit_code == 0, text.output
    assert "Changed: 3" in text.output and "D3-OUTSIDE-EEA: 3" in text.output
    data = json.loads(runner.invoke(main, ["log", "replay", str(path), "--rules", str(SWISS), "--json"]).output)
    assert data["changed"] == 3 and data["transitions"] == {"denied OUTSIDE_EU_EEA -> allowed": 3}
    counts = json.loads(runner.invoke(main, ["log", "stats", str(path), "--json"]).output)
    assert counts["family"] == {"disclosure": 6}
    assert counts["outcome"] == {"disclosure: allowed": 3, "disclosure: denied": 3}
    assert counts["recipient_kind"] == {"recruitment_client": 6}


def test_answering_commands_take_log(tmp_path: Path) -> None:
    path = tmp_path / "cli.jsonl"
    question = tmp_path / "q.json"
    question.write_text(json.dumps(SWISS_SHOW))
    facts = tmp_path / "f.json"
    facts.write_text(json.dumps(RETENTION))
    dsr = tmp_path / "r.json"
    dsr.write_text(json.dumps(ERASURE))
    runner = CliRunner()
    for args in (["decide", str(question)], ["retention", str(facts)], ["request", str(dsr)]):
        result = runner.invoke(main, [*args, "--log", str(path)])
        assert result.exit_code == 0, result.output
    assert [r["family"] for r in lines(path)] == ["disclosure", "retention", "request"]
    assert verify(path).ok
