"""Helpers the tests import (`from tests.helpers import run_cli`); fixtures live in conftest.py.

Nothing here blocks the network or sets the environment: tests/conftest.py does, before any test runs.
"""

from __future__ import annotations

import io
import os
import random
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from interviewer.interview.engine import Engine

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def cli_command(*args: str) -> list[str]:
    """The command line of `interviewer ARGS` (for the tests that drive a process with Popen)."""
    return [sys.executable, "-m", "interviewer.cli", *args]


def _run(
    command: list[str], stdin: str | bytes | None, env: Mapping[str, str] | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    raw = isinstance(stdin, bytes)
    done = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=not raw,
        timeout=timeout,
        env=dict(os.environ if env is None else env),
        cwd=ROOT,
    )
    if raw:
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())
    return done


def run_cli(
    *args: str, stdin: str | bytes | None = None, env: Mapping[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run `interviewer ARGS` as a user would, in a new process, from the repository's folder.

    `env` is the whole environment of the process (default: this one's); bytes on `stdin` are piped as they
    are (for input that is not UTF-8) and the output is still returned as text.
    """
    return _run(cli_command(*args), stdin, env, timeout)


def call_cli(
    *args: str, stdin: str | bytes | None = None, env: Mapping[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`interviewer ARGS` called in this process, as `run_cli` runs it in a new one: the same arguments, standard
    input, environment, folder, output and exit status, without a new Python importing the libraries and loading
    the models again. For the tests of what a command says and does; a test of a process itself (killed, locked,
    started twice) uses `run_cli`. Nothing bounds a hang here, so `timeout` is ignored.
    """
    from interviewer.cli import main

    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    os.chdir(ROOT)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = _exit_status(main, list(args))
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(cli_command(*args), code, out.getvalue(), err.getvalue())


def _exit_status(main: Callable[[list[str]], int], args: list[str]) -> int:
    """What the process would exit with: main's result, argparse's exit, or 1 and the traceback on stderr."""
    try:
        return main(args)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        return 1


def run_app(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python app.py ARGS` as an operator starts it; the tests that use it expect it to stop at once."""
    return _run([sys.executable, "app.py", *args], None, env, timeout)


class Cli(Protocol):
    """The `cli` fixture: `call_cli` against the test's data folder."""

    def __call__(
        self, *args: str, stdin: str | bytes | None = None, env: Mapping[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]: ...


PORTS_PER_WORKER = 2000
FIRST_PORT = 20000
"""Servers the tests start listen on ports below Linux's ephemeral range (32768 and up), where no outgoing
connection can take a port between its choice and its use; each pytest-xdist worker has a range of its own."""


def free_port() -> int:
    """A loopback port nothing listens on, from this process's own range (see `FIRST_PORT`)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")  # "gw0", "gw1"...; "gw-1" without xdist
    start = FIRST_PORT + (int(worker.removeprefix("gw")) + 1) * PORTS_PER_WORKER
    for port in random.sample(range(start, start + PORTS_PER_WORKER), PORTS_PER_WORKER):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORTS_PER_WORKER - 1}")


@contextmanager
def serving(engine: Engine | None = None) -> Iterator[str]:
    """The web app, served for real on a free local port (over the given engine, or a new one); its URL."""
    from interviewer.web.server import launch

    port = free_port()
    demo = launch("127.0.0.1", port, block=False, engine=engine)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
