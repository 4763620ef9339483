"""Faults on the real team deployment: PostgreSQL, a Chroma server, two replicas and HAProxy, all on 127.0.0.1.

The cluster is started once for the module by `interviewer.team.cluster.throwaway` in a private temporary folder
(mode 0700, as `mktemp -d` makes one, or a checkout under /root), on free ports, with a login (so the replicas'
shared web secret is exercised). Each test drives the app through HAProxy with gradio_client, which keeps HAProxy's
SERVERID cookie as a browser does. The tests run in this order, each on a session of its own: where PostgreSQL keeps
its data, PostgreSQL restarted, a replica killed with -9, the Chroma server killed, the whole cluster stopped and
started again, and last the throwaway cluster removed.
"""

from __future__ import annotations

import os
import pwd
import signal
import stat
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from interviewer.team.cluster import Cluster, throwaway
from interviewer.team.parts import missing_binaries, port_open
from tests.helpers import run_cli
from tests.integration.test_web_api import CHAT, GRADE, NOTICE, PROGRESS, SESSION, text

USER, PASSWORD = "alice", "cluster-test-password"
AS_ROOT = os.geteuid() == 0


def postgres_home() -> Path:
    """The `postgres` user's home (Debian's postgresql-15 makes that user), where PostgreSQL's folder is as root."""
    return Path(pwd.getpwnam("postgres").pw_dir)


def modes(*folders: Path) -> dict[Path, int]:
    return {folder: folder.stat().st_mode for folder in folders}


@dataclass
class Deployment:
    """The module's cluster; `remove` stops and removes it before the module ends (the last test's job)."""

    cluster: Cluster
    remove: Callable[[], None]
    modes_before: dict[Path, int]  # of the folders around it, taken before it started


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """The whole cluster, as `make loadtest` starts a throwaway one, in a private temporary folder; without Debian's
    postgresql-15 or haproxy the tests fail, saying how to install them."""
    missing = missing_binaries()
    if missing:
        pytest.fail(missing, pytrace=False)
    before = modes(Path(tempfile.gettempdir()), postgres_home(), postgres_home().parent)
    with ExitStack() as stack:
        environ = {**os.environ, "INTERVIEWER_AUTH": f"{USER}:{PASSWORD}"}
        cluster = stack.enter_context(throwaway(environ, fast=True))
        yield Deployment(cluster, stack.close, before)


@pytest.fixture
def cluster(deployment: Deployment) -> Cluster:
    return deployment.cluster


def front(cluster: Cluster) -> str:
    return f"http://127.0.0.1:{cluster.part('haproxy').port}/"


def signed_in(cluster: Cluster, folder: Path, cookies: dict[str, str] | None = None) -> Client:
    """A browser's view of the app through HAProxy: signed in, or carrying the cookies of an earlier sign-in."""
    if cookies is None:
        return Client(front(cluster), auth=(USER, PASSWORD), verbose=False, download_files=str(folder))
    return Client(front(cluster), verbose=False, download_files=str(folder), httpx_kwargs={"cookies": cookies})


def answer(client: Client, session: str, words: str) -> dict[str, Any]:
    """Send one answer; it is acknowledged when the answer box comes back cleared."""
    out = client.predict(session, words, api_name="/answer")
    assert out[-1] == "", out[NOTICE]
    assert out[GRADE].startswith("### Last answer")
    return {"out": out, "text": words}


def chat_of(client: Client, session: str) -> list[str]:
    opened = client.predict(session, api_name="/open_session")
    assert opened[SESSION] == session, opened[NOTICE]
    return [text(m) for m in opened[CHAT]]


def words(n: int) -> str:
    return f"Answer number {n}: we version data and models together and watch for drift in production {n}"


def test_postgres_keeps_its_data_where_its_user_can_reach_it_and_says_where(deployment: Deployment) -> None:
    cluster = deployment.cluster
    private = cluster.folder.parent  # made by mkdtemp, like `mktemp -d`: the postgres user cannot enter it
    place = cluster.postgres.folder
    assert stat.S_IMODE(private.stat().st_mode) == 0o700  # left as it was made
    assert modes(*deployment.modes_before) == deployment.modes_before  # nothing around it was opened up
    assert stat.S_IMODE(place.stat().st_mode) == 0o700
    if AS_ROOT:
        assert place.parent == postgres_home() and place.name.startswith("interviewer-")
        assert place.stat().st_uid == pwd.getpwnam("postgres").pw_uid
        assert not place.is_relative_to(private)
        assert (cluster.folder / "postgres").resolve() == place  # the pointer the next `status`, `down`, `up` read
    assert (place / "data" / "PG_VERSION").is_file() and (place / "log").is_file()

    shown = run_cli("cluster", "status", "--dir", str(cluster.folder), env=cluster.base_env())
    assert shown.returncode == 0, shown.stdout + shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith("postgres"))
    assert row.split()[3:] == ["up", "data:", str(place)]
    assert PASSWORD not in shown.stdout and cluster.secret("db-password").read_text() not in shown.stdout


def test_a_postgres_restart_mid_session_gives_a_clear_message_and_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    client = signed_in(cluster, tmp_path)
    session = client.predict("topic:versioning", 0, api_name="/start")[SESSION]
    acknowledged = [answer(client, session, words(1))["text"]]

    cluster.postgres.stop("immediate")  # a crash: no checkpoint, the WAL is replayed at the next start
    refused = client.predict(session, words(2), api_name="/answer")
    assert refused[-1] == {"__type__": "update"}  # the answer stays in the box
    assert "cannot be reached" in refused[NOTICE] and "try again" in refused[NOTICE]

    cluster.postgres.start(cluster.part("postgres").port)
    out = client.predict(session, words(2), api_name="/answer")
    if out[-1] != "":  # a connection the restart broke may fail once more, with the same clear message
        assert "try again" in out[NOTICE]
        out = client.predict(session, words(2), api_name="/answer")
    assert out[-1] == "", out[NOTICE]
    acknowledged.append(words(2))
    chat = chat_of(client, session)
    assert all(a in chat for a in acknowledged)
    assert sum(a == words(2) for a in chat) == 1  # the refused try was not stored


def test_a_session_goes_on_after_its_replica_is_killed(cluster: Cluster, tmp_path: Path) -> None:
    client = signed_in(cluster, tmp_path / "first")
    session = client.predict("topic:versioning", 0, api_name="/start")[SESSION]
    acknowledged = [answer(client, session, words(n))["text"] for n in (1, 2)]
    serving = client.cookies["SERVERID"]
    other = next(p.name for p in cluster.parts() if p.name.startswith("replica-") and p.name != serving)
    os.kill(cluster.part(serving).pid, signal.SIGKILL)

    # The page reloads with ?session=ID: the browser keeps its sign-in cookie; HAProxy sends it elsewhere.
    login = {k: v for k, v in client.cookies.items() if k != "SERVERID"}
    header = "; ".join(f"{k}={v}" for k, v in login.items())
    request = urllib.request.Request(f"{front(cluster)}?session={session}", headers={"Cookie": header})
    with urllib.request.urlopen(request, timeout=30) as page:
        assert page.status == 200
        assert f"SERVERID={other}" in (page.headers.get("Set-Cookie") or "")  # the other replica served it
    reloaded = signed_in(cluster, tmp_path / "second", cookies=login)  # no new sign-in: the cookie holds
    chat = chat_of(reloaded, session)
    assert {row.part.name: row.up for row in cluster.status()}[serving] is False
    assert all(a in chat for a in acknowledged)
    more = answer(reloaded, session, words(3))
    assert session in more["out"][PROGRESS]
    assert words(3) in chat_of(reloaded, session)


def test_grading_goes_on_and_says_so_when_the_chroma_server_is_killed(cluster: Cluster, tmp_path: Path) -> None:
    client = signed_in(cluster, tmp_path)
    session = client.predict("day:58", 0, api_name="/start")[SESSION]
    acknowledged = [answer(client, session, words(1))["text"]]
    os.kill(cluster.part("chroma").pid, signal.SIGKILL)

    graded = answer(client, session, words(2))
    acknowledged.append(graded["text"])
    assert "curriculum server is unreachable" in graded["out"][NOTICE]
    assert all(a in chat_of(client, session) for a in acknowledged)


def test_down_then_up_again_finds_the_same_data(cluster: Cluster, tmp_path: Path) -> None:
    client = signed_in(cluster, tmp_path / "before")
    session = client.predict("topic:versioning", 0, api_name="/start")[SESSION]
    acknowledged = answer(client, session, words(1))["text"]
    place, port = cluster.postgres.folder, cluster.part("haproxy").port

    said = cluster.down()
    assert any(
        line.startswith("postgres: stopped (pid ") and line.endswith(f"; its data stays in {place}") for line in said
    )
    assert not any(row.up for row in cluster.status())
    again = Cluster(cluster.folder, fast=True, environ=cluster.environ)  # as a second `interviewer cluster up` does
    again.up(port)
    assert again.postgres.folder == place
    assert all(row.up for row in again.status())
    assert acknowledged in chat_of(signed_in(again, tmp_path / "after"), session)


def test_a_throwaway_cluster_leaves_nothing_behind(deployment: Deployment) -> None:
    cluster = deployment.cluster
    place, ports = cluster.postgres.folder, [part.port for part in cluster.parts()]
    deployment.remove()
    assert not place.exists() and not cluster.folder.parent.exists()
    assert not any(port_open(port) for port in ports)
    assert modes(*deployment.modes_before) == deployment.modes_before
