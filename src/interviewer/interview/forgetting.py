"""Deleting interviews for good: a user's own session from History, or everything of a user (`forget`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from interviewer.errors import InterviewerError, NotFoundError
from interviewer.interview.locks import SessionLocks
from interviewer.storage import exports
from interviewer.storage.seam import SessionIndex, Storage


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


def targets(store: SessionIndex, owner: str | None, session_id: str | None) -> list[str]:
    """The sessions an operator names: every session of an owner, or one session by its full id."""
    if (owner is None) == (session_id is None):
        raise InterviewerError("Give exactly one of --owner NAME or --session ID.")
    if session_id is not None:
        row = store.get(session_id.strip())
        if row is None:
            raise NotFoundError(f"No session {session_id.strip()!r} (give the full id).")
        return [row.id]
    return store.ids_of(owner or "")


def forget_sessions(storage: Storage, locks: SessionLocks, downloads: Path, session_ids: list[str]) -> Forgotten:
    """Delete each session's checkpoints, index rows and downloads, one session at a time under its lock."""
    done = Forgotten()
    for session_id in session_ids:
        with locks.of(session_id):
            _erase(storage, downloads, session_id, done)
        locks.drop(session_id)
    return done


def _erase(storage: Storage, downloads: Path, session_id: str, done: Forgotten) -> None:
    row = storage.sessions.get(session_id)
    if row is None:
        return
    with storage.guard():
        storage.checkpointer.delete_thread(session_id)
    done.results += storage.sessions.delete(session_id)
    done.sessions.append(session_id)
    done.answers += row.answered
    done.downloads += exports.remove_session(downloads, session_id)
