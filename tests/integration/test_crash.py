"""Crash safety: a kill -9 inside a turn loses no acknowledged answer and leaves the session list right.

The kills themselves are in crash_harness.py (also `make fuzz-kill`); INTERVIEWER_FUZZ_KILLS sets how many
this test makes (default 10) and INTERVIEWER_FUZZ_SEED fixes their schedule.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from interviewer import store
from interviewer.access import Caller
from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.engine import Engine
from interviewer.grading.rubric import RubricBrain
from interviewer.store import SessionRow, SessionStore
from tests.integration import crash_harness

ME = Caller.terminal()


def test_kill_9_within_a_turn_loses_no_acknowledged_answer(data_dir: Path) -> None:
    kills = int(os.environ.get("INTERVIEWER_FUZZ_KILLS") or 10)
    summary = crash_harness.run(data_dir, kills, crash_harness.seed_from_env())
    print(summary.line())
    assert len(summary.kills) == kills
    assert summary.ok, summary.report()


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return build_engine(settings, progress=False)


def _dead_mark() -> int:
    """An in-flight mark as a process that has since died would have left it."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid << 32 | 12345


def _row(settings: Settings, session: str) -> tuple[int, int, float | None] | None:
    with sqlite3.connect(settings.database_path) as db:
        row: tuple[int, int, float | None] | None = db.execute(
            "SELECT syncing, answered, score FROM sessions WHERE id = ?", (session,)
        ).fetchone()
    return row


def test_opening_an_engine_repairs_a_row_a_dead_process_left_behind(engine: Engine, settings: Settings) -> None:
    session, first = engine.start(ME, "topic", "fs-why")
    engine.submit(ME, session, engine.corpus.prompt(first.prompt_id).prompt.reference_answer)
    good, results = _row(settings, session), engine.store.latest_prompt_scores()
    assert good is not None and good[0] == 0 and good[1] == 1 and list(results) == [first.prompt_id]
    with sqlite3.connect(settings.database_path) as db:  # killed after the checkpoint, before the record
        db.execute("UPDATE sessions SET syncing = ?, answered = 0, score = NULL WHERE id = ?", (_dead_mark(), session))
        db.execute("DELETE FROM prompt_results WHERE session_id = ?", (session,))
    build_engine(settings, progress=False, grader=engine.grader)
    assert _row(settings, session) == good
    assert engine.store.latest_prompt_scores() == results


def test_a_session_killed_before_its_first_checkpoint_is_removed_once_its_process_is_gone(
    engine: Engine, settings: Settings
) -> None:
    engine.store.create("0123456789ab", "topic", "fs-why", "Why feature stores", "rubric", 2)
    build_engine(settings, progress=False, grader=engine.grader)  # this process is alive: it may be about to write it
    assert engine.store.get("0123456789ab") is not None
    with sqlite3.connect(settings.database_path) as db:
        db.execute("UPDATE sessions SET syncing = ? WHERE id = ?", (_dead_mark(), "0123456789ab"))
    build_engine(settings, progress=False, grader=engine.grader)
    assert engine.store.get("0123456789ab") is None


def test_a_turn_that_fails_midway_is_dropped_and_the_next_answer_graded_in_its_place(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, first = engine.start(ME, "topic", "fs-why")

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the grader failed")

    with monkeypatch.context() as patch:
        patch.setattr(RubricBrain, "grade", fail)
        with pytest.raises(RuntimeError):
            engine.submit(ME, session, "An answer whose grading fails.")
    assert (_row(settings, session) or (0,))[0] != 0  # marked: the turn did not finish
    answer = engine.corpus.prompt(first.prompt_id).prompt.reference_answer
    outcome = engine.submit(ME, session, answer)
    assert outcome.grade is not None and outcome.grade.score >= 3
    turns = engine.snapshot(ME, session).turns
    assert [t.answer for t in turns] == [answer]
    assert _row(settings, session) == (0, 1, float(outcome.grade.score))


def test_sessions_from_before_the_mark_are_checked_once_when_it_arrives(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(store, "MIGRATIONS", store.MIGRATIONS[:2])
        legacy = SessionStore(settings.database_path)
    legacy.conn.execute(
        "INSERT INTO sessions (id, created_at, updated_at, mode, target, label, brain, status, planned, answered)"
        " VALUES ('aaaaaaaaaaaa', 'x', 'x', 'topic', 'fs-why', 'l', 'rubric', 'active', 2, 3),"
        " ('bbbbbbbbbbbb', 'x', 'x', 'topic', 'fs-why', 'l', 'rubric', 'finished', 2, 2)"
    )
    engine = build_engine(settings, progress=False)
    # The active row had no checkpoint (a start killed by an earlier version): gone; the finished one stays.
    assert [r.id for r in engine.sessions(ME)] == ["bbbbbbbbbbbb"]


def test_the_mark_stays_out_of_the_session_list(engine: Engine) -> None:
    engine.start(ME, "topic", "fs-why")
    (row,) = engine.sessions(ME)
    assert list(row.as_dict()) == [f.name for f in fields(SessionRow)]
    assert "syncing" not in row.as_dict()
