"""Backups of the session store, and restoring one: `interviewer backup DEST` and `interviewer restore SRC`.

A backup is one file holding every session, answer, grade and checkpoint, consistent even while the app runs:
for SQLite a copy made with SQLite's online backup API (itself an SQLite file), for PostgreSQL a `pg_dump`
custom-format archive of one snapshot. It is written beside DEST first and renamed into place, with mode 0600, so
a backup cut short leaves no partial file at DEST.

A restore first checks that SRC is a whole backup of the store's kind, and refuses to replace sessions the store
holds without `force`; whatever it refuses leaves the store untouched. PostgreSQL restores in one transaction, so
a restore that fails half-way changes nothing. The store is then opened, which applies any schema migration
newer than the backup. The PostgreSQL password never reaches a command line or a message: `pg_dump` and
`pg_restore` get it through their environment (PGPASSWORD), and the database is shown by `config.redact_url`.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from interviewer.config import DATABASE_URL_VAR, Settings, redact_url
from interviewer.errors import StorageError
from interviewer.storage import open_storage
from interviewer.storage.postgres import CONNECT_TIMEOUT, Explainer, translated
from interviewer.storage.seam import Migrated
from interviewer.storage.session_index import MIGRATIONS, connect, explain

PG_BIN = Path("/usr/lib/postgresql/15/bin")
"""Debian's PostgreSQL 15 programs (package postgresql-client-15): `pg_dump` and `pg_restore` are taken from here
first, else from the PATH."""
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
STORE_TABLES = ("sessions", "checkpoints")
"""Tables every backup of the session store holds: the session list and the interviews' checkpoints."""


@dataclass(frozen=True)
class Store:
    """The session store the settings name, fit to show."""

    kind: str
    """"SQLite" or "PostgreSQL"."""
    where: str
    """The SQLite file, or the PostgreSQL URL without its password."""

    @classmethod
    def of(cls, settings: Settings) -> Store:
        if settings.database_url:
            return cls("PostgreSQL", redact_url(settings.database_url))
        return cls("SQLite", str(settings.database_path))


@dataclass(frozen=True)
class BackupDone:
    """A backup written: of which store, how many sessions, where and how large."""

    store: Store
    path: Path
    sessions: int
    size: int

    def lines(self) -> list[str]:
        return [
            f"Backed up the {self.store.kind} session store {self.store.where}",
            f"{self.sessions} session(s), {_size(self.size)}, to {self.path} (mode 0600)",
        ]


@dataclass(frozen=True)
class RestoreDone:
    """A backup restored: into which store, from where, the sessions it holds now and replaced, the migrations."""

    store: Store
    source: Path
    sessions: int
    replaced: int
    migrated: Migrated

    def lines(self) -> list[str]:
        replaced = f", replacing {self.replaced} session(s)" if self.replaced else ""
        names = f" ({', '.join(self.migrated.sessions)})" if self.migrated.sessions else ""
        return [
            f"Restored {self.source} into the {self.store.kind} session store {self.store.where}{replaced}",
            f"{self.sessions} session(s) in the store now; its schema is up to date "
            f"({len(self.migrated.sessions)} migration(s) newer than the backup applied{names})",
        ]


def backup(settings: Settings, dest: Path, *, force: bool = False) -> BackupDone:
    """Back up the session store the settings name to the file `dest` (an existing one only with `force`)."""
    store = Store.of(settings)
    _check_destination(dest, force)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)  # mode 0600
    temp = Path(name)
    try:
        if settings.database_url:
            with os.fdopen(fd, "wb") as out:
                sessions = _postgres_backup(settings.database_url, out)
        else:
            os.close(fd)
            sessions = _sqlite_backup(settings.database_path, temp)
        size = temp.stat().st_size
        _publish(temp, dest, force)
    finally:
        temp.unlink(missing_ok=True)
    return BackupDone(store, dest, sessions, size)


def restore(settings: Settings, source: Path, *, force: bool = False) -> RestoreDone:
    """Restore the backup `source` into the session store the settings name, then migrate it.

    The store must hold no session unless `force`; a missing, truncated or wrong-kind file leaves it untouched.
    """
    store = Store.of(settings)
    if not source.is_file():
        raise StorageError(f"There is no backup at {source}; nothing was restored into {store.where}.")
    if settings.database_url:
        replaced = _postgres_restore(settings.database_url, source, force)
    else:
        replaced = _sqlite_restore(settings.database_path, source, force)
    storage = open_storage(settings)  # applies every migration newer than the backup
    storage.close()
    return RestoreDone(store, source, count_sessions(settings), replaced, storage.migrated)


def count_sessions(settings: Settings) -> int:
    """How many sessions the store the settings name holds (0 when it has no session table yet)."""
    if settings.database_url:
        explain_pg = Explainer(settings.database_url)
        with translated(explain_pg), _pg_connect(settings.database_url) as conn:
            return _pg_sessions(conn)
    path = settings.database_path
    if not path.is_file():
        return 0
    local = _sqlite_open(path, read_only=False)
    try:
        with _sqlite_errors(path):
            return _sqlite_sessions(local)
    finally:
        local.close()


# -- where a backup goes ----------------------------------------------------------------------------------


def _check_destination(dest: Path, force: bool) -> None:
    if dest.is_dir():
        raise StorageError(f"{dest} is a folder; give the backup's file name, e.g. {dest / 'interviewer.backup'}.")
    if not dest.parent.is_dir():
        raise StorageError(f"The folder {dest.parent} does not exist; create it first or choose another DEST.")
    if dest.exists() and not force:
        raise StorageError(f"{dest} already exists; nothing was written. Give --force to overwrite it.")


def _publish(temp: Path, dest: Path, force: bool) -> None:
    """Move the finished backup to `dest` in one step: durable first, never over an existing file unless `force`."""
    with temp.open("rb") as written:
        os.fsync(written.fileno())
    if force:
        os.replace(temp, dest)
    else:
        try:
            os.link(temp, dest)  # fails, rather than overwriting, if dest appeared meanwhile
        except FileExistsError:
            raise StorageError(f"{dest} already exists; nothing was written. Give --force to overwrite it.") from None
        except OSError:  # a file system without hard links
            os.replace(temp, dest)
    folder = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    return f"{size / 1024:.1f} KiB" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MiB"


# -- SQLite -----------------------------------------------------------------------------------------------


def _sqlite_open(path: Path, *, read_only: bool) -> sqlite3.Connection:
    try:
        if read_only:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        return sqlite3.connect(str(path), timeout=5.0)
    except sqlite3.Error as exc:
        raise StorageError(explain(path, exc)) from None


def _sqlite_sessions(conn: sqlite3.Connection) -> int:
    present = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sessions'")
    if not present.fetchone()[0]:
        return 0
    return int(conn.execute("SELECT count(*) FROM sessions").fetchone()[0])


def _sqlite_backup(path: Path, temp: Path) -> int:
    """Copy the live database into `temp` with the online backup API (one consistent read); its session count."""
    if not path.is_file():
        raise StorageError(f"There is no session database at {path} yet (check INTERVIEWER_DATA_DIR); no backup made.")
    source = _sqlite_open(path, read_only=False)
    target = sqlite3.connect(str(temp))
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # the backup is one self-contained file
        return _sqlite_sessions(target)
    except sqlite3.Error as exc:
        raise StorageError(explain(path, exc)) from None
    finally:
        target.close()
        source.close()


def _sqlite_backup_problem(source: Path) -> str | None:
    """Why `source` is not a whole backup of an SQLite session store, or None when it is one."""
    with source.open("rb") as file:
        head = file.read(100)
    if head.startswith(PGDUMP_MAGIC):
        return f"is a PostgreSQL backup (a pg_dump archive); set {DATABASE_URL_VAR} to the database to restore it into"
    if not head.startswith(SQLITE_MAGIC) or len(head) < 100:
        return "is not a backup of the session store (not an SQLite database)"
    page_size = int.from_bytes(head[16:18], "big")
    pages = int.from_bytes(head[28:32], "big")
    if (page_size if page_size != 1 else 65536) * pages > source.stat().st_size:
        return "is truncated (shorter than the database its header describes)"
    try:
        conn = _sqlite_open(source, read_only=True)
        try:
            checked = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
            tables = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except (sqlite3.Error, StorageError) as exc:
        return f"is damaged or truncated ({exc})"
    if checked != ["ok"]:
        return f"is damaged or truncated ({'; '.join(checked[:3])})"
    if not set(STORE_TABLES) <= tables:
        return "is an SQLite database but not a backup of the session store (no sessions and checkpoints tables)"
    return None


def _sqlite_restore(path: Path, source: Path, force: bool) -> int:
    """Copy the backup into the live database with the backup API (other connections see it at once); returns
    how many sessions it replaced."""
    problem = _sqlite_backup_problem(source)
    if problem:
        raise StorageError(f"{source} {problem}; nothing was restored into {path}.")
    if path.exists() and path.resolve() == source.resolve():
        raise StorageError(f"{source} is the session database itself; restore from a backup file.")
    target = connect(path)
    try:
        with _sqlite_errors(path):
            replaced = _sqlite_sessions(target)
            _refuse_replacing(Store("SQLite", str(path)), replaced, force, source)
            backup_file = _sqlite_open(source, read_only=True)
            try:
                backup_file.backup(target)
            finally:
                backup_file.close()
            target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()
    return replaced


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """Turn SQLite failures into one clear StorageError about the store at `path`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(explain(path, exc)) from None


def _refuse_replacing(store: Store, sessions: int, force: bool, source: Path) -> None:
    if sessions and not force:
        raise StorageError(
            f"The {store.kind} session store {store.where} already holds {sessions} session(s), and restoring "
            f"{source} would replace them; nothing was restored. Give --force to replace them, or restore into an "
            "empty store."
        )


# -- PostgreSQL -------------------------------------------------------------------------------------------


def _pg_connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True)


def _pg_has_sessions(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT to_regclass('sessions') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _pg_sessions(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    if not _pg_has_sessions(conn):
        return 0
    counted = conn.execute("SELECT count(*) FROM sessions").fetchone()
    return int(str(counted[0])) if counted else 0


def _pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program: Debian's PostgreSQL 15 one, else the one on the PATH."""
    if (PG_BIN / name).is_file():
        return str(PG_BIN / name)
    found = shutil.which(name)
    if found:
        return found
    raise StorageError(
        f"{name} is not installed (looked in {PG_BIN} and the PATH): install Debian's PostgreSQL client with "
        "`apt-get install postgresql-client-15`."
    )


def _pg_run(url: str, tool: str, args: list[str], out: IO[bytes] | None = None) -> str:
    """Run `pg_dump` or `pg_restore` against the database at `url`; its standard output (unless sent to `out`).

    The password goes to the program through PGPASSWORD, never on its command line; it never prompts for one.
    """
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = {**os.environ, "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT)}
    if password:
        env["PGPASSWORD"] = str(password)
    command = [_pg_tool(tool), "--no-password", f"--dbname={make_conninfo('', **params)}", *args]
    done = subprocess.run(command, env=env, stdout=out if out is not None else subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        detail = _tool_detail(done.stderr.decode("utf-8", "replace"), password)
        raise StorageError(f"{tool} on the session database {redact_url(url)} failed: {detail}")
    return "" if out is not None else done.stdout.decode("utf-8", "replace")


def _tool_detail(stderr: str, password: object) -> str:
    """A program's error output as one line, without the password."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = " ".join(lines[:4]) or "no message"
    return detail.replace(str(password), "***") if password else detail


def _postgres_backup(url: str, out: IO[bytes]) -> int:
    """Dump the database to `out` as one custom-format archive of one snapshot; the sessions it holds."""
    with translated(Explainer(url)), _pg_connect(url) as conn:
        conn.autocommit = False
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        if not _pg_has_sessions(conn):
            raise StorageError(
                f"The session database {redact_url(url)} has no session tables yet (run `interviewer migrate`); "
                "no backup made."
            )
        sessions = _pg_sessions(conn)
        # pg_dump reads the very snapshot the count was taken in, held open by this transaction until it ends.
        _pg_run(url, "pg_dump", ["--format=custom", f"--snapshot={row[0] if row else ''}"], out)
        conn.rollback()
    return sessions


_ARCHIVE_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ", re.MULTILINE)
_CREATED_TABLE = re.compile(r"\bCREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE)


def _pg_store_tables() -> set[str]:
    """Every table the store's migrations and the checkpointer's create in PostgreSQL."""
    statements = [sql for _, sql in MIGRATIONS] + list(PostgresSaver.MIGRATIONS)
    return {"_migrations", *(name for sql in statements for name in _CREATED_TABLE.findall(sql))}


def _pg_archive_tables(source: Path, where: str) -> set[str]:
    """The tables of the whole pg_dump archive `source` of a PostgreSQL session store; anything else is refused."""
    with source.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    problem: str | None
    if head.startswith(SQLITE_MAGIC):
        problem = f"is an SQLite backup; unset {DATABASE_URL_VAR} to restore it into the SQLite store"
    elif not head.startswith(PGDUMP_MAGIC):
        problem = "is not a backup of the session store (not a pg_dump custom-format archive)"
    else:
        tables, problem = _pg_archive_read(source)
        if problem is None:
            return tables
    raise StorageError(f"{source} {problem}; nothing was restored into {where}.")


def _pg_archive_read(source: Path) -> tuple[set[str], str | None]:
    """The archive's tables, read through to its end without a database, or why it cannot be restored."""
    pg_restore = _pg_tool("pg_restore")
    done = subprocess.run([pg_restore, "--list", str(source)], capture_output=True)
    if done.returncode == 0:
        tables = {name for _, name in _ARCHIVE_TABLE.findall(done.stdout.decode("utf-8", "replace"))}
        if not set(STORE_TABLES) <= tables:
            return (
                tables,
                "is a pg_dump archive but not a backup of the session store (no sessions and checkpoints tables)",
            )
        # The listing reads only the archive's table of contents: read its data too, as SQL thrown away.
        done = subprocess.run([pg_restore, f"--file={os.devnull}", str(source)], capture_output=True)
        if done.returncode == 0:
            return tables, None
    return set(), f"is damaged or truncated ({_tool_detail(done.stderr.decode('utf-8', 'replace'), None)})"


def _postgres_restore(url: str, source: Path, force: bool) -> int:
    """Restore the archive into the database in one transaction; returns how many sessions it replaced."""
    store = Store("PostgreSQL", redact_url(url))
    tables = _pg_archive_tables(source, store.where)
    with translated(Explainer(url)), _pg_connect(url) as conn:
        replaced = _pg_sessions(conn)
        present = {
            str(row[0]) for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        }
    _refuse_replacing(store, replaced, force, source)
    newer = sorted((present & _pg_store_tables()) - tables)
    if newer:  # `--clean` drops only the archive's tables: these would stay, and their migration run again
        raise StorageError(
            f"The PostgreSQL session store {store.where} has table(s) {', '.join(newer)} that {source} lacks: the "
            "backup is older than this version's schema. Restore it into an empty database; nothing was restored."
        )
    options = ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    try:
        _pg_run(url, "pg_restore", [*options, str(source)])
    except StorageError as exc:
        raise StorageError(f"{exc}; the restore was rolled back: {store.where} is as it was.") from None
    return replaced
