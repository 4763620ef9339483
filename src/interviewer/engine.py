"""The interview engine: the one entry point that the CLI, the web UI and the evals drive.

engine.start(...) -> first question
engine.submit(session_id, answer) -> the graded turn and the next question (stored before returned)
engine.transcript(session_id) -> every question, answer, grade and the per-objective summary
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Literal

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from interviewer import report
from interviewer.config import Settings
from interviewer.corpus import Corpus
from interviewer.errors import InterviewerError, NotFoundError, SessionFinished, StorageError
from interviewer.grader import Grader
from interviewer.grading.models import Grade
from interviewer.graph import build_graph
from interviewer.store import SessionRow, SessionStore, connect, explain

Mode = Literal["day", "topic", "review"]


@dataclass(frozen=True)
class Question:
    kind: Literal["question", "followup"]
    prompt_id: str
    text: str
    number: int
    of: int
    point_id: str | None = None


@dataclass(frozen=True)
class TurnOutcome:
    session_id: str
    grade: Grade | None
    next: Question | None
    shown: dict[str, Any] | None = None  # the grade as the candidate may see it now (see report.shown_grade)

    @property
    def finished(self) -> bool:
        return self.next is None


class Engine:
    """Owns the corpus, the index, the session store and the graph; safe to share across threads."""

    def __init__(
        self, settings: Settings | None = None, *, progress: bool = True, grader: Grader | None = None
    ) -> None:
        self.grader = grader or Grader(settings, progress=progress)
        self.settings = self.grader.settings
        self.corpus: Corpus = self.grader.corpus
        self.store = SessionStore(self.settings.database_path)
        # The saver commits its own transactions, so its connection is not in autocommit mode.
        self._checkpoint_conn = connect(self.settings.database_path, autocommit=False)
        self.checkpointer = SqliteSaver(self._checkpoint_conn)
        try:
            self.checkpointer.setup()
        except sqlite3.Error as exc:
            raise StorageError(explain(self.settings.database_path, exc)) from None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.graph = build_graph(self.corpus, self.grader.index, self.grader.brain, self.checkpointer)

    # -- planning ----------------------------------------------------------------------------------

    def plan(self, mode: Mode, target: str, count: int | None = None, owner: str = "") -> tuple[list[str], str]:
        """The prompt ids of a session and its label."""
        if mode == "day":
            number = _day_number(target)
            topics = self.corpus.topics_of_day(number)
            plan = _interleave([[p.id for p in t.prompts] for t in topics])
            label = self.corpus.day(number).label
        elif mode == "topic":
            topic = self.corpus.topic(target)
            plan, label = [p.id for p in topic.prompts], topic.label
        else:
            scores = self.store.latest_prompt_scores(owner)
            weak = sorted((s, pid) for pid, s in scores.items() if s <= 2 and pid in self.corpus.prompts)
            if not weak:
                raise NotFoundError("No weak prompts to review yet: finish some answers scored 2 or less first.")
            plan, label = [pid for _, pid in weak], "Review of weak prompts"
            count = count or 5
        if count is not None:
            if count < 1:
                raise InterviewerError("The number of prompts must be at least 1.")
            plan = plan[:count]
        return plan, label

    # -- the interview -----------------------------------------------------------------------------

    def start(
        self, mode: Mode, target: str = "", count: int | None = None, brain: str | None = None, owner: str = ""
    ) -> tuple[str, Question]:
        """Plan and open a new session; return its id and first question."""
        brain_name = brain or self.settings.brain
        self.grader.brain(brain_name)
        plan, label = self.plan(mode, target, count, owner)
        session_id = secrets.token_hex(6)
        self.store.create(session_id, mode, str(target), label, brain_name, len(plan), owner)
        initial = {
            "session_id": session_id,
            "brain": brain_name,
            "plan": plan,
            "position": 0,
            "max_followups": self.settings.max_followups,
            "turns": [],
        }
        self._invoke(session_id, initial)
        question = self.current(session_id)
        assert question is not None
        return session_id, question

    def resolve(self, session_id: str, owner: str | None = None) -> str:
        """A full session id from an id or an unambiguous prefix of one; with `owner`, only theirs."""
        row = self.store.get(session_id)
        if row is not None and (owner is None or row.owner == owner):
            return session_id
        matches = self.store.find(session_id) if len(session_id) >= 4 else []
        matches = [m for m in matches if owner is None or m.owner == owner]
        if len(matches) == 1:
            return matches[0].id
        if len(matches) > 1:
            raise NotFoundError(f"Session id {session_id!r} is ambiguous; give more characters.")
        raise NotFoundError(f"No session {session_id!r}; `interviewer sessions` lists them.")

    def current(self, session_id: str) -> Question | None:
        """The question waiting for an answer, or None when the session has finished."""
        return _waiting(self.state(session_id))

    def state(self, session_id: str) -> dict[str, Any]:
        session_id = self.resolve(session_id)
        try:
            snapshot = self.graph.get_state(self._config(session_id))
        except sqlite3.Error as exc:
            raise StorageError(explain(self.settings.database_path, exc)) from None
        return dict(snapshot.values)

    def submit(self, session_id: str, answer: str) -> TurnOutcome:
        """Grade an answer to the waiting question; the turn is stored before this returns."""
        text = self.grader.clean_answer(answer)
        return self._reply(session_id, {"action": "answer", "text": text, "raw": answer})

    def skip(self, session_id: str) -> TurnOutcome:
        return self._reply(session_id, {"action": "skip"})

    def end(self, session_id: str) -> TurnOutcome:
        return self._reply(session_id, {"action": "end"})

    def _reply(self, session_id: str, reply: dict[str, str]) -> TurnOutcome:
        session_id = self.resolve(session_id)
        with self._session_lock(session_id):
            before = self.state(session_id)
            if _waiting(before) is None:
                if reply["action"] == "end":
                    return TurnOutcome(session_id, None, None)  # ending twice is harmless
                raise SessionFinished(f"Session {session_id} has finished; start a new one or read its transcript.")
            self._invoke(session_id, Command(resume=reply))
            after = self.state(session_id)
            new_turns = after.get("turns", [])[len(before.get("turns", [])) :]
            self._record(session_id, before, after)
        if not new_turns or not new_turns[-1]["grade"]:
            return TurnOutcome(session_id, None, _waiting(after))
        grade = Grade.model_validate(new_turns[-1]["grade"])
        return TurnOutcome(session_id, grade, _waiting(after), report.last_shown_grade(after))

    def last_grade(self, session_id: str) -> dict[str, Any] | None:
        """The latest grade as the candidate may see it now: open key points stay unnamed while probed."""
        return report.last_shown_grade(self.state(session_id))

    def _record(self, session_id: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Keep the session index in step with the checkpoint just written."""
        if after.get("position", 0) > before.get("position", 0) or after.get("status") == "finished":
            pid = before["pending"]["prompt_id"] if before.get("pending") else None
            if pid is not None and report.prompt_turns(after, pid):
                skipped: dict[str, Any] = {
                    "score": 0,
                    "coverage": 0.0,
                    "points": report.unanswered_points(self.corpus, pid),
                }
                result = report.prompt_result(after, pid) or skipped
                self.store.record_prompt(session_id, pid, result["score"], result["coverage"], result["points"])
        summary = report.session_score(after)
        self.store.update(
            session_id,
            status=after.get("status", "active"),
            answered=sum(1 for t in after.get("turns", []) if t.get("answer")),
            score=summary,
        )

    def _invoke(self, session_id: str, payload: Any) -> None:
        try:
            self.graph.invoke(payload, self._config(session_id), durability="sync")
        except sqlite3.Error as exc:
            raise StorageError(explain(self.settings.database_path, exc)) from None

    def _config(self, session_id: str) -> Any:
        return {"configurable": {"thread_id": session_id}}

    def _session_lock(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(session_id, threading.Lock())

    # -- reading sessions --------------------------------------------------------------------------

    def sessions(self, owner: str = "") -> list[SessionRow]:
        return self.store.recent(owner)

    def overview(self, session_id: str) -> dict[str, Any]:
        """Where a session stands: label, progress, time budget and what is waiting."""
        session_id = self.resolve(session_id)
        return self._overview(self._row(session_id), self.state(session_id))

    def snapshot(self, session_id: str) -> dict[str, Any]:
        """Everything a page shows about a session, from one read of its checkpoint."""
        session_id = self.resolve(session_id)
        row, values = self._row(session_id), self.state(session_id)
        return {
            "overview": self._overview(row, values),
            "state": values,
            "last_grade": report.last_shown_grade(values),
            "transcript": report.transcript(self.corpus, row, values),
        }

    def parse_choice(self, value: str) -> tuple[Mode, str]:
        """A catalog value ("day:58", "topic:fs-why", "review:") as (mode, target)."""
        mode, _, target = (value or "").partition(":")
        if mode not in {"day", "topic", "review"}:
            raise InterviewerError("Choose a roadmap day, a topic card or a review first.")
        return mode, target  # type: ignore[return-value]

    def _row(self, session_id: str) -> SessionRow:
        row = self.store.get(session_id)
        assert row is not None
        return row

    def _overview(self, row: SessionRow, values: dict[str, Any]) -> dict[str, Any]:
        question = _waiting(values)
        return {
            "session": row.as_dict(),
            "status": values.get("status", row.status),
            "question": question,
            "asked": min(values.get("position", 0) + (1 if question else 0), len(values.get("plan", []))),
            "planned": len(values.get("plan", [])),
            "minutes": self._minutes(row.mode, row.target),
        }

    def _minutes(self, mode: str, target: str) -> int | None:
        """The time budget: the topic cards' minutes, where the roadmap gives them."""
        if mode == "topic":
            return self.corpus.topic(target).minutes
        if mode == "day":
            minutes = [t.minutes for t in self.corpus.topics_of_day(_day_number(target)) if t.minutes]
            return sum(minutes) or None
        return None

    def catalog(self) -> list[tuple[str, str]]:
        """What a session can be about, as (label, value) pairs: days, topic cards, daily topics, review."""
        days = [(day.label, f"day:{n}") for n, day in self.corpus.days.items()]
        cards = [(t.label, f"topic:{t.id}") for t in self.corpus.topics.values() if t.kind == "topic_card"]
        daily = [
            (f"Day {t.day} - {t.title}", f"topic:{t.id}")
            for t in self.corpus.topics.values()
            if t.kind == "daily_topic"
        ]
        return [*days, *cards, *daily, ("Review my weak prompts", "review:")]

    def progress(self, owner: str = "") -> list[dict[str, Any]]:
        """0-4 score per learning objective in each session, oldest first: for a chart over time."""
        sessions: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        for finished_at, session_id, points_json in self.store.prompt_history(owner):
            at, points = sessions.setdefault(session_id, (finished_at, []))
            points.extend(json.loads(points_json))
        rows: list[dict[str, Any]] = []
        for session_id, (at, points) in sessions.items():
            for objective_id, score in report.objective_scores(points).items():
                if objective_id in self.corpus.objectives:
                    objective = self.corpus.objectives[objective_id][0]
                    rows.append({"at": at, "session": session_id, "objective": objective.text, "score": score})
        return rows

    def transcript(self, session_id: str) -> dict[str, Any]:
        session_id = self.resolve(session_id)
        return report.transcript(self.corpus, self._row(session_id), self.state(session_id))


def _waiting(values: dict[str, Any]) -> Question | None:
    pending = values.get("pending")
    if not pending or values.get("status") == "finished":
        return None
    return Question(**pending)


def _day_number(target: str) -> int:
    try:
        return int(str(target).strip())
    except ValueError:
        raise NotFoundError(f"A roadmap day is a number, got {target!r}.") from None


def _interleave(groups: list[list[str]]) -> list[str]:
    """Round-robin across topics, so a short session still touches each one."""
    out: list[str] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.extend(g[i] for g in groups if i < len(g))
    return out
