"""Turn repair across machines: a turn in flight holds a lease in the database, renewed while it runs, and another
replica repairs it only once the lease has lapsed. No process id is read, so it holds when the replicas' processes
live in different process namespaces (here: `unshare --pid`, where the turn's process is pid 1-ish and means
nothing to this one), as on different hosts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.errors import SessionBusy
from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine, repair_marked
from tests.helpers import ROOT
from tests.postgres_server import PostgresServer

ME = Caller.terminal()
LEASE_S = 1.0
# Replica A: opens a session on the shared database, then answers with a grader that hangs (a replica stuck in a
# turn, or one that is about to die in it). It says so once the turn's lease is taken.
REPLICA_A = """
import sys, time
from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.grading.rubric import RubricBrain
from interviewer.interview.access import Caller

engine = build_engine(Settings(), progress=False)
session, _ = engine.start(Caller.terminal(), "topic", "fs-why")
print(session, flush=True)
RubricBrain.grade = lambda *args, **kwargs: time.sleep(3600)
engine.submit(Caller.terminal(), session, "An answer whose grading hangs.")
"""


@pytest.fixture
def shared(settings: Settings, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """One PostgreSQL database for two replicas, each holding a turn's lease for LEASE_S seconds."""
    url = postgres.new_database()
    monkeypatch.setenv("INTERVIEWER_DATABASE_URL", url)
    monkeypatch.setenv("INTERVIEWER_TURN_LEASE_S", str(LEASE_S))
    return replace(settings, database_url=url, turn_lease_s=LEASE_S)


@pytest.fixture
def replica_b(shared: Settings) -> Iterator[Engine]:
    engine = build_engine(shared, progress=False)
    yield engine
    engine.storage.close()


def _marks(url: str, session: str) -> tuple[int, float]:
    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute("SELECT syncing, lease_until FROM sessions WHERE id = %s", (session,)).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def _start_replica_a(shared: Settings) -> tuple[subprocess.Popen[str], str]:
    """Replica A in a process namespace of its own, stuck inside a turn of a new session; its session id."""
    command = ["unshare", "--pid", "--fork", "--kill-child", sys.executable, "-c", REPLICA_A]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ))
    assert proc.stdout is not None
    session = proc.stdout.readline().strip()
    assert len(session) == 12, f"replica A did not start a session (exit {proc.poll()})"
    deadline = time.monotonic() + 60
    while _marks(shared.database_url, session)[0] == 0:  # until its answer's turn holds the lease
        assert time.monotonic() < deadline, "replica A never began its turn"
        time.sleep(0.05)
    return proc, session


def test_a_live_turn_is_never_repaired_by_another_replica_and_a_dead_one_is_once_its_lease_lapses(
    shared: Settings, replica_b: Engine
) -> None:
    proc, session = _start_replica_a(shared)
    try:
        mark, _ = _marks(shared.database_url, session)
        renewed = []
        for _ in range(4):  # four leases long: A renews its lease, so B never takes the turn for dead
            time.sleep(LEASE_S)
            assert repair_marked(replica_b) == 0
            with pytest.raises(SessionBusy, match="still being graded elsewhere"):
                replica_b.submit(ME, session, "An answer sent to the other replica meanwhile.")
            now_mark, lease_until = _marks(shared.database_url, session)
            assert now_mark == mark
            renewed.append(lease_until)
        assert renewed == sorted(renewed) and renewed[-1] > renewed[0] and renewed[-1] > time.time()
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # unshare's --kill-child takes replica A with it
        proc.wait(timeout=30)

    assert repair_marked(replica_b) == 0  # just killed: its lease still runs
    time.sleep(LEASE_S + 0.2)
    assert repair_marked(replica_b) == 1
    assert _marks(shared.database_url, session)[0] == 0
    # The hung answer never reached the checkpoint: its question waits, and the session goes on on replica B.
    question = replica_b.views.current(ME, session)
    assert question is not None and question.prompt_id == "fsw-p1"
    outcome = replica_b.submit(ME, session, replica_b.corpus.prompt("fsw-p1").prompt.reference_answer)
    assert outcome.grade is not None and outcome.grade.score >= 3
    assert [t.answer is not None for t in replica_b.views.snapshot(ME, session).turns] == [True]
