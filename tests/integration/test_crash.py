"""Crash safety: a kill -9 inside a turn loses no acknowledged answer and leaves the session list right.

The kills themselves are in crash_harness.py (also `make fuzz-kill`); INTERVIEWER_FUZZ_KILLS sets how many
this test makes (default 10) and INTERVIEWER_FUZZ_SEED fixes their schedule. The tests of the session rows run
on each storage backend (`storage_settings`): SQLite, then PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.grading.rubric import RubricBrain
from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine
from interviewer.storage import open_storage
from interviewer.storage import session_index as store
from interviewer.storage.postgres import postgres_sql
from interviewer.storage.session_index import SessionRow
from tests.integration import crash_harness

ME = Caller.terminal()


def test_kill_9_within_a_turn_loses_no_acknowledged_answer(data_dir: Path) -> None:
    kills = int(os.environ.get("INTERVIEWER_FUZZ_KILLS") or 10)
    summary = crash_harness.run(data_dir, kills, crash_harness.seed_from_env())
    print(summary.line())
    assert len(summary.kills) == kills
    assert summary.ok, summary.report()


@pytest.fixture
def engine(storage_settings: Settings) -> Iterator[Engine]:
    engine = build_engine(storage_settings, progress=False)
    yield engine
    engine.storage.close()


def _dead_mark() -> int:
    """An in-flight mark as another process, since died, would have left it (its lease is set to lapse apart)."""
    return (store.INSTANCE ^ 0x5A5A5A5A) << 32 | 12345


def _sql(settings: Settings, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the test's session database from outside the engine, as another process would."""
    if settings.database_url:
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as pg:
            cursor = pg.execute(postgres_sql(statement), args)
            return cursor.fetchall() if cursor.description else []
    with closing(sqlite3.connect(settings.database_path, isolation_level=None)) as db:
        return db.execute(statement, args).fetchall()


def _row(settings: Settings, session: str) -> tuple[Any, ...] | None:
    rows = _sql(settings, "SELECT syncing, answered, score FROM sessions WHERE id = ?", (session,))
    return rows[0] if rows else None


def test_opening_an_engine_repairs_a_row_a_dead_process_left_behind(engine: Engine, storage_settings: Settings) -> None:
    session, first = engine.start(ME, "topic", "fs-why")
    engine.submit(ME, session, engine.corpus.prompt(first.prompt_id).prompt.reference_answer)
    good, results = _row(storage_settings, session), engine.storage.sessions.latest_prompt_scores()
    assert good is not None and good[0] == 0 and good[1] == 1 and list(results) == [first.prompt_id]
    # Killed after the checkpoint, before the record:
    _sql(
        storage_settings,
        "UPDATE sessions SET syncing = ?, lease_until = 0, answered = 0, score = NULL WHERE id = ?",
        (_dead_mark(), session),
    )
    _sql(storage_settings, "DELETE FROM prompt_results WHERE session_id = ?", (session,))
    build_engine(storage_settings, progress=False, grader=engine.grader)
    assert _row(storage_settings, session) == good
    assert engine.storage.sessions.latest_prompt_scores() == results


def test_a_session_killed_before_its_first_checkpoint_is_removed_once_its_process_is_gone(
    engine: Engine, storage_settings: Settings
) -> None:
    engine.storage.sessions.create("0123456789ab", "topic", "fs-why", "Why feature stores", "rubric", 2)
    build_engine(
        storage_settings, progress=False, grader=engine.grader
    )  # this process is alive: it may be about to write it
    assert engine.storage.sessions.get("0123456789ab") is not None
    _sql(
        storage_settings,
        "UPDATE sessions SET syncing = ?, lease_until = 0 WHERE id = ?",
        (_dead_mark(), "0123456789ab"),
    )
    build_engine(storage_settings, progress=False, grader=engine.grader)
    assert engine.storage.sessions.get("0123456789ab") is None


def test_a_turn_that_fails_midway_is_dropped_and_the_next_answer_graded_in_its_place(
    engine: Engine, storage_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, first = engine.start(ME, "topic", "fs-why")

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the grader failed")

    with monkeypatch.context() as patch:
        patch.setattr(RubricBrain, "grade", fail)
        with pytest.raises(RuntimeError):
            engine.submit(ME, session, "An answer whose grading fails.")
    assert (_row(storage_settings, session) or (0,))[0] != 0  # marked: the turn did not finish
    answer = engine.corpus.prompt(first.prompt_id).prompt.reference_answer
    outcome = engine.submit(ME, session, answer)
    assert outcome.grade is not None and outcome.grade.score >= 3
    turns = engine.views.snapshot(ME, session).turns
    assert [t.answer for t in turns] == [answer]
    assert _row(storage_settings, session) == (0, 1, float(outcome.grade.score))


def test_sessions_from_before_the_mark_are_checked_once_when_it_arrives(
    storage_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(store, "MIGRATIONS", store.MIGRATIONS[:2])
        open_storage(storage_settings).close()
    _sql(
        storage_settings,
        "INSERT INTO sessions (id, created_at, updated_at, mode, target, label, brain, status, planned, answered)"
        " VALUES ('aaaaaaaaaaaa', 'x', 'x', 'topic', 'fs-why', 'l', 'rubric', 'active', 2, 3),"
        " ('bbbbbbbbbbbb', 'x', 'x', 'topic', 'fs-why', 'l', 'rubric', 'finished', 2, 2)",
    )
    engine = build_engine(storage_settings, progress=False)
    # The active row had no checkpoint (a start killed by an earlier version): gone; the finished one stays.
    assert [r.id for r in engine.views.sessions(ME)] == ["bbbbbbbbbbbb"]


def test_the_mark_stays_out_of_the_session_list(engine: Engine) -> None:
    engine.start(ME, "topic", "fs-why")
    (row,) = engine.views.sessions(ME)
    assert list(row.as_dict()) == [f.name for f in fields(SessionRow)]
    assert "syncing" not in row.as_dict()
