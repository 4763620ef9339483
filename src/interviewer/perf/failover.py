"""`make loadtest TARGET=failover`: simulated candidates through HAProxy while a replica dies and PostgreSQL crashes.

On a throwaway cluster (`cluster.throwaway`: PostgreSQL 15 with fsync on, `chroma run`, two replicas, HAProxy),
`--users` candidates (`load_user.CarryingOnUser`) interview with `--think` seconds between answers. At `--kill-at`
seconds the replica that HAProxy's sticky cookie gives the most candidates is killed with SIGKILL; at
`--pg-restart-at` PostgreSQL is stopped in "immediate" mode (a crash: no checkpoint, the WAL replayed at the next
start) and started again `--pg-down` seconds later; at `--end-at` the load stops. Each candidate keeps a log of the
answers the app acknowledged (`AckLog`); afterwards every session's checkpoint is read from the database and each
acknowledged answer must be in its session exactly once. The figures (errors per phase, how long the killed
replica's candidates took to continue on the other one, acknowledged answers lost and answers stored twice) go to
load.json and load.md as the target "failover".
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from locust import constant
from locust.env import Environment

from interviewer.config import PROJECT_ROOT, Settings
from interviewer.curriculum.corpus import load_corpus
from interviewer.errors import InterviewerError
from interviewer.interview.views import thread
from interviewer.perf.load_user import TURN, AnswerBank, CarryingOnUser, tag_pattern
from interviewer.storage.postgres import open_postgres
from interviewer.team.cluster import Cluster, throwaway
from interviewer.team.parts import ours

TARGET = "failover"
ANY_TAG = re.compile(r"\bu\d+n\d+\b")  # the tag a candidate puts at the start of each answer (`CarryingOnUser`)
PHASES = ("before the kill", "until sessions continue", "after the failover", "PostgreSQL restart", "after")


@dataclass(frozen=True)
class Plan:
    """The scenario's timings, in seconds from the start of the load."""

    users: int = 50
    think_s: float = 5.0
    kill_at_s: float = 30.0
    pg_restart_at_s: float = 90.0
    pg_down_s: float = 5.0
    end_at_s: float = 150.0
    spawn_rate: float = 5.0
    stop_timeout_s: float = 60.0
    prompts_per_session: int = 3
    seed: int = 7

    def check(self) -> None:
        """One clear error naming the option that is out of range or out of order."""
        if not 1 <= self.users <= 500 or not 0 <= self.think_s <= 600 or not 0.1 <= self.spawn_rate <= 100:
            raise InterviewerError("--users 1-500, --think 0-600 s and --spawn-rate 0.1-100 a second.")
        if not 0 < self.kill_at_s < self.pg_restart_at_s < self.pg_restart_at_s + self.pg_down_s < self.end_at_s:
            raise InterviewerError(
                "The failover's times must come in order: 0 < --kill-at < --pg-restart-at, and --pg-restart-at "
                "+ --pg-down < --end-at."
            )
        if self.end_at_s > 3600 or not 0 <= self.stop_timeout_s <= 600 or not 1 <= self.prompts_per_session <= 20:
            raise InterviewerError("--end-at up to 3600 s, --stop-timeout 0-600 s, --prompts 1-20.")


@dataclass
class Ack:
    """One answer the app acknowledged (or, with `acknowledged` False, one found stored on a reload)."""

    at: float
    user: int
    session: str
    tag: str
    acknowledged: bool = True


@dataclass
class AckLog:
    """What the candidates saw, timed from the start of the load: the answers acknowledged, the replica each
    candidate is on, and every request's end and failure (`on_request`, a locust listener)."""

    began: float = field(default_factory=time.monotonic)
    acks: list[Ack] = field(default_factory=list)
    replicas: dict[int, str] = field(default_factory=dict)
    sent: dict[str, list[float]] = field(default_factory=dict)  # each tag's sending times
    requests: list[tuple[float, str, bool]] = field(default_factory=list)  # (at, name, failed)
    first_errors: list[str] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.began

    def serving(self, user: int, replica: str) -> None:
        self.replicas[user] = replica

    def sending(self, user: int, session: str, tag: str) -> None:
        self.sent.setdefault(tag, []).append(round(self.now(), 1))

    def acknowledged(self, user: int, session: str, tag: str) -> None:
        self.acks.append(Ack(self.now(), user, session, tag))

    def found_stored(self, user: int, session: str, tag: str) -> None:
        self.acks.append(Ack(self.now(), user, session, tag, acknowledged=False))

    def on_request(self, name: str, exception: BaseException | None, **_: Any) -> None:
        self.requests.append((self.now(), name, exception is not None))
        if exception is not None and len(self.first_errors) < 8:
            self.first_errors.append(f"{self.now():.0f} s {name}: {type(exception).__name__}: {str(exception)[:160]}")


@dataclass
class Events:
    """When the faults happened, in seconds from the start of the load, and which replica was killed."""

    killed: str = ""
    affected: tuple[int, ...] = ()  # the candidates on the killed replica when it died
    kill_s: float = 0.0
    pg_stop_s: float = 0.0
    pg_back_s: float = 0.0
    end_s: float = 0.0


# -- the scenario ------------------------------------------------------------------------------------------------


def user_class(url: str, plan: Plan, log: AckLog) -> type:
    """The candidates of this run: answers from the evaluation cases, topics from the curriculum."""
    corpus = load_corpus(Settings().corpus_dir)
    return type(
        "Candidate",
        (CarryingOnUser,),
        {
            "abstract": False,
            "host": url,
            "wait_time": constant(plan.think_s),
            "answers": AnswerBank.load(PROJECT_ROOT / "evals" / "cases", corpus),
            "choices": tuple(f"topic:{t.id}" for t in corpus.topics.values() if t.prompts),
            "prompts_per_session": plan.prompts_per_session,
            "journal": log,
        },
    )


def _sleep_until(log: AckLog, at_s: float) -> None:
    time.sleep(max(0.0, at_s - log.now()))  # gevent's sleep (locust patches time): the candidates run meanwhile


def kill_busiest_replica(cluster: Cluster, log: AckLog, events: Events) -> None:
    """SIGKILL the replica holding the most candidates (replica-1 at an even split)."""
    counts = Counter(replica for replica in log.replicas.values() if replica)
    replicas = sorted(p.name for p in cluster.parts() if p.name.startswith("replica-"))
    events.killed = max(replicas, key=lambda name: (counts[name], -replicas.index(name)))
    events.affected = tuple(sorted(user for user, replica in log.replicas.items() if replica == events.killed))
    part = cluster.part(events.killed)
    if not ours(part.pid, part.mark):
        raise InterviewerError(f"{part.name} (pid {part.pid}) stopped before the failover could kill it.")
    events.kill_s = log.now()
    os.kill(part.pid, signal.SIGKILL)
    print(
        f"{events.kill_s:.0f} s: killed {events.killed} (SIGKILL), which served {len(events.affected)} of "
        f"{len(log.replicas)} candidates",
        flush=True,
    )


def restart_postgres(cluster: Cluster, log: AckLog, plan: Plan, events: Events) -> None:
    """Stop PostgreSQL in "immediate" mode (a crash) and start it again on its port after `plan.pg_down_s`."""
    events.pg_stop_s = log.now()
    cluster.postgres.stop("immediate")
    print(f"{events.pg_stop_s:.0f} s: PostgreSQL stopped in immediate mode", flush=True)
    time.sleep(plan.pg_down_s)
    cluster.postgres.start(cluster.part("postgres").port)
    events.pg_back_s = log.now()
    print(f"{events.pg_back_s:.0f} s: PostgreSQL started again", flush=True)


def drive(cluster: Cluster, url: str, plan: Plan, log: AckLog) -> Events:
    """The load with its two faults, from the first candidate to the last turn in flight."""
    random.seed(plan.seed)
    env = Environment(user_classes=[user_class(url, plan, log)], host=url, stop_timeout=plan.stop_timeout_s)
    env.events.request.add_listener(log.on_request)  # type: ignore[no-untyped-call]
    runner = env.create_local_runner()
    events = Events()
    log.began = time.monotonic()
    try:
        runner.start(plan.users, spawn_rate=plan.spawn_rate)
        _sleep_until(log, plan.kill_at_s)
        kill_busiest_replica(cluster, log, events)
        _sleep_until(log, plan.pg_restart_at_s)
        restart_postgres(cluster, log, plan, events)
        _sleep_until(log, plan.end_at_s)
        events.end_s = log.now()
        runner.stop()  # lets each candidate finish the turn in flight, up to the stop timeout
    finally:
        runner.quit()
    return events


# -- the check against the database ------------------------------------------------------------------------------


def stored_answers(database_url: str) -> dict[str, list[str]]:
    """Every session's stored answers, read from its checkpoint in the cluster's database."""
    storage = open_postgres(database_url)
    try:
        stored: dict[str, list[str]] = {}
        for session_id in storage.sessions.ids_of(""):  # no logins: every candidate is the anonymous person
            found = storage.checkpointer.get_tuple(thread(session_id))
            values = found.checkpoint["channel_values"] if found is not None else {}
            stored[session_id] = [str(t["answer"]) for t in values.get("turns", []) if t.get("answer")]
        return stored
    finally:
        storage.close()


def _copies(tag: str, answers: list[str]) -> int:
    pattern = tag_pattern(tag)
    return sum(1 for answer in answers if pattern.search(answer))


def compare(log: AckLog, stored: dict[str, list[str]]) -> dict[str, Any]:
    """Each acknowledged answer against its session's stored answers: lost (not there) and stored twice; also the
    answers found stored on a reload, and those stored that no candidate saw stored."""
    acks = log.acks
    acknowledged = [a for a in acks if a.acknowledged]
    copies = [_copies(a.tag, stored.get(a.session, [])) for a in acknowledged]
    tags = Counter(tag for answers in stored.values() for a in answers for tag in ANY_TAG.findall(a)[:1])
    unseen = set(tags) - {a.tag for a in acks}
    return {
        "acknowledged": len(acknowledged),
        "lost": sum(1 for n in copies if n == 0),
        "stored_twice": sum(1 for n in tags.values() if n > 1),
        "found_stored_on_reload": sum(1 for a in acks if not a.acknowledged),
        "stored_unseen": len(unseen),
        "unseen_sent_s": {tag: log.sent.get(tag, []) for tag in sorted(unseen)[:10]},  # when each was sent
        "stored_answers": sum(len(answers) for answers in stored.values()),
        "sessions": len(stored),
        "lost_tags": [a.tag for a, n in zip(acknowledged, copies, strict=True) if n == 0][:10],
    }


# -- the figures -------------------------------------------------------------------------------------------------


def first_acks_after(acks: list[Ack], at_s: float, users: tuple[int, ...] | None = None) -> dict[int, float]:
    """Each candidate's first acknowledged answer after `at_s`, in seconds after it (of `users` only, when given)."""
    first: dict[int, float] = {}
    for ack in sorted((a for a in acks if a.acknowledged and a.at > at_s), key=lambda a: a.at):
        if (users is None or ack.user in users) and ack.user not in first:
            first[ack.user] = ack.at - at_s
    return first


def _spread(delays: dict[int, float]) -> tuple[float, float]:
    values = list(delays.values())
    return (round(statistics.median(values), 1), round(max(values), 1)) if values else (0.0, 0.0)


def phases(log: AckLog, events: Events, continued_s: float, resumed_s: float) -> list[dict[str, Any]]:
    """Turns acknowledged, requests and errors in each phase (a request counts where it ended)."""
    ends = [events.kill_s, continued_s, events.pg_stop_s, resumed_s, max(log.now(), resumed_s)]
    bounds = [0.0]
    for end in ends:
        bounds.append(max(bounds[-1], end))
    rows = []
    for name, start, end in zip(PHASES, bounds[:-1], bounds[1:], strict=True):
        inside = [failed for at, _, failed in log.requests if start <= at < end]
        rows.append(
            {
                "phase": name,
                "from_s": round(start, 1),
                "to_s": round(end, 1),
                "turns": sum(1 for a in log.acks if a.acknowledged and start <= a.at < end),
                "requests": len(inside),
                "errors": sum(inside),
            }
        )
    return rows


def figures(log: AckLog, events: Events, plan: Plan, check: dict[str, Any]) -> dict[str, Any]:
    """The run as one load.json entry of the target "failover"."""
    continued = first_acks_after(log.acks, events.kill_s, events.affected)
    resumed = first_acks_after(log.acks, events.pg_stop_s)
    continued_s = min(events.kill_s + max(continued.values(), default=0.0), events.pg_stop_s)
    resumed_s = events.pg_stop_s + max(resumed.values(), default=events.pg_back_s - events.pg_stop_s)
    continue_median, continue_max = _spread(continued)
    resume_median, resume_max = _spread(resumed)
    return {
        "target": TARGET,
        "users": plan.users,
        "think_s": plan.think_s,
        "seed": plan.seed,
        "killed": events.killed,
        "kill_s": round(events.kill_s, 1),
        "pg_stop_s": round(events.pg_stop_s, 1),
        "pg_back_s": round(events.pg_back_s, 1),
        "end_s": round(events.end_s, 1),
        "affected": len(events.affected),
        "continued": len(continued),
        "continue_s_median": continue_median,
        "continue_s_max": continue_max,
        "resumed": len(resumed),
        "pg_resume_s_median": resume_median,
        "pg_resume_s_max": resume_max,
        "phases": phases(log, events, continued_s, resumed_s),
        "errors": sum(1 for _, _, failed in log.requests if failed),
        "turns": sum(1 for _, name, failed in log.requests if name == TURN and not failed),
        **check,
        "first_errors": log.first_errors,
        "duration_s": round(log.now(), 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# -- the whole target --------------------------------------------------------------------------------------------


def run(plan: Plan, environ: dict[str, str]) -> dict[str, Any]:
    """Start a throwaway cluster, drive it through both faults, check every acknowledged answer; the entry."""
    plan.check()
    print("Starting a throwaway cluster (PostgreSQL, chroma run, 2 replicas, HAProxy) in a temp folder", flush=True)
    with throwaway(environ) as cluster:
        url = f"http://127.0.0.1:{cluster.part('haproxy').port}/"
        print(f"The cluster is up at {url}; {plan.users} candidates, think {plan.think_s:g} s", flush=True)
        log = AckLog()
        try:
            events = drive(cluster, url, plan, log)
            database = cluster.database_url(cluster.part("postgres").port)
            check = compare(log, stored_answers(database))
            down = {row.part.name: not row.up for row in cluster.status()}
            check["killed_replica_down"] = down.get(events.killed, False)
        finally:
            print("Stopping the throwaway cluster and removing its folder", flush=True)
    return figures(log, events, plan, check)


def describe(entry: dict[str, Any]) -> str:
    """The run in one line, as printed when it ends."""
    return (
        f"failover {entry['users']} users, think {entry['think_s']:g} s: {entry['acknowledged']} answers "
        f"acknowledged, {entry['lost']} lost, {entry['stored_twice']} stored twice; {entry['killed']} killed at "
        f"{entry['kill_s']:.0f} s, {entry['continued']}/{entry['affected']} of its candidates continued (median "
        f"{entry['continue_s_median']:.1f} s, max {entry['continue_s_max']:.1f} s); errors by phase: "
        + ", ".join(f"{p['phase']} {p['errors']}" for p in entry["phases"])
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The failover target's own options (`python -m interviewer.perf.loadtest --target failover`)."""
    group = parser.add_argument_group("--target failover")
    default = Plan()
    group.add_argument("--users", type=int, default=default.users, help="candidates (default 50)")
    group.add_argument("--think", type=float, default=default.think_s, help="think seconds (default 5)")
    group.add_argument("--kill-at", type=float, default=default.kill_at_s, help="kill a replica at (default 30 s)")
    group.add_argument("--pg-restart-at", type=float, default=default.pg_restart_at_s, help="(default 90 s)")
    group.add_argument("--pg-down", type=float, default=default.pg_down_s, help="PostgreSQL down for (default 5 s)")
    group.add_argument("--end-at", type=float, default=default.end_at_s, help="stop the load at (default 150 s)")
    group.add_argument("--seed", type=int, default=default.seed, help="the candidates' random seed (default 7)")


def plan_of(args: argparse.Namespace) -> Plan:
    """The scenario the command line asks for (--spawn-rate, --stop-timeout and --prompts are shared)."""
    return Plan(
        users=args.users,
        think_s=args.think,
        kill_at_s=args.kill_at,
        pg_restart_at_s=args.pg_restart_at,
        pg_down_s=args.pg_down,
        end_at_s=args.end_at,
        spawn_rate=args.spawn_rate,
        stop_timeout_s=args.stop_timeout,
        prompts_per_session=args.prompts,
        seed=args.seed,
    )


NOTE = (
    "failover: a throwaway cluster as for the cluster target (PostgreSQL 15 with fsync on, chroma run, 2 replicas, "
    "HAProxy; no logins, the per-person limits lifted). Each candidate tags its answers, keeps the ones the app "
    "acknowledged (a grade and the next question), and after a failed or refused answer reloads the session's page "
    "and sends the answer again only if the session does not show it yet. The replica holding the most candidates "
    "(by HAProxy's cookie SERVERID) is killed with SIGKILL; PostgreSQL is stopped in immediate mode and started "
    "again. Afterwards every session's checkpoint is read from the database: lost = acknowledged answers not in "
    "their session, stored twice = answers found more than once, stored unseen = stored answers whose candidate "
    "saw neither a grade nor the answer on a reload (in flight when the load stopped, say). Time to continue = for "
    "each candidate of the killed replica, from the kill to its first acknowledged answer (the killed replica "
    "serves none after it)."
)
