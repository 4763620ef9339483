"""What the start page and the History tab tell a person about their own practice, on SQLite and PostgreSQL."""

from __future__ import annotations

from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine

ALICE, BOB = Caller.web("alice"), Caller.web("bob")
UNSURE = "I am not sure, I have not worked with that."


def _finish(engine: Engine, who: Caller, mode: str, target: str, answers: list[str]) -> str:
    """A session answered with `answers` in turn (a follow-up takes the same answer again), then ended."""
    session, _ = engine.start(who, mode, target, count=len(answers))  # type: ignore[arg-type]
    for text in answers:
        outcome = engine.submit(who, session, text)
        while outcome.next is not None and outcome.next.kind == "followup":
            outcome = engine.submit(who, session, text)
    engine.end(who, session)
    return session


def test_cards_show_what_each_day_and_topic_card_holds(engine: Engine) -> None:
    view = engine.views.start_page(ALICE)
    by_value = {c.value: c for c in view.cards}
    assert {"day:57", "day:58", "day:59"} <= set(by_value)  # the daily-plan days
    assert {f"topic:{t.id}" for t in engine.corpus.topics.values() if t.kind == "topic_card"} <= set(by_value)
    serving = by_value["topic:serving-patterns"]
    assert (serving.level, serving.minutes, serving.minutes_estimated) == ("Advanced", 100, False)
    objectives = engine.corpus.topic("serving-patterns").objectives
    assert serving.prompts == 5 and serving.objectives == [o.text for o in objectives]
    day = by_value["day:58"]
    assert day.prompts == 6 and day.minutes_estimated and day.title == "Day 58 - Feature stores"
    assert all(c.last is None and c.best is None for c in view.cards)
    assert view.weakest == [] and not view.practised
    assert engine.views.history(ALICE).model_dump() == {"mastery": [], "trend": []}


def test_scores_mastery_and_weak_points_follow_the_persons_own_answers(engine: Engine) -> None:
    strong = engine.corpus.prompt("fsw-p1").prompt.reference_answer
    _finish(engine, ALICE, "topic", "fs-why", [UNSURE])
    _finish(engine, ALICE, "day", "58", [strong])  # fsw-p1 again, inside the day
    view = engine.views.history(ALICE)
    cards = {c.value: c for c in engine.views.start_page(ALICE).cards}
    fs_why = engine.corpus.topic("fs-why")
    assert cards["day:58"].sessions == 2  # the topic session counts on its day's card too
    assert cards["day:58"].last is not None and cards["day:58"].best is not None
    assert cards["day:58"].last >= 3 and cards["day:58"].best == cards["day:58"].last
    assert cards["day:59"].last is None
    skew = next(r for r in view.mastery if r.objective == fs_why.prompts[0].rubric[0].objective)
    assert skew.attempts == 2 and skew.latest >= 3 and not skew.weak
    assert skew.text == next(o.text for o in fs_why.objectives if o.id == skew.objective)  # the full name
    assert [p.score for p in view.trend][-1] >= 3 and len(view.trend) == 2

    _finish(engine, ALICE, "topic", "fs-why", [UNSURE])  # the latest attempt is weak again
    again = engine.views.history(ALICE)
    weak = next(r for r in again.mastery if r.objective == skew.objective)
    assert weak.weak and weak.best >= 3 and weak.attempts == 3 and weak in engine.views.start_page(ALICE).weakest
    assert again.mastery[0].latest <= again.mastery[-1].latest  # weakest first
    assert engine.views.history(BOB).mastery == [] and not engine.views.start_page(BOB).practised
    assert all(c.last is None for c in engine.views.start_page(BOB).cards)
