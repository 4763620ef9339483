"""One lock per session, so that a session's turns run one at a time and different sessions at once."""

from __future__ import annotations

import threading


class SessionLocks:
    """One re-entrant lock per session: a session's turns run one at a time, different sessions at once."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def of(self, session_id: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(session_id, threading.RLock())

    def drop(self, session_id: str) -> None:
        with self._guard:
            self._locks.pop(session_id, None)
