"""CPU and memory of the server processes during a load run, sampled each second with psutil.

One core busy is 100%. Each process given is sampled with its children (PostgreSQL's backends, say) under one
name; the load generator (this process) and the rest of the machine are measured too, so a report can say
when the machine was busy with other work.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

MB = 1024 * 1024
# What a deployment of this app runs besides the load balancer found on the URL's port.
CLUSTER_NAMES = ("haproxy", "postgres", "chroma")


def process_name(process: Any) -> str:
    """`app.py` for the web app, else the program's name."""
    try:
        if any(part.endswith("app.py") for part in process.cmdline()):
            return "app.py"
        return str(process.name())
    except psutil.Error:
        return "gone"


def cluster_processes(url: str) -> list[int]:
    """The processes of a running deployment: whatever listens on the URL's port, the web apps (`app.py`),
    and HAProxy, PostgreSQL and Chroma, each once (children are sampled with their parent)."""
    port = urlsplit(url).port or 80
    found = {c.pid for c in psutil.net_connections(kind="inet") if c.laddr and c.laddr.port == port and c.pid}
    for process in psutil.process_iter():
        name = process_name(process)
        if name == "app.py" or any(word in name for word in CLUSTER_NAMES):
            found.add(process.pid)
    found.discard(os.getpid())
    return sorted(pid for pid in found if _parent(pid) not in found)


def _parent(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).ppid())
    except psutil.Error:
        return None


@dataclass
class Usage:
    """What a run used: per named server process, the load generator, and the rest of the machine."""

    per_process: dict[str, dict[str, float]] = field(default_factory=dict)
    harness: dict[str, float] = field(default_factory=dict)
    rss_mb_max: float = 0.0
    other_cpu_pct_mean: float = 0.0


def _figures(cpu: list[float], rss: list[float]) -> dict[str, float]:
    return {
        "cpu_pct_mean": round(sum(cpu) / len(cpu), 1) if cpu else 0.0,
        "cpu_pct_max": round(max(cpu, default=0.0), 1),
        "rss_mb_max": round(max(rss, default=0.0), 1),
    }


class ProcessSampler:
    """Samples the given processes (and their children), this process and the whole machine every `every_s`."""

    def __init__(self, pids: list[int] | Mapping[str, int], every_s: float = 1.0) -> None:
        """`pids` as a list are named by their program (`app.py`, `postgres`), as a mapping by its keys."""
        self.every_s = every_s
        self.roots: dict[str, Any] = {}
        named = pids.items() if isinstance(pids, Mapping) else ((None, pid) for pid in pids)
        for given, pid in named:
            try:
                process = psutil.Process(pid)
            except psutil.Error:
                continue
            name = given or process_name(process)
            label = name if name not in self.roots else f"{name} {pid}"
            self.roots[label] = process
        self.known: dict[int, Any] = {}

    def _cpu_rss(self, process: Any, children: bool = True) -> tuple[float, float]:
        """CPU % since the last sample (0 on a process's first) and RSS in MB, of a process and its children."""
        cpu = rss = 0.0
        try:
            family = [process, *(process.children(recursive=True) if children else [])]
        except psutil.Error:
            return cpu, rss
        for member in family:
            tracked = self.known.setdefault(member.pid, member)
            try:
                cpu += float(tracked.cpu_percent(interval=None))
                rss += float(tracked.memory_info().rss) / MB
            except psutil.Error:
                continue
        return cpu, rss

    def _sample(self, series: dict[str, tuple[list[float], list[float]]], totals: list[float]) -> None:
        servers = 0.0
        for label, process in [*self.roots.items(), ("harness", psutil.Process())]:
            # The load generator alone: the embedded app is its child, and is sampled under its own name.
            cpu, rss = self._cpu_rss(process, children=label != "harness")
            series.setdefault(label, ([], []))[0].append(cpu)
            series[label][1].append(rss)
            servers += cpu
        machine = float(psutil.cpu_percent(interval=None)) * (psutil.cpu_count() or 1)
        totals.append(max(0.0, machine - servers))

    @contextmanager
    def sampling(self) -> Iterator[Usage]:
        """Sample while the block runs; the `Usage` yielded is filled in when it ends."""
        usage, stop = Usage(), threading.Event()
        series: dict[str, tuple[list[float], list[float]]] = {}
        others: list[float] = []
        self._sample({}, [])  # primes every cpu_percent: its first reading is always 0

        def loop() -> None:
            while not stop.wait(self.every_s):
                self._sample(series, others)

        worker = threading.Thread(target=loop, name="load-sampler", daemon=True)
        worker.start()
        try:
            yield usage
        finally:
            stop.set()
            worker.join(timeout=5)
            self._fill(usage, series, others)

    @staticmethod
    def _fill(usage: Usage, series: dict[str, tuple[list[float], list[float]]], others: list[float]) -> None:
        for label, (cpu, rss) in series.items():
            if label == "harness":
                usage.harness = _figures(cpu, rss)
            else:
                usage.per_process[label] = _figures(cpu, rss)
        server_rss = [rss for label, (_, rss) in series.items() if label != "harness"]
        servers = [sum(values) for values in zip(*server_rss, strict=True)]
        usage.rss_mb_max = round(max(servers, default=0.0), 1)
        usage.other_cpu_pct_mean = round(sum(others) / len(others), 1) if others else 0.0


# -- a soak's slower samples: memory, file descriptors and database files per server process -------------------

# The session database's files (`Settings.database_path` and SQLite's write-ahead log and shared memory): the
# embedded app's open descriptors on them are its database connections.
SQLITE_FILES = ("sessions.sqlite", "sessions.sqlite-wal", "sessions.sqlite-shm")


@dataclass(frozen=True)
class Resources:
    """A server process with its children at one moment: resident memory (and, when asked, the proportional
    memory, which shares pages such as PostgreSQL's shared buffers out among the processes mapping them, and the
    resident anonymous memory, the processes' own heaps, which leaves shared memory out), open file descriptors,
    open descriptors on the session database's files, and how many processes that was."""

    rss_mb: float
    fds: int
    db_files: int
    processes: int
    pss_mb: float | None = None
    anon_mb: float | None = None

    def as_dict(self) -> dict[str, float]:
        figures = {"rss_mb": self.rss_mb, "fds": self.fds, "db_files": self.db_files, "processes": self.processes}
        if self.pss_mb is None or self.anon_mb is None:
            return figures
        return {**figures, "pss_mb": self.pss_mb, "anon_mb": self.anon_mb}


def _db_files(process: Any) -> int:
    return sum(1 for f in process.open_files() if os.path.basename(f.path) in SQLITE_FILES)


def _rss_anon(pid: int) -> float:
    """A process's resident anonymous memory in MB (Linux's RssAnon: its own heap, without shared memory such as
    PostgreSQL's shared buffers), or 0 where /proc does not say."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("RssAnon:"):
            return float(line.split()[1]) / 1024  # kB
    return 0.0


def resources(process: Any, pss: bool = False) -> Resources:
    """What `process` and its children hold now; a member that ends meanwhile is left out, a root that has
    ended gives zeros."""
    rss = pss_mb = anon_mb = 0.0
    fds = db_files = count = 0
    try:
        family = [process, *process.children(recursive=True)]
    except psutil.Error:
        family = []
    for member in family:
        try:
            memory = member.memory_full_info() if pss else member.memory_info()
            member_fds, member_db = int(member.num_fds()), _db_files(member)
        except psutil.Error:
            continue
        rss += float(memory.rss) / MB
        pss_mb += float(getattr(memory, "pss", 0.0)) / MB
        anon_mb += _rss_anon(member.pid) if pss else 0.0
        fds, db_files, count = fds + member_fds, db_files + member_db, count + 1
    if not pss:
        return Resources(round(rss, 1), fds, db_files, count)
    return Resources(round(rss, 1), fds, db_files, count, round(pss_mb, 1), round(anon_mb, 1))


class ResourceSampler:
    """`resources` of each named server process, on demand (a soak samples it every few seconds)."""

    def __init__(self, pids: Mapping[str, int], pss: tuple[str, ...] = ("postgres",)) -> None:
        """`pss`: the names whose proportional and anonymous memory are read too (a pass over their memory maps)."""
        self.roots: dict[str, Any] = {}
        for name, pid in pids.items():
            try:
                self.roots[name] = psutil.Process(pid)
            except psutil.Error:
                continue
        self.pss = pss

    def sample(self) -> dict[str, dict[str, float]]:
        return {name: resources(process, name in self.pss).as_dict() for name, process in self.roots.items()}
