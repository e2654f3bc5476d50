"""The decision log's writer process: the same bytes as the inline writer, flush, failures, death, a
killed parent, and a chain that continues across writers."""

from __future__ import annotations

import gc
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import policykit
from policykit import DisclosureRequest
from policykit.errors import DecisionLogError
from policykit.log import DecisionLog, JsonLinesSink, verify

KEY = b"w" * 32
SHOW = {
    "operation": "show", "data_categories": ["name"], "purpose": "sell_recruitment_services",
    "recipient": {"kind": "recruitment_client", "country": "CH", "relevant_to_candidate_competence": True},
    "as_of": "2026-01-15",
}
SWEDISH = {**SHOW, "recipient": {**SHOW["recipient"], "country": "SE"}}
RETENTION = {"applications": ["2023-12-31"], "consent_withdrawn_on": "2024-04-02", "as_of": "2026-01-15"}
ERASURE = {"request": "erasure", "channel": "email", "received_on": "2025-03-01", "applications": ["2024-11-02"]}


def fixed_clock() -> Callable[[], float]:
    """A clock that gives 2026-01-15T08:59:59.25Z, then 0.3 s later each call (seconds and
    microseconds both change, and the batch crosses whole seconds)."""
    ticks = itertools.count()
    return lambda: 1768467599.25 + 0.3 * next(ticks)


def answer_some(log: DecisionLog) -> None:
    """The same answers, in the same order, of every family, with and without a context; a typed
    request asked again (its body is sent to a writer process once, then by number)."""
    log._clock = fixed_clock()
    typed = policykit.DisclosureRequest.parse(SWEDISH)
    with policykit.load_policy(decision_log=log) as policy:
        for i in range(25):
            policy.decide(SHOW if i % 3 else typed, context={"service": "ats", "subject_ref": f"cand-{i % 4}"})
            policy.decide(typed)
        policy.retention(RETENTION, context={"service": "hr"})
        policy.handle_request(ERASURE)
        policy.decide_many([SHOW, SWEDISH, typed])


def test_the_writer_process_writes_the_bytes_the_inline_writer_writes(tmp_path: Path) -> None:
    inline = DecisionLog(tmp_path / "inline.jsonl", writer="inline", batch_size=7, subject_key=KEY)
    process = DecisionLog(tmp_path / "process.jsonl", writer="process", batch_size=7, subject_key=KEY)
    assert inline.writer_pid is None and process.writer_pid is not None
    for log in (inline, process):
        answer_some(log)
        log.close()
    written = (tmp_path / "process.jsonl").read_bytes()
    assert written == (tmp_path / "inline.jsonl").read_bytes()
    assert len(written.splitlines()) == 55
    report = verify(tmp_path / "process.jsonl")
    assert report.ok and report.records == 55
    first = json.loads(written.splitlines()[0])
    assert first["ts"] == "2026-01-15T08:59:59.250000Z" and first["prev"] == "0" * 64


def test_flush_waits_for_the_writer_and_head_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog(path, batch_size=1000, flush_seconds=3600)
    assert log.writer == "process"  # the default for a JSON lines path in batch mode
    policy = policykit.load_policy(decision_log=log)
    for _ in range(10):
        policy.decide(SHOW)
    assert not path.read_bytes()  # queued, not yet written: the batch is not full
    log.flush()
    assert len(path.read_bytes().splitlines()) == 10
    assert log.records_written == 10
    assert log.head == verify(path).head and log.head[0] == 10
    for _ in range(5):
        policy.decide(SHOW)
    assert log.head == verify(path).head and log.head[0] == 15  # head flushes first
    policy.close()
    log.close()
    log.close()  # twice is safe
    with pytest.raises(DecisionLogError, match="closed"):
        log.add(*[b""] * 2)  # type: ignore[arg-type]


def test_a_sink_failing_in_the_writer_raises_and_refuses_later_answers(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    path = tmp_path / "full.jsonl"
    path.symlink_to("/dev/full")  # every write fails: no space left on the device
    log = DecisionLog(path, batch_size=3, flush_seconds=3600)
    policy = policykit.load_policy(decision_log=log)
    for _ in range(3):
        policy.decide(SHOW)  # the third ships the batch; the writer fails on it
    with pytest.raises(DecisionLogError, match="cannot write to the decision log"):
        log.flush()
    with pytest.raises(DecisionLogError, match="failed earlier"):
        policy.decide(SHOW)
    with pytest.raises(DecisionLogError):
        policy.close()
    with pytest.raises(DecisionLogError, match="cannot write"):
        log.close()  # ends the writer process, and says again why the log failed
    assert log.writer_pid is not None and _gone(log.writer_pid, 5)


def test_a_sink_failure_reported_in_the_background_stops_the_next_answer(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    path = tmp_path / "full.jsonl"
    path.symlink_to("/dev/full")
    log = DecisionLog(path, batch_size=2, flush_seconds=0.02)
    policy = policykit.load_policy(decision_log=log)
    policy.decide(SHOW)
    policy.decide(SHOW)  # ships the batch; the writer fails on it and says so
    deadline = time.monotonic() + 10
    while log._error is None and time.monotonic() < deadline:  # the background thread collects the report
        time.sleep(0.01)
    with pytest.raises(DecisionLogError, match="cannot write to the decision log"):
        policy.decide(SHOW)  # no flush: the answer itself is refused
    with pytest.raises(DecisionLogError):
        log.close()


def test_a_writer_that_dies_is_named_and_the_log_refuses_later_answers(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog(path, batch_size=1000, flush_seconds=3600)
    policy = policykit.load_policy(decision_log=log)
    policy.decide(SHOW)
    log.flush()
    pid = log.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    policy.decide(SHOW)
    with pytest.raises(DecisionLogError, match=rf"writer process \(pid {pid}\) ended"):
        log.flush()
    with pytest.raises(DecisionLogError, match="failed earlier"):
        policy.decide(SHOW)
    with pytest.raises(DecisionLogError):
        policy.close()
    assert verify(path).ok and verify(path).records == 1


def test_a_log_continues_its_chain_across_writers(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    for writer in ("process", "inline", "process"):
        with DecisionLog(path, writer=writer) as log, policykit.load_policy(decision_log=log) as policy:  # type: ignore[arg-type]
            for _ in range(4):
                policy.decide(SHOW)
    report = verify(path)
    assert report.ok and report.records == 12
    assert [json.loads(x)["seq"] for x in path.read_text().splitlines()] == list(range(1, 13))


def test_sql_logs_through_the_writer_process(new_database: Callable[[], str]) -> None:
    url = new_database()
    log = DecisionLog(url, batch_size=4, subject_key=KEY)
    assert log.writer == "process"
    answer_some(log)
    log.close()
    report = verify(url)
    assert report.ok and report.records == 55
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        seqs = [row[0] for row in conn.execute(sa.text("SELECT seq FROM policykit_decision_log ORDER BY seq"))]
        with pytest.raises(sa.exc.DBAPIError):
            conn.execute(sa.text("DELETE FROM policykit_decision_log WHERE seq = 1"))
    engine.dispose()
    assert seqs == list(range(1, 56))
    assert log.head == report.head and log.records_written == 55


def test_the_writer_option_is_checked() -> None:
    with pytest.raises(DecisionLogError, match="expected 'process' or 'inline'"):
        DecisionLog("d.jsonl", writer="thread")  # type: ignore[arg-type]
    with pytest.raises(DecisionLogError, match="durability='record'"):
        DecisionLog("d.jsonl", durability="record", writer="process")
    with pytest.raises(DecisionLogError, match="sink object"):
        DecisionLog("logging:x", writer="process")


def test_record_durability_and_sink_objects_write_on_the_answering_side(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "r.jsonl", durability="record") as log:
        assert log.writer == "inline" and log.writer_pid is None
    with DecisionLog(JsonLinesSink(tmp_path / "s.jsonl")) as log:
        assert log.writer == "inline"


def test_the_environment_sets_the_default_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYKIT_LOG_WRITER", "inline")
    with DecisionLog(tmp_path / "a.jsonl") as log:
        assert log.writer == "inline"
    monkeypatch.setenv("POLICYKIT_LOG_WRITER", "sideways")
    with pytest.raises(DecisionLogError, match="POLICYKIT_LOG_WRITER"):
        DecisionLog(tmp_path / "b.jsonl")


# ------------------------------------------------------------------------------------------------
# a killed answering process

PARENT = """
import sys, time, policykit
log = policykit.DecisionLog(sys.argv[1], batch_size=10, flush_seconds=3600)
policy = policykit.load_policy(decision_log=log)
for _ in range(25):
    policy.decide({"operation": "show", "data_categories": ["name"], "purpose": "sell_recruitment_services",
                   "recipient": {"kind": "recruitment_client", "country": "SE",
                                 "relevant_to_candidate_competence": True}})
print(log.writer_pid, flush=True)
time.sleep(600)
"""


def _state(pid: int) -> str | None:
    """A process's state letter (``Z``: ended, not yet reaped), or ``None`` if there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[0]


def _gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _state(pid) in (None, "Z", "X"):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def parent(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    path = tmp_path / "d.jsonl"
    child = subprocess.Popen([sys.executable, "-c", PARENT, str(path)], stdout=subprocess.PIPE, text=True)
    yield child, path
    if child.poll() is None:
        child.kill()
    child.wait()
    assert child.stdout is not None
    child.stdout.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_the_writer_does_not_outlive_a_killed_parent(parent: tuple[subprocess.Popen[str], Path]) -> None:
    child, path = parent
    assert child.stdout is not None
    pid = int(child.stdout.readline())
    assert _state(pid) not in (None, "Z", "X")  # the writer runs while its parent does
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert _gone(pid, 3.0), "the writer process outlived its killed parent"
    # the two full batches it was sent are written; the five queued answers are lost
    report = verify(path)
    assert report.ok and report.records == 20


def test_interpreter_exit_flushes_through_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    script = PARENT.replace("time.sleep(600)", "").replace("print(log.writer_pid, flush=True)", "")
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=120)
    report = verify(path)
    assert report.ok and report.records == 25


FORK = """
import os, sys, policykit
from policykit import DisclosureRequest
from policykit.errors import DecisionLogError
log = policykit.DecisionLog(sys.argv[1])
pid = os.fork()  # before any answer: no other thread runs yet
if pid == 0:
    try:
        log.flush()
    except DecisionLogError as exc:
        os.write(1, (str(exc) + "\\n").encode())
        os._exit(3)
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 3
with policykit.load_policy(decision_log=log) as policy:
    policy.decide({"operation": "show", "data_categories": ["name"], "purpose": "sell_recruitment_services",
                   "recipient": {"kind": "recruitment_client", "country": "SE",
                                 "relevant_to_candidate_competence": True}})
log.close()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_is_refused_the_log_and_leaves_the_writer_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    done = subprocess.run([sys.executable, "-c", FORK, str(path)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "a process forked from it must open its own log" in done.stdout
    report = verify(path)
    assert report.ok and report.records == 1


def test_bodies_sent_by_number_decode_to_the_batch_across_a_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body goes to the writer once, then as its number; after the bound both sides start again. What
    the writer decodes is the batch as queued, whatever was sent before."""
    from policykit.log import _writer  # noqa: PLC0415 - the module's bound is patched for this test

    monkeypatch.setattr(_writer, "_BODIES", 3)
    bodies = [(b'"n":%d' % i, bytes([i]) * 32, "disclosure", "2022-06-22") for i in range(7)]
    context = (b"null", b"\0" * 32)
    encoder, decoder = _writer.Encoder(), _writer.Decoder()
    sizes = []
    for round_ in range(6):
        batch = [(1768467600.0 + i, bodies[(i * (round_ + 1)) % 7], context) for i in range(9)]
        data = encoder.encode(batch)
        sizes.append(len(data))
        assert list(decoder.decode(data)) == batch
    big = (b'"n":"' + b"x" * 4000 + b'"', b"\1" * 32, "disclosure", "2022-06-22")
    again = [(1.0, big, context)] * 50
    first, second = encoder.encode(again), encoder.encode(again)
    assert len(first) - len(second) > 4000  # once known, the body is sent as a number, not as its bytes
    assert list(decoder.decode(first)) == again and list(decoder.decode(second)) == again
    assert len(encoder._kept) <= 3 + 9  # bounded: reset once past the bound (plus one batch's new bodies)


def test_the_writer_process_loads_the_writing_code_only(tmp_path: Path) -> None:
    """The writer process runs the log's writing code, not the policy (it starts fast and small): also
    once it has decoded a batch that describes disclosure records (their values, and the policy's
    question spec) and written their bodies."""
    from policykit.log import _writer  # noqa: PLC0415

    log = DecisionLog(tmp_path / "d.jsonl", batch_size=1_000, flush_seconds=3600)
    with policykit.load_policy(decision_log=log) as policy:
        policy.decide(DisclosureRequest.parse(SHOW))
        policy.decide(SWEDISH)
        batch = list(log._pending)
        assert [body[0] for _t, body, _c in batch] == [None, None]  # both queued described
        data = _writer.Encoder()
        data.add_spec(policy.decision_log._process._encoder._specs[0])  # type: ignore[union-attr]
        (tmp_path / "batch").write_bytes(data.encode(batch))
    probe = _writer._BOOT.replace(
        "serve(int(sys.argv[2]))",
        "from policykit.log._writer import Decoder\n"
        "bodies = [body for _t, body, _c in Decoder().decode(open(sys.argv[3], 'rb').read())]\n"
        "import json; print(json.dumps([sorted(m for m in sys.modules if m.startswith(('policykit', 'pydantic'))),"
        " [body[0].decode() for body in bodies]]))",
    )
    done = subprocess.run([sys.executable, "-P", "-c", probe, _writer._ROOT, "-1", str(tmp_path / "batch")],
                          capture_output=True, text=True, timeout=60, check=True)
    loaded, texts = json.loads(done.stdout)
    assert set(loaded) == {"policykit", "policykit.log", "policykit.log._writer", "policykit.log._sinks",
                           "policykit.log._question", "policykit._append_only", "policykit.errors"}
    # the bodies it wrote are the ones the log holds
    assert [json.loads("{" + t + "}") for t in texts] == [
        {k: v for k, v in json.loads(line).items() if k in ("answer", "family", "policy", "question")}
        for line in (tmp_path / "d.jsonl").read_text().splitlines()
    ]


def test_a_log_dropped_without_close_ends_its_writer(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "d.jsonl")
    pid = log.writer_pid
    assert pid is not None
    del log
    gc.collect()
    assert _gone(pid, 5), "the writer process of a dropped log kept running"
