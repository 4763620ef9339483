"""Sharing the web app safely: no exposed bind without a login, password files, lockouts, no file exposure.

The servers here are real (Gradio on 127.0.0.1, a free port); one signed-in server and one without a login
are shared by the module, and the address lockout gets a server of its own since it locks out 127.0.0.1.
"""

from __future__ import annotations

import http.client
import inspect
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from interviewer.errors import InterviewerError
from interviewer.storage.session_index import SessionStore
from interviewer.storage.tallies import Tallies
from interviewer.web.auth import (
    AUTH_FILE_VAR,
    AUTH_VAR,
    USERS,
    Credentials,
    FailedSignIns,
    SharingGuard,
    credentials,
    file_targets,
    inside,
)
from interviewer.web.server import MAX_UPLOAD_MB, check_exposure, is_loopback, web_settings
from tests import helpers
from tests.helpers import ROOT, free_port, run_cli

ALICE, BOB, CAROL = ("alice", "alice-password-1"), ("bob@example.org", "bob-password-22"), ("carol", "carol-pass-333")
SECRET = "top secret interview notes"


def hash_password(password: str) -> str:
    """A cheap argon2id hash, so the tests are quick (the app's own hashes use argon2-cffi's defaults)."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


@dataclass
class Server:
    url: str
    port: int
    data: Path
    demo: Any

    @property
    def downloads(self) -> Path:
        return self.data / "downloads"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {AUTH_VAR, AUTH_FILE_VAR}}
    return {**env, **extra}


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory: pytest.TempPathFactory, built_index: Path) -> Path:
    """One data folder for the module's servers, with a secret file that must never be served."""
    data = tmp_path_factory.mktemp("sharing") / "data"
    shutil.copytree(built_index, data / "index")
    (data / "secret.txt").write_text(SECRET)
    return data


@pytest.fixture(scope="module")
def password_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logins") / "users"
    path.write_text(f"{ALICE[0]}:{hash_password(ALICE[1])}\n{BOB[0]}:{hash_password(BOB[1])}\n")
    return path


@contextmanager
def serving(data: Path, env: dict[str, str]) -> Iterator[Server]:
    """A real server over `data`, with exactly the login variables in `env`."""
    from interviewer.compose import build_engine
    from interviewer.config import Settings
    from interviewer.web.server import launch

    with pytest.MonkeyPatch.context() as mp:
        for key in (AUTH_VAR, AUTH_FILE_VAR):
            mp.delenv(key, raising=False)
        for key, value in {**env, "INTERVIEWER_DATA_DIR": str(data)}.items():
            mp.setenv(key, value)
        mp.setenv("GRADIO_TEMP_DIR", str(data / "downloads"))  # restored when the server is closed
        engine = build_engine(Settings(corpus_dir=ROOT / "corpus", data_dir=data), progress=False)
        port = free_port()
        demo = launch("127.0.0.1", port, block=False, engine=engine)
        try:
            yield Server(f"http://127.0.0.1:{port}", port, data, demo)
        finally:
            demo.close()


@pytest.fixture(scope="module")
def signed(shared_data: Path, password_file: Path) -> Iterator[Server]:
    """A server with a login from both variables: alice and bob in the file, carol in INTERVIEWER_AUTH."""
    with serving(shared_data, {AUTH_FILE_VAR: str(password_file), AUTH_VAR: f"{CAROL[0]}:{CAROL[1]}"}) as server:
        yield server


@pytest.fixture(scope="module")
def open_server(shared_data: Path, signed: Server) -> Iterator[Server]:
    """The same data folder served with no login at all."""
    with serving(shared_data, {}) as server:
        yield server


@pytest.fixture(scope="module")
def download(shared_data: Path, signed: Server) -> Path:
    """A transcript download as the app writes one: inside the downloads folder, in an unguessable folder."""
    folder = signed.downloads / "t-5f0c1e9a7b3d4c2e8f6a"
    folder.mkdir()
    path = folder / "interview-0123456789ab.md"
    path.write_text("# Mock interview\n")
    return path


@pytest.fixture
def temp_secret(tmp_path: Path) -> Path:
    """A secret in the system temporary folder (pytest's folders are in it), which the app used to serve whole."""
    path = tmp_path / "interviewer-secret.txt"
    path.write_text(SECRET)
    return path


def sign_in(server: Server, user: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/login", data={"username": user, "password": password}, timeout=30)


def raw_get(server: Server, path: str, cookie: str = "") -> tuple[int, bytes]:
    """GET exactly `path` (no `..` clean-up by the client), optionally with the sign-in cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def cookie_of(response: httpx.Response) -> str:
    return "; ".join(f"{name}={value}" for name, value in response.cookies.items())


# -- refusing an exposed bind ---------------------------------------------------------------------------


def run_app(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python app.py ARGS` with exactly the login variables in `env`."""
    return helpers.run_app(*args, env=_env(**env), timeout=60)


def test_an_exposed_bind_without_a_login_is_refused_with_one_line_that_says_why_and_what_to_do(
    tmp_path: Path,
) -> None:
    result = run_app("--host", "0.0.0.0", "--port", "0", INTERVIEWER_DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: Refusing to serve on 0.0.0.0 without a login")
    assert "could read and change every interview" in lines[0]
    assert AUTH_VAR in lines[0] and AUTH_FILE_VAR in lines[0] and "--public" in lines[0]
    assert not (tmp_path / "data").exists()  # refused before anything was built


def test_the_exposure_check_allows_loopback_a_login_or_public() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"):
        assert is_loopback(host)
        check_exposure(host, login=False, public=False)
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.org"):
        assert not is_loopback(host)
        check_exposure(host, login=True, public=False)
        check_exposure(host, login=False, public=True)
        with pytest.raises(InterviewerError, match="without a login"):
            check_exposure(host, login=False, public=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"INTERVIEWER_PORT": "abc"}, "error: INTERVIEWER_PORT must be a port number from 0 to 65535, got 'abc'."),
        ({"INTERVIEWER_PORT": "70000"}, "error: INTERVIEWER_PORT must be a port number from 0 to 65535"),
        ({"INTERVIEWER_HOST": "not a host"}, "error: INTERVIEWER_HOST must be a host name or IP address"),
    ],
)
def test_a_bad_port_or_host_variable_is_one_line_naming_it(env: dict[str, str], expected: str) -> None:
    result = run_app(**env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(expected) and "Traceback" not in result.stderr


def _address(
    monkeypatch: pytest.MonkeyPatch, host: str | None, port: str | None, environ: dict[str, str]
) -> tuple[str, int]:
    """Where `python app.py` would serve, given its flags and these variables."""
    for name in ("INTERVIEWER_HOST", "INTERVIEWER_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = web_settings(host, port)
    return settings.host, settings.port


def test_address_prefers_flags_then_variables_then_the_loopback_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _address(monkeypatch, None, None, {}) == ("127.0.0.1", 7860)
    blank = {"INTERVIEWER_HOST": " ", "INTERVIEWER_PORT": ""}
    assert _address(monkeypatch, None, None, blank) == ("127.0.0.1", 7860)
    given = {"INTERVIEWER_HOST": "::1", "INTERVIEWER_PORT": "8080"}
    assert _address(monkeypatch, None, None, given) == ("::1", 8080)
    assert _address(monkeypatch, "localhost", "0", {"INTERVIEWER_PORT": "abc"}) == ("localhost", 0)
    with pytest.raises(InterviewerError, match="--port must be"):
        _address(monkeypatch, None, "-1", {})


# -- the password file ----------------------------------------------------------------------------------


def test_user_add_list_remove_keep_a_0600_file_of_argon2id_hashes(tmp_path: Path) -> None:
    path = tmp_path / "logins" / "users"
    added = run_cli("user", "add", "alice", "--file", str(path), stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added alice in {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("alice:$argon2id$") and "correct horse" not in text

    again = run_cli("user", "add", "alice", "--file", str(path), stdin="another password\n")
    assert again.returncode == 0 and again.stdout.strip() == f"updated alice in {path}"
    assert path.read_text() != text and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run_cli("user", "add", "bob", "--file", str(path), stdin="bob's password\n").returncode == 0

    listed = run_cli("user", "list", "--file", str(path))
    assert listed.returncode == 0 and listed.stdout.split() == ["alice", "bob"]
    assert "$argon2" not in listed.stdout + listed.stderr

    removed = run_cli("user", "remove", "alice", "--file", str(path))
    assert removed.returncode == 0 and removed.stdout.strip() == f"removed alice from {path}"
    assert run_cli("user", "list", "--file", str(path)).stdout.split() == ["bob"]
    for result in (added, again, listed, removed):
        for password in ("correct horse", "another password", "bob's password"):
            assert password not in result.stdout + result.stderr


def test_user_add_refuses_a_short_password_a_bad_name_and_a_missing_file_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users"
    short = run_cli("user", "add", "alice", "--file", str(path), stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr and "short" not in short.stdout
    assert not path.exists()
    bad = run_cli("user", "add", "al ice", "--file", str(path), stdin="long enough\n")
    assert bad.returncode == 2 and "User names are 1-64" in bad.stderr
    monkeypatch.delenv(AUTH_FILE_VAR, raising=False)
    unset = run_cli("user", "add", "alice", stdin="long enough\n")
    assert unset.returncode == 2 and "--file" in unset.stderr and AUTH_FILE_VAR in unset.stderr
    missing = run_cli("user", "remove", "nobody", "--file", str(path))
    assert missing.returncode == 2 and "Cannot read" in missing.stderr


def test_a_malformed_or_missing_password_file_is_one_line_naming_the_variable_and_line(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"# logins\n{ALICE[0]}:{hash_password(ALICE[1])}\nbob:hunter2-in-clear\n")
    with pytest.raises(InterviewerError) as bad:
        credentials("", path)
    message = str(bad.value)
    assert message.startswith(f"{AUTH_FILE_VAR} ({path}) line 3:") and "hunter2" not in message
    result = run_app("--port", "0", INTERVIEWER_AUTH_FILE=str(path), INTERVIEWER_DATA_DIR=str(tmp_path / "d"))
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [f"error: {message}"]

    with pytest.raises(InterviewerError, match=f"^{AUTH_FILE_VAR}: cannot read .*missing"):
        credentials("", tmp_path / "missing")
    path.write_text(f"{CAROL[0]}:{hash_password(CAROL[1])}\n")
    with pytest.raises(InterviewerError, match="'carol' is in both"):
        credentials("carol:whatever1", path)


def test_the_login_check_is_awaited_by_gradio_and_checks_both_kinds_of_password(tmp_path: Path) -> None:
    login = Credentials({CAROL[0]: CAROL[1]}, {ALICE[0]: hash_password(ALICE[1])})
    # Gradio awaits the check only when it is a coroutine function; a coroutine object would be truthy.
    assert inspect.iscoroutinefunction(login.verify)
    assert login.check(*ALICE) and login.check(*CAROL)
    assert not login.check(ALICE[0], CAROL[1]) and not login.check(CAROL[0], ALICE[1])
    assert not login.check("nobody", ALICE[1]) and not login.check(ALICE[0], "")


# -- failed sign-ins ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tallies(tmp_path: Path) -> Iterator[Tallies]:
    """The shared counts of a real session database."""
    store = SessionStore(tmp_path / "sessions.sqlite")
    yield store.tallies()
    store.conn.close()


def test_failed_sign_ins_lock_a_user_after_five_and_an_address_after_twenty_in_a_sliding_window(
    tallies: Tallies,
) -> None:
    clock = Clock()
    counter = FailedSignIns(tallies, clock=clock)
    for _ in range(4):
        counter.failed(counter.start("alice", "10.0.0.1"))
        clock.now += 60
    assert counter.retry_after("alice", "10.0.0.1") == 0
    counter.failed(counter.start("alice", "10.0.0.1"))
    assert counter.retry_after("alice", "10.0.0.2") == pytest.approx(15 * 60 - 4 * 60)
    assert counter.retry_after("bob", "10.0.0.1") == 0  # the address has 5 of its 20
    clock.now += 15 * 60 - 4 * 60 + 0.001  # the first failure leaves the window
    assert counter.retry_after("alice", "10.0.0.1") == 0

    counter.succeeded(counter.start("alice", "10.0.0.1"))
    assert counter.retry_after("alice", "10.0.0.9") == 0 and tallies.since(USERS, "alice", 0) == []
    counter.cancelled(counter.start("alice", "10.0.0.1"))
    assert tallies.since(USERS, "alice", 0) == []

    for n in range(20):
        counter.failed(counter.start(f"user{n}", "10.0.0.3"))
    assert counter.retry_after("someone-new", "10.0.0.3") > 0
    assert counter.retry_after("someone-new", "10.0.0.4") == 0


def test_attempts_in_flight_count_so_a_burst_cannot_slip_past_the_limit(tallies: Tallies) -> None:
    counter = FailedSignIns(tallies, clock=Clock())
    started = [counter.start("alice", "10.0.0.1") for _ in range(5)]
    assert counter.retry_after("alice", "10.0.0.1") > 0
    for attempt in started:
        counter.cancelled(attempt)
    assert counter.retry_after("alice", "10.0.0.1") == 0


def test_every_counter_on_one_database_sees_the_same_failures_and_old_ones_are_pruned(
    tmp_path: Path, tallies: Tallies
) -> None:
    clock = Clock()
    other = SessionStore(tmp_path / "sessions.sqlite")  # another process's connection to the same file
    here, there = FailedSignIns(tallies, clock=clock), FailedSignIns(other.tallies(), clock=clock)
    for counter in (here, there, here, there, here):
        counter.failed(counter.start("alice", "10.0.0.1"))
    assert here.retry_after("alice", "10.0.0.7") > 0 and there.retry_after("alice", "10.0.0.8") > 0
    clock.now += 15 * 60 + 61
    there.failed(there.start("bob", "10.0.0.2"))  # counting prunes what left the window
    assert other.conn.execute("SELECT count(*) FROM tallies").fetchone()[0] == 2  # bob's, per name and address
    other.conn.close()


# -- the real server: login and lockout -----------------------------------------------------------------


def test_the_sharing_guard_is_installed_and_the_browser_keeps_no_run_history(signed: Server) -> None:
    assert any(m.cls is SharingGuard for m in signed.demo.server_app.user_middleware)
    assert signed.demo.run_history is False and signed.demo.share is False and signed.demo.show_error is False
    assert os.environ["GRADIO_TEMP_DIR"] == str(signed.downloads.resolve())
    assert stat.S_IMODE(signed.downloads.stat().st_mode) == 0o700
    cookie = cookie_of(sign_in(signed, *BOB))
    assert raw_get(signed, "/gradio_api/runs", cookie)[0] == 404


def test_users_from_the_file_and_the_variable_sign_in_and_a_wrong_password_is_refused(
    signed: Server, tmp_path: Path
) -> None:
    from gradio_client import Client

    for user, password in (BOB, CAROL):
        ok = sign_in(signed, user, password)
        assert ok.status_code == 200 and ok.json() == {"success": True}
    wrong = sign_in(signed, BOB[0], CAROL[1])
    assert wrong.status_code == 400 and wrong.json()["detail"] == "Incorrect credentials."
    client = Client(signed.url, auth=BOB, verbose=False, download_files=str(tmp_path / "client"))
    started = client.predict("topic:fs-why", 1, api_name="/start")
    assert isinstance(started[0], str) and len(started[0]) >= 8
    with pytest.raises(ValueError, match="Could not login"):
        Client(signed.url, auth=(BOB[0], "wrong password"), verbose=False, download_files=False)


def test_five_wrong_passwords_lock_the_user_even_against_the_right_one(signed: Server) -> None:
    for _ in range(5):
        assert sign_in(signed, ALICE[0], "not her password").status_code == 400
    locked = sign_in(signed, *ALICE)
    assert locked.status_code == 429
    detail = locked.json()["detail"]
    assert detail.startswith("Too many failed sign-ins") and detail.endswith(" s.") and "try again in" in detail
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert sign_in(signed, *BOB).status_code == 200  # others on the same address still sign in


def test_twenty_failures_from_one_address_lock_the_address(
    tmp_path: Path, built_index: Path, password_file: Path
) -> None:
    data = tmp_path / "data"  # a database of its own: the lock on 127.0.0.1 is kept there
    shutil.copytree(built_index, data / "index")
    with serving(data, {AUTH_FILE_VAR: str(password_file)}) as server:
        for n in range(20):
            assert sign_in(server, f"guess{n}", "some password").status_code == 400
        locked = sign_in(server, *BOB)
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.json()["detail"]


# -- the real server: no file exposure ------------------------------------------------------------------


def exposure_paths(server: Server, temp_secret: Path) -> list[str]:
    """Ways to ask for a file outside the downloads folder: direct, `..`, encoded, symlinked, by URL."""
    downloads, data = server.downloads.resolve(), server.data.resolve()
    link = downloads / "link-to-secret"
    if not link.is_symlink():
        link.symlink_to(data / "secret.txt")
    paths = []
    for secret in (temp_secret, data / "secret.txt", data / "sessions.sqlite", Path("/etc/passwd")):
        paths += [f"/gradio_api/file={secret}", f"/file={secret}", f"/gradio_api/file/{secret}"]
    return [
        *paths,
        f"/gradio_api/file={downloads}/../secret.txt",
        f"/gradio_api/file={downloads}/%2e%2e/secret.txt",
        f"/gradio_api/file={downloads}/%252e%252e/secret.txt",
        f"/gradio_api/file={downloads}/5f0c1e9a7b3d4c2e8f6a/../../secret.txt",
        f"/gradio_api/file={downloads}/link-to-secret",
        f"/gradio_api/file=%2F{str(data / 'secret.txt').lstrip('/')}",
        f"/gradio_api/file=http://127.0.0.1:{server.port}/config",
        f"/gradio_api/proxy=http://127.0.0.1:{server.port}/config",
    ]


def test_no_file_outside_the_downloads_folder_is_served_signed_in_or_not(
    signed: Server, open_server: Server, temp_secret: Path, download: Path
) -> None:
    cookie = cookie_of(sign_in(signed, *BOB))
    for server, cookies in ((signed, ("", cookie)), (open_server, ("",))):
        for path in exposure_paths(server, temp_secret):
            for with_cookie in cookies:
                status, body = raw_get(server, path, with_cookie)
                assert status == 404, (server.url, path, bool(with_cookie), status)
                assert SECRET.encode() not in body and b"root:" not in body


def test_a_download_inside_the_folder_is_served_to_who_may_see_it(
    signed: Server, open_server: Server, download: Path
) -> None:
    path = f"/gradio_api/file={download}"
    assert raw_get(signed, path)[0] == 401  # signed out, with a login configured: Gradio's own check
    assert raw_get(signed, path, cookie_of(sign_in(signed, *BOB))) == (200, b"# Mock interview\n")
    assert raw_get(open_server, path) == (200, b"# Mock interview\n")


def test_an_upload_is_never_served_back_and_an_oversized_one_is_refused(signed: Server) -> None:
    cookie = cookie_of(sign_in(signed, *BOB))
    url, headers = f"{signed.url}/gradio_api/upload", {"Cookie": cookie}
    taken = httpx.post(url, files={"files": ("x.html", b"<script>alert(1)</script>")}, headers=headers)
    assert taken.status_code == 200  # a spoken answer is uploaded like this
    stored = taken.json()[0]
    for route in (f"/gradio_api/file={stored}", f"/file={stored}", f"/gradio_api/file/{stored}"):
        assert raw_get(signed, route, cookie)[0] == 404  # not even to the one who sent it
    assert httpx.post(url, files={"files": ("x.wav", b"RIFF")}).status_code in (401, 403)  # signed out
    huge = b"\0" * (MAX_UPLOAD_MB * 1024 * 1024 + 1)
    assert httpx.post(url, files={"files": ("a.wav", huge)}, headers=headers, timeout=60).status_code == 413


async def no_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


def test_file_targets_and_inside_cover_every_marker_and_trick(tmp_path: Path) -> None:
    folder = (tmp_path / "downloads").resolve()
    (folder / "a").mkdir(parents=True)
    assert file_targets("/gradio_api/file=/x/file=/y") == ["/x/file=/y", "/y"]
    assert file_targets("/gradio_api/file//etc/passwd") == ["/etc/passwd"]
    assert file_targets("/gradio_api/info") == []
    assert inside(folder, f"{folder}/a/t.md")
    for target in (f"{folder}", f"{folder}/../x", f"{folder}/a/%2e%2e/%2e%2e/x", f"{folder}/a\x00", "relative/x", ""):
        assert not inside(folder, target), target
    store = SessionStore(tmp_path / "sessions.sqlite")
    guard = SharingGuard(no_app, downloads_dir=folder, sign_ins=FailedSignIns(store.tallies()))
    download = f"{folder}/a/interview-0123456789ab.md"
    assert guard.may_serve("/gradio_api/info") and guard.may_serve(f"/gradio_api/file={download}")
    assert not guard.may_serve(f"/gradio_api/file={folder}/a/t.md")  # an upload kept there, say
    assert not guard.may_serve(f"/gradio_api/file={folder}/a/interview-0123456789ab.md.html")
    assert not guard.may_serve(f"/file={folder}/../x") and not guard.may_serve("/gradio_api/file=/etc/passwd")
