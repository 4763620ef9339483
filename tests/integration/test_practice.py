"""Deliberate practice: answering a question again and seeing what changed, every attempt kept, and questions that
come back when FSRS says they are due, on a fixed clock (INTERVIEWER_NOW) and on each storage backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.curriculum.corpus import load_corpus
from interviewer.errors import InterviewerError, NotFoundError
from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine, TurnOutcome
from interviewer.interview.grade_text import render_grade
from interviewer.interview.report import to_markdown
from interviewer.interview.schedule import RATINGS, schedule
from interviewer.storage.session_index import FinishedPrompt
from tests.helpers import ROOT, Cli

ME = Caller.terminal()
WEAK = "It depends on the company and I would ask the team."
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
Clock = Callable[[float], datetime]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Sets the fixed clock: `clock(days)` is START plus that many days."""

    def set_to(days: float = 0) -> datetime:
        at = START + timedelta(days=days)
        monkeypatch.setenv("INTERVIEWER_NOW", at.isoformat())
        return at

    set_to(0)
    return set_to


def _finish(engine: Engine, session: str, answer: str) -> TurnOutcome:
    """Answer the waiting question, and each follow-up on it, with `answer` until the question is done."""
    asked = engine.views.current(ME, session)
    assert asked is not None
    outcome = engine.submit(ME, session, answer)
    while outcome.next is not None and outcome.next.prompt_id == asked.prompt_id:
        outcome = engine.submit(ME, session, answer)
    return outcome


def test_answering_again_shows_what_changed_and_every_attempt(engine: Engine, clock: Clock) -> None:
    first, _ = engine.start(ME, "topic", "fs-why", count=1)
    with pytest.raises(InterviewerError, match="done"):  # still waiting for its answer
        engine.again(ME, first, "fsw-p1")
    weak = _finish(engine, first, WEAK)
    assert weak.shown is not None and weak.shown.change is None  # a first attempt has nothing to compare
    again, question = engine.again(ME, first, "fsw-p1")
    assert again != first and (question.prompt_id, question.number, question.of) == ("fsw-p1", 1, 1)
    strong = _finish(engine, again, engine.corpus.prompt("fsw-p1").prompt.reference_answer)
    change = strong.shown.change if strong.shown else None
    assert change is not None and change.previous_session == first
    assert change.before <= 1 and change.after >= 3
    assert change.gained and not change.lost
    assert all(p.after != "missed" for p in change.gained)
    panel = render_grade(strong.shown, "markdown")
    assert f"{change.before}/4 → {change.after}/4" in panel and "Newly made" in panel
    assert "newly made" in render_grade(strong.shown, "text")

    block = engine.views.transcript(ME, again).prompts[0]
    assert block.change == change
    assert block.attempts is not None and [a.session_id for a in block.attempts.attempts] == [first, again]
    assert block.attempts.latest.session_id == again and block.attempts.best.session_id == again
    markdown = to_markdown(engine.views.transcript(ME, again))
    assert "Your attempts at this question (2)" in markdown and "this one, latest, best" in markdown
    snapshot = engine.views.snapshot(ME, again)
    assert snapshot.last_grade is not None and snapshot.last_grade.change == change  # also after a reload
    assert snapshot.done == ["fsw-p1"]


def test_only_the_callers_own_done_questions_can_be_answered_again(engine: Engine, clock: Clock) -> None:
    session, _ = engine.start(ME, "topic", "fs-why", count=1)
    _finish(engine, session, WEAK)
    with pytest.raises(InterviewerError, match="done"):
        engine.again(ME, session, "fsw-p2")  # never asked in that session
    with pytest.raises(NotFoundError, match="No session"):
        engine.again(Caller.web("mallory"), session, "fsw-p1")
    with pytest.raises(NotFoundError, match="No prompt"):
        engine.start(ME, "prompt", "no-such-prompt")


def test_questions_come_back_when_due_weakest_first_and_survive_a_restart(
    engine: Engine, storage_settings: Settings, clock: Clock
) -> None:
    with pytest.raises(NotFoundError, match="finish a question first"):
        engine.start(ME, "due", "")
    session, _ = engine.start(ME, "topic", "fs-why")
    _finish(engine, session, WEAK)  # fsw-p1: weak, due tomorrow
    _finish(engine, session, engine.corpus.prompt("fsw-p2").prompt.reference_answer)  # strong: due later
    view = engine.views.start_page(ME)
    assert view.due.prompts == []
    assert view.due.next_due is not None and view.due.next_due.startswith("2027-01-05")
    with pytest.raises(NotFoundError, match="next comes due on 2027-01-05"):
        engine.start(ME, "due", "")

    clock(1)  # the next day: the weak one is due, the strong one not yet
    reopened = build_engine(storage_settings, progress=False)  # a restart: the schedule is read again
    try:
        assert reopened.views.start_page(ME).due.prompts == ["fsw-p1"]
        due = {s.prompt_id: s for s in reopened.views.due(ME)}
        assert set(due) == {"fsw-p1", "fsw-p2"} and due["fsw-p2"].due > due["fsw-p1"].due
        mastery = reopened.views.history(ME).mastery
        assert mastery and all(row.next_due is not None for row in mastery)
        clock(60)  # two months on, both are due: the weakest first
        assert reopened.views.start_page(ME).due.prompts == ["fsw-p1", "fsw-p2"]
        due_session, question = reopened.start(ME, "due", "")
        assert question.prompt_id == "fsw-p1" and question.of == 2
        assert reopened.views.row(due_session).label == "Questions due"
    finally:
        reopened.storage.close()


def test_forgetting_a_person_deletes_their_schedule(engine: Engine, clock: Clock) -> None:
    session, _ = engine.start(ME, "topic", "fs-why", count=1)
    _finish(engine, session, WEAK)
    assert [s.prompt_id for s in engine.views.due(ME)] == ["fsw-p1"]
    engine.forget(owner="")
    assert engine.views.due(ME) == [] and engine.views.start_page(ME).due.next_due is None


def _finished(*scores: int) -> list[FinishedPrompt]:
    return [
        FinishedPrompt((START + timedelta(days=3 * n)).isoformat(), f"s{n}", "topic", "fs-why", "fsw-p1", score, [])
        for n, score in enumerate(scores)
    ]


def test_a_better_grade_brings_a_question_back_later() -> None:
    first = [schedule(_finished(score))["fsw-p1"] for score in range(5)]
    due, stability = [s.due for s in first], [s.stability for s in first]
    assert due[0] == due[1] <= due[2] < due[3] < due[4]  # 0 and 1 are both "forgotten"; 0-2 come back the next day
    assert stability[0] == stability[1] < stability[2] < stability[3] < stability[4]
    assert [RATINGS[s].name for s in range(5)] == ["Again", "Again", "Hard", "Good", "Easy"]
    assert schedule(_finished(4, 4))["fsw-p1"].due > schedule(_finished(4, 1))["fsw-p1"].due
    assert schedule(_finished(2, 3)) == schedule(_finished(2, 3))  # no fuzz: the same grades, the same days


def test_the_terminal_practises_one_prompt_and_lists_what_is_due(cli: Cli, clock: Clock) -> None:
    done = cli("interview", "--prompt", "fsw-p1", stdin=WEAK + "\n" + WEAK + "\n" + WEAK + "\n")
    assert done.returncode == 0, done.stderr
    assert "Question 1 of 1" in done.stdout and "Interview finished" in done.stdout
    listed = cli("due")
    assert listed.returncode == 0, listed.stderr
    assert "fsw-p1" in listed.stdout and "2027-01-05" in listed.stdout and "0 due today" in listed.stdout
    clock(1)
    assert "1 due today" in cli("due").stdout
    assert json.loads(cli("due", "--json").stdout)[0]["prompt_id"] == "fsw-p1"
    strong = " ".join(_reference("fsw-p1").split())
    again = cli("interview", "--due", stdin=(strong + "\n") * 3)
    assert again.returncode == 0, again.stderr
    assert "Question 1 of 1" in again.stdout and "Since your previous attempt" in again.stdout
    assert "Nothing is scheduled" not in cli("due").stdout


def _reference(prompt_id: str) -> str:
    return load_corpus(ROOT / "corpus").prompt(prompt_id).prompt.reference_answer


def test_a_bad_fixed_clock_is_refused_naming_its_variable(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    for bad, why in (("next tuesday", "ISO 8601"), ("2027-01-04T09:00:00", "time zone")):
        monkeypatch.setenv("INTERVIEWER_NOW", bad)
        done = cli("due")
        assert done.returncode != 0 and "INTERVIEWER_NOW" in done.stderr and why in done.stderr
