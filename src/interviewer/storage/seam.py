"""The storage seam: what every backend provides, narrow enough that a backend is one new module.

A backend provides two things over one database: the LangGraph checkpointer (the truth of every interview)
and a `SessionIndex` (the session list and per-prompt results, derived from the checkpoints), plus `guard`,
which turns the backend's own failures into one clear `StorageError`. SQLite (`sqlite.py`) is the embedded
default; PostgreSQL (`postgres.py`) is used when INTERVIEWER_DATABASE_URL names a database.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver

from interviewer.grading.models import PointVerdict
from interviewer.storage.session_index import FinishedPrompt, SessionRow
from interviewer.storage.tallies import Tallies


class SessionIndex(Protocol):
    """The session list and per-prompt results; every write is derived from a session's checkpoint."""

    lease_s: float

    def tallies(self) -> Tallies: ...
    def create(
        self, session_id: str, mode: str, target: str, label: str, brain: str, planned: int, owner: str = ""
    ) -> int: ...
    def mark(self, session_id: str) -> int: ...
    def renew(self, session_id: str, mark: int) -> bool: ...
    def marked(self, session_id: str | None = None) -> list[tuple[str, int, float]]: ...
    def update(
        self, session_id: str, *, status: str, answered: int, score: float | None, mark: int | None = None
    ) -> None: ...
    def record_prompt(
        self, session_id: str, prompt_id: str, score: int, coverage: float, points: list[PointVerdict]
    ) -> None: ...
    def get(self, session_id: str) -> SessionRow | None: ...
    def find(self, prefix: str) -> list[SessionRow]: ...
    def count_open(self, owner: str) -> int: ...
    def ids_of(self, owner: str) -> list[str]: ...
    def delete(self, session_id: str, *, mark: int | None = None) -> int: ...
    def recent(self, owner: str = "", limit: int = 200) -> list[SessionRow]: ...
    def latest_prompt_scores(self, owner: str = "") -> dict[str, int]: ...
    def prompt_history(self, owner: str = "") -> list[tuple[str, str, str]]: ...
    def finished_prompts(self, owner: str = "") -> list[FinishedPrompt]: ...


@dataclass(frozen=True)
class Migrated:
    """What opening a backend changed in its schema (`interviewer migrate` prints it)."""

    database: str = ""
    """Where, fit to show (a PostgreSQL URL without its password)."""
    sessions: tuple[str, ...] = ()
    """The session index's migrations applied by this opening, by name."""
    checkpoints: int = 0
    """The checkpointer's schema steps applied by this opening (its migrations, or the tables it created)."""

    def lines(self) -> list[str]:
        names = f" ({', '.join(self.sessions)})" if self.sessions else ""
        return [
            f"database: {self.database}",
            f"session tables: {len(self.sessions)} migration(s) applied{names}",
            f"checkpoint tables: {self.checkpoints} schema step(s) applied",
            "the database is up to date" if self.sessions or self.checkpoints else "it was already up to date",
        ]


@dataclass(frozen=True)
class Storage:
    """One backend: the session index, the checkpointer, and how its failures read to a person."""

    sessions: SessionIndex
    checkpointer: BaseCheckpointSaver[Any]
    guard: Callable[[], AbstractContextManager[None]]
    close: Callable[[], None]
    migrated: Migrated = Migrated()
