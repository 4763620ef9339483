"""The session database: one SQLite file holding the LangGraph checkpoints and the session index.

The checkpoints are the truth of every interview; the `sessions` and `prompt_results` tables index them
for listing, progress and review planning. Schema changes are named, append-only migrations. The index's SQL
(`SqlSessionIndex`) is shared with the PostgreSQL backend (`postgres.py`); `SessionStore` runs it on SQLite.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from interviewer.config import now as clock
from interviewer.errors import StorageError
from interviewer.grading.models import PointVerdict
from interviewer.storage.tallies import Tallies

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_sessions",
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            mode TEXT NOT NULL,
            target TEXT NOT NULL,
            label TEXT NOT NULL,
            brain TEXT NOT NULL,
            status TEXT NOT NULL,
            planned INTEGER NOT NULL,
            answered INTEGER NOT NULL DEFAULT 0,
            score REAL
        );
        CREATE TABLE prompt_results (
            session_id TEXT NOT NULL REFERENCES sessions(id),
            prompt_id TEXT NOT NULL,
            score INTEGER NOT NULL,
            coverage REAL NOT NULL,
            points TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            PRIMARY KEY (session_id, prompt_id)
        );
        """,
    ),
    (
        "002_session_owner",
        """
        ALTER TABLE sessions ADD COLUMN owner TEXT NOT NULL DEFAULT '';
        CREATE INDEX sessions_owner_created ON sessions (owner, created_at)
        """,
    ),
    (
        # `syncing` marks a turn in flight (see `SessionStore.mark`): nonzero from before the graph runs until
        # the row is rewritten from the new checkpoint. Active sessions from before it are marked stale (1), so
        # the first engine to open the database re-derives their rows once.
        "003_session_sync",
        """
        ALTER TABLE sessions ADD COLUMN syncing INTEGER NOT NULL DEFAULT 0;
        UPDATE sessions SET syncing = 1 WHERE status = 'active'
        """,
    ),
    (
        # A turn in flight holds a lease until `lease_until` (seconds since the epoch), renewed while it runs
        # (`renewing`): another process repairs its row only once the lease has lapsed (`abandoned`). Marks from
        # before it hold none, so they count as lapsed.
        "004_turn_lease",
        """
        ALTER TABLE sessions ADD COLUMN lease_until REAL NOT NULL DEFAULT 0
        """,
    ),
    (
        # Per-person limits and sign-in throttles (`tallies.Tallies`): an event a row, shared by every process
        # on the database, so they hold across restarts and replicas.
        "005_tallies",
        """
        CREATE TABLE tallies (
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            at REAL NOT NULL,
            amount INTEGER NOT NULL DEFAULT 1,
            tag TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX tallies_bucket_key_at ON tallies (bucket, key, at);
        CREATE INDEX tallies_tag ON tallies (tag)
        """,
    ),
]

LEASE_S = 10.0
"""How long a turn in flight holds its session's row without renewing its lease (INTERVIEWER_TURN_LEASE_S)."""


def now() -> str:
    """The time now as stored, in UTC to the second (`config.now`: INTERVIEWER_NOW fixes it)."""
    return clock().isoformat(timespec="seconds")


@dataclass(frozen=True)
class FinishedPrompt:
    """One prompt finished in one session: when, in which session (and what it practised), its 0-4 score and
    its point verdicts as stored (JSON-decoded)."""

    at: str
    session_id: str
    mode: str
    target: str
    prompt_id: str
    score: int
    points: list[dict[str, Any]]


@dataclass(frozen=True)
class SessionRow:
    id: str
    created_at: str
    updated_at: str
    mode: str
    target: str
    label: str
    brain: str
    status: str
    planned: int
    answered: int
    score: float | None
    owner: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# The columns a SessionRow is built from, in order (the table has more: `syncing` stays internal).
ROW_COLUMNS = ", ".join(f.name for f in fields(SessionRow))


def _new_instance() -> int:
    return secrets.randbits(31) | 1


INSTANCE = _new_instance()
"""This process's name in the marks it sets: random, never a process id, so a mark means the same on every host."""


def _forked() -> None:
    global INSTANCE
    INSTANCE = _new_instance()


os.register_at_fork(after_in_child=_forked)


def new_mark() -> int:
    """A fresh in-flight mark: this process's `INSTANCE` in the high bits (see `abandoned`), random low bits."""
    return (INSTANCE << 32) | secrets.randbits(32)


def abandoned(mark: int, lease_until: float, *, mine: bool, now: float | None = None) -> bool:
    """Whether the turn that set `mark` can no longer finish.

    A mark of this process counts as abandoned only when `mine` (the caller holds the session's lock, so no turn
    of it is running here). Another process's, on this host or any other, once its lease has lapsed: a turn that
    is running renews its lease (`renewing`), so a lapsed one belongs to a process that died or hung. Hosts'
    clocks must agree to well within the lease (NTP does).
    """
    if mark >> 32 == INSTANCE:
        return mine
    return (time.time() if now is None else now) > lease_until


class Leased(Protocol):
    """What `renewing` needs of a session index."""

    lease_s: float

    def renew(self, session_id: str, mark: int) -> bool: ...


@contextmanager
def renewing(sessions: Leased, session_id: str, mark: int) -> Iterator[None]:
    """Keep a turn's lease (`SqlSessionIndex.mark`) from lapsing while the block runs: a thread renews it every
    third of the lease, until the block ends or the row no longer carries the mark. A renewal that fails (the
    database out of reach) is tried again at the next tick; the turn itself reports that failure."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(sessions.lease_s / 3):
            try:
                if not sessions.renew(session_id, mark):
                    return
            except StorageError:
                continue

    renewer = threading.Thread(target=renew, name=f"lease-{session_id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def connect(path: Path, *, autocommit: bool = True) -> sqlite3.Connection:
    """Open the database, failing with a clear message when it is unusable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"The data folder {path.parent} cannot be used ({exc.strerror or exc}); "
            "set INTERVIEWER_DATA_DIR to a writable folder."
        ) from None
    try:
        conn = sqlite3.connect(
            str(path), timeout=5.0, check_same_thread=False, isolation_level=None if autocommit else "DEFERRED"
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StorageError(explain(path, exc)) from None
    except PermissionError as exc:
        raise StorageError(f"The data folder {path.parent} is not writable: {exc.strerror}.") from None
    except OSError as exc:
        raise StorageError(f"The session database {path} cannot be opened: {exc.strerror or exc}.") from None
    return conn


def explain(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"The session database {path} is locked by another process; close it and try again."
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"The session database {path} is corrupt ({text}); move it aside to start a new one."
    if "readonly" in text or "unable to open" in text:
        return f"The session database {path} cannot be written ({text}); check the data folder's permissions."
    return f"The session database {path} failed: {text}."


class SqlSessionIndex(ABC):
    """Sessions and per-prompt results, in SQL that SQLite and PostgreSQL both run (`?` placeholders, migrations
    in SQLite's spelling); a backend says how to run a statement and a transaction, how it spells a migration
    statement (`_schema`), and what its failures mean (`guard`)."""

    lease_s: float = LEASE_S
    """How long a turn's lease lasts unrenewed (`Settings.turn_lease_s`)."""

    @abstractmethod
    def guard(self) -> AbstractContextManager[None]:
        """Turn the backend's failures into one clear StorageError."""

    @abstractmethod
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; the rows it returns."""

    @abstractmethod
    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[None]:
        """The statements run inside take effect together or not at all."""

    def _schema(self, statement: str) -> str:
        """This backend's spelling of a migration statement (SQLite's as it is)."""
        return statement

    def migrate(self) -> list[str]:
        """Apply the migrations not applied yet, each in its own transaction; their names."""
        self._write("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {r[0] for r in self._rows("SELECT name FROM _migrations")}
        applied: list[str] = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self._transaction():
                for statement in filter(str.strip, sql.split(";")):
                    self._write(self._schema(statement))
                self._write("INSERT INTO _migrations VALUES (?, ?)", (name, now()))
            applied.append(name)
        return applied

    def create(
        self, session_id: str, mode: str, target: str, label: str, brain: str, planned: int, owner: str = ""
    ) -> int:
        """Add a session's row, already marked in flight under a lease: its first step has not been checkpointed
        yet. Returns the mark (for `renewing`)."""
        stamp, mark = now(), new_mark()
        with self.guard():
            self._write(
                "INSERT INTO sessions (id, created_at, updated_at, mode, target, label, brain, status, planned, owner,"
                " syncing, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
                (session_id, stamp, stamp, mode, target, label, brain, planned, owner, mark, self._lease_end()),
            )
        return mark

    def mark(self, session_id: str) -> int:
        """Mark a turn in flight under a lease, committed before the graph runs: until `update` clears it, the row
        may be behind the session's checkpoint (a process killed in between leaves it for `Engine.repair`, once
        the lease lapses). Returns the mark (for `renewing`)."""
        mark = new_mark()
        with self.guard():
            self._write(
                "UPDATE sessions SET syncing = ?, lease_until = ? WHERE id = ?", (mark, self._lease_end(), session_id)
            )
        return mark

    def renew(self, session_id: str, mark: int) -> bool:
        """Extend a turn's lease while the row still carries its mark; whether it did."""
        with self.guard():
            sql = "UPDATE sessions SET lease_until = ? WHERE id = ? AND syncing = ?"
            return self._write(sql, (self._lease_end(), session_id, mark)) > 0

    def _lease_end(self) -> float:
        return time.time() + self.lease_s

    def tallies(self) -> Tallies:
        """The shared counts (limits and sign-in throttles) kept in this database."""
        return Tallies(self.guard, self._rows, self._write)

    def marked(self, session_id: str | None = None) -> list[tuple[str, int, float]]:
        """(id, mark, lease end) of every session marked in flight, or of the one given if it is."""
        sql = "SELECT id, syncing, lease_until FROM sessions WHERE syncing != 0"
        args: tuple[str, ...] = ()
        if session_id is not None:
            sql, args = sql + " AND id = ?", (session_id,)
        with self.guard():
            return [(r[0], int(r[1]), float(r[2])) for r in self._rows(sql, args)]

    def update(
        self, session_id: str, *, status: str, answered: int, score: float | None, mark: int | None = None
    ) -> None:
        """Rewrite the row from the session's checkpoint, clearing its in-flight mark in the same statement.

        With `mark` (a repair), only while the row still carries that mark: a turn that finished meanwhile
        (or began again) has written a fresher row, which an older reading must not overwrite.
        """
        sql = "UPDATE sessions SET status = ?, answered = ?, score = ?, updated_at = ?, syncing = 0 WHERE id = ?"
        args: tuple[Any, ...] = (status, answered, score, now(), session_id)
        if mark is not None:
            sql, args = sql + " AND syncing = ?", (*args, mark)
        with self.guard():
            self._write(sql, args)

    def record_prompt(
        self, session_id: str, prompt_id: str, score: int, coverage: float, points: list[PointVerdict]
    ) -> None:
        with self.guard():
            # A prompt's result is final once recorded; recording it again keeps when it was finished.
            self._write(
                "INSERT INTO prompt_results (session_id, prompt_id, score, coverage, points, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, prompt_id)"
                " DO UPDATE SET score = excluded.score, coverage = excluded.coverage, points = excluded.points",
                (session_id, prompt_id, score, coverage, json.dumps([p.model_dump() for p in points]), now()),
            )

    def get(self, session_id: str) -> SessionRow | None:
        with self.guard():
            rows = self._rows(f"SELECT {ROW_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
        return SessionRow(*rows[0]) if rows else None

    def find(self, prefix: str) -> list[SessionRow]:
        with self.guard():
            rows = self._rows(
                f"SELECT {ROW_COLUMNS} FROM sessions WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC",
                (prefix.replace("%", "\\%").replace("_", "\\_") + "%",),
            )
        return [SessionRow(*r) for r in rows]

    def count_open(self, owner: str) -> int:
        """How many of the owner's sessions are still active."""
        with self.guard():
            rows = self._rows("SELECT count(*) FROM sessions WHERE owner = ? AND status = 'active'", (owner,))
        return int(rows[0][0])

    def ids_of(self, owner: str) -> list[str]:
        """Every session id of an owner, oldest first."""
        with self.guard():
            rows = self._rows("SELECT id FROM sessions WHERE owner = ? ORDER BY created_at, rowid", (owner,))
            return [r[0] for r in rows]

    def delete(self, session_id: str, *, mark: int | None = None) -> int:
        """Remove a session and its prompt results; returns how many result rows went with it.

        With `mark`, only while the row still carries that in-flight mark (else nothing is removed).
        """
        results = 0
        with self.guard(), self._transaction():
            if mark is None or self._has_mark(session_id, mark):
                results = self._write("DELETE FROM prompt_results WHERE session_id = ?", (session_id,))
                self._write("DELETE FROM sessions WHERE id = ?", (session_id,))
        return int(results)

    def _has_mark(self, session_id: str, mark: int) -> bool:
        return bool(self._rows("SELECT 1 FROM sessions WHERE id = ? AND syncing = ?", (session_id, mark)))

    def recent(self, owner: str = "", limit: int = 200) -> list[SessionRow]:
        """The owner's sessions, newest first ("" is the local user)."""
        with self.guard():
            rows = self._rows(
                f"SELECT {ROW_COLUMNS} FROM sessions WHERE owner = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (owner, limit),
            )
        return [SessionRow(*r) for r in rows]

    def latest_prompt_scores(self, owner: str = "") -> dict[str, int]:
        """Each prompt's score in the owner's most recent session that finished it."""
        with self.guard():
            rows = self._rows(
                "SELECT r.prompt_id, r.score FROM prompt_results r JOIN sessions s ON s.id = r.session_id"
                " WHERE s.owner = ? ORDER BY r.finished_at ASC, r.rowid ASC",
                (owner,),
            )
        return {pid: score for pid, score in rows}

    def finished_prompts(self, owner: str = "") -> list[FinishedPrompt]:
        """Every prompt the owner finished, with its session's choice, oldest first (the start page and mastery)."""
        with self.guard():
            rows = self._rows(
                "SELECT r.finished_at, r.session_id, s.mode, s.target, r.prompt_id, r.score, r.points"
                " FROM prompt_results r JOIN sessions s ON s.id = r.session_id WHERE s.owner = ?"
                " ORDER BY r.finished_at, r.rowid",
                (owner,),
            )
        return [
            FinishedPrompt(at, session, mode, target, prompt, int(score), json.loads(points))
            for at, session, mode, target, prompt, score, points in rows
        ]

    def prompt_history(self, owner: str = "") -> list[tuple[str, str, str]]:
        """(finished_at, session_id, points JSON) for every prompt the owner finished, oldest first."""
        sql = (
            "SELECT r.finished_at, r.session_id, r.points FROM prompt_results r"
            " JOIN sessions s ON s.id = r.session_id WHERE s.owner = ? ORDER BY r.finished_at, r.rowid"
        )
        with self.guard():
            return [(r[0], r[1], r[2]) for r in self._rows(sql, (owner,))]


class SessionStore(SqlSessionIndex):
    """Sessions and per-prompt results, beside the checkpoints in the same SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)
        self._lock = threading.RLock()
        with self.guard():
            self.applied = self.migrate()

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn SQLite failures into one clear StorageError."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise StorageError(explain(self.path, exc)) from None

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, args).rowcount

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
