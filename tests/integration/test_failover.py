"""`make loadtest TARGET=failover` for real, in short: candidates interview through HAProxy on a throwaway cluster
while the replica serving about half of them is killed with -9 and PostgreSQL is restarted in immediate mode;
afterwards every answer the app acknowledged is looked up in the database.

The harness runs in a process of its own, as `make loadtest` starts it: importing locust patches the standard
library for gevent, which must not happen inside the test run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from interviewer.team.parts import missing_binaries, port_open
from tests.helpers import ROOT

SHORT = (
    "--users", "8", "--think", "1", "--kill-at", "8", "--pg-restart-at", "20", "--pg-down", "3", "--end-at", "30",
    "--stop-timeout", "20",
)  # fmt: skip


def _failover(out: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "interviewer.perf.loadtest", "--target", "failover", "--out", str(out), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)


@pytest.mark.timeout(600)
def test_no_acknowledged_answer_is_lost_or_stored_twice_through_a_replica_kill_and_a_postgres_crash(
    tmp_path: Path,
) -> None:
    """Without Debian's postgresql-15 or haproxy the test fails, saying how to install them (as test_cluster)."""
    missing = missing_binaries()
    if missing:
        pytest.fail(missing, pytrace=False)
    out = tmp_path / "reports"
    done = _failover(out, *SHORT, timeout=580)
    assert done.returncode == 0, done.stdout + done.stderr
    (entry,) = json.loads((out / "load.json").read_text(encoding="utf-8"))
    assert (entry["target"], entry["users"], entry["think_s"]) == ("failover", 8, 1.0)
    assert entry["acknowledged"] > 8 and entry["sessions"] >= 8, entry
    assert (entry["lost"], entry["stored_twice"]) == (0, 0), entry
    # The killed replica served about half of the candidates; each of them went on with the other replica.
    assert entry["killed"] in {"replica-1", "replica-2"} and entry["killed_replica_down"]
    assert 4 <= entry["affected"] <= 8 and entry["continued"] == entry["affected"], entry
    assert 0 < entry["continue_s_median"] <= entry["continue_s_max"], entry
    before, failing, _, _, after = entry["phases"]
    assert before["turns"] > 0 and before["errors"] == 0, entry["first_errors"]
    assert failing["turns"] > 0  # the other replica's candidates went on meanwhile
    # After PostgreSQL's crash and restart the candidates' answers were acknowledged again.
    assert after["turns"] > 0 and 0 < entry["pg_resume_s_median"] <= entry["pg_resume_s_max"], entry
    table = (out / "load.md").read_text(encoding="utf-8")
    assert "## Failover under load" in table and "| before the kill |" in table
    assert f"| 8 | 1 | {entry['killed']} at " in table
    # The throwaway cluster is gone.
    front = re.search(r"cluster is up at http://127\.0\.0\.1:(\d+)/", done.stdout)
    assert front is not None and not port_open(int(front.group(1)))


def test_the_failover_refuses_times_out_of_order_naming_the_options(tmp_path: Path) -> None:
    done = _failover(tmp_path, "--kill-at", "100", "--pg-restart-at", "90", timeout=120)
    assert done.returncode == 2
    assert "--kill-at < --pg-restart-at" in done.stderr
    assert not (tmp_path / "load.json").exists()
