"""The parts of a one-machine team deployment, each started and stopped on its own (see `cluster`).

PostgreSQL 15 from Debian (through `runuser -u postgres --` when run as root, its folder then in that user's
home: `postgres_place`), the venv's `chroma run`, app replicas (`python app.py --port P`) and Debian's HAProxy.
Every part binds 127.0.0.1. The database password is passed to a process only in its environment; it is never in
a command line, a log or a message.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from interviewer.errors import InterviewerError

PG_BIN = Path("/usr/lib/postgresql/15/bin")
HAPROXY = Path("/usr/sbin/haproxy")
HOST = "127.0.0.1"
DB_USER = "interviewer"
DB_NAME = "interviewer"
PROJECT = Path(__file__).resolve().parents[3]  # app.py's folder, in a checkout


def missing_binaries() -> str | None:
    """Why a cluster cannot be started on this machine, or None when every binary is there."""
    needs = {PG_BIN / "initdb": "postgresql-15", PG_BIN / "pg_ctl": "postgresql-15", haproxy(): "haproxy"}
    missing = sorted({package for path, package in needs.items() if not path.is_file()})
    if not missing:
        return None
    names = " ".join(missing)
    return f"The cluster needs Debian's {names}: `sudo apt-get install {names}` (`make cluster` does this as root)."


def haproxy() -> Path:
    found = shutil.which("haproxy")
    return Path(found) if found else HAPROXY


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status) == 200
    except OSError:
        return False


def tail(log: Path, chars: int = 1500) -> str:
    return log.read_text(errors="replace")[-chars:] if log.is_file() else ""


def wait_until(ready: Callable[[], bool], what: str, log: Path, timeout: float, alive: Callable[[], bool]) -> None:
    """Poll `ready` until it holds; a part that exits or takes longer than `timeout` is an error with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not alive():
            raise InterviewerError(f"{what} exited; see {log}:\n{tail(log)}")
        time.sleep(0.25)
    raise InterviewerError(f"{what} did not answer within {timeout:.0f} s; see {log}.")


def write_secret(path: Path, value: str) -> None:
    """A file only its owner may read (0600), made without ever being readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    path.chmod(0o600)


# -- processes we started ------------------------------------------------------------------------------


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def ours(pid: int, mark: str) -> bool:
    """True while `pid` runs and its command line holds `mark` (so a reused pid is never signalled)."""
    return pid > 0 and mark in command_line(pid)


def stop_process(pid: int, mark: str, timeout: float = 15) -> bool:
    """SIGTERM, then SIGKILL after `timeout`; False when it was not running (or is not ours)."""
    if not ours(pid, mark):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while ours(pid, mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    if ours(pid, mark):
        os.kill(pid, signal.SIGKILL)
    return True


def spawn(command: list[str], log: Path, env: Mapping[str, str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a long-running part in its own session (it outlives the command that started it), logging to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(env), cwd=cwd,
            start_new_session=True,
        )  # fmt: skip


def running(process: subprocess.Popen[bytes]) -> Callable[[], bool]:
    """A check that `process` has not exited, for `wait_until`."""
    return lambda: process.poll() is None


# -- PostgreSQL ---------------------------------------------------------------------------------------


def as_root() -> bool:
    """True when we run as root, so PostgreSQL runs as the `postgres` user (`initdb` refuses root)."""
    return os.geteuid() == 0


def postgres_place(pointer: Path) -> Path:
    """Where a cluster's PostgreSQL folder is, `pointer` being `postgres` in the cluster's folder.

    What `pointer` leads to when it is a link; `pointer` itself when it is a folder or we are not root; else, as
    root, a folder of its own in the `postgres` user's home, named for the cluster's folder (its real path), which
    that user can reach wherever the cluster's folder is (a checkout under /root, a private temporary folder).
    """
    if pointer.is_symlink():
        return pointer.parent / pointer.readlink()
    if pointer.exists() or not as_root():
        return pointer
    home = Path(pwd.getpwnam("postgres").pw_dir)
    digest = hashlib.sha256(str(pointer.parent.resolve()).encode()).hexdigest()[:16]
    return home / f"interviewer-{digest}"


@dataclass(frozen=True)
class Postgres:
    """One PostgreSQL 15 cluster in `folder` (data/, log, socket), run as the `postgres` user when we are root."""

    folder: Path
    fast: bool = False  # fsync off: for throwaway clusters (the tests); a process kill still loses nothing

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "log"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if as_root() else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=180, check=False)
        if done.returncode != 0:
            name = Path(command[0]).name
            raise InterviewerError(f"{name} failed: {(done.stdout + done.stderr).strip()}\n{tail(self.log)}")

    def _make_folder(self) -> None:
        """The folder, mode 0700; as root, owned by `postgres`, which must be able to write in it."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not as_root():
            return
        shutil.chown(self.folder, "postgres", "postgres")
        self.folder.chmod(0o700)
        try:
            self._run("test", "-w", str(self.folder))
        except InterviewerError:
            home = pwd.getpwnam("postgres").pw_dir
            raise InterviewerError(
                f"The postgres user cannot reach PostgreSQL's folder {self.folder}. Move it under {home} and "
                f"leave a link to it in its place, or remove it to start with an empty database."
            ) from None

    def prepare(self, password: str) -> None:
        """Make the folder (owned by `postgres` when root) and, once, the cluster with a scram password login."""
        self._make_folder()
        if (self.data / "PG_VERSION").is_file():
            return
        pwfile = self.folder / "pwfile"
        write_secret(pwfile, password + "\n")
        if as_root():
            shutil.chown(pwfile, "postgres")
        try:
            self._run(
                str(PG_BIN / "initdb"), "-D", str(self.data), "-U", DB_USER, "-E", "UTF8", "--pwfile", str(pwfile),
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, port: int) -> None:
        options = f"-p {port} -k {self.folder} -c listen_addresses={HOST}"
        if self.fast:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        if self.pid():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def pid(self) -> int:
        """The postmaster's pid while it runs, else 0."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0
        return pid if ours(pid, "postgres") else 0


def create_database(url_of: Callable[[str], str]) -> None:
    """Create the app's database once (connecting to the maintenance database `postgres`)."""
    import psycopg

    try:
        with psycopg.connect(url_of("postgres"), autocommit=True, connect_timeout=10) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except psycopg.Error as exc:  # the message names no password: psycopg never puts it in one
        raise InterviewerError(f"Cannot create the database {DB_NAME}: {str(exc).strip()}") from None


# -- Chroma, the app and HAProxy -------------------------------------------------------------------------


def chroma_command(path: Path, port: int) -> list[str]:
    chroma = Path(sys.executable).parent / "chroma"
    return [str(chroma), "run", "--path", str(path), "--host", HOST, "--port", str(port)]


def replica_command(port: int) -> list[str]:
    return [sys.executable, str(PROJECT / "app.py"), "--host", HOST, "--port", str(port)]


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "interviewer.cli", *args]


def run_cli(args: list[str], env: Mapping[str, str], log: Path) -> None:
    """`interviewer ARGS` to completion, its output appended to `log`; a failure is an error naming the log."""
    with log.open("ab") as out:
        done = subprocess.run(cli_command(*args), stdout=out, stderr=subprocess.STDOUT, env=dict(env), check=False)
    if done.returncode != 0:
        raise InterviewerError(f"`interviewer {' '.join(args)}` failed; see {log}:\n{tail(log)}")


def haproxy_config(port: int, replicas: Mapping[str, int]) -> str:
    """HAProxy in front of the replicas: sticky by an inserted cookie (Gradio keeps its queue per process), long
    server and tunnel timeouts for the queue's event stream, health checks, a retry on another replica, and the
    client's address in X-Forwarded-For (believed by replicas that list HAProxy in INTERVIEWER_TRUSTED_PROXIES)."""
    servers = "".join(
        f"    server {name} {HOST}:{p} check inter 1s fall 2 rise 2 cookie {name}\n" for name, p in replicas.items()
    )
    return (
        "global\n    maxconn 2000\n\n"
        "defaults\n    mode http\n    option redispatch\n    option forwardfor\n    retries 3\n"
        "    timeout connect 5s\n    timeout client 1h\n    timeout server 1h\n    timeout tunnel 1h\n"
        "    timeout http-request 30s\n    timeout http-keep-alive 10s\n\n"
        f"frontend web\n    bind {HOST}:{port}\n    default_backend replicas\n\n"
        "backend replicas\n    balance roundrobin\n"
        "    cookie SERVERID insert indirect nocache httponly\n"
        "    option httpchk GET /\n    http-check expect status 200\n"
        f"{servers}"
    )
