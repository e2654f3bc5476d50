"""A process killed outright (SIGKILL) while logging loses at most what its durability setting
allows, and what it wrote verifies up to the last complete record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policykit.log import verify

pytestmark = pytest.mark.slow

# the child answers questions as fast as it can and prints how many answers it has returned
CHILD = """
import sys, policykit
path, durability, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
sink = f"sqlite:///{path}" if path.endswith(".db") else path  # SQLite: WAL, synchronous=NORMAL
log = policykit.DecisionLog(sink, durability=durability, batch_size=batch, flush_seconds=3600)
policy = policykit.load_policy(decision_log=log)
print(f"writer {log.writer_pid or 0}", flush=True)
questions = [
    {"operation": "show", "data_categories": ["name"], "purpose": "sell_recruitment_services",
     "recipient": {"kind": "recruitment_client", "country": country, "relevant_to_candidate_competence": True}}
    for country in ("SE", "CH", "NO", "US")
]
n = 0
while True:
    policy.decide(questions[n % 4], context={"service": "crash-test"})
    n += 1
    sys.stdout.write(f"{n}\\n")
    sys.stdout.flush()
"""


def run_and_kill(path: Path, durability: str, batch: int, answers: int) -> int:
    """Start the child, kill it once it has returned at least ``answers`` answers; return the last
    count it reported (every answer it returned before the kill is at least that)."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), durability, str(batch)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    writer = int(child.stdout.readline().split()[1])  # the writer process (0: the child writes the log)
    seen = 0
    deadline = time.monotonic() + 120
    while seen < answers and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        seen = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    # a writer process writes what it received, then ends (within 3 s): what the log holds is read after
    ends = time.monotonic() + 10
    while writer and _running(writer) and time.monotonic() < ends:
        time.sleep(0.01)
    assert not writer or not _running(writer), "the writer process outlived its owner by 10 s"
    return seen


def _running(pid: int) -> bool:
    """Whether a process runs (a zombie, ended but not yet reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize(("durability", "batch", "name"), [
    ("record", 1, "decisions.jsonl"), ("batch", 100, "decisions.jsonl"),
    ("record", 1, "decisions.db"), ("batch", 100, "decisions.db"),
])
def test_sigkill_loses_at_most_what_the_durability_setting_allows(
    tmp_path: Path, durability: str, batch: int, name: str
) -> None:
    path = tmp_path / name
    log = f"sqlite:///{path}" if name.endswith(".db") else path
    seen = run_and_kill(path, durability, batch, 1500)
    assert seen >= 1500
    report = verify(log)
    assert report.ok, report.render()
    written = report.records
    # every answer returned before the count was printed was queued; at most one batch waits unwritten
    lost = seen - written
    if durability == "record":
        assert lost <= 0
    else:
        assert lost < batch
    if name.endswith(".jsonl"):
        assert [json.loads(x)["seq"] for x in path.read_text().splitlines()[-3:]] == [written - 2, written - 1, written]
    # the log continues after the crash: a new writer resumes the chain
    seen_again = run_and_kill(path, durability, batch, 300)
    assert seen_again >= 300
    assert verify(log).ok and verify(log).records > written
