"""Who is asking, and how much they may ask: the caller of every engine call, and per-user limits.

The engine checks ownership and limits itself, so no front end can forget to: a session that is not the
caller's is refused with the same message as one that does not exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interviewer.errors import LimitReached, StorageError

if TYPE_CHECKING:
    from interviewer.config import Settings
    from interviewer.storage.tallies import Tallies


@dataclass(frozen=True)
class Caller:
    """The person an engine call is for.

    `name` is the signed-in user ("" is the local user of a machine without a login). `prefixes` lets a
    session be named by a unique prefix of its id (a terminal convenience; the web API takes full ids).
    `limited` applies the per-user limits (the web app, where one server is shared).
    """

    name: str = ""
    prefixes: bool = False
    limited: bool = True

    @classmethod
    def terminal(cls) -> Caller:
        """The person at this machine's terminal: their own sessions, by id or prefix, no limits."""
        return cls("", prefixes=True, limited=False)

    @classmethod
    def web(cls, username: str | None) -> Caller:
        """A browser or API user: full session ids only, per-user limits."""
        return cls(username or "")


class Meter:
    """Sliding one-minute counts per user (answers graded, model calls made), kept in the session database
    (`Tallies`), so a limit holds across restarts and across every replica that shares the database."""

    WINDOW = 60.0

    def __init__(self, tallies: Tallies, clock: Callable[[], float] = time.time) -> None:
        self._tallies, self._clock = tallies, clock

    def used(self, user: str, what: str) -> int:
        """How many `what` the user spent in the last minute."""
        return sum(n for _, n in self._window(user, what))

    def add(self, user: str, what: str, amount: int = 1) -> None:
        if amount <= 0:
            return
        now = self._clock()
        self._tallies.add(what, user, now, amount)
        self._tallies.prune(what, self.WINDOW, now)

    def wait(self, user: str, what: str) -> int:
        """Seconds until the oldest event of the window expires (at least 1)."""
        events = self._window(user, what)
        oldest = events[0][0] if events else self._clock()
        return max(1, int(oldest + self.WINDOW - self._clock() + 0.999))

    def _window(self, user: str, what: str) -> list[tuple[float, int]]:
        return self._tallies.since(what, user, self._clock() - self.WINDOW)


@dataclass(frozen=True)
class Limits:
    """Per-user limits (OWASP LLM10, unbounded consumption); set by INTERVIEWER_* variables."""

    open_sessions: int
    answers_per_minute: int
    model_calls_per_minute: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_open_sessions, settings.answers_per_minute, settings.model_calls_per_minute)

    def check_open(self, caller: Caller, open_now: int) -> None:
        if caller.limited and open_now >= self.open_sessions:
            raise LimitReached(
                f"You have {open_now} unfinished sessions, the most one person may keep open "
                f"(INTERVIEWER_MAX_OPEN_SESSIONS={self.open_sessions}). Finish one, end it, or delete it in "
                "History, then start again."
            )

    def check_answer(self, caller: Caller, meter: Meter) -> None:
        if caller.limited and meter.used(caller.name, "answers") >= self.answers_per_minute:
            raise LimitReached(
                f"That is {self.answers_per_minute} answers in a minute, the most one person may send "
                f"(INTERVIEWER_ANSWERS_PER_MINUTE). Your answer was not sent and is still in the box: send it "
                f"again in {meter.wait(caller.name, 'answers')} s."
            )

    def count(self, caller: Caller, meter: Meter, model_calls: int) -> None:
        """Count a stored answer (and the model calls it made) against the caller's limits. The answer is stored
        already, so a database that fails now must not turn it into an error the person would send again: the
        count is skipped instead."""
        if not caller.limited:
            return
        try:
            meter.add(caller.name, "answers")
            meter.add(caller.name, "model_calls", model_calls)
        except StorageError:
            return

    def model_refusal(self, caller: Caller, meter: Meter) -> str | None:
        """Why this caller's next answer may not use the model, or None when it may."""
        if caller.limited and meter.used(caller.name, "model_calls") >= self.model_calls_per_minute:
            return (
                f"The model call limit was reached ({self.model_calls_per_minute} a minute for each person, "
                "INTERVIEWER_MODEL_CALLS_PER_MINUTE); this answer was graded by the rubric brain."
            )
        return None
