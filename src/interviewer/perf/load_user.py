"""One simulated candidate for `interviewer.perf.loadtest`: a locust User that interviews through the web app's API.

Each user holds its own `gradio_client.Client` (its own Gradio session and cookies, so a sticky load balancer
keeps it on one replica), starts an interview on a topic, answers each question with one of the answers written
for that prompt in the evaluation cases (`evals/cases/*.yaml`), waits the think time, and reports every turn
(answer in, grade and next question out) as a locust request event. What it sends and reads is only what a
browser would; the interview itself is the app's business.

Importing this module imports locust, which patches the standard library for gevent: import it only in a
process that runs the load (`python -m interviewer.perf.loadtest`).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from gradio_client import Client
from locust import User, constant, task

from interviewer.curriculum.corpus import Corpus

# Outputs of the app's /start and /answer endpoints, in order (ui.InterviewApp.screens).
SESSION, PROGRESS, CHAT, GRADE, NOTICE = range(5)
CONNECT, START, TURN = "connect", "/start", "/answer"


def _folded(text: str) -> str:
    """A question as the chat shows it (Markdown-escaped) or as the corpus holds it, in one comparable form."""
    return " ".join(text.replace("\\", "").split()).casefold()


@dataclass
class AnswerBank:
    """Realistic answers by question text: the answers written for each prompt in the evaluation cases."""

    by_question: dict[str, list[str]] = field(default_factory=dict)
    every: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, cases_dir: Path, corpus: Corpus) -> AnswerBank:
        bank = cls()
        for path in sorted(cases_dir.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            answers = [str(c["answer"]) for c in data.get("cases", []) if str(c.get("answer", "")).strip()]
            prompt_id = str(data.get("prompt_id", ""))
            if answers and prompt_id in corpus.prompts:
                bank.by_question[_folded(corpus.prompt(prompt_id).prompt.text)] = answers
                bank.every.extend(answers)
        return bank

    def answers_for(self, question: str) -> list[str] | None:
        return self.by_question.get(_folded(question))


def message_text(message: Any) -> str:
    """The text of a chat message as the API returns it (a string, or a list of typed parts)."""
    content = message.get("content", "") if isinstance(message, dict) else ""
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def refusal(out: tuple[Any, ...] | list[Any]) -> str | None:
    """Why a screen returned by /start or /answer is not a stored, graded step, or None when it is."""
    notice = str(out[NOTICE] or "")
    if notice.startswith("**Note:**"):
        return notice
    if not out[SESSION]:
        return "the app showed the start screen instead of the session"
    return None


class TurnFailed(Exception):
    """A turn that returned a screen, but not the one a stored answer gives (a refusal, a lost session)."""


class InterviewUser(User):
    """A candidate: one session at a time, one answer per task, `think_s` between answers (set by the runner)."""

    abstract = True  # the runner makes a concrete subclass per run, with the host, answers and think time
    wait_time = constant(0)
    answers: AnswerBank = AnswerBank()
    choices: tuple[str, ...] = ()
    prompts_per_session = 3

    def on_start(self) -> None:
        self.client: Client | None = None
        self.session = ""
        self.question = ""
        self.current: list[str] = []  # the answers for the prompt being asked (kept through its follow-ups)

    @task
    def turn(self) -> None:
        if self.client is None and not self._timed(CONNECT, self._connect):
            return
        if not self.session and not self._timed(START, self._start):
            return
        self._timed(TURN, self._answer)

    def _connect(self) -> None:
        """A client of its own: its own Gradio session and cookies (a sticky load balancer's among them)."""
        self.client = Client(self.host or "", verbose=False, download_files=False, analytics_enabled=False)

    def _api(self) -> Client:
        if self.client is None:
            raise TurnFailed("not connected")
        return self.client

    def _timed(self, name: str, step: Any) -> bool:
        """Run one request and report it to locust with its time; True when it succeeded."""
        began = time.perf_counter()
        error: BaseException | None = None
        try:
            step()
        except Exception as exc:  # every failure is counted, none stops the user
            error = exc
            self.session = ""  # start afresh on the next task
        elapsed_ms = (time.perf_counter() - began) * 1000
        self.environment.events.request.fire(
            request_type="gradio", name=name, response_time=elapsed_ms, response_length=0, exception=error, context={}
        )
        return error is None

    def _start(self) -> None:
        out = self._api().predict(random.choice(self.choices), self.prompts_per_session, api_name=START)
        self._read(out)

    def _answer(self) -> None:
        known = self.answers.answers_for(self.question)
        if known is not None:
            self.current = known
        answer = random.choice(self.current or self.answers.every)
        out = self._api().predict(self.session, answer, api_name=TURN)
        if not str(out[GRADE]).startswith("### Last answer"):
            raise TurnFailed(f"no grade in the reply: {str(out[NOTICE] or out[GRADE])[:200]}")
        self._read(out)
        if "Finished" in str(out[PROGRESS]):
            self.session = ""

    def _read(self, out: tuple[Any, ...] | list[Any]) -> None:
        why = refusal(out)
        if why is not None:
            raise TurnFailed(why[:200])
        self.session = str(out[SESSION])
        chat = out[CHAT] or []
        self.question = message_text(chat[-1]) if chat else ""
