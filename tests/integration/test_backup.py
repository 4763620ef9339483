"""Backups an operator can rely on: `interviewer backup DEST` and `interviewer restore SRC`, on each store in turn.

A backup taken mid-interview, while the engine has the store open, restores into a fresh empty store, where the
session resumes at the question it had reached and can be answered to the end. A bad file (not a backup,
truncated, of the other store's kind, missing) is refused and the store keeps what it had; a store holding
sessions is replaced only with --force; the backup file is private; the database password shows nowhere.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.grading.grader import Grader
from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine
from interviewer.storage import backup as backup_module
from interviewer.storage import open_storage
from interviewer.storage.backup import count_sessions
from interviewer.storage.session_index import MIGRATIONS
from tests.helpers import Cli, run_cli
from tests.postgres_server import PostgresServer

ME = Caller.terminal()
SECRET = "Backup-s3cret-pw"


def _answer(engine: Engine, prompt_id: str) -> str:
    return engine.corpus.prompt(prompt_id).prompt.reference_answer


def _started(engine: Engine) -> str:
    """A two-question session with its first question answered: it waits at question 2."""
    session, first = engine.start(ME, "topic", "fs-why")
    outcome = engine.submit(ME, session, _answer(engine, first.prompt_id))
    assert outcome.next is not None and outcome.next.number == 2
    return session


def _fresh_store(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Settings, dict[str, str]]:
    """A new, empty store of the same kind (a new data folder, or a new database) and the environment naming it."""
    env = dict(os.environ)
    if settings.database_url:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.new_database()
        env["INTERVIEWER_DATABASE_URL"] = url
        return replace(settings, database_url=url), env
    data = tmp_path / "fresh"
    shutil.copytree(settings.index_dir, data / "index")
    env["INTERVIEWER_DATA_DIR"] = str(data)
    return replace(settings, data_dir=data), env


def test_a_backup_taken_mid_interview_restores_into_an_empty_store_and_the_session_resumes(
    storage_settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    grader = Grader(storage_settings, progress=False)
    engine = build_engine(grader=grader)
    session = _started(engine)
    dest = tmp_path / "backups" / "monday.backup"
    dest.parent.mkdir()
    taken = run_cli("backup", str(dest))  # as an operator would, while the app has the store open
    assert taken.returncode == 0, taken.stderr
    assert storage_settings.database_label in taken.stdout
    assert "1 session(s)" in taken.stdout and str(dest) in taken.stdout
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temporary file left beside it

    later = engine.submit(ME, session, _answer(engine, "fsw-p2"))  # the interview goes on after the backup
    assert later.next is None
    engine.storage.close()

    fresh, env = _fresh_store(storage_settings, tmp_path, request)
    restored = run_cli("restore", str(dest), env=env)
    assert restored.returncode == 0, restored.stderr
    assert fresh.database_label in restored.stdout and "1 session(s) in the store now" in restored.stdout

    again = Engine(fresh, grader, open_storage(fresh))
    waiting = again.views.current(ME, session)
    assert waiting is not None and (waiting.number, waiting.prompt_id) == (2, "fsw-p2")  # where the backup left it
    (row,) = again.views.sessions(ME)
    assert (row.id, row.status, row.answered) == (session, "active", 1)
    finished = again.submit(ME, session, _answer(again, "fsw-p2"))
    assert finished.next is None
    transcript = again.views.transcript(ME, session)
    assert transcript.status == "finished" and len(transcript.prompts) == 2
    again.storage.close()
    assert run_cli("migrate", env=env).stdout.rstrip().endswith("it was already up to date")


def _newest_table_migration() -> tuple[str, str]:
    """The newest schema migration that creates a table of its own (after the first), and that table."""
    for name, sql in reversed(MIGRATIONS[1:]):
        created = re.search(r"\bCREATE TABLE (\w+)", sql)
        if created:
            return name, created.group(1)
    raise AssertionError(
        "no schema migration after the first creates a table: make an older backup another way (this test must run)"
    )


def _undo(settings: Settings, migration: str, table: str) -> None:
    """Take the store back to before `migration`: its table dropped and its record gone, as an older version left it."""
    statements = [f"DROP TABLE {table}", f"DELETE FROM _migrations WHERE name = '{migration}'"]
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())
        return
    with closing(sqlite3.connect(settings.database_path, isolation_level=None)) as local:
        for statement in statements:
            local.execute(statement)


def test_an_older_backup_is_migrated_when_restored_and_its_session_resumes(
    engine: Engine, storage_settings: Settings, cli: Cli, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    migration, table = _newest_table_migration()
    session = _started(engine)
    _undo(storage_settings, migration, table)
    older = tmp_path / "older.backup"
    assert cli("backup", str(older)).returncode == 0

    current, env = _fresh_store(storage_settings, tmp_path / "current", request)
    open_storage(current).close()  # a store already on this version's schema, holding no session
    restored = cli("restore", str(older), env=env)
    if storage_settings.database_url:  # the newer table would outlive `pg_restore --clean` and break the migration
        assert restored.returncode == 2 and f"has table(s) {table} that {older} lacks" in restored.stderr
        assert "nothing was restored" in restored.stderr and count_sessions(current) == 0
        current, env = _fresh_store(storage_settings, tmp_path / "empty", request)
        restored = cli("restore", str(older), env=env)
    assert restored.returncode == 0, restored.stderr
    assert f"1 migration(s) newer than the backup applied ({migration})" in restored.stdout

    again = Engine(current, engine.grader, open_storage(current))
    waiting = again.views.current(ME, session)
    assert waiting is not None and waiting.number == 2
    assert again.submit(ME, session, _answer(again, waiting.prompt_id)).next is None
    again.storage.close()


def _bad_files(folder: Path, good: Path, other_kind: bytes) -> dict[str, tuple[Path, str]]:
    """Files that are not a whole backup of the store, with what the refusal says of each."""
    data = good.read_bytes()
    made = {
        "text": (b"name,score\nalice,3\n", "is not a backup of the session store"),
        "truncated": (data[: len(data) * 2 // 3], "truncated"),
        "other kind": (other_kind, "restore it into"),
    }
    files = {}
    for label, (content, says) in made.items():
        path = folder / label.replace(" ", "-")
        path.write_bytes(content)
        files[label] = (path, says)
    files["missing"] = (folder / "no-such.backup", "There is no backup at")
    return files


def test_a_bad_backup_file_is_refused_and_the_store_keeps_what_it_had(
    engine: Engine, storage_settings: Settings, cli: Cli, tmp_path: Path
) -> None:
    session = _started(engine)
    good = tmp_path / "good.backup"
    assert cli("backup", str(good)).returncode == 0
    engine.submit(ME, session, "A second answer, given after the backup.")
    before = engine.views.transcript(ME, session).model_dump_json()
    other = (b"SQLite format 3\x00" if storage_settings.database_url else b"PGDMP") + bytes(400)
    for label, (path, says) in _bad_files(tmp_path, good, other).items():
        refused = cli("restore", str(path), "--force")  # even --force restores nothing from a bad file
        assert refused.returncode == 2, label
        assert says in refused.stderr and "nothing was restored" in refused.stderr, (label, refused.stderr)
        assert storage_settings.database_label in refused.stderr
        assert engine.views.transcript(ME, session).model_dump_json() == before, label
    assert count_sessions(storage_settings) == 1


def test_restoring_over_sessions_needs_force_and_a_backup_never_overwrites_without_it(
    engine: Engine, storage_settings: Settings, cli: Cli, tmp_path: Path
) -> None:
    kept = _started(engine)
    dest = tmp_path / "kept.backup"
    assert cli("backup", str(dest)).returncode == 0
    backed_up = dest.read_bytes()
    newer, _ = engine.start(ME, "topic", "fs-why")

    again = cli("backup", str(dest))
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert dest.read_bytes() == backed_up
    refused = cli("restore", str(dest))
    assert refused.returncode == 2
    assert "already holds 2 session(s)" in refused.stderr and "Give --force" in refused.stderr
    assert {r.id for r in engine.views.sessions(ME)} == {kept, newer}

    forced = cli("restore", str(dest), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "replacing 2 session(s)" in forced.stdout
    assert [r.id for r in engine.views.sessions(ME)] == [kept]  # the engine still open reads the restored store
    assert cli("backup", str(dest), "--force").returncode == 0
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def _password_login(server: PostgresServer) -> str:
    """A database reachable only with a password (scram-sha-256) by its own role; the URL, password included."""
    name = server.new_database().rsplit("/", 1)[1]
    role = f"{name}_owner"
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{SECRET}'")
        conn.execute(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
        conn.execute(f'GRANT ALL ON SCHEMA public TO "{role}"')
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])  # type: ignore[index]
        rule = f"host {name} {role} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rule + hba.read_text())  # only this role on this database needs the password
        conn.execute("SELECT pg_reload_conf()")
    return f"postgresql://{role}:{SECRET}@127.0.0.1:{server.port}/{name}"


def test_the_database_password_is_never_on_a_command_line_or_in_any_output(
    postgres: PostgresServer, data_dir: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _password_login(postgres)
    monkeypatch.setenv("INTERVIEWER_DATABASE_URL", url)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url.replace(SECRET, "wrong")).close()  # the password is checked
    storage = open_storage(Settings())
    storage.sessions.create("0123456789ab", "topic", "fs-why", "Feature stores", "rubric", 2)
    storage.close()
    # The client programs, wrapped to record the command line and environment they were given.
    wrapped = tmp_path / "bin"
    wrapped.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("pg_dump", "pg_restore"):
        script = wrapped / tool
        script.write_text(
            f'#!/bin/sh\necho "{tool} $* PGPASSWORD=${{PGPASSWORD:+set}}" >> {log}\n'
            f'exec {backup_module.PG_BIN / tool} "$@"\n'
        )
        script.chmod(0o700)
    monkeypatch.setattr(backup_module, "PG_BIN", wrapped)
    dest = tmp_path / "db.backup"
    outputs = [cli("backup", str(dest)), cli("restore", str(dest)), cli("restore", str(dest), "--force")]
    assert [done.returncode for done in outputs] == [0, 2, 0], [done.stderr for done in outputs]
    monkeypatch.setenv("INTERVIEWER_DATABASE_URL", url.replace(SECRET, f"{SECRET}-wrong"))
    outputs.append(cli("backup", str(tmp_path / "never.backup")))
    assert outputs[-1].returncode == 2 and "refused the login" in outputs[-1].stderr
    calls = log.read_text()
    assert "pg_dump " in calls and "pg_restore " in calls and "PGPASSWORD=set" in calls
    for where, text in enumerate([calls, *(done.stdout + done.stderr for done in outputs)]):
        leaked = SECRET in text
        assert not leaked, f"the password shows in output {where}"  # said without showing the password itself
    assert "***@" in outputs[0].stdout
