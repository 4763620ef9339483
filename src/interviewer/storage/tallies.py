"""Counts in the session database that every process using it shares: answers and model calls per person a
minute, and failed sign-ins per name and per address. Kept there, a limit holds across restarts and across
replicas on any number of machines, so two replicas never allow twice the guesses.

A tally is a row per event: (bucket, key, at, amount, tag). `at` is wall-clock seconds since the epoch, which
the hosts of a deployment agree on (NTP); `tag` names one event so that it can be taken back (a sign-in that
turned out right). Old rows are pruned by whoever counts, at most once a minute per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
Write = Callable[[str, Sequence[Any]], int]

PRUNE_EVERY_S = 60.0


class Tallies:
    """Sliding-window counts over the session database's `tallies` table (migration 005_tallies).

    Built by `SqlSessionIndex.tallies()` from the index's own statements, so it runs on SQLite and PostgreSQL
    alike; every call is one short statement under the backend's `guard` (its failures are StorageError).
    """

    def __init__(self, guard: Callable[[], AbstractContextManager[None]], rows: Rows, write: Write) -> None:
        self._guard, self._rows, self._write = guard, rows, write
        self._pruned: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, bucket: str, key: str, at: float, amount: int = 1, tag: str = "") -> None:
        """Count `amount` events of `key` in `bucket` at time `at`."""
        with self._guard():
            sql = "INSERT INTO tallies (bucket, key, at, amount, tag) VALUES (?, ?, ?, ?, ?)"
            self._write(sql, (bucket, key, at, amount, tag))

    def since(self, bucket: str, key: str, start: float) -> list[tuple[float, int]]:
        """(time, amount) of each of `key`'s events in `bucket` after `start`, oldest first."""
        with self._guard():
            sql = "SELECT at, amount FROM tallies WHERE bucket = ? AND key = ? AND at > ? ORDER BY at"
            rows = self._rows(sql, (bucket, key, start))
        return [(float(at), int(amount)) for at, amount in rows]

    def drop(self, bucket: str, key: str) -> None:
        """Forget every event of `key` in `bucket`."""
        with self._guard():
            self._write("DELETE FROM tallies WHERE bucket = ? AND key = ?", (bucket, key))

    def take_back(self, tag: str) -> None:
        """Forget the events counted with `tag`, in every bucket."""
        with self._guard():
            self._write("DELETE FROM tallies WHERE tag = ?", (tag,))

    def prune(self, bucket: str, window_s: float, now: float | None = None) -> None:
        """Delete `bucket`'s events older than `window_s`, at most once a minute per process."""
        now = time.time() if now is None else now
        with self._lock:
            if now - self._pruned.get(bucket, -PRUNE_EVERY_S) < PRUNE_EVERY_S:
                return
            self._pruned[bucket] = now
        with self._guard():
            self._write("DELETE FROM tallies WHERE bucket = ? AND at <= ?", (bucket, now - window_s))
