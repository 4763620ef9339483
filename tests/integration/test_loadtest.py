"""`make loadtest`'s harness for real: simulated candidates (locust, gradio_client) against the embedded app.

The harness runs in a process of its own, as `make loadtest` starts it: importing locust patches the standard
library for gevent, which must not happen inside the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT


def _loadtest(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interviewer.loadtest", *args],
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
