"""The load test's figures as `evals/reports/load.json` (a list, one entry per run) and `load.md` (a table).

Pure functions of the entries `interviewer.perf.loadtest` measures; no locust here, so the tests can import it.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

# Mean CPU of processes other than the servers and the load generator, in % of one core, above which a run's
# machine counts as busy in load.md.
BUSY_OTHER_CPU_PCT = 25.0


def merge(path: Path, target: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries already in `path` for other targets and these (a new run of a target replaces its old one),
    the embedded app's first."""
    kept: list[dict[str, Any]] = []
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = []
        kept = [e for e in old if isinstance(e, dict) and e.get("target") != target] if isinstance(old, list) else []
    order = {"embedded": 0, "cluster": 1, "failover": 2}  # the same order whichever target ran last
    return sorted(kept + entries, key=lambda e: order.get(str(e.get("target")), 2))


def write(out_dir: Path, target: str, entries: list[dict[str, Any]]) -> tuple[Path, Path]:
    """Write load.json and load.md into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "load.json", out_dir / "load.md"
    merged = merge(json_path, target, entries)
    json_path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render(merged), encoding="utf-8")
    return json_path, md_path


def app_rss_mb_max(processes: dict[str, dict[str, float]]) -> float:
    """The largest RSS of one app process: the embedded app's, or the largest replica's (`replica-N`, `app.py`)."""
    apps = [f.get("rss_mb_max", 0.0) for name, f in processes.items() if name.startswith(("app.py", "replica"))]
    return max(apps, default=0.0)


def _processes(entry: dict[str, Any]) -> str:
    """The servers' processes as `name CPU mean/max % RSS MB`, one core being 100%."""
    parts = [
        f"{name} {figures['cpu_pct_mean']:.0f}/{figures['cpu_pct_max']:.0f}% {figures.get('rss_mb_max', 0):.0f} MB"
        for name, figures in entry.get("cpu", {}).items()
    ]
    return ", ".join(parts) or "-"


def _row(e: dict[str, Any]) -> str:
    harness = e.get("harness", {})
    cells = [
        e["target"],
        str(e["users"]),
        f"{e['think_s']:g}",
        str(e["turns"]),
        str(e["errors"]),
        f"{e['p50_ms']:.0f}",
        f"{e['p95_ms']:.0f}",
        f"{e['p99_ms']:.0f}",
        f"{e['turns_per_s']:.2f}",
        f"{e['rss_mb_max']:.0f}",
        f"{e.get('app_rss_mb_max', app_rss_mb_max(e.get('cpu', {}))):.0f}",
        _processes(e),
        f"{harness.get('cpu_pct_mean', 0):.0f}",
        f"{e.get('other_cpu_pct_mean', 0):.0f}",
        f"{e.get('duration_s', 0):.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| target | users | think s | turns | errors | p50 ms | p95 ms | p99 ms | turns/s | server RSS MB max "
    "| app process RSS MB max | server processes: CPU % mean/max, RSS MB max | load generator CPU % "
    "| other CPU % | s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


FAILOVER_HEADER = (
    "| users | think s | killed | its candidates continued | time to continue s median/max | answers acknowledged "
    "| lost | stored twice | found stored on reload | stored unseen | back after PostgreSQL's restart s median/max "
    "| errors |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _failover_row(e: dict[str, Any]) -> str:
    cells = [
        str(e["users"]),
        f"{e['think_s']:g}",
        f"{e['killed']} at {e['kill_s']:.0f} s",
        f"{e['continued']}/{e['affected']}",
        f"{e['continue_s_median']:.1f}/{e['continue_s_max']:.1f}",
        str(e["acknowledged"]),
        str(e["lost"]),
        str(e["stored_twice"]),
        str(e.get("found_stored_on_reload", 0)),
        str(e.get("stored_unseen", 0)),
        f"{e['pg_resume_s_median']:.1f}/{e['pg_resume_s_max']:.1f}",
        str(e["errors"]),
    ]
    return "| " + " | ".join(cells) + " |"


def failover_section(entries: list[dict[str, Any]]) -> list[str]:
    """load.md's lines for the failover runs: what was lost, how long sessions took to continue, errors by phase."""
    if not entries:
        return []
    lines = [
        "## Failover under load",
        "",
        "A replica killed with SIGKILL, then PostgreSQL stopped in immediate mode and started again, while the "
        "candidates interview through HAProxy (`make loadtest TARGET=failover`). Goals: 0 acknowledged answers "
        "lost, 0 answers stored twice.",
        "",
        FAILOVER_HEADER,
        *(_failover_row(e) for e in entries),
        "",
        "| phase | from s | to s | turns | requests | errors |",
        "|---|---|---|---|---|---|",
    ]
    for p in (p for e in entries for p in e.get("phases", [])):
        lines.append(
            f"| {p['phase']} | {p['from_s']:.0f} | {p['to_s']:.0f} | {p['turns']} | {p['requests']} | {p['errors']} |"
        )
    return [*lines, ""]


def render(entries: list[dict[str, Any]]) -> str:
    """load.md: the machine, the date, the table and what to know when reading it."""
    failovers = [e for e in entries if e.get("target") == "failover"]
    entries = [e for e in entries if e.get("target") != "failover"]
    dates = sorted(str(e["date"])[:16].replace("T", " ") for e in entries + failovers if e.get("date"))
    when = " to ".join(dict.fromkeys([dates[0], dates[-1]])) if dates else "-"
    busy = [e for e in entries if e.get("other_cpu_pct_mean", 0) > BUSY_OTHER_CPU_PCT]
    lines = [
        "# Load test: simulated candidates through the web app's API",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()} ({platform.system()}). "
        f"Runs: {when} UTC. Written by `make loadtest` (`python -m interviewer.perf.loadtest`).",
        "",
        "Each simulated candidate (locust, one `gradio_client.Client` each) starts an interview on a random topic "
        "(3 prompts), answers each question with an answer written for that prompt in `evals/cases/`, waits the "
        "think time and answers again. A turn is one `/answer` call: the answer in, the grade and the next question "
        "out. Latencies are of turns only; errors count failed turns and failed session starts. CPU is in % of one "
        "core (mean/max of 1 s samples). Server RSS is the servers' resident memory, summed over all their "
        "processes; app process RSS is one app process's (the embedded app, or the largest cluster replica). Each "
        "server process is sampled with its children (PostgreSQL: the postmaster and its backends, whose shared "
        "buffers count in each). The load generator runs on the same machine: what it uses (its own column) is "
        "taken from the servers' cores.",
        "",
        *([HEADER, *(_row(e) for e in entries), ""] if entries else []),
        *failover_section(failovers),
    ]
    if busy:
        lines.append(
            f"**The machine was busy:** in {len(busy)} run(s) other processes used more than "
            f"{BUSY_OTHER_CPU_PCT:.0f}% of a core on average (column 'other CPU %'); the figures are lower than an "
            "idle machine would give."
        )
        lines.append("")
    notes = dict.fromkeys(str(n) for e in entries + failovers for n in e.get("notes", []))  # each once, in order
    lines.extend(f"- {n}" for n in notes)
    return "\n".join(lines).rstrip() + "\n"
