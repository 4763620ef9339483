"""A real OpenAI-compatible HTTP endpoint on 127.0.0.1 that misbehaves: the interview goes on regardless."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.grading import TurnContext
from interviewer.grading.grader import Grader
from interviewer.grading.llm import LLMSettings, chat_model
from interviewer.grading.llm_brain import LLMBrain
from interviewer.grading.rubric import RubricBrain
from interviewer.interview.access import Caller

GARBAGE_COMPLETION = (
    b'{"id":"x","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,'
    b'"finish_reason":"stop","message":{"role":"assistant","content":"sure! here is my verdict: great"}}]}'
)

ME = Caller.terminal()


def serve(mode: str) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if mode == "slow":
                time.sleep(3)
            status, body = (500, b'{"error":{"message":"boom"}}') if mode == "error" else (200, GARBAGE_COMPLETION)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except BrokenPipeError:
                pass  # the client gave up waiting, as it should

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


@pytest.fixture(params=["error", "garbage", "slow"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    server, url = serve(request.param)
    yield request.param, url
    server.shutdown()


def llm_brain(grader: Grader, url: str) -> LLMBrain:
    settings = LLMSettings(base_url=url, api_key=None, model="local", timeout=1.0, max_retries=1)
    rubric = grader.brain("rubric")
    assert isinstance(rubric, RubricBrain)
    return LLMBrain(chat_model(settings), settings, fallback=rubric)


def test_a_misbehaving_endpoint_falls_back_to_the_rubric_brain(grader: Grader, endpoint: tuple[str, str]) -> None:
    mode, url = endpoint
    prompt = grader.corpus.prompt("fsw-p1").prompt
    grade = llm_brain(grader, url).grade(prompt, prompt.reference_answer, TurnContext())
    assert grade.brain == "rubric" and grade.score >= 3
    expected = {"error": "Error code: 500", "garbage": "invalid output", "slow": "Timeout"}[mode]
    assert grade.fallback is not None and expected in grade.fallback


def test_the_interview_never_stops_when_the_model_is_down(settings: Settings, grader: Grader) -> None:
    server, url = serve("error")
    try:
        grader.register_brain(llm_brain(grader, url))
        engine = build_engine(settings, progress=False, grader=grader)
        session, _ = engine.start(ME, "topic", "fs-why", count=1, brain="llm")
        prompt = grader.corpus.prompt("fsw-p1").prompt
        outcome = engine.submit(ME, session, "Skew is when the training features differ from the serving features.")
        assert outcome.grade is not None and outcome.grade.fallback
        probes = {p.probe for p in prompt.rubric}
        assert outcome.next is not None and outcome.next.kind == "followup" and outcome.next.text in probes
        engine.end(ME, session)
        from interviewer.interview.report import to_markdown

        markdown = to_markdown(engine.views.transcript(ME, session))
        assert "*Graded by the rubric brain: The model failed (" in markdown and "Error code: 500" in markdown
        assert "The model's follow-up was not used (" in markdown and "the authored probe was asked" in markdown
    finally:
        server.shutdown()
