"""Where sessions are stored, as a user or an operator meets it: the SQLite file by default, or PostgreSQL when
INTERVIEWER_DATABASE_URL names a database; `interviewer migrate`; and what a broken setting or a database that
is down looks like. The tests over `storage_settings` run on each backend in turn."""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import replace

import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg_pool import ConnectionPool

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.errors import InterviewerError, StorageError
from interviewer.grading.grader import Grader
from interviewer.interview.access import Caller
from interviewer.storage import open_storage
from interviewer.storage.session_index import MIGRATIONS
from tests.helpers import ROOT, Cli, cli_command, free_port
from tests.postgres_server import PostgresServer

ME = Caller.terminal()
SECRET = "s3cret-Pa55word"


def test_sessions_and_answers_persist_across_reopening_the_storage(storage_settings: Settings) -> None:
    grader = Grader(storage_settings, progress=False)
    first = build_engine(grader=grader)
    session, question = first.start(ME, "topic", "fs-why")
    answer = first.corpus.prompt(question.prompt_id).prompt.reference_answer
    graded = first.submit(ME, session, answer).grade
    first.storage.close()

    again = build_engine(grader=grader)
    (row,) = again.views.sessions(ME)
    assert (row.id, row.status, row.answered) == (session, "active", 1)
    assert graded is not None and row.score == graded.score
    assert [t.answer for t in again.views.snapshot(ME, session).turns] == [answer]
    waiting = again.views.current(ME, session)
    assert waiting is not None and waiting.prompt_id != question.prompt_id  # the next prompt, not the same again
    again.end(ME, session)
    assert again.views.transcript(ME, session).status == "finished"
    again.storage.close()


def test_the_database_server_does_not_grow_with_every_request(postgres: PostgresServer) -> None:
    """Each request lends a pooled connection, checked first. The server keeps what a connection prepared until
    it closes, so that check must leave nothing behind: a server process kept the memory of one more prepared
    statement per request (16 MB more after 1,200 answers, growing without end over a day)."""
    storage = open_storage(Settings(database_url=postgres.new_database()))
    try:
        for n in range(300):
            storage.sessions.recent("me") if n % 2 else storage.sessions.get("no-such-session")
        assert isinstance(storage.checkpointer, PostgresSaver) and isinstance(storage.checkpointer.conn, ConnectionPool)
        pool = storage.checkpointer.conn
        with pool.connection() as conn:
            row = conn.execute("SELECT count(*) AS n FROM pg_prepared_statements").fetchone()
    finally:
        storage.close()
    assert row is not None and row["n"] <= 20  # the app's own few statements, not one per request


def test_migrate_creates_the_tables_once_and_says_what_it_did(cli: Cli, storage_settings: Settings) -> None:
    first = cli("migrate")
    assert first.returncode == 0, first.stderr
    names = ", ".join(name for name, _ in MIGRATIONS)
    assert f"session tables: {len(MIGRATIONS)} migration(s) applied ({names})" in first.stdout
    assert storage_settings.database_label in first.stdout
    assert storage_settings.database_path.exists() == (not storage_settings.database_url)  # one backend, not both
    assert "checkpoint tables: 0 " not in first.stdout
    second = cli("migrate")
    assert second.returncode == 0, second.stderr
    assert "session tables: 0 migration(s) applied" in second.stdout
    assert "checkpoint tables: 0 schema step(s) applied" in second.stdout
    assert "it was already up to date" in second.stdout


def test_four_processes_migrating_an_empty_database_together_all_succeed(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    env = {**os.environ, "INTERVIEWER_DATABASE_URL": url}
    procs = [
        subprocess.Popen(
            cli_command("migrate"), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, outputs
    applied = [out for out, _ in outputs if f"{len(MIGRATIONS)} migration(s) applied" in out]
    assert len(applied) == 1, outputs  # one process migrated; the others found it done
    assert f"checkpoint tables: {len(PostgresSaver.MIGRATIONS)} schema step(s) applied" in applied[0]
    storage = open_storage(Settings(corpus_dir=ROOT / "corpus", database_url=url))
    assert storage.migrated.sessions == () and storage.migrated.checkpoints == 0
    storage.close()


def test_a_database_that_is_down_gives_a_clear_error_without_the_password(
    cli: Cli, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/interviewer"  # nothing listens there
    down = replace(settings, database_url=url)
    assert SECRET not in repr(down) and SECRET not in down.database_label
    with caplog.at_level(logging.DEBUG), pytest.raises(StorageError) as raised:
        open_storage(down)
    message = str(raised.value)
    assert message.startswith(f"The session database {down.database_label} cannot be reached: PostgreSQL is down")
    assert "then try again" in message
    assert SECRET not in message and SECRET not in caplog.text
    monkeypatch.setenv("INTERVIEWER_DATABASE_URL", url)
    done = cli("sessions")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {message}"]
    assert SECRET not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "value",
    [
        f"postgresql://app:{SECRET}@127.0.0.1:notaport/interviewer",
        f"mysql://app:{SECRET}@127.0.0.1:3306/interviewer",
        f"host=127.0.0.1 password={SECRET} dbname=interviewer",
        "postgresql://127.0.0.1:5432",
    ],
)
def test_a_malformed_database_url_names_the_variable(cli: Cli, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("INTERVIEWER_DATABASE_URL", value)
    with pytest.raises(InterviewerError, match=r"^INTERVIEWER_DATABASE_URL must be a PostgreSQL URL") as raised:
        Settings()
    assert SECRET not in str(raised.value)
    done = cli("sessions")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {raised.value}"]
    assert SECRET not in done.stdout + done.stderr
