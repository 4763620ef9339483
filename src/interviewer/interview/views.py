"""Reading sessions: what a front end shows of one of the caller's sessions, from its row and its checkpoint.

Every read takes the caller (`access.Caller`) and resolves the session id among the caller's own sessions
only, so no front end can show someone else's interview. Nothing here writes.
"""

from __future__ import annotations

from typing import Any

from interviewer.curriculum.corpus import Corpus
from interviewer.errors import NotFoundError
from interviewer.interview import disclosure, results
from interviewer.interview.access import Caller
from interviewer.interview.planning import Planner
from interviewer.interview.progress import History, StartPage, history, start_page
from interviewer.interview.records import (
    Overview,
    ProgressRow,
    Question,
    Snapshot,
    Transcript,
    turns_of,
    waiting,
)
from interviewer.interview.transcript import conversation
from interviewer.interview.transcript import transcript as build_transcript
from interviewer.storage.seam import Storage
from interviewer.storage.session_index import SessionRow


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
        return Snapshot(
            overview=self._overview(row, values),
            messages=conversation(values),
            turns=turns_of(values),
            last_grade=disclosure.last_shown_grade(values),
            transcript=build_transcript(self.corpus, row, values),
        )

    def transcript(self, caller: Caller, session_id: str) -> Transcript:
        """Every question, answer, follow-up and grade of one of the caller's sessions, with its summary."""
        session_id = self.resolve(caller, session_id)
        return build_transcript(self.corpus, self.row(session_id), self.state(session_id))

    def progress(self, caller: Caller) -> list[ProgressRow]:
        """0-4 score per learning objective in each of the caller's sessions, oldest first."""
        return results.progress_rows(self.corpus, self.storage.sessions.prompt_history(caller.name))

    def start_page(self, caller: Caller) -> StartPage:
        """The start page's view of the caller's practice: each card's last and best score, the weak points."""
        return start_page(self.corpus, self.storage.sessions.finished_prompts(caller.name))

    def history(self, caller: Caller, sessions: list[SessionRow] | None = None) -> History:
        """The History tab's view of the caller's practice: mastery per objective and the session trend
        (`sessions`: the caller's session list, when they have just read it)."""
        listed = self.sessions(caller) if sessions is None else sessions
        return history(self.corpus, self.storage.sessions.finished_prompts(caller.name), listed)

    def _overview(self, row: SessionRow, values: dict[str, Any]) -> Overview:
        return overview_of(row, values, self.planner.minutes(row.mode, row.target))


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
