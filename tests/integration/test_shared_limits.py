"""Limits that hold across replicas and restarts: failed sign-ins and answers a minute are counted in the session
database, and a client's address is read from X-Forwarded-For only when the connection comes from a trusted proxy.

Two real replicas (`python app.py`, each its own process and data folder) share one PostgreSQL database, behind a
real HAProxy (`option forwardfor`, as `make cluster` configures it). Different people are different loopback
addresses (127.0.0.2, 127.0.0.3...): Linux routes all of 127/8 to this machine, so a client can connect from any.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.errors import LimitReached
from interviewer.interview.access import Caller
from interviewer.team.parts import haproxy, haproxy_config, http_ok, running, spawn, wait_until
from tests.helpers import ROOT, free_port
from tests.postgres_server import PostgresServer

ALICE, BOB = ("alice", "alice-password-1"), ("bob", "bob-password-22")
PROXY = "127.0.0.1"  # HAProxy connects to the replicas from here


@dataclass
class Replica:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = spawn(command, self.log, self.env, cwd=ROOT)
        wait_until(lambda: http_ok(self.url + "/"), self.name, self.log, 120, running(self.process))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@dataclass
class Deployment:
    replicas: list[Replica]
    front: str


def _replica_env(data: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERVIEWER_", "OPENAI_"))}
    return {
        **env,
        "INTERVIEWER_DATA_DIR": str(data),
        "INTERVIEWER_DATABASE_URL": database_url,
        "INTERVIEWER_AUTH": f"{ALICE[0]}:{ALICE[1]},{BOB[0]}:{BOB[1]}",
        "INTERVIEWER_TRUSTED_PROXIES": PROXY,
        "INTERVIEWER_BRAIN": "rubric",
        "GRADIO_TEMP_DIR": str(data / "downloads"),
    }


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, built_index: Path, postgres: PostgresServer
) -> Iterator[Deployment]:
    """Two replicas on one PostgreSQL database, and HAProxy in front of them."""
    folder = tmp_path_factory.mktemp("replicas")
    url = postgres.new_database()
    replicas = []
    for name in ("replica-1", "replica-2"):
        shutil.copytree(built_index, folder / name / "index")
        env = _replica_env(folder / name, url)
        replicas.append(Replica(name, free_port(), env, folder / f"{name}.log"))
    balancer: subprocess.Popen[bytes] | None = None
    try:
        for replica in replicas:
            replica.start()
        port = free_port()
        config = folder / "haproxy.cfg"
        config.write_text(haproxy_config(port, {r.name: r.port for r in replicas}), encoding="utf-8")
        balancer = spawn([str(haproxy()), "-f", str(config), "-db"], folder / "haproxy.log", dict(os.environ))
        front = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(front + "/"), "haproxy", folder / "haproxy.log", 30, running(balancer))
        yield Deployment(replicas, front)
    finally:
        for replica in replicas:
            replica.kill()
        if balancer is not None:
            balancer.kill()
            balancer.wait(timeout=30)


def sign_in(url: str, user: str, password: str, source: str = "127.0.0.1", **headers: str) -> httpx.Response:
    """POST the sign-in form to `url` from the loopback address `source` (one person's machine)."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as client:
        return client.post(f"{url}/login", data={"username": user, "password": password}, headers=headers)


def test_five_failed_sign_ins_across_two_replicas_lock_the_name_on_both_and_a_restart_keeps_the_lock(
    deployment: Deployment,
) -> None:
    one, two = deployment.replicas
    for replica in (one, two, one, two, one):  # 3 + 2: neither replica alone saw 5
        assert sign_in(replica.url, ALICE[0], "not her password").status_code == 400
    for replica in (one, two):
        locked = sign_in(replica.url, *ALICE)
        assert locked.status_code == 429, replica.name
        assert "Too many failed sign-ins" in locked.json()["detail"]

    one.kill()
    one.start()
    assert sign_in(one.url, *ALICE).status_code == 429  # the lock is in the database, not the process
    assert sign_in(one.url, *BOB).status_code == 200  # another name signs in on the restarted replica


def test_behind_the_proxy_one_persons_failures_lock_their_address_and_not_anothers(deployment: Deployment) -> None:
    front = deployment.front
    for n in range(20):  # 20 names from one address: the address is locked
        assert sign_in(front, f"guess{n}", "some password", source="127.0.0.2").status_code == 400
    assert sign_in(front, *BOB, source="127.0.0.2").status_code == 429
    # Naming another address in X-Forwarded-For does not help: HAProxy adds the real one after it.
    assert sign_in(front, *BOB, source="127.0.0.2", **{"X-Forwarded-For": "10.1.2.3"}).status_code == 429
    # Another person behind the same proxy signs in.
    assert sign_in(front, *BOB, source="127.0.0.3").status_code == 200


def test_x_forwarded_for_from_anyone_but_the_trusted_proxy_is_ignored(deployment: Deployment) -> None:
    replica = deployment.replicas[1]
    for n in range(20):  # straight to a replica from 127.0.0.4, each naming a different address
        spoofed = {"X-Forwarded-For": f"10.9.0.{n}"}
        assert sign_in(replica.url, f"probe{n}", "some password", source="127.0.0.4", **spoofed).status_code == 400
    assert sign_in(replica.url, *BOB, source="127.0.0.4").status_code == 429  # counted under 127.0.0.4 itself


def test_answers_a_minute_are_counted_across_replicas(
    settings: Settings, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.new_database()
    monkeypatch.setenv("INTERVIEWER_DATABASE_URL", url)
    shared = replace(settings, database_url=url, answers_per_minute=2)
    one, two = build_engine(shared, progress=False), build_engine(shared, progress=False)
    try:
        carol = Caller.web("carol")
        session, _ = one.start(carol, "topic", "fs-why")
        one.submit(carol, session, "A feature store keeps features consistent between training and serving.")
        two.submit(carol, session, "It also serves them online at low latency.")
        for engine in (one, two):
            with pytest.raises(LimitReached, match="2 answers in a minute"):
                engine.submit(carol, session, "A third answer within the minute.")
        other = Caller.web("dave")
        started, _ = two.start(other, "topic", "fs-why")
        assert two.submit(other, started, "Someone else still answers.").grade is not None
    finally:
        one.storage.close()
        two.storage.close()
