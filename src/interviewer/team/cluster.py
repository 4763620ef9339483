"""A team deployment on one machine: `interviewer cluster up|down|status` (`make cluster`, `cluster-status`,
`cluster-down`).

    browser -> HAProxy (127.0.0.1:CLUSTER_PORT, sticky cookie) -> app replicas -> PostgreSQL + Chroma server

Everything lives in one folder (default `.interviewer/cluster`): each part's data and log, `state.json` (pids
and ports), the generated database password (`db-password`) and the replicas' shared web secret
(`web-secret`), both mode 0600 and never printed or logged. PostgreSQL's folder is `postgres` there; as root it
is instead a folder of the `postgres` user's own (`/var/lib/postgresql/interviewer-<hash of this folder>`, mode
0700), which that user reaches wherever the cluster's folder is, and `postgres` is a link to it. No interview
logic lives here: the parts are Debian's servers and the app's own commands (`interviewer index`, `interviewer
migrate`, `python app.py`).
`throwaway()` starts the same cluster in a temporary folder and removes it, PostgreSQL's folder too, afterwards
(`make loadtest`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import quote

from interviewer.config import CHROMA_URL_VAR, DATABASE_URL_VAR, SECRET_FILE_VAR, TRUSTED_PROXIES_VAR
from interviewer.errors import InterviewerError
from interviewer.team.parts import (
    DB_NAME,
    DB_USER,
    HOST,
    Postgres,
    chroma_command,
    create_database,
    free_port,
    haproxy,
    http_ok,
    missing_binaries,
    ours,
    port_open,
    postgres_place,
    replica_command,
    run_cli,
    running,
    spawn,
    stop_process,
    wait_until,
    write_secret,
)

DEFAULT_PORT = 7860
REPLICAS = 2
START_TIMEOUT = 240.0  # seconds for a replica to load its models and answer, on a busy 2-core machine


@dataclass(frozen=True)
class Part:
    """One running part: its name, pid and port, and what its command line holds (so a reused pid is never
    taken for it)."""

    name: str
    pid: int
    port: int
    mark: str


@dataclass(frozen=True)
class Row:
    """A line of `interviewer cluster status`."""

    part: Part
    pid: int  # 0 when it is not running
    up: bool
    data: Path | None = None  # where the part keeps its data, when the operator should be told (PostgreSQL's)

    def line(self) -> str:
        address = f"{HOST}:{self.part.port}"
        state = f"{'up' if self.up else 'down':<5} data: {self.data}" if self.data else ("up" if self.up else "down")
        return f"{self.part.name:<10} {self.pid or '-':>8}  {address:<21} {state}"


@dataclass(frozen=True)
class Cluster:
    """The cluster kept in `folder`; `fast` turns PostgreSQL's fsync off (throwaway clusters: the tests);
    `environ` is the environment its parts start from (default: this process's), never shown."""

    folder: Path
    fast: bool = False
    environ: Mapping[str, str] | None = field(default=None, compare=False, repr=False)

    def base_env(self) -> dict[str, str]:
        return dict(os.environ if self.environ is None else self.environ)

    @property
    def postgres(self) -> Postgres:
        """PostgreSQL's folder: `postgres` here, or as root where that link leads (see `postgres_place`)."""
        return Postgres(postgres_place(self.folder / "postgres"), self.fast)

    def log(self, name: str) -> Path:
        return self.folder / "logs" / f"{name}.log"

    def secret(self, name: str) -> Path:
        return self.folder / name

    def database_url(self, port: int, database: str = DB_NAME) -> str:
        """The database's URL with its password: for a process's environment only, never to show."""
        password = self.secret("db-password").read_text(encoding="utf-8").strip()
        return f"postgresql://{DB_USER}:{quote(password, safe='')}@{HOST}:{port}/{database}"

    # -- state ----------------------------------------------------------------------------------------

    def parts(self) -> list[Part]:
        path = self.folder / "state.json"
        if not path.is_file():
            return []
        return [Part(**item) for item in json.loads(path.read_text(encoding="utf-8"))]

    def part(self, name: str) -> Part:
        found = [p for p in self.parts() if p.name == name]
        if not found:
            raise InterviewerError(f"No part {name!r} in the cluster at {self.folder}.")
        return found[0]

    def _save(self, parts: list[Part]) -> None:
        (self.folder / "state.json").write_text(json.dumps([asdict(p) for p in parts], indent=2), encoding="utf-8")

    def _pid(self, part: Part) -> int:
        """The part's pid while it runs (PostgreSQL's from its own pid file, since a restart changes it), else 0."""
        if part.name == "postgres":
            return self.postgres.pid()
        return part.pid if ours(part.pid, part.mark) else 0

    def status(self) -> list[Row]:
        rows = []
        for part in self.parts():
            pid = self._pid(part)
            data = self.postgres.folder if part.name == "postgres" else None
            rows.append(Row(part, pid, bool(pid) and port_open(part.port), data))
        return rows

    # -- up -------------------------------------------------------------------------------------------

    def up(self, port: int = DEFAULT_PORT, replicas: int = REPLICAS) -> list[Part]:
        """Start every part, in order; on any failure stop what was started and say why."""
        self._check(port)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._link_postgres()
        for name in ("db-password", "web-secret"):
            if not self.secret(name).is_file():
                write_secret(self.secret(name), secrets.token_urlsafe(32))
        parts: list[Part] = []
        try:
            parts.append(self._start_postgres())
            parts.append(self._start_chroma())
            self._save(parts)
            env = self._app_env(parts[0].port, parts[1].port)
            run_cli(["index"], {**env, "INTERVIEWER_DATA_DIR": str(self.folder / "indexer")}, self.log("index"))
            run_cli(["migrate"], {**env, "INTERVIEWER_DATA_DIR": str(self.folder / "indexer")}, self.log("migrate"))
            parts += self._start_replicas(replicas, env)
            self._save(parts)
            parts.append(self._start_haproxy(port, parts[2:]))
        except BaseException:
            self._save(parts)
            self.down()
            self.postgres.stop()  # started, perhaps, before its part was recorded
            raise
        self._save(parts)
        return parts

    def _check(self, port: int) -> None:
        missing = missing_binaries()
        if missing:
            raise InterviewerError(missing)
        if any(row.up for row in self.status()):
            raise InterviewerError(f"A cluster is already running in {self.folder}; `interviewer cluster down` first.")
        if port_open(port):
            raise InterviewerError(f"Port {port} on {HOST} is taken; choose another (CLUSTER_PORT or --port).")

    def _link_postgres(self) -> None:
        """As root, leave `postgres` here as a link to PostgreSQL's folder, so `status`, `down` and the next `up`
        find it (a link already there is kept: it leads to this cluster's data)."""
        pointer, place = self.folder / "postgres", self.postgres.folder
        if place == pointer or pointer.is_symlink():
            return
        if (place / "data" / "PG_VERSION").is_file() and not self.secret("db-password").is_file():
            raise InterviewerError(
                f"PostgreSQL's folder {place} holds the database of an earlier cluster in {self.folder}, whose "
                f"password is gone: remove that folder (rm -rf {place}) to start with an empty database."
            )
        pointer.symlink_to(place)

    def _start_postgres(self) -> Part:
        postgres, port = self.postgres, free_port()
        postgres.prepare(self.secret("db-password").read_text(encoding="utf-8").strip())
        postgres.start(port)
        create_database(lambda database: self.database_url(port, database))
        return Part("postgres", postgres.pid(), port, "postgres")

    def _start_chroma(self) -> Part:
        port, log = free_port(), self.log("chroma")
        env = {**self.base_env(), "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"}
        process = spawn(chroma_command(self.folder / "chroma", port), log, env)
        heartbeat = f"http://{HOST}:{port}/api/v2/heartbeat"
        wait_until(lambda: http_ok(heartbeat), "chroma run", log, 60, running(process))
        return Part("chroma", process.pid, port, f"--port {port}")

    def _app_env(self, pg_port: int, chroma_port: int) -> dict[str, str]:
        """The environment of every app process: the database, the Chroma server, the shared web secret, and
        HAProxy (on this host) as the one proxy whose X-Forwarded-For names the client."""
        return {
            **self.base_env(),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "ANONYMIZED_TELEMETRY": "False",
            DATABASE_URL_VAR: self.database_url(pg_port),
            CHROMA_URL_VAR: f"http://{HOST}:{chroma_port}",
            SECRET_FILE_VAR: str(self.secret("web-secret")),
            TRUSTED_PROXIES_VAR: HOST,
        }

    def _start_replicas(self, count: int, env: dict[str, str]) -> list[Part]:
        """Start the replicas together (each its own data folder) and wait until each serves its page."""
        started = []
        for n in range(1, count + 1):
            port, log = free_port(), self.log(f"replica-{n}")
            own = {**env, "INTERVIEWER_DATA_DIR": str(self.folder / f"replica-{n}")}
            started.append((Part(f"replica-{n}", 0, port, f"--port {port}"), spawn(replica_command(port), log, own)))
        try:
            for part, process in started:
                page = partial(http_ok, f"http://{HOST}:{part.port}/")
                wait_until(page, part.name, self.log(part.name), START_TIMEOUT, running(process))
        except BaseException:
            for _, process in started:
                process.kill()
            raise
        return [Part(part.name, process.pid, part.port, part.mark) for part, process in started]

    def _start_haproxy(self, port: int, replicas: list[Part]) -> Part:
        from interviewer.team.parts import haproxy_config

        config = self.folder / "haproxy.cfg"
        config.write_text(haproxy_config(port, {p.name: p.port for p in replicas}), encoding="utf-8")
        log = self.log("haproxy")
        process = spawn([str(haproxy()), "-f", str(config), "-db"], log, self.base_env())
        page = f"http://{HOST}:{port}/"
        wait_until(lambda: http_ok(page), "haproxy", log, 30, running(process))
        return Part("haproxy", process.pid, port, str(config))

    # -- down -----------------------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop every part, the front first; their data stays for the next `up`."""
        lines = []
        for part in reversed(self.parts()):
            if part.name == "postgres":
                pid = self.postgres.pid()
                self.postgres.stop()
                stopped = bool(pid)
            else:
                pid, stopped = part.pid, stop_process(part.pid, part.mark)
            lines.append(f"{part.name}: stopped (pid {pid})" if stopped else f"{part.name}: was not running")
            if part.name == "postgres":
                lines[-1] += f"; its data stays in {self.postgres.folder}"
        return lines

    def remove(self) -> None:
        """Stop every part and delete the cluster: this folder and PostgreSQL's, wherever it is."""
        place = self.postgres.folder  # read before this folder (and the link to it) goes
        try:
            self.down()
        finally:
            shutil.rmtree(place, ignore_errors=True)
            shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def throwaway(
    environ: Mapping[str, str] | None = None, replicas: int = REPLICAS, fast: bool = False
) -> Iterator[Cluster]:
    """A whole cluster started as `up` starts it, in a temporary folder (private, mode 0700), HAProxy and every part
    on free loopback ports; `fast` as for `Cluster`. Stopped and removed when the block ends, on an error or Ctrl-C
    too, PostgreSQL's folder with it wherever it is."""
    folder = Path(tempfile.mkdtemp(prefix="interviewer-cluster-"))
    cluster = Cluster(folder / "cluster", fast, environ)
    try:
        cluster.up(free_port(), replicas)
        yield cluster
    finally:
        try:
            cluster.remove()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
