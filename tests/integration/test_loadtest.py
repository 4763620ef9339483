"""`make loadtest`'s harness for real: simulated candidates (locust, gradio_client) against the embedded app and
against a throwaway cluster it starts itself.

The harness runs in a process of its own, as `make loadtest` starts it: importing locust patches the standard
library for gevent, which must not happen inside the test run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from interviewer.team.parts import missing_binaries, port_open
from tests.helpers import ROOT


def _loadtest(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interviewer.perf.loadtest", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.timeout(180)
def test_two_candidates_for_ten_seconds_write_one_entry_with_sensible_figures(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = _loadtest("--runs", "2x1", "--duration", "10", "--stop-timeout", "20", "--out", str(out), timeout=170)
    assert done.returncode == 0, done.stdout + done.stderr
    (entry,) = json.loads((out / "load.json").read_text(encoding="utf-8"))
    assert (entry["target"], entry["users"], entry["think_s"]) == ("embedded", 2, 1.0)
    assert entry["turns"] > 0 and entry["errors"] == 0, entry["first_errors"]
    assert entry["starts"] >= 2  # each candidate started an interview of its own
    assert 0 < entry["p50_ms"] <= entry["p95_ms"] <= entry["p99_ms"] < 60_000
    assert 0 < entry["turns_per_s"] <= entry["turns"] / 10
    assert 100 < entry["rss_mb_max"] < 8000
    assert entry["cpu"]["app.py"]["cpu_pct_max"] > 0  # the server was sampled while it graded
    table = (out / "load.md").read_text(encoding="utf-8")
    assert "| embedded | 2 | 1 |" in table and "cores, Python" in table


def test_it_refuses_to_load_an_address_off_this_machine(tmp_path: Path) -> None:
    done = _loadtest("--target", "cluster", "--url", "http://192.0.2.1:7860/", "--out", str(tmp_path), timeout=120)
    assert done.returncode == 2
    assert "loopback addresses only" in done.stderr
    assert not (tmp_path / "load.json").exists()


EARLIER_EMBEDDED_RUN = {
    "target": "embedded", "users": 1, "think_s": 5.0, "turns": 10, "errors": 0, "p50_ms": 900.0, "p95_ms": 1900.0,
    "p99_ms": 2000.0, "turns_per_s": 0.167, "rss_mb_max": 684.6, "cpu": {"app.py": {"cpu_pct_mean": 27.0,
    "cpu_pct_max": 150.0, "rss_mb_max": 684.6}}, "date": "2026-11-29T18:47:18+00:00",
}  # fmt: skip


@pytest.mark.timeout(900)
def test_the_cluster_target_starts_a_throwaway_cluster_and_reports_every_part(tmp_path: Path) -> None:
    """Without Debian's postgresql-15 or haproxy the test fails, saying how to install them (as test_cluster)."""
    missing = missing_binaries()
    if missing:
        pytest.fail(missing, pytrace=False)
    out = tmp_path / "reports"
    out.mkdir()
    (out / "load.json").write_text(json.dumps([EARLIER_EMBEDDED_RUN]), encoding="utf-8")
    done = _loadtest(
        "--target", "cluster", "--runs", "2x1", "--duration", "15", "--stop-timeout", "20", "--out", str(out),
        timeout=880,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    kept, entry = json.loads((out / "load.json").read_text(encoding="utf-8"))
    assert kept == EARLIER_EMBEDDED_RUN  # a run of one target leaves the other's rows alone
    assert (entry["target"], entry["users"], entry["think_s"]) == ("cluster", 2, 1.0)
    assert entry["turns"] > 0 and entry["errors"] == 0, entry["first_errors"]
    assert 0 < entry["p50_ms"] <= entry["p95_ms"] <= entry["p99_ms"] < 60_000
    parts = entry["cpu"]
    assert set(parts) == {"postgres", "chroma", "replica-1", "replica-2", "haproxy"}
    assert all(figures["rss_mb_max"] > 0 for figures in parts.values()), parts
    assert parts["replica-1"]["cpu_pct_max"] + parts["replica-2"]["cpu_pct_max"] > 0  # sampled while grading
    assert entry["app_rss_mb_max"] == max(parts["replica-1"]["rss_mb_max"], parts["replica-2"]["rss_mb_max"])
    assert 100 < entry["app_rss_mb_max"] < entry["rss_mb_max"] < 16_000
    assert any("limits" in note and "lifted" in note for note in entry["notes"])
    table = (out / "load.md").read_text(encoding="utf-8")
    assert table.index("| embedded | 1 | 5 |") < table.index("| cluster | 2 | 1 |")
    assert "replica-1 " in table and "haproxy " in table
    # The cluster is gone: its front port is closed and none of its parts runs.
    front = re.search(r"cluster is up at http://127\.0\.0\.1:(\d+)/", done.stdout)
    assert front is not None and not port_open(int(front.group(1)))
    pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", done.stdout)]
    assert len(pids) == 5 and not any(_running(pid) for pid in pids)


def _running(pid: int) -> bool:
    """True while `pid` runs (a stopped part may wait a moment as a zombie for its new parent to reap it)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
