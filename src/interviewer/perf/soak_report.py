"""The soak's figures and its report: `evals/reports/soak.json` (every series) and `soak.md` (the goals, met or
missed, and the series as tables).

Pure functions of what `interviewer.perf.soak` measured; no locust here, so the tests can import it. The goals:
each server process's memory grows less than `RSS_GROWTH_GOAL_PCT` from the end of the warm-up to the end; open
file descriptors and database connections stay flat (the end no more than `FLAT_PCT`% or a few, whichever is
larger, above the steady start: `FDS_SLACK` fds, `CONNECTIONS_SLACK` connections); every window after the warm-up
serves turns; no request fails.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RSS_GROWTH_GOAL_PCT = 10.0
FLAT_PCT = 10.0
FDS_SLACK = 10  # a process's sockets come and go with the candidates' requests in flight
CONNECTIONS_SLACK = 5
WARMUP_MAX_S = 300.0  # five minutes, or half of a shorter soak
WINDOW_MAX_S = 300.0  # five-minute windows, or five windows in a shorter soak
# Processes judged per process, on their heap (resident anonymous memory) and open fds: PostgreSQL's backends each
# count the shared buffers they have touched in their RSS (a cache bounded by shared_buffers, filling as the
# sessions grow), and they come and go with the pool's connections (judged on their own).
PER_PROCESS = ("postgres",)


def warmup_s(duration_s: float) -> float:
    """Five minutes, or half of a soak shorter than ten minutes (the apps load their caches prompt by prompt)."""
    return min(WARMUP_MAX_S, duration_s / 2)


def window_s(duration_s: float) -> float:
    return min(WINDOW_MAX_S, duration_s / 5)


def flat(start: float, end: float, slack: float) -> bool:
    """The rule for file descriptors (`FDS_SLACK`) and database connections (`CONNECTIONS_SLACK`)."""
    return end <= start + max(slack, start * FLAT_PCT / 100)


def _ends(samples: list[dict[str, Any]], duration_s: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The samples of the steady start and of the end: the first and the last minute of the steady part (a third
    of it when shorter than three minutes), so that one noisy sample decides nothing."""
    warmup = warmup_s(duration_s)
    steady = [s for s in samples if s["t_s"] >= warmup] or samples[-1:]
    span = min(60.0, (steady[-1]["t_s"] - steady[0]["t_s"]) / 3)
    first = [s for s in steady if s["t_s"] <= steady[0]["t_s"] + span]
    last = [s for s in steady if s["t_s"] >= steady[-1]["t_s"] - span]
    return first, last


def _figures(
    samples: list[dict[str, Any]], duration_s: float, value: Callable[[dict[str, Any]], float]
) -> dict[str, float]:
    """A series' steady start and end (medians of their samples), its maximum after the warm-up, and the change."""
    first, last = _ends(samples, duration_s)
    steady = [s for s in samples if s["t_s"] >= first[0]["t_s"]]
    start, end = float(np.median([value(s) for s in first])), float(np.median([value(s) for s in last]))
    return {
        "start": round(start, 1),
        "end": round(end, 1),
        "max": max(value(s) for s in steady),
        "change": round(end - start, 1),
    }


def memory_figures(samples: list[dict[str, Any]], duration_s: float) -> dict[str, dict[str, Any]]:
    """Per process: its memory at the steady start and the end, its maximum and growth, and whether it met the
    goal."""
    figures: dict[str, dict[str, Any]] = {}
    for name, first in samples[-1]["processes"].items():
        key = "anon_mb" if name in PER_PROCESS and "anon_mb" in first else "rss_mb"
        entry: dict[str, Any] = {"measure": key, **_figures(samples, duration_s, _memory(name, key))}
        entry["growth_pct"] = round(entry["change"] / entry["start"] * 100, 1) if entry["start"] else math.inf
        entry["met"] = entry["growth_pct"] < RSS_GROWTH_GOAL_PCT
        figures[name] = entry
    return figures


def _memory(name: str, key: str) -> Callable[[dict[str, Any]], float]:
    def value(sample: dict[str, Any]) -> float:
        figures = sample["processes"].get(name, {})
        mb = float(figures.get(key, 0.0))
        return round(mb / max(1, figures.get("processes", 1)), 1) if name in PER_PROCESS else mb

    return value


def _fds(name: str) -> Callable[[dict[str, Any]], float]:
    """A process's open fds; PostgreSQL's per process, as its backends come and go with the connections."""

    def value(sample: dict[str, Any]) -> float:
        figures = sample["processes"].get(name, {})
        fds = float(figures.get("fds", 0))
        return round(fds / max(1, figures.get("processes", 1)), 1) if name in PER_PROCESS else fds

    return value


def flat_figures(samples: list[dict[str, Any]], duration_s: float) -> dict[str, dict[str, Any]]:
    """Open fds per process, and the database connections: steady start, end, maximum, flat or not."""
    series: dict[str, Callable[[dict[str, Any]], float]] = {
        f"fds {name}": _fds(name) for name in samples[-1]["processes"]
    }
    series["db connections"] = lambda s: float(s["db_connections"])
    flats = {name: _figures(samples, duration_s, value) for name, value in series.items()}
    slack = {name: CONNECTIONS_SLACK if name == "db connections" else FDS_SLACK for name in flats}
    return {name: {**f, "met": flat(f["start"], f["end"], slack[name])} for name, f in flats.items()}


def windows(turns: list[tuple[float, float]], errors_at: list[float], duration_s: float) -> list[dict[str, Any]]:
    """Turns (completion time s, latency ms) and failures in each window; those completing after the end (the
    turns in flight when the soak stopped) count in the last one. A window that ends within the warm-up is
    marked so."""
    width = window_s(duration_s)
    count = max(1, math.ceil(round(duration_s / width, 6)))
    rows = []
    for i in range(count):
        low, high = i * width, math.inf if i == count - 1 else (i + 1) * width
        times = [ms for at, ms in turns if low <= at < high]
        p50, p95 = (float(x) for x in np.percentile(times, [50, 95])) if times else (0.0, 0.0)
        rows.append(
            {
                "from_s": round(low, 1),
                "to_s": round(min(duration_s, (i + 1) * width), 1),
                "warmup": (i + 1) * width <= warmup_s(duration_s) + 1e-6,
                "turns": len(times),
                "errors": sum(1 for at in errors_at if low <= at < high),
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
            }
        )
    return rows


def target_figures(measured: dict[str, Any], duration_s: float) -> dict[str, Any]:
    """A target's goals from its samples and turns: memory, descriptors and connections, windows, errors."""
    rows = windows([(t, ms) for t, ms in measured["turns"]], measured["errors_at"], duration_s)
    memory = memory_figures(measured["samples"], duration_s)
    flats = flat_figures(measured["samples"], duration_s)
    met = (
        all(f["met"] for f in memory.values())
        and all(f["met"] for f in flats.values())
        and all(row["turns"] > 0 for row in rows if not row["warmup"])
        and measured["errors"] == 0
    )
    return {"memory": memory, "flat": flats, "windows": rows, "all_goals_met": met}


def write(out_dir: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """Write soak.json and soak.md into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "soak.json", out_dir / "soak.md"
    json_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(render(report), encoding="utf-8")
    return json_path, md_path


# -- soak.md ---------------------------------------------------------------------------------------------------


def _mark(met: bool) -> str:
    return "met" if met else "**missed**"


def _mb(value: float) -> str:
    """Megabytes as the tables show them: whole ones, or tenths below 100."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _goal_rows(name: str, target: dict[str, Any]) -> list[str]:
    figures = target["figures"]
    rows = []
    for process, f in figures["memory"].items():
        what = "heap MB per process" if f["measure"] == "anon_mb" else "RSS MB"
        rows.append(
            f"| {name} | {what} | {process} | {_mb(f['start'])} | {_mb(f['end'])} | {_mb(f['max'])} "
            f"| {f['growth_pct']:+.1f}% | < {RSS_GROWTH_GOAL_PCT:g}% | {_mark(f['met'])} |"
        )
    for series, f in figures["flat"].items():
        what, _, process = series.partition(" ") if series.startswith("fds") else (series, "", target["db"])
        label = "DB connections" if what != "fds" else "open fds per process" if process in PER_PROCESS else "open fds"
        rows.append(
            f"| {name} | {label} | {process} | {f['start']:.0f} | {f['end']:.0f} | {f['max']:.0f} "
            f"| {f['change']:+.0f} | flat | {_mark(f['met'])} |"
        )
    windows_ok = all(w["turns"] > 0 for w in figures["windows"] if not w["warmup"])
    rows.append(f"| {name} | turns in every window after the warm-up | - | | | | | > 0 | {_mark(windows_ok)} |")
    rows.append(f"| {name} | failed requests | - | | {target['errors']} | | | 0 | {_mark(target['errors'] == 0)} |")
    return rows


def _window_rows(name: str, target: dict[str, Any]) -> list[str]:
    return [
        f"| {name} | {w['from_s'] / 60:.1f}-{w['to_s'] / 60:.1f}{' (warm-up)' if w['warmup'] else ''} "
        f"| {w['turns']} | {w['errors']} "
        f"| {w['p50_ms']:.0f} | {w['p95_ms']:.0f} |"
        for w in target["figures"]["windows"]
    ]


def _series_table(report: dict[str, Any], title: str, value: Any) -> list[str]:
    """One column per target's process (or database), one row per reporting step (a minute, or a sixth of a
    soak shorter than six minutes): the sample nearest that moment."""
    targets = report["targets"]
    columns = [(name, process) for name, t in targets.items() for process in [*t["samples"][0]["processes"], None]]
    step = min(60.0, report["plan"]["duration_s"] / 6)
    steps = round(report["plan"]["duration_s"] / step)
    header = "| minute | " + " | ".join(f"{n} {p or 'DB conns'}" for n, p in columns) + " |"
    lines = [f"### {title}", "", header, "|---" * (len(columns) + 1) + "|"]
    for k in range(steps + 1):
        cells = []
        for name, process in columns:
            sample = min(targets[name]["samples"], key=lambda s: abs(s["t_s"] - k * step))
            cells.append(str(value(sample, process)))
        lines.append(f"| {k * step / 60:.1f} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _rss_cell(sample: dict[str, Any], process: str | None) -> str:
    if process is None:
        return str(sample["db_connections"])
    figures = sample["processes"].get(process, {})
    if "anon_mb" not in figures:
        return f"{figures.get('rss_mb', 0):.0f}"
    return (
        f"{figures['rss_mb']:.0f} ({_mb(figures['pss_mb'])}, {_mb(figures['anon_mb'])} in {figures['processes']:.0f})"
    )


def _fds_cell(sample: dict[str, Any], process: str | None) -> str:
    if process is None:
        return str(sample["db_connections"])
    return str(sample["processes"].get(process, {}).get("fds", 0))


def _plan_text(report: dict[str, Any]) -> str:
    plan = report["plan"]
    targets = ("each of " if len(plan["targets"]) > 1 else "") + " and ".join(plan["targets"])
    together = (
        f"The targets ran at the same time (so the soak took {plan['duration_s'] / 60:g} minutes, not "
        f"{len(plan['targets']) * plan['duration_s'] / 60:g}), sharing the machine's cores. "
        if len(plan["targets"]) > 1
        else ""
    )
    return (
        f"{plan['users']} simulated candidates against {targets} for {plan['duration_s'] / 60:g} minutes, "
        f"thinking {plan['think_s']:g} s between answers, {plan['prompts']} prompts per interview. {together}"
        f"Resources sampled every {plan['sample_every_s']:g} s. Warm-up: the first {plan['warmup_s'] / 60:.3g} "
        "minute(s) (five minutes, or half of a shorter soak). Growth and flatness compare the steady start (the "
        "median of the samples in the first minute after the warm-up) with the end (the median of the last "
        "minute's); in a soak under six minutes, a third of the steady part stands for the minute. Flat: the end "
        f"at most +{FLAT_PCT:g}% or +{FDS_SLACK} fds (a process's sockets come and go with the requests in flight) "
        f"or +{CONNECTIONS_SLACK} connections, whichever is larger, above the steady start; max is the "
        f"largest sample after the warm-up. Windows of {plan['window_s'] / 60:.3g} minute(s) (five minutes, or five "
        "windows in a shorter soak); the turns in flight when the soak stopped count in the last."
    )


NOTES = [
    "RSS and open fds are of each server process with its children; PostgreSQL's row is the postmaster and its "
    "backends summed. Each backend's RSS counts the shared buffers it has touched (a cache bounded by "
    "shared_buffers, filling as the sessions grow), and backends come and go with the pool's connections (judged "
    "in their own row), so PostgreSQL's goals are judged per process: its heap (resident anonymous memory, "
    "Linux's RssAnon, which leaves shared memory out) and its open fds. In brackets in the memory table: "
    "PostgreSQL's PSS, its heap MB, and how many processes.",
    "DB connections: PostgreSQL's `pg_stat_activity` rows for the app's database (the soak's own query "
    "connection left out); SQLite: the embedded app's open descriptors on `sessions.sqlite` and its -wal and -shm.",
    "A turn is one `/answer` call (the answer in, the grade and the next question out); failed requests count "
    "failed turns, session starts and connections.",
]


def render(report: dict[str, Any]) -> str:
    """soak.md: the machine and plan, the goals met or missed, the windows, and the sampled series."""
    targets = report["targets"]
    lines = [
        f"# Soak: {report['plan']['users']} simulated candidates for {report['plan']['duration_s'] / 60:g} minutes",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()} ({platform.system()}). "
        f"Started {str(report['date'])[:16].replace('T', ' ')} UTC. Written by `make soak` "
        "(`python -m interviewer.perf.soak`).",
        "",
        _plan_text(report),
        "",
        "## Goals",
        "",
        "| target | figure | process | steady start | end | max | change | goal | |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row for name, t in targets.items() for row in _goal_rows(name, t)),
        "",
        "## Turns per window",
        "",
        "| target | minutes | turns | errors | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|",
        *(row for name, t in targets.items() for row in _window_rows(name, t)),
        "",
        "## Series",
        "",
        *_series_table(report, "RSS MB, and DB connections", _rss_cell),
        *_series_table(report, "Open file descriptors, and DB connections", _fds_cell),
        *(f"- {note}" for note in NOTES),
    ]
    errors = [f"- {name}: {e}" for name, t in targets.items() for e in t.get("first_errors", [])]
    if errors:
        lines += ["", "First errors:", "", *errors]
    return "\n".join(lines).rstrip() + "\n"
