"""The interview engine: the one entry point that the CLI, the web UI and the evals drive.

engine.start(caller, ...) -> a new session's id and first question
engine.submit(caller, session_id, answer) -> the graded turn and the next question (stored before returned)
engine.transcript(caller, session_id) -> every question, answer, grade and the per-objective summary

Every call that takes a session id also takes the caller (`access.Caller`): the engine resolves the id
among the caller's own sessions only, so no front end can show or change someone else's interview.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from interviewer import disclosure, exports, results
from interviewer.access import Caller, Limits, Meter
from interviewer.config import Settings
from interviewer.corpus import Corpus
from interviewer.errors import InterviewerError, NotFoundError, SessionFinished, StorageError
from interviewer.grader import Grader
from interviewer.grading.models import Grade
from interviewer.grading.text import printable
from interviewer.graph import build_graph
from interviewer.planning import Mode, Planner
from interviewer.store import SessionRow, SessionStore, abandoned, connect, explain
from interviewer.transcript import transcript as build_transcript


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
    shown: dict[str, Any] | None = None  # the grade as the candidate may see it now (see disclosure.shown_grade)
    model_calls: int = 0  # model calls this turn made (grading and the follow-up)

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
        self.limits = Limits.from_settings(self.settings)
        self.meter = Meter()
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self.planner = Planner(self.corpus, self.store)
        self.graph = build_graph(self.corpus, self.grader.index, self.grader.brain, self.checkpointer)
        self.repair()

    # -- planning ----------------------------------------------------------------------------------

    def plan(self, mode: Mode, target: str, count: int | None = None, owner: str = "") -> tuple[list[str], str]:
        """The prompt ids of a session and its label."""
        return self.planner.plan(mode, target, count, owner)

    def catalog(self) -> list[tuple[str, str]]:
        return self.planner.catalog()

    def parse_choice(self, value: str) -> tuple[Mode, str]:
        return self.planner.parse_choice(value)

    # -- the interview -----------------------------------------------------------------------------

    def start(
        self, caller: Caller, mode: Mode, target: str = "", count: int | None = None, brain: str | None = None
    ) -> tuple[str, Question]:
        """Plan and open a new session for the caller; return its id and first question."""
        brain_name = brain or self.settings.brain
        self.grader.brain(brain_name)
        plan, label = self.plan(mode, target, count, caller.name)
        self.limits.check_open(caller, self.store.count_open(caller.name))
        session_id = secrets.token_hex(6)
        self.store.create(session_id, mode, str(target), label, brain_name, len(plan), caller.name)
        initial = {
            "session_id": session_id,
            "brain": brain_name,
            "plan": plan,
            "position": 0,
            "max_followups": self.settings.max_followups,
            "turns": [],
        }
        self._invoke(session_id, initial)
        record_session(self.store, self.corpus, session_id, self._state(session_id))
        question = _waiting(self._state(session_id))
        assert question is not None
        return session_id, question

    def resolve(self, caller: Caller, session_id: str) -> str:
        """The full id of one of the caller's sessions, from its id (or, in a terminal, a unique prefix).

        A session of someone else's is refused with the same message as one that does not exist.
        """
        given = (session_id or "").strip()
        well_formed = given.isascii() and given.isalnum()  # ids are hex: anything else names no session
        row = self.store.get(given) if well_formed else None
        if row is not None and row.owner == caller.name:
            return row.id
        if caller.prefixes and well_formed and len(given) >= 4:
            matches = [m for m in self.store.find(given) if m.owner == caller.name]
            if len(matches) == 1:
                return matches[0].id
            if len(matches) > 1:
                raise NotFoundError(f"Session id {given!r} is ambiguous; give more characters.")
        shown = given if len(given) <= 40 else given[:40] + "..."
        hint = "; `interviewer sessions` lists yours" if caller.prefixes else ""
        raise NotFoundError(f"No session {shown!r}{hint}.")

    def current(self, caller: Caller, session_id: str) -> Question | None:
        """The question waiting for an answer, or None when the session has finished."""
        return _waiting(self._state(self.resolve(caller, session_id)))

    def _state(self, session_id: str) -> dict[str, Any]:
        """A resolved session's checkpointed state."""
        try:
            snapshot = self.graph.get_state(self._config(session_id))
        except sqlite3.Error as exc:
            raise StorageError(explain(self.settings.database_path, exc)) from None
        return dict(snapshot.values)

    def submit(self, caller: Caller, session_id: str, answer: str) -> TurnOutcome:
        """Grade an answer to the waiting question; the turn is stored before this returns."""
        session_id = self.resolve(caller, session_id)
        text = self.grader.clean_answer(answer)
        self.limits.check_answer(caller, self.meter)
        reply = {"action": "answer", "text": text, "raw": printable(answer)}
        refused = self.limits.model_refusal(caller, self.meter)
        if refused:
            reply["model_refused"] = refused
        outcome = self._reply(session_id, reply)
        self.meter.add(caller.name, "answers")
        if outcome.grade is not None:
            self.meter.add(caller.name, "model_calls", outcome.model_calls)
        return outcome

    def skip(self, caller: Caller, session_id: str) -> TurnOutcome:
        return self._reply(self.resolve(caller, session_id), {"action": "skip"})

    def end(self, caller: Caller, session_id: str) -> TurnOutcome:
        return self._reply(self.resolve(caller, session_id), {"action": "end"})

    def _reply(self, session_id: str, reply: dict[str, str]) -> TurnOutcome:
        with self._session_lock(session_id):
            self.repair(session_id)  # an earlier turn that did not finish: its row first
            before = self._state(session_id)
            if _waiting(before) is None:
                if reply["action"] == "end":
                    return TurnOutcome(session_id, None, None)  # ending twice is harmless
                raise SessionFinished(f"Session {session_id} has finished; start a new one or read its transcript.")
            self.store.mark(session_id)  # committed first: a kill from here on leaves the row to `repair`
            self._invoke(session_id, Command(resume=reply))
            after = self._state(session_id)
            new_turns = after.get("turns", [])[len(before.get("turns", [])) :]
            record_session(self.store, self.corpus, session_id, after)
        if not new_turns or not new_turns[-1]["grade"]:
            return TurnOutcome(session_id, None, _waiting(after))
        grade = Grade.model_validate(new_turns[-1]["grade"])
        calls = grade.usage.calls if grade.usage else 0
        calls += int((new_turns[-1].get("followup_usage") or {}).get("calls", 0))
        return TurnOutcome(session_id, grade, _waiting(after), disclosure.last_shown_grade(after), calls)

    def last_grade(self, caller: Caller, session_id: str) -> dict[str, Any] | None:
        """The latest grade as the candidate may see it now: open key points stay unnamed while probed."""
        return disclosure.last_shown_grade(self._state(self.resolve(caller, session_id)))

    def repair(self, session_id: str | None = None) -> int:
        """Bring the rows of turns that cannot finish back in step with their checkpoints (`repair_session`).

        Runs when the engine opens (turns whose process died) and before each reply with its session id (then
        also a turn that failed in this process). Returns how many rows it repaired or removed.
        """
        done = 0
        for marked, mark in self.store.marked(session_id):
            with self._session_lock(marked):
                if abandoned(mark, mine=session_id is not None):
                    repair_session(self, marked, mark)
                    done += 1
        return done

    def _invoke(self, session_id: str, payload: Any) -> None:
        # One checkpoint per call, written as the graph stops (durability "exit"): a turn is stored whole or not
        # at all, never as an answer taken but not graded, which a resumed session would grade in place of the
        # next answer.
        try:
            self.graph.invoke(payload, self._config(session_id), durability="exit")
        except sqlite3.Error as exc:
            raise StorageError(explain(self.settings.database_path, exc)) from None

    def _config(self, session_id: str) -> Any:
        return {"configurable": {"thread_id": session_id}}

    def _session_lock(self, session_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(session_id, threading.RLock())

    # -- reading sessions --------------------------------------------------------------------------

    def sessions(self, caller: Caller) -> list[SessionRow]:
        return self.store.recent(caller.name)

    def overview(self, caller: Caller, session_id: str) -> dict[str, Any]:
        """Where a session stands: label, progress, time budget and what is waiting."""
        session_id = self.resolve(caller, session_id)
        return self._view(self._row(session_id), self._state(session_id))

    def snapshot(self, caller: Caller, session_id: str) -> dict[str, Any]:
        """Everything a page shows about one of the caller's sessions, from one read of its checkpoint."""
        session_id = self.resolve(caller, session_id)
        row, values = self._row(session_id), self._state(session_id)
        return {
            "overview": self._view(row, values),
            "state": values,
            "last_grade": disclosure.last_shown_grade(values),
            "transcript": build_transcript(self.corpus, row, values),
        }

    def _row(self, session_id: str) -> SessionRow:
        row = self.store.get(session_id)
        if row is None:  # deleted since it was resolved
            raise NotFoundError(f"No session {session_id!r}.")
        return row

    def _view(self, row: SessionRow, values: dict[str, Any]) -> dict[str, Any]:
        return overview_of(row, values, self.planner.minutes(row.mode, row.target))

    def progress(self, caller: Caller) -> list[dict[str, Any]]:
        """0-4 score per learning objective in each of the caller's sessions, oldest first."""
        return results.progress_rows(self.corpus, self.store.prompt_history(caller.name))

    def transcript(self, caller: Caller, session_id: str) -> dict[str, Any]:
        session_id = self.resolve(caller, session_id)
        return build_transcript(self.corpus, self._row(session_id), self._state(session_id))

    # -- forgetting --------------------------------------------------------------------------------

    def delete(self, caller: Caller, session_id: str) -> Forgotten:
        """Delete one of the caller's sessions: its checkpoints, its index rows and its downloads."""
        return self._forget([self.resolve(caller, session_id)])

    def _forget(self, session_ids: list[str]) -> Forgotten:
        done = Forgotten()
        for session_id in session_ids:
            with self._session_lock(session_id):
                erase(self, session_id, done)
            with self._locks_guard:
                self._locks.pop(session_id, None)
        return done

    def forget(self, *, owner: str | None = None, session_id: str | None = None) -> Forgotten:
        """The operator's `interviewer forget`: every session of an owner, or one session by its full id."""
        if (owner is None) == (session_id is None):
            raise InterviewerError("Give exactly one of --owner NAME or --session ID.")
        if session_id is not None:
            row = self.store.get(session_id.strip())
            if row is None:
                raise NotFoundError(f"No session {session_id.strip()!r} (give the full id).")
            return self._forget([row.id])
        return self._forget(self.store.ids_of(owner or ""))


def _waiting(values: dict[str, Any]) -> Question | None:
    pending = values.get("pending")
    if not pending or values.get("status") == "finished":
        return None
    return Question(**pending)


def overview_of(row: SessionRow, values: dict[str, Any], minutes: int | None) -> dict[str, Any]:
    """Where a session stands: label, progress, time budget and what is waiting."""
    question = _waiting(values)
    return {
        "session": row.as_dict(),
        "status": values.get("status", row.status),
        "question": question,
        "asked": min(values.get("position", 0) + (1 if question else 0), len(values.get("plan", []))),
        "planned": len(values.get("plan", [])),
        "minutes": minutes,
    }


def record_session(
    store: SessionStore, corpus: Corpus, session_id: str, state: dict[str, Any], mark: int | None = None
) -> None:
    """Keep the session index in step with the checkpoint just written (idempotent: derived from it).

    Clears the row's in-flight mark; with `mark` (a repair), only if the row still carries it.
    """
    open_prompt = _waiting(state)
    asked = dict.fromkeys(t["prompt_id"] for t in state.get("turns", []))
    for pid in asked:
        if open_prompt is not None and open_prompt.prompt_id == pid:
            continue  # still being asked or probed: its result is not final
        result = results.prompt_result(state, pid) or {
            "score": 0,
            "coverage": 0.0,
            "points": results.unanswered_points(corpus, pid),
        }
        store.record_prompt(session_id, pid, result["score"], result["coverage"], result["points"])
    store.update(
        session_id,
        status=state.get("status", "active"),
        answered=sum(1 for t in state.get("turns", []) if t.get("answer")),
        score=results.session_score(state),
        mark=mark,
    )


def repair_session(engine: Engine, session_id: str, mark: int) -> None:
    """Re-derive a row marked in flight by a turn that cannot finish from the session's checkpoint.

    The killed turn is either in the checkpoint whole or not at all (see `Engine._invoke`); a session killed
    before its first checkpoint, whose id nobody was shown, is removed.
    """
    config = engine._config(session_id)
    try:
        if engine.checkpointer.get_tuple(config) is None:
            engine.store.delete(session_id, mark=mark)
            return
        settle(engine.graph, config)
        state = dict(engine.graph.get_state(config).values)
    except sqlite3.Error as exc:
        raise StorageError(explain(engine.settings.database_path, exc)) from None
    record_session(engine.store, engine.corpus, session_id, state, mark)


def settle(graph: Any, config: Any) -> None:
    """Drop an answer that a turn failing mid-way stored without recording it (the graph stopped after `wait`,
    before `decide` finished), so that its question waits again and the next answer is graded as its answer."""
    if graph.get_state(config).next in {("grade",), ("decide",)}:
        graph.update_state(config, {"reply": None, "graded": None, "decision": None}, as_node="ask")


def erase(engine: Engine, session_id: str, done: Forgotten) -> None:
    """Delete one session's checkpoints, index rows and downloads, adding what went to `done`."""
    row = engine.store.get(session_id)
    if row is None:
        return
    try:
        engine.checkpointer.delete_thread(session_id)
    except sqlite3.Error as exc:
        raise StorageError(explain(engine.settings.database_path, exc)) from None
    done.results += engine.store.delete(session_id)
    done.sessions.append(session_id)
    done.answers += row.answered
    done.downloads += exports.remove_session(engine.settings.downloads_dir, session_id)


@dataclass
class Forgotten:
    """What a deletion removed."""

    sessions: list[str] = field(default_factory=list)
    answers: int = 0
    results: int = 0
    downloads: int = 0

    def summary(self) -> str:
        if not self.sessions:
            return "Nothing to delete: no such sessions."
        return (
            f"Deleted {len(self.sessions)} session(s) ({', '.join(self.sessions)}): their checkpoints, "
            f"{self.answers} answer(s), {self.results} prompt result(s) and {self.downloads} download file(s)."
        )
