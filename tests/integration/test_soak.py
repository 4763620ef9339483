"""`make soak`'s two-minute version, for real: 20 simulated candidates against the embedded app and, at the same
time, against a throwaway cluster, with the figures the long soak is judged on.

The soak runs in a process of its own, as `make soak` starts it: importing locust patches the standard library
for gevent, which must not happen inside the test run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from interviewer.team.parts import missing_binaries, port_open
from tests.helpers import ROOT


def _soak(*args: str, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interviewer.perf.soak", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        check=False,
    )


@pytest.mark.timeout(330)
def test_a_two_minute_soak_of_both_targets_keeps_memory_descriptors_and_connections_steady(
    data_dir: Path, tmp_path: Path
) -> None:
    """Without Debian's postgresql-15 or haproxy the test fails, saying how to install them (as test_cluster)."""
    missing = missing_binaries()
    if missing:
        pytest.fail(missing, pytrace=False)
    out = tmp_path / "reports"
    done = _soak("--minutes", "2", "--stop-timeout", "15", "--out", str(out), timeout=320)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "soak.json").read_text(encoding="utf-8"))
    assert report["plan"]["users"] == 20 and report["plan"]["targets"] == ["embedded", "cluster"]
    assert report["plan"]["warmup_s"] == 60 and report["plan"]["window_s"] == 24
    embedded, cluster = report["targets"]["embedded"], report["targets"]["cluster"]
    assert embedded["app_processes"] == ["app.py"] and cluster["app_processes"] == ["replica-1", "replica-2"]
    for name, target in report["targets"].items():
        figures, why = target["figures"], f"{name}: {target['first_errors']}\n{done.stdout}"
        assert target["errors"] == 0 and target["starts"] >= 20, why  # every candidate started an interview
        for process in target["app_processes"]:
            memory = figures["memory"][process]
            assert 100 < memory["start"] < 8000 and memory["growth_pct"] < 10, (process, memory)
        assert all(f["met"] for f in figures["flat"].values()), figures["flat"]  # fds and DB connections flat
        assert figures["flat"]["db connections"]["start"] > 0  # the connections were counted, not missed
        rows = figures["windows"]
        assert len(rows) == 5 and rows[-1]["to_s"] == 120
        steady = [row for row in rows if not row["warmup"]]
        assert len(steady) == 3 and all(row["turns"] > 0 and row["p95_ms"] > 0 for row in steady), rows
        assert sum(row["turns"] for row in rows) == len(target["turns"])
        assert len(target["samples"]) >= 20 and target["samples"][-1]["t_s"] >= 115
    assert set(cluster["samples"][-1]["processes"]) == {"replica-1", "replica-2", "postgres", "chroma", "haproxy"}
    page = (out / "soak.md").read_text(encoding="utf-8").splitlines()
    for goal in ("| embedded | RSS MB | app.py |", "| cluster | RSS MB | replica-2 |", "| cluster | DB connections |"):
        (row,) = [line for line in page if line.startswith(goal)]
        assert row.endswith("| met |"), row
    # The cluster is gone: its front port is closed and none of its parts runs.
    front = re.search(r"cluster is up at http://127\.0\.0\.1:(\d+)/", done.stdout)
    assert front is not None and not port_open(int(front.group(1)))
    pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", done.stdout)]
    assert len(pids) == 5 and not any(_running(pid) for pid in pids)


def test_a_bad_soak_length_is_refused_naming_the_setting(tmp_path: Path) -> None:
    done = _soak("--out", str(tmp_path), timeout=120, env={**os.environ, "SOAK_MINUTES": "half an hour"})
    assert done.returncode == 2 and "SOAK_MINUTES" in done.stderr, done.stderr
    done = _soak("--minutes", "0.2", "--out", str(tmp_path), timeout=120)
    assert done.returncode == 2 and "--minutes takes 1 to 1440 minutes" in done.stderr, done.stderr
    assert not (tmp_path / "soak.json").exists()


@pytest.mark.timeout(180)
def test_a_kill_or_ctrl_c_stops_the_soak_and_its_app_while_candidates_run(data_dir: Path, tmp_path: Path) -> None:
    for name in ("SIGTERM", "SIGINT"):
        out, errors = tmp_path / name, tmp_path / f"{name}.err"
        command = ["-m", "interviewer.perf.soak", "--minutes", "1", "--targets", "embedded", "--out", str(out)]
        with errors.open("w") as err_file:  # a file, not a pipe: nothing waits on a full pipe
            soak = subprocess.Popen(
                [sys.executable, *command], stdout=subprocess.PIPE, stderr=err_file, text=True, cwd=ROOT
            )
        assert soak.stdout is not None
        for line in soak.stdout:  # "Soaking ...", then a line a minute
            if line.startswith("Soaking"):
                break
        apps = [p for p in psutil.Process(soak.pid).children(recursive=True) if "app.py" in " ".join(p.cmdline())]
        assert len(apps) == 1, apps
        time.sleep(8)  # the candidates are interviewing
        soak.send_signal(getattr(signal, name))
        soak.communicate(timeout=60)
        err = errors.read_text(encoding="utf-8")
        assert soak.returncode == 130 and "Interrupted: the servers started here are stopped" in err, (name, err)
        assert not _running(apps[0].pid) and not out.exists()


def _running(pid: int) -> bool:
    """True while `pid` runs (a stopped part may wait a moment as a zombie for its new parent to reap it)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
