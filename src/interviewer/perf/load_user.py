"""One simulated candidate for `interviewer.perf.loadtest`: a locust User that interviews through the web app's API.

Each user holds its own `gradio_client.Client` (its own Gradio session and cookies, so a sticky load balancer
keeps it on one replica), starts an interview on a topic, answers each question with one of the answers written
for that prompt in the evaluation cases (`evals/cases/*.yaml`), waits the think time, and reports every turn
(answer in, grade and next question out) as a locust request event. What it sends and reads is only what a
browser would; the interview itself is the app's business. `CarryingOnUser` (`make loadtest TARGET=failover`)
tags its answers, reports the acknowledged ones to a journal and carries on the same interview through failures.

Importing this module imports locust, which patches the standard library for gevent: import it only in a
process that runs the load (`python -m interviewer.perf.loadtest`).
"""

from __future__ import annotations

import itertools
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin

import httpx
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
            self._failed(exc)
        elapsed_ms = (time.perf_counter() - began) * 1000
        self.environment.events.request.fire(
            request_type="gradio", name=name, response_time=elapsed_ms, response_length=0, exception=error, context={}
        )
        return error is None

    def _failed(self, error: BaseException) -> None:
        """After a failed request: start afresh (a new session) on the next task."""
        self.session = ""

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


# -- a candidate who carries on through failures (`interviewer.perf.failover`) ------------------------------

REOPEN = "/open_session"
SERVER_COOKIE = "SERVERID"  # HAProxy's sticky cookie: the replica that serves a browser


class Journal(Protocol):
    """Where a `CarryingOnUser` records what the app did with its answers (`failover.AckLog`)."""

    def serving(self, user: int, replica: str) -> None:
        """The replica HAProxy's cookie now names for `user` ("" without one)."""

    def sending(self, user: int, session: str, tag: str) -> None:
        """The answer tagged `tag` is being sent (again, after a failure)."""

    def acknowledged(self, user: int, session: str, tag: str) -> None:
        """The app returned a grade and the next step for the answer tagged `tag`."""

    def found_stored(self, user: int, session: str, tag: str) -> None:
        """An answer the app did not acknowledge was in the session when its page was reloaded."""


def tag_pattern(tag: str) -> re.Pattern[str]:
    """The tag as a whole word, wherever it is in an answer or a chat message."""
    return re.compile(rf"\b{re.escape(tag)}\b")


class CarryingOnUser(InterviewUser):
    """A candidate who, like a person, carries on the same interview through failures.

    Every answer carries a tag of its own (`(u7n12)`: candidate 7's twelfth answer), so it can be found in the
    stored session afterwards. An answer the app acknowledges (a grade and the next question) goes to `journal`.
    After a failed or refused answer the candidate waits the think time, reloads the session's page (keeping the
    browser's cookies; HAProxy's sticky cookie is renewed when its replica is gone) and sends the same answer
    again only if the reloaded session does not already show it, as a person would who sees it stored.
    """

    abstract = True
    journal: Journal
    numbers = itertools.count(1)

    def on_start(self) -> None:
        super().on_start()
        self.number = next(self.numbers)
        self.sent = 0
        self.pending = ""  # the tagged answer not yet acknowledged: sent again after a reload unless stored
        self.reload = False

    def _failed(self, error: BaseException) -> None:
        """Keep the session: the next task reloads its page (a failed start starts again)."""
        self.reload = bool(self.session)

    def _connect(self) -> None:
        super()._connect()
        self.journal.serving(self.number, self._api().cookies.get(SERVER_COOKIE, ""))

    def _reconnect(self) -> None:
        """A page reload: a new Gradio session with the browser's cookies, the sticky one as HAProxy sets it now."""
        cookies = dict(self._api().cookies)
        page = httpx.get(urljoin(self.host or "", "config"), cookies=cookies, timeout=60)
        cookies.update({name: value for name, value in page.cookies.items() if value})
        self.client = Client(
            self.host or "", verbose=False, download_files=False, analytics_enabled=False,
            httpx_kwargs={"cookies": cookies},
        )  # fmt: skip
        self.journal.serving(self.number, cookies.get(SERVER_COOKIE, ""))

    def _answer(self) -> None:
        if self.reload:
            self._reopen()
            if not self.session:
                return  # the pending answer finished the session: a new one starts on the next task
        if not self.pending:
            known = self.answers.answers_for(self.question)
            if known is not None:
                self.current = known
            self.sent += 1
            self.pending = f"(u{self.number}n{self.sent}) {random.choice(self.current or self.answers.every)}"
        self.journal.sending(self.number, self.session, self._tag())
        out = self._api().predict(self.session, self.pending, api_name=TURN)
        if out[-1] != "" or not str(out[GRADE]).startswith("### Last answer"):
            raise TurnFailed(f"no grade in the reply: {str(out[NOTICE] or out[GRADE])[:200]}")
        self._read(out)
        self.journal.acknowledged(self.number, self.session, self._tag())
        self.pending = ""
        if "Finished" in str(out[PROGRESS]):
            self.session = ""

    def _tag(self) -> str:
        return self.pending[1:].partition(")")[0]

    def _reopen(self) -> None:
        """Reload the session's page; an answer it shows already is not sent again."""
        self._reconnect()
        out = self._api().predict(self.session, api_name=REOPEN)
        if str(out[SESSION]) != self.session:
            raise TurnFailed(f"the session did not open: {str(out[NOTICE])[:200]}")
        chat = [message_text(m) for m in out[CHAT] or []]
        if self.pending and any(tag_pattern(self._tag()).search(text) for text in chat):
            self.journal.found_stored(self.number, self.session, self._tag())
            self.pending = ""
        self.question = chat[-1] if chat else ""
        self.reload = False
        if "Finished" in str(out[PROGRESS]):
            self.session, self.pending = "", ""
