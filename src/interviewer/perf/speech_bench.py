"""`interviewer bench --speech`: the recognisers on the domain set (`interviewer.evals.speech`), each model in a
process of its own so that its memory is its own, written to evals/reports/speech.md and speech.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from interviewer.errors import InterviewerError
from interviewer.evals.speech import PACES, VOICES, load_lines
from interviewer.perf.speech_report import GOALS, to_markdown

PLAN: dict[str, tuple[str, ...]] = {
    "tiny.en": ("none", "question", "untidied", "vocabulary"),
    "base": ("untidied", "vocabulary"),
}
"""Each model and the hints it is heard with (`interviewer.evals.speech.HINT_MODES`): none (as `interviewer
transcribe` was), the question alone, the prompt's vocabulary as heard, and tidied (as the app hears answers)."""
CHOSEN = "tiny.en"


def _measured(model: str, modes: tuple[str, ...], scratch: Path) -> dict[str, Any]:
    """One model measured in a child process; its progress lines are shown as they come."""
    out = scratch / f"{model}.json"
    command = [sys.executable, "-m", "interviewer.evals.speech", model, str(out), *modes]
    last = "(nothing)"
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=os.environ.copy()) as child:
        assert child.stderr is not None
        for line in child.stderr:
            last = line.strip() or last
            print(line, end="", file=sys.stderr, flush=True)
    if child.returncode != 0:
        return {"model": model, "measured": False, "note": last}
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return {**result, "measured": True}


def run_speech_bench(reports: Path, models: tuple[str, ...] = tuple(PLAN)) -> int:
    """Measure each model (a model that is not installed is reported as such), print and write the reports."""
    unknown = [m for m in models if m not in PLAN]
    if unknown:
        raise InterviewerError(f"No speech model {unknown[0]!r} to measure; the choices are {', '.join(PLAN)}.")
    with tempfile.TemporaryDirectory(prefix="interviewer-speech-bench-") as scratch:
        results = [_measured(m, PLAN[m], Path(scratch)) for m in models]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count()},
        "set": {"sentences": len(load_lines()), "voices": VOICES, "paces": PACES},
        "goals": GOALS,
        "chosen": CHOSEN,
        "models": results,
    }
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "speech.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    markdown = to_markdown(report)
    (reports / "speech.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0
