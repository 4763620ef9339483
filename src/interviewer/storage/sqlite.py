"""Sessions and checkpoints in one embedded SQLite file: the default backend."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from interviewer.config import Settings
from interviewer.errors import StorageError
from interviewer.storage.seam import Migrated, Storage
from interviewer.storage.session_index import SessionStore, connect, explain


def open_sqlite(settings: Settings) -> Storage:
    """Sessions and checkpoints in one SQLite file, `<data>/sessions.sqlite`."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = settings.database_path
    sessions = SessionStore(path)
    # The saver commits its own transactions, so its connection is not in autocommit mode.
    saver_conn = connect(path, autocommit=False)
    checkpointer = SqliteSaver(saver_conn)

    @contextmanager
    def guard() -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(explain(path, exc)) from None

    def tables() -> int:
        return int(saver_conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])

    with guard():
        before = tables()
        checkpointer.setup()
        migrated = Migrated(str(path), tuple(sessions.applied), tables() - before)

    def close() -> None:
        sessions.conn.close()
        saver_conn.close()

    return Storage(sessions, checkpointer, guard, close, migrated)
