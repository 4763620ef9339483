"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary folder, bound to 127.0.0.1.

Debian's postgresql-15 binaries (`apt-get install postgresql-15`; `.ci/run` installs them). `initdb` refuses to
run as root, so as root every server command runs as the `postgres` user, which then owns the folder. Nothing
here reaches beyond this machine's loopback address.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.helpers import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "app"


def missing_binaries() -> str | None:
    """Why no server can be started here, or None when the binaries are installed."""
    if (PG_BIN / "initdb").is_file() and (PG_BIN / "pg_ctl").is_file():
        return None
    return (
        f"The PostgreSQL tests need {PG_BIN}/initdb and pg_ctl: install them with "
        "`sudo apt-get install postgresql-15` (`make postgres` and .ci/run do this when run as root)."
    )


class PostgresServer:
    """One cluster, trust authentication, fsync off (its data is thrown away); a fresh database per test."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="interviewer-pg-"))
        self.port = free_port()
        self._names = itertools.count(1)
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.folder, "postgres")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.folder / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}{tail}")

    def start(self) -> None:
        """Make the cluster and start it; on failure the folder is removed and the error says why."""
        data = self.folder / "data"
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        try:
            self._run(str(PG_BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
            self._run(
                str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "log"), "-w", "-o", options, "start"
            )
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def stop(self) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str, password: str = "") -> str:
        login = f"{USER}:{password}" if password else USER
        return f"postgresql://{login}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
