"""Reading sessions: what a front end shows of one of the caller's sessions, from its row and its checkpoint.

Every read takes the caller (`access.Caller`) and resolves the session id among the caller's own sessions
only, so no front end can show someone else's interview. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interviewer import config
from interviewer.curriculum.corpus import Corpus
from interviewer.errors import NotFoundError
from interviewer.interview import disclosure, results
from interviewer.interview.access import Caller
from interviewer.interview.attempts import change_in
from interviewer.interview.planning import Planner
from interviewer.interview.progress import History, StartPage, history, schedules_of, start_page
from interviewer.interview.records import (
    Overview,
    ProgressRow,
    Question,
    ShownGrade,
    Snapshot,
    Transcript,
    turns_of,
    waiting,
)
from interviewer.interview.schedule import Scheduled
from interviewer.interview.transcript import conversation
from interviewer.interview.transcript import transcript as build_transcript
from interviewer.storage.seam import Storage
from interviewer.storage.session_index import FinishedPrompt, SessionRow


def thread(session_id: str) -> Any:
    """The LangGraph config of a session's thread."""
    return {"configurable": {"thread_id": session_id}}


class SessionViews:
    """The read side of the engine: resolving a caller's session id, and every view of a session."""

    def __init__(self, corpus: Corpus, storage: Storage, graph: Any, planner: Planner) -> None:
        self.corpus, self.storage, self.graph, self.planner = corpus, storage, graph, planner

    def resolve(self, caller: Caller, session_id: str) -> str:
        """The full id of one of the caller's sessions, from its id (or, in a terminal, a unique prefix).

        A session of someone else's is refused with the same message as one that does not exist.
        """
        given = (session_id or "").strip()
        well_formed = given.isascii() and given.isalnum()  # ids are hex: anything else names no session
        row = self.storage.sessions.get(given) if well_formed else None
        if row is not None and row.owner == caller.name:
            return row.id
        if caller.prefixes and well_formed and len(given) >= 4:
            matches = [m for m in self.storage.sessions.find(given) if m.owner == caller.name]
            if len(matches) == 1:
                return matches[0].id
            if len(matches) > 1:
                raise NotFoundError(f"Session id {given!r} is ambiguous; give more characters.")
        shown = given if len(given) <= 40 else given[:40] + "..."
        hint = "; `interviewer sessions` lists yours" if caller.prefixes else ""
        raise NotFoundError(f"No session {shown!r}{hint}.")

    def state(self, session_id: str) -> dict[str, Any]:
        """A resolved session's checkpointed state."""
        with self.storage.guard():
            return dict(self.graph.get_state(thread(session_id)).values)

    def row(self, session_id: str) -> SessionRow:
        """A resolved session's row of the session index."""
        row = self.storage.sessions.get(session_id)
        if row is None:  # deleted since it was resolved
            raise NotFoundError(f"No session {session_id!r}.")
        return row

    def current(self, caller: Caller, session_id: str) -> Question | None:
        """The question waiting for an answer, or None when the session has finished."""
        return waiting(self.state(self.resolve(caller, session_id)))

    def sessions(self, caller: Caller) -> list[SessionRow]:
        """The caller's sessions, newest first."""
        return self.storage.sessions.recent(caller.name)

    def overview(self, caller: Caller, session_id: str) -> Overview:
        """Where a session stands: label, progress, time budget and what is waiting."""
        session_id = self.resolve(caller, session_id)
        return self._overview(self.row(session_id), self.state(session_id))

    def snapshot(self, caller: Caller, session_id: str) -> Snapshot:
        """Everything a page shows about one of the caller's sessions, from one read of its checkpoint."""
        session_id = self.resolve(caller, session_id)
        row, values = self.row(session_id), self.state(session_id)
        finished = self.storage.sessions.finished_prompts(row.owner)
        done = done_prompts(values)
        return Snapshot(
            overview=self._overview(row, values),
            messages=conversation(values),
            turns=turns_of(values),
            last_grade=with_change(disclosure.last_shown_grade(values), values, lambda: finished, session_id),
            transcript=build_transcript(self.corpus, row, values, finished),
            done=done,
        )

    def shown_after(self, session_id: str, state: dict[str, Any], shown: ShownGrade | None) -> ShownGrade | None:
        """A turn's shown grade with, once its question is done, what changed since the previous attempt."""
        owner = self.row(session_id).owner
        return with_change(shown, state, lambda: self.storage.sessions.finished_prompts(owner), session_id)

    def transcript(self, caller: Caller, session_id: str) -> Transcript:
        """Every question, answer, follow-up and grade of one of the caller's sessions, with its summary, each
        prompt's attempts and what this session's attempt changed."""
        session_id = self.resolve(caller, session_id)
        row = self.row(session_id)
        finished = self.storage.sessions.finished_prompts(row.owner)
        return build_transcript(self.corpus, row, self.state(session_id), finished)

    def done(self, caller: Caller, session_id: str) -> list[str]:
        """The prompts one of the caller's sessions has finished (graded, follow-ups over), oldest first."""
        return done_prompts(self.state(self.resolve(caller, session_id)))

    def progress(self, caller: Caller) -> list[ProgressRow]:
        """0-4 score per learning objective in each of the caller's sessions, oldest first."""
        return results.progress_rows(self.corpus, self.storage.sessions.prompt_history(caller.name))

    def start_page(self, caller: Caller) -> StartPage:
        """The start page's view of the caller's practice: each card's last and best score, the weak points."""
        return start_page(self.corpus, self.storage.sessions.finished_prompts(caller.name), config.now())

    def history(self, caller: Caller, sessions: list[SessionRow] | None = None) -> History:
        """The History tab's view of the caller's practice: mastery per objective and the session trend
        (`sessions`: the caller's session list, when they have just read it)."""
        listed = self.sessions(caller) if sessions is None else sessions
        return history(self.corpus, self.storage.sessions.finished_prompts(caller.name), listed)

    def due(self, caller: Caller) -> list[Scheduled]:
        """Every question the caller has finished, with when it comes due again: the soonest first."""
        finished = self.storage.sessions.finished_prompts(caller.name)
        return sorted(schedules_of(self.corpus, finished).values(), key=lambda s: (s.due, s.last_score, s.prompt_id))

    def _overview(self, row: SessionRow, values: dict[str, Any]) -> Overview:
        return overview_of(row, values, self.planner.minutes(row.mode, row.target))


def done_prompts(state: dict[str, Any]) -> list[str]:
    """The prompts a session has finished: asked, and no longer asked or probed."""
    open_prompt = waiting(state)
    return [p for p in results.asked_prompts(state) if open_prompt is None or p != open_prompt.prompt_id]


def with_change(
    shown: ShownGrade | None, state: dict[str, Any], finished: Callable[[], list[FinishedPrompt]], session_id: str
) -> ShownGrade | None:
    """The last shown grade with what its question's attempt changed, once the question is done (`finished`: the
    owner's finished prompts, read only then)."""
    graded = [t.prompt_id for t in turns_of(state) if t.grade is not None]  # the shown grade's question, last
    if shown is None or not graded or graded[-1] not in done_prompts(state):
        return shown
    return shown.model_copy(update={"change": change_in(finished(), session_id, graded[-1])})


def overview_of(row: SessionRow, values: dict[str, Any], minutes: int | None) -> Overview:
    """Where a session stands: label, progress, time budget and what is waiting."""
    question = waiting(values)
    planned = len(values.get("plan", []))
    return Overview(
        session=row,
        status=values.get("status", row.status),
        question=question,
        asked=min(values.get("position", 0) + (1 if question else 0), planned),
        planned=planned,
        minutes=minutes,
    )
