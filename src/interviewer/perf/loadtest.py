"""`python -m interviewer.perf.loadtest` (`make loadtest`): simulated candidates against the web app, on loopback only.

Drives locust as a library with `load_user.InterviewUser`: for each run (users x think time) it spawns the users
at a bounded rate, lets them interview for `--duration` seconds, waits up to `--stop-timeout` for the turns in
flight, and measures the turns' latency, throughput and errors, with the CPU and memory of the server processes
sampled each second. `--target embedded` (the default) starts `python app.py` itself on a free port over a
temporary data folder and stops it afterwards; `--target cluster` starts a throwaway cluster as `interviewer
cluster up` does (`cluster.throwaway`: PostgreSQL, `chroma run`, two replicas, HAProxy, in a temporary folder on
free loopback ports) and stops and removes it afterwards, or, with `--url URL`, drives a deployment that is
already running; `--target all` runs both in turn; `--target failover` kills a replica and restarts PostgreSQL
under load on a throwaway cluster (`failover`). Any URL that is not on this machine is refused. The figures go to
`load.json` and `load.md` (`load_report`), where a target's new runs replace only its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
import numpy as np
from locust import constant
from locust.env import Environment

from interviewer.config import PROJECT_ROOT, Settings
from interviewer.curriculum.corpus import load_corpus
from interviewer.errors import InterviewerError
from interviewer.perf import failover, load_report
from interviewer.perf.load_sampler import ProcessSampler, cluster_processes
from interviewer.perf.load_user import START, TURN, AnswerBank, InterviewUser
from interviewer.team.cluster import throwaway
from interviewer.team.parts import free_port
from interviewer.web.server import is_loopback

DEFAULT_RUNS = "1x5,20x5,50x5,100x5,20x0"
TARGETS = ("embedded", "cluster")
# Variables the servers the load test starts must not inherit: they measure the default, offline app without
# logins (the cluster's parts get their own database and Chroma URLs).
NOT_INHERITED = (
    "INTERVIEWER_DATABASE_URL",
    "INTERVIEWER_CHROMA_URL",
    "INTERVIEWER_AUTH",
    "INTERVIEWER_AUTH_FILE",
    "INTERVIEWER_HOST",
    "INTERVIEWER_PORT",
    "INTERVIEWER_BRAIN",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
)


@dataclass(frozen=True)
class RunPlan:
    users: int
    think_s: float


@dataclass(frozen=True)
class Options:
    duration_s: float
    spawn_rate: float
    stop_timeout_s: float
    prompts_per_session: int


def parse_runs(spec: str) -> list[RunPlan]:
    """`1x5,20x0` as runs of (users, think seconds); anything else is one clear error."""
    plans: list[RunPlan] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        users, _, think = item.partition("x")
        try:
            plan = RunPlan(int(users), float(think))
        except ValueError:
            raise InterviewerError(f"--runs takes USERSxTHINK_SECONDS items such as 20x5, got {item!r}.") from None
        if not 1 <= plan.users <= 1000 or not 0 <= plan.think_s <= 600:
            raise InterviewerError(f"--runs: 1 to 1000 users and 0 to 600 s of think time, got {item!r}.")
        plans.append(plan)
    if not plans:
        raise InterviewerError("--runs names no run.")
    return plans


def loopback_url(url: str) -> str:
    """The URL, with a trailing slash, if it is http(s) on this machine; otherwise an error."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InterviewerError(f"--url must be an http:// URL such as http://127.0.0.1:7860/, got {url!r}.")
    if not is_loopback(parts.hostname):
        raise InterviewerError(f"Refusing to load {parts.hostname}: the load test drives loopback addresses only.")
    return url.strip().rstrip("/") + "/"


# -- the embedded app ----------------------------------------------------------------------------------------


def server_env(data_dir: Path | None = None) -> dict[str, str]:
    """The environment of the servers the load test starts (the embedded app, a throwaway cluster's parts)."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    if data_dir is not None:
        env["INTERVIEWER_DATA_DIR"] = str(data_dir)
    env.update(
        # Without logins every simulated candidate is the same (anonymous) person: lift the per-person limits.
        INTERVIEWER_MAX_OPEN_SESSIONS="1000000",
        INTERVIEWER_ANSWERS_PER_MINUTE="1000000",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
    )
    return env


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InterviewerError(f"The app stopped at start ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "config", timeout=5) as reply:  # loopback only
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise InterviewerError(f"The app did not answer within {timeout_s:.0f} s:\n{log.read_text()[-2000:]}")


@contextmanager
def embedded_app(index_from: Path | None, start_timeout_s: float = 300) -> Iterator[tuple[str, int]]:
    """`python app.py --port FREE` over a temporary data folder (with a copy of an index, when there is one);
    its URL and process id; stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="interviewer-load-") as tmp:
        data = Path(tmp) / "data"
        if index_from is not None and index_from.is_dir():
            shutil.copytree(index_from, data / "index")
        port, log = free_port(), Path(tmp) / "app.log"
        url = f"http://127.0.0.1:{port}/"
        with log.open("wb") as out:
            command = [sys.executable, "app.py", "--port", str(port)]
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=server_env(data), stdout=out, stderr=out)
        try:
            _wait_ready(url, process, log, start_timeout_s)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


# -- one run ---------------------------------------------------------------------------------------------------


class TurnLog:
    """The request events of a run: every turn's time, and the failures of turns and session starts."""

    def __init__(self) -> None:
        self.times_ms: list[float] = []
        self.errors = 0
        self.starts = 0
        self.first_errors: list[str] = []

    def on_request(self, name: str, response_time: float, exception: BaseException | None, **_: Any) -> None:
        if exception is not None:
            self.errors += 1
            if len(self.first_errors) < 5:
                self.first_errors.append(f"{name}: {type(exception).__name__}: {str(exception)[:200]}")
        elif name == TURN:
            self.times_ms.append(response_time)
        elif name == START:
            self.starts += 1


def _user_class(url: str, plan: RunPlan, options: Options, bank: AnswerBank, choices: tuple[str, ...]) -> type:
    return type(
        "Candidate",
        (InterviewUser,),
        {
            "abstract": False,
            "host": url,
            "wait_time": constant(plan.think_s),
            "answers": bank,
            "choices": choices,
            "prompts_per_session": options.prompts_per_session,
        },
    )


def run_once(url: str, plan: RunPlan, options: Options, users: type, sampler: ProcessSampler) -> dict[str, Any]:
    """One run of `plan.users` candidates for `options.duration_s`; its figures as a load.json entry."""
    log = TurnLog()
    env = Environment(user_classes=[users], host=url, stop_timeout=options.stop_timeout_s)
    env.events.request.add_listener(log.on_request)  # type: ignore[no-untyped-call]
    runner = env.create_local_runner()
    began, date = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    try:
        with sampler.sampling() as usage:
            runner.start(plan.users, spawn_rate=options.spawn_rate)
            time.sleep(options.duration_s)  # gevent's sleep (locust patches time): the users run meanwhile
            runner.stop()  # lets each user finish the turn in flight, up to the stop timeout
            elapsed = time.monotonic() - began
    finally:
        runner.quit()  # on Ctrl-C too: no user goes on against servers being stopped
    p50, p95, p99 = (float(x) for x in np.percentile(log.times_ms, [50, 95, 99])) if log.times_ms else (0.0,) * 3
    return {
        "users": plan.users,
        "think_s": plan.think_s,
        "turns": len(log.times_ms),
        "errors": log.errors,
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "p99_ms": round(p99, 1),
        "turns_per_s": round(len(log.times_ms) / elapsed, 3),
        "rss_mb_max": usage.rss_mb_max,
        "app_rss_mb_max": load_report.app_rss_mb_max(usage.per_process),
        "cpu": usage.per_process,
        "harness": usage.harness,
        "other_cpu_pct_mean": usage.other_cpu_pct_mean,
        "starts": log.starts,
        "first_errors": log.first_errors,
        "duration_s": round(elapsed, 1),
        "spawn_rate": options.spawn_rate,
        "date": date,
    }


# -- the whole test ------------------------------------------------------------------------------------------


def run_all(
    url: str, target: str, plans: list[RunPlan], options: Options, sampler: ProcessSampler
) -> list[dict[str, Any]]:
    """Every run in turn against `url`, each printed as it ends."""
    corpus = load_corpus(Settings().corpus_dir)
    bank = AnswerBank.load(PROJECT_ROOT / "evals" / "cases", corpus)
    choices = tuple(f"topic:{t.id}" for t in corpus.topics.values() if t.prompts)
    entries: list[dict[str, Any]] = []
    for plan in plans:
        users = _user_class(url, plan, options, bank, choices)
        entry = {"target": target, **run_once(url, plan, options, users, sampler)}
        print(
            f"{target} {plan.users} users, think {plan.think_s:g} s: {entry['turns']} turns, {entry['errors']} errors, "
            f"p50 {entry['p50_ms']:.0f} ms, p95 {entry['p95_ms']:.0f} ms, p99 {entry['p99_ms']:.0f} ms, "
            f"{entry['turns_per_s']:.2f} turns/s, server RSS {entry['rss_mb_max']:.0f} MB "
            f"(largest app process {entry['app_rss_mb_max']:.0f} MB)",
            flush=True,
        )
        entries.append(entry)
    return entries


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m interviewer.perf.loadtest",
        description="Simulated candidates against the web app (loopback only).",
    )
    parser.add_argument(
        "--target", choices=[*TARGETS, "all", failover.TARGET], default="embedded",
        help="all: embedded, then cluster; failover: a replica killed and PostgreSQL restarted under load",
    )  # fmt: skip
    parser.add_argument("--url", help="a running deployment to drive (cluster), e.g. http://127.0.0.1:7860/")
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"USERSxTHINK_S items (default {DEFAULT_RUNS})")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per run (default 60)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started a second (default 5)")
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="seconds to finish turns in flight")
    parser.add_argument("--prompts", type=int, default=3, help="prompts per interview (default 3)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "evals" / "reports", help="where load.* go")
    parser.add_argument("--note", action="append", default=[], help="a line to add to load.md (repeatable)")
    parser.add_argument("--server-pid", type=int, action="append", default=[], help="a process of --url's to sample")
    failover.add_arguments(parser)
    return parser


def _options(args: argparse.Namespace) -> Options:
    if not 1 <= args.duration <= 3600 or not 0.1 <= args.spawn_rate <= 100 or not 0 <= args.stop_timeout <= 600:
        raise InterviewerError("--duration 1-3600 s, --spawn-rate 0.1-100 a second, --stop-timeout 0-600 s.")
    if not 1 <= args.prompts <= 20:
        raise InterviewerError("--prompts takes 1 to 20.")
    return Options(args.duration, args.spawn_rate, args.stop_timeout, args.prompts)


LIMITS = "the per-person limits (INTERVIEWER_MAX_OPEN_SESSIONS, INTERVIEWER_ANSWERS_PER_MINUTE)"
TARGET_NOTES = {
    "embedded": "embedded: `python app.py` on a free loopback port over a temporary data folder (SQLite, the local "
    f"index, the offline rubric brain, no logins); {LIMITS} are lifted, since every candidate is the same "
    "anonymous person.",
    "cluster": "cluster: a throwaway cluster the load test starts as `interviewer cluster up` does, in a temporary "
    "folder on free loopback ports, and stops and removes afterwards: PostgreSQL 15 (fsync on), `chroma run` (the "
    "curriculum indexed into it at start), 2 replicas (`python app.py`, the offline rubric brain) and HAProxy with "
    f"its sticky cookie. No logins, so every candidate is the same anonymous person: {LIMITS} are lifted through "
    "the replicas' environment. Sampled per part: replica-1, replica-2, postgres (the postmaster and its "
    "backends), chroma, haproxy.",
    "cluster-url": "cluster: a running deployment given by --url. The candidates sign in as no one, so they are all "
    f"one anonymous person: a deployment that keeps {LIMITS} refuses them past those limits, and the refusals count "
    "as errors. The processes sampled are found by name (app.py, haproxy, postgres, chroma, and whatever listens "
    "on the URL's port) unless --server-pid names them.",
}


def _notes(args: argparse.Namespace, target: str, options: Options) -> list[str]:
    key = "cluster-url" if target == "cluster" and args.url else target
    return [
        f"{target}: each run {options.duration_s:g} s of load after users start at {options.spawn_rate:g} a second "
        f"(the ramp counts), then up to {options.stop_timeout_s:g} s for the turns in flight; "
        f"{options.prompts_per_session} prompts per interview.",
        TARGET_NOTES[key],
        *args.note,
    ]


def measure(
    target: str, url: str | None, args: argparse.Namespace, plans: list[RunPlan], options: Options
) -> list[dict[str, Any]]:
    """Every run against one target: the embedded app or a throwaway cluster, both started here, or `url`."""
    if target == "embedded":
        with embedded_app(Settings().data_dir / "index") as (app, pid):
            return run_all(app, target, plans, options, ProcessSampler([pid]))
    if url is not None:
        return run_all(url, target, plans, options, ProcessSampler(args.server_pid or cluster_processes(url)))
    print("Starting a throwaway cluster (PostgreSQL, chroma run, 2 replicas, HAProxy) in a temp folder", flush=True)
    with throwaway(server_env()) as cluster:
        running = [(row.part.name, row.pid) for row in cluster.status() if row.pid]
        parts = dict(sorted(running, key=lambda part: not part[0].startswith("replica")))  # the replicas first
        front = f"http://127.0.0.1:{cluster.part('haproxy').port}/"
        print(f"The cluster is up at {front}: " + ", ".join(f"{n} (pid {p})" for n, p in parts.items()), flush=True)
        try:
            return run_all(front, target, plans, options, ProcessSampler(parts))
        finally:
            print("Stopping the throwaway cluster and removing its folder", flush=True)


def run_failover(args: argparse.Namespace) -> None:
    """`--target failover` (`failover.run`) on a throwaway cluster; its entry written as soon as it ends."""
    if args.url:
        raise InterviewerError("--target failover kills a replica and restarts PostgreSQL: it starts its own cluster.")
    entry = failover.run(failover.plan_of(args), server_env())
    entry["notes"] = [failover.NOTE, *args.note]
    print(failover.describe(entry), flush=True)
    json_path, md_path = load_report.write(args.out, failover.TARGET, [entry])
    print(f"Wrote {json_path} and {md_path}", flush=True)


def stop_on_signals() -> None:
    """A `kill` or Ctrl-C stops the servers started here: a KeyboardInterrupt in the main greenlet unwinds their
    `with` blocks. Under locust's gevent the signal can arrive while a simulated candidate's greenlet (or another
    one of the run's) runs. Raised there, it would end that greenlet only, and the run would go on with its
    servers; thrown into the main greenlet from there, it would leave that greenlet suspended for good, and the
    process would wait for it at exit. So the hub throws it into the main greenlet between two greenlets' turns."""
    main = gevent.getcurrent()

    def interrupt(signum: int, frame: object) -> None:
        if gevent.getcurrent() is main:
            raise KeyboardInterrupt
        gevent.get_hub().loop.run_callback(main.throw, KeyboardInterrupt)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stop_on_signals()
    try:
        if args.target == failover.TARGET:
            run_failover(args)
            return 0
        plans, options = parse_runs(args.runs), _options(args)
        targets = TARGETS if args.target == "all" else (args.target,)
        if args.url and "cluster" not in targets:
            raise InterviewerError("--url goes with --target cluster (or all); the embedded target starts its own app.")
        url = loopback_url(args.url) if args.url else None
        for target in targets:  # each target's runs are written as soon as they end
            entries = measure(target, url, args, plans, options)
            for entry in entries:
                entry["notes"] = _notes(args, target, options)
            json_path, md_path = load_report.write(args.out, target, entries)
            print(f"Wrote {json_path} and {md_path}", flush=True)
    except InterviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: the servers started here are stopped; no figures written for this target.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
