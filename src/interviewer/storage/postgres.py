"""Sessions and checkpoints in PostgreSQL, chosen by INTERVIEWER_DATABASE_URL (see `storage.open_storage`).

The session index runs the same SQL and the same named migrations as the SQLite one (`session_index.SqlSessionIndex`),
spelled for PostgreSQL by `postgres_schema`; the checkpoints are langgraph-checkpoint-postgres's `PostgresSaver`.
Both share one connection pool. Migrations and the saver's `setup()` run once per opening, under an advisory
lock, so processes starting together on an empty database do not race each other. The URL's password never
appears in a message: every message names the database by `config.redact_url` and has the password scrubbed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg_pool import ConnectionPool

from interviewer.config import DATABASE_URL_VAR, redact_url
from interviewer.errors import StorageError
from interviewer.storage.seam import Migrated, Storage
from interviewer.storage.session_index import SqlSessionIndex

# What PostgresSaver needs of every connection, as langgraph-checkpoint-postgres documents it: without
# autocommit and dict rows its setup fails or its rows are tuples (the session index asks for tuples per cursor).
CONNECTION_KWARGS: dict[str, Any] = {"autocommit": True, "row_factory": dict_row, "prepare_threshold": 0}
CONNECT_TIMEOUT = 10  # seconds to reach the server before saying it cannot be reached
POOL_SIZE = 8  # connections at most, per process
MIGRATION_LOCK = 0x696E74657276_0001  # the advisory lock key that migrations run under ("interv", 1)
MIGRATION_WAIT = 300  # seconds to wait for another process's migration

Connection = psycopg.Connection[DictRow]


def postgres_schema(statement: str) -> str:
    """A migration statement in SQLite's spelling, spelled for PostgreSQL.

    SQLite's INTEGER is 64-bit and its REAL 8-byte, so they are BIGINT (the in-flight mark needs 64 bits) and
    DOUBLE PRECISION here; every SQLite table has an implicit `rowid` in insertion order, which the queries
    order by, so each table made here gets that column explicitly.
    """
    statement = re.sub(r"\bINTEGER\b", "BIGINT", statement)
    statement = re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)
    return re.sub(r"\bCREATE TABLE (\w+) \(", r"CREATE TABLE \1 (rowid BIGINT GENERATED ALWAYS AS IDENTITY,", statement)


def postgres_sql(sql: str) -> str:
    """A statement written with `?` placeholders, with psycopg's `%s` instead."""
    return sql.replace("%", "%%").replace("?", "%s")


class Explainer:
    """How a psycopg failure reads to a person: one line naming the database, never its password."""

    def __init__(self, url: str) -> None:
        self.where = redact_url(url)
        try:
            password = conninfo_to_dict(url).get("password")
        except psycopg.Error:
            password = None
        self._secret = str(password) if password else None

    def __call__(self, exc: psycopg.Error) -> str:
        detail = " ".join(part.strip() for part in str(exc).splitlines() if part.strip()) or type(exc).__name__
        if self._secret:
            detail = detail.replace(self._secret, "***")
        if "authentication failed" in detail or "no password supplied" in detail:
            return f"The session database {self.where} refused the login ({detail}); check {DATABASE_URL_VAR}."
        if re.search(r'database ".*" does not exist', detail):
            return f"The session database {self.where} does not exist ({detail}); create it or fix {DATABASE_URL_VAR}."
        if isinstance(exc, psycopg.OperationalError) and (exc.sqlstate or "08").startswith(("08", "57P")):
            return (
                f"The session database {self.where} cannot be reached: PostgreSQL is down or refuses connections "
                f"({detail}). Start it (or fix {DATABASE_URL_VAR}), then try again."
            )
        return f"The session database {self.where} failed: {detail}."


@contextmanager
def translated(explain: Explainer) -> Iterator[None]:
    """Turn psycopg failures (the pool's among them) into one clear StorageError."""
    try:
        yield
    except psycopg.Error as exc:
        raise StorageError(explain(exc)) from None


class PostgresSessionStore(SqlSessionIndex):
    """The session index in PostgreSQL, over connections lent by `connections` (a pool's, or one connection's)."""

    def __init__(self, connections: Callable[[], AbstractContextManager[Connection]], explain: Explainer) -> None:
        self._connections = connections
        self._explain = explain
        self._held = threading.local()  # the connection of a transaction open in this thread

    def guard(self) -> AbstractContextManager[None]:
        return translated(self._explain)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        held: Connection | None = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self._connections() as conn:
            yield conn

    def _run(self, sql: str, args: Sequence[Any]) -> tuple[list[tuple[Any, ...]], int]:
        with self._connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(postgres_sql(sql), args)
            return (cur.fetchall() if cur.description else []), cur.rowcount

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._run(sql, args)[0]

    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self._run(sql, args)[1]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._connection() as conn, conn.transaction():
            outer, self._held.conn = getattr(self._held, "conn", None), conn
            try:
                yield
            finally:
                self._held.conn = outer

    def _schema(self, statement: str) -> str:
        return postgres_schema(statement)


def migrate(url: str, explain: Explainer) -> Migrated:
    """Apply the session index's migrations and the checkpointer's setup, once, under an advisory lock.

    `PostgresSaver.setup()` takes no lock of its own: processes starting together on an empty database would
    otherwise race to create its tables and all but one fail.
    """
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, **CONNECTION_KWARGS) as conn:
        _take_migration_lock(conn, explain)
        applied = PostgresSessionStore(lambda: nullcontext(conn), explain).migrate()
        before = _checkpoint_version(conn)
        PostgresSaver(conn).setup()
        steps = _checkpoint_version(conn) - before
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return Migrated(explain.where, tuple(applied), steps)


def _take_migration_lock(conn: Connection, explain: Explainer) -> None:
    """Wait for the migration lock by asking again and again, never inside a statement that blocks: the
    saver's setup creates indexes CONCURRENTLY, which waits for every open transaction, and a process blocked
    in `pg_advisory_lock` would be one (PostgreSQL then reports a deadlock)."""
    deadline = time.monotonic() + MIGRATION_WAIT
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (MIGRATION_LOCK,)).fetchone()
        if row is not None and row["taken"]:
            return
        if time.monotonic() > deadline:
            raise StorageError(
                f"Another process has been migrating the session database {explain.where} for over "
                f"{MIGRATION_WAIT} seconds; try again once it has finished."
            )
        time.sleep(0.1)


def _checkpoint_version(conn: Connection) -> int:
    """How many of the checkpointer's migrations the database has (0 before its first setup)."""
    row = conn.execute("SELECT to_regclass('checkpoint_migrations') IS NOT NULL AS present").fetchone()
    if row is None or not row["present"]:
        return 0
    counted = conn.execute("SELECT count(*) AS n FROM checkpoint_migrations").fetchone()
    return int(counted["n"]) if counted else 0


def check_alive(conn: Connection) -> None:
    """Raise if the connection no longer works: an empty statement, never prepared.

    The pool's own `check_connection` sends the same empty statement, but with `prepare_threshold=0` psycopg
    prepares it on the server and, as its result is not a row set, forgets it unreleased: one prepared
    statement left behind on the server per lending, and the server process grows without end.
    """
    conn.execute("", prepare=False)


def open_postgres(url: str) -> Storage:
    """Sessions and checkpoints in the PostgreSQL database at `url`, migrated first."""
    explain = Explainer(url)
    with translated(explain):
        migrated = migrate(url, explain)
        pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={**CONNECTION_KWARGS, "connect_timeout": CONNECT_TIMEOUT},
            open=False,
            timeout=CONNECT_TIMEOUT,  # to lend a connection, before saying the database cannot be reached
            check=check_alive,  # a server restarted since: a fresh connection, not an error
            name="interviewer",
        )
        try:
            pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except BaseException:
            pool.close()
            raise
    sessions = PostgresSessionStore(pool.connection, explain)
    return Storage(sessions, PostgresSaver(pool), sessions.guard, pool.close, migrated)
