"""`python -m interviewer.perf.soak` (`make soak`): simulated candidates for a long while, watching for leaks.

`--users` candidates (20) thinking `--think` seconds (5) interview against each target for `--minutes` (30, or
SOAK_MINUTES), the targets at the same time: the embedded app (`python app.py` over a temporary data folder) and a
throwaway cluster (PostgreSQL, `chroma run`, two replicas, HAProxy, in a temporary folder on free loopback ports),
both started and removed here as `make loadtest` does, with the per-person limits lifted. Every few seconds it
samples each server process's memory and open file descriptors and each target's database connections; every
turn's latency is kept. `soak_report` turns that into the goals (memory growth after the warm-up under 10%,
descriptors and connections flat, turns in every window, no errors) and writes `soak.json` and `soak.md`. The
soak reports; it does not fail on a missed goal (the tests assert them).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from locust.env import Environment

from interviewer.config import PROJECT_ROOT, Settings
from interviewer.curriculum.corpus import load_corpus
from interviewer.errors import InterviewerError
from interviewer.perf import soak_report
from interviewer.perf.load_sampler import ResourceSampler
from interviewer.perf.load_user import TURN, AnswerBank
from interviewer.perf.loadtest import (
    Options,
    RunPlan,
    TurnLog,
    _user_class,
    embedded_app,
    server_env,
    stop_on_signals,
)
from interviewer.team.cluster import Cluster, throwaway
from interviewer.team.parts import DB_NAME

MINUTES_VAR = "SOAK_MINUTES"
DEFAULT_MINUTES = 30.0
TARGETS = ("embedded", "cluster")
APP_PROCESSES = ("app.py", "replica-")  # the web app's processes, as the targets name them


@dataclass(frozen=True)
class SoakPlan:
    duration_s: float
    users: int
    think_s: float
    spawn_rate: float
    stop_timeout_s: float
    prompts: int
    targets: tuple[str, ...]

    @property
    def sample_every_s(self) -> float:
        """Ten seconds, or a twenty-fourth of a soak shorter than four minutes."""
        return min(10.0, self.duration_s / 24)

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "users": self.users,
            "think_s": self.think_s,
            "prompts": self.prompts,
            "spawn_rate": self.spawn_rate,
            "targets": list(self.targets),
            "sample_every_s": round(self.sample_every_s, 2),
            "warmup_s": round(soak_report.warmup_s(self.duration_s), 1),
            "window_s": round(soak_report.window_s(self.duration_s), 1),
        }


class TimedLog(TurnLog):
    """A `TurnLog` that also keeps when (seconds since `began`) each turn and each failure completed."""

    def __init__(self, began: float) -> None:
        super().__init__()
        self.began = began
        self.turns: list[tuple[float, float]] = []
        self.errors_at: list[float] = []

    def on_request(self, name: str, response_time: float, exception: BaseException | None, **kw: Any) -> None:
        super().on_request(name, response_time, exception, **kw)
        at = round(time.monotonic() - self.began, 2)
        if exception is not None:
            self.errors_at.append(at)
        elif name == TURN:
            self.turns.append((at, round(response_time, 1)))


@dataclass
class Target:
    """One target under soak: its URL, its server processes by name and how to count its database connections."""

    name: str
    url: str
    sampler: ResourceSampler
    connections: Callable[[dict[str, dict[str, float]]], int]  # from the processes' sample, or asked anew
    db: str  # what the connections count, for the report
    samples: list[dict[str, Any]] = field(default_factory=list)

    def sample(self, at: float) -> None:
        processes = self.sampler.sample()
        connections = self.connections(processes)
        self.samples.append({"t_s": round(at, 1), "processes": processes, "db_connections": connections})


# -- the targets -------------------------------------------------------------------------------------------------


@contextmanager
def _embedded() -> Iterator[Target]:
    with embedded_app(Settings().data_dir / "index") as (url, pid):

        def sqlite_files(processes: dict[str, dict[str, float]]) -> int:
            return int(processes.get("app.py", {}).get("db_files", 0))

        yield Target("embedded", url, ResourceSampler({"app.py": pid}), sqlite_files, "sessions.sqlite fds")


@contextmanager
def _pg_connections(cluster: Cluster) -> Iterator[Callable[[dict[str, dict[str, float]]], int]]:
    """Counts the app database's connections in pg_stat_activity, over one connection of the soak's own (left
    out of the count), with the cluster's credentials; the URL with its password is never shown."""
    import psycopg

    url = cluster.database_url(cluster.part("postgres").port)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise InterviewerError(f"Cannot reach the cluster's database to count its connections: {exc}") from None
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )

    def count(_: dict[str, dict[str, float]]) -> int:
        row = conn.execute(query, (DB_NAME,)).fetchone()
        return int(row[0]) if row else 0

    with conn:
        yield count


@contextmanager
def _cluster() -> Iterator[Target]:
    print("Starting a throwaway cluster (PostgreSQL, chroma run, 2 replicas, HAProxy) in a temp folder", flush=True)
    with throwaway(server_env()) as cluster, _pg_connections(cluster) as connections:
        running = [(row.part.name, row.pid) for row in cluster.status() if row.pid]
        parts = dict(sorted(running, key=lambda part: not part[0].startswith("replica")))  # the replicas first
        front = f"http://127.0.0.1:{cluster.part('haproxy').port}/"
        print(f"The cluster is up at {front}: " + ", ".join(f"{n} (pid {p})" for n, p in parts.items()), flush=True)
        try:
            yield Target("cluster", front, ResourceSampler(parts), connections, "pg_stat_activity")
        finally:
            print("Stopping the throwaway cluster and removing its folder", flush=True)


STARTERS: dict[str, Callable[[], Any]] = {"embedded": _embedded, "cluster": _cluster}


# -- the soak ----------------------------------------------------------------------------------------------------


def _runners(plan: SoakPlan, targets: list[Target]) -> list[tuple[Any, TimedLog]]:
    corpus = load_corpus(Settings().corpus_dir)
    bank = AnswerBank.load(PROJECT_ROOT / "evals" / "cases", corpus)
    choices = tuple(f"topic:{t.id}" for t in corpus.topics.values() if t.prompts)
    options = Options(plan.duration_s, plan.spawn_rate, plan.stop_timeout_s, plan.prompts)
    runners = []
    for target in targets:
        users = _user_class(target.url, RunPlan(plan.users, plan.think_s), options, bank, choices)
        log = TimedLog(began=0.0)  # the soak's clock is set when the users start
        env = Environment(user_classes=[users], host=target.url, stop_timeout=plan.stop_timeout_s)
        env.events.request.add_listener(log.on_request)  # type: ignore[no-untyped-call]
        runners.append((env.create_local_runner(), log))
    return runners


def _stop_all(runners: list[Any]) -> None:
    """Stop every target's users at once, each finishing its turn in flight (up to the stop timeout)."""
    stoppers = [threading.Thread(target=runner.stop) for runner in runners]  # greenlets, under locust
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()


def soak(plan: SoakPlan, targets: list[Target]) -> dict[str, dict[str, Any]]:
    """Run the candidates against every target at once for the plan's duration, sampling as they go."""
    runners = _runners(plan, targets)
    began = time.monotonic()
    for _, log in runners:
        log.began = began
    try:
        for runner, _ in runners:
            runner.start(plan.users, spawn_rate=plan.spawn_rate)
        step = plan.sample_every_s
        for k in range(round(plan.duration_s / step) + 1):
            time.sleep(max(0.0, began + k * step - time.monotonic()))  # gevent's sleep: the users run meanwhile
            for target in targets:
                target.sample(time.monotonic() - began)
            if k % max(1, round(60 / step)) == 0:
                print(_progress(targets, runners, time.monotonic() - began), flush=True)
        _stop_all([runner for runner, _ in runners])
    finally:
        for runner, _ in runners:
            runner.quit()  # on Ctrl-C too: no user goes on against servers being stopped
    return {target.name: _measured(target, log) for target, (_, log) in zip(targets, runners, strict=True)}


def _progress(targets: list[Target], runners: list[tuple[Any, TimedLog]], at: float) -> str:
    parts = []
    for target, (_, log) in zip(targets, runners, strict=True):
        rss = ", ".join(f"{n} {p['rss_mb']:.0f} MB" for n, p in target.samples[-1]["processes"].items())
        parts.append(f"{target.name}: {len(log.turns)} turns, {log.errors} errors, {rss}")
    return f"{at / 60:4.1f} min  " + "; ".join(parts)


def _measured(target: Target, log: TimedLog) -> dict[str, Any]:
    return {
        "url": target.url,
        "db": target.db,
        "app_processes": [name for name in target.sampler.roots if name.startswith(APP_PROCESSES)],
        "samples": target.samples,
        "turns": log.turns,
        "errors": log.errors,
        "errors_at": log.errors_at,
        "starts": log.starts,
        "first_errors": log.first_errors,
    }


def _start(stack: ExitStack, names: tuple[str, ...]) -> list[Target]:
    """Start the targets side by side (the cluster's parts load while the embedded app does), each stopped when
    `stack` closes; the first failure is raised once every start has ended, so nothing started is left behind."""
    started: dict[str, Target] = {}
    failures: list[BaseException] = []

    def start(name: str) -> None:
        try:
            started[name] = stack.enter_context(STARTERS[name]())
        except BaseException as exc:  # raised again below, in the caller
            failures.append(exc)

    starters = [threading.Thread(target=start, args=(name,), name=f"start-{name}") for name in names]
    for starter in starters:
        starter.start()
    try:
        for starter in starters:
            starter.join()
    finally:
        for starter in starters:  # on Ctrl-C too: whatever is starting is left to `stack` to stop
            starter.join()
    if failures:
        raise failures[0]
    return [started[name] for name in names]


def run(plan: SoakPlan, out: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Start the targets, soak them, stop them, and write the report."""
    date = datetime.now(UTC).isoformat(timespec="seconds")
    with ExitStack() as stack:
        targets = _start(stack, plan.targets)
        print(
            f"Soaking {', '.join(plan.targets)} for {plan.duration_s / 60:g} min, {plan.users} users each", flush=True
        )
        measured = soak(plan, targets)
    for target in measured.values():
        target["figures"] = soak_report.target_figures(target, plan.duration_s)
    report = {"date": date, "plan": plan.as_dict(), "targets": measured}
    json_path, md_path = soak_report.write(out, report)
    return json_path, md_path, report


# -- the command -------------------------------------------------------------------------------------------------


def _default_minutes() -> float:
    raw = os.environ.get(MINUTES_VAR, "").strip()
    if not raw:
        return DEFAULT_MINUTES
    try:
        return float(raw)
    except ValueError:
        raise InterviewerError(f"{MINUTES_VAR} must be a number of minutes such as 30, got {raw!r}.") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m interviewer.perf.soak",
        description="Simulated candidates for a long while against the embedded app and a throwaway cluster.",
    )
    parser.add_argument("--minutes", type=float, help=f"how long (default {MINUTES_VAR}, else 30)")
    parser.add_argument("--users", type=int, default=20, help="candidates per target (default 20)")
    parser.add_argument("--think", type=float, default=5.0, help="seconds between answers (default 5)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="embedded, cluster or both (the default)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started a second (default 5)")
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="seconds to finish turns in flight")
    parser.add_argument("--prompts", type=int, default=3, help="prompts per interview (default 3)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "evals" / "reports", help="where soak.* go")
    return parser


def plan_of(args: argparse.Namespace) -> SoakPlan:
    """The plan from the command line and SOAK_MINUTES; anything out of range is one clear error."""
    minutes = args.minutes if args.minutes is not None else _default_minutes()
    source = "--minutes" if args.minutes is not None else MINUTES_VAR
    if not 1 <= minutes <= 24 * 60:
        raise InterviewerError(f"{source} takes 1 to 1440 minutes, got {minutes:g}.")
    if not 1 <= args.users <= 500 or not 0 <= args.think <= 600:
        raise InterviewerError("--users takes 1 to 500, --think 0 to 600 seconds.")
    if not 0.1 <= args.spawn_rate <= 100 or not 0 <= args.stop_timeout <= 600 or not 1 <= args.prompts <= 20:
        raise InterviewerError("--spawn-rate 0.1-100 a second, --stop-timeout 0-600 s, --prompts 1-20.")
    targets = tuple(dict.fromkeys(filter(None, (t.strip() for t in args.targets.split(",")))))
    if not targets or any(t not in TARGETS for t in targets):
        raise InterviewerError(f"--targets takes embedded, cluster or embedded,cluster, got {args.targets!r}.")
    return SoakPlan(minutes * 60, args.users, args.think, args.spawn_rate, args.stop_timeout, args.prompts, targets)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stop_on_signals()
    try:
        json_path, md_path, report = run(plan_of(args), args.out)
    except InterviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: the servers started here are stopped; no report written.", file=sys.stderr)
        return 130
    for name, target in report["targets"].items():
        met = "every goal met" if target["figures"]["all_goals_met"] else "a goal missed (see the report)"
        print(f"{name}: {len(target['turns'])} turns, {target['errors']} errors, {met}", flush=True)
    print(f"Wrote {json_path} and {md_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
