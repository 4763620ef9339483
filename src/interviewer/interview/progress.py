"""What the start page and the History tab show a person about their own practice, from the session index.

- `cards`: one card per daily-plan day and per topic card (the roadmap's days 31-34), with what it holds and the
  person's last and best score on it;
- `mastery`: per learning objective, the latest and best score, the attempts, and a mark for weak ones;
- `trend`: the score of each finished session over time;
- `due_card`: how many questions are due today (`schedule`), or when the next one is.

Every score is a 0-4 figure computed from the stored per-prompt results (`SessionIndex.finished_prompts`), so a
topic practised inside a day counts on the topic's card too.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from statistics import fmean

from pydantic import BaseModel

from interviewer.curriculum.corpus import Corpus, Topic
from interviewer.grading.models import PointVerdict
from interviewer.interview.results import objective_scores
from interviewer.interview.schedule import Scheduled, due, next_due, objective_due, schedule
from interviewer.storage.session_index import FinishedPrompt, SessionRow

WEAK_AT = 2.0
"""An objective whose latest score is at most this (of 4) is weak, as a prompt scored 2 or less is for a review."""
MINUTES_PER_PROMPT = 6
"""The suggested time of a day whose plan gives none: about this much per prompt, follow-ups included."""


class Card(BaseModel):
    """A start-page card: a roadmap day or a topic card, what it holds, and how the person did on it."""

    value: str  # the choice it starts ("day:58", "topic:serving-patterns")
    title: str
    subtitle: str  # "Roadmap day 58 · 3 topics" or "Topic card · day 33"
    level: str | None
    minutes: int
    minutes_estimated: bool
    summary: str
    objectives: list[str]
    prompts: int
    last: float | None = None
    best: float | None = None
    sessions: int = 0


class MasteryRow(BaseModel):
    """One learning objective across the person's finished prompts."""

    objective: str
    text: str
    topic: str
    latest: float
    best: float
    attempts: int
    last_at: str
    weak: bool
    next_due: str | None = None
    """When a question on it comes back (`schedule.objective_due`), ISO 8601 in UTC."""


class DueCard(BaseModel):
    """The start page's first card: the questions due today, weakest first, or when the next one comes due."""

    prompts: list[str]
    """The prompts due today or earlier, weakest first: what the card's session asks."""
    next_due: str | None
    """When none is due: when the next one is (ISO 8601, UTC); None before any question is finished."""


def due_card(schedules: dict[str, Scheduled], now: datetime) -> DueCard:
    """What the due card says now."""
    upcoming = next_due(schedules, now)
    return DueCard(prompts=[s.prompt_id for s in due(schedules, now)], next_due=upcoming.due if upcoming else None)


def schedules_of(corpus: Corpus, finished: list[FinishedPrompt]) -> dict[str, Scheduled]:
    """Each of the person's practised prompts that the curriculum still has, scheduled (`schedule.schedule`)."""
    return schedule([r for r in finished if r.prompt_id in corpus.prompts])


class TrendPoint(BaseModel):
    """A finished (or ended) session's score on the day it was last answered."""

    at: str
    session: str
    label: str
    score: float


def cards(corpus: Corpus, finished: list[FinishedPrompt]) -> list[Card]:
    """The start page's cards, daily-plan days first, then topic cards by roadmap day."""
    out = [_day_card(corpus, n) for n, day in corpus.days.items() if _is_daily_plan(corpus, n)]
    out += [_topic_card(t) for t in sorted(corpus.topics.values(), key=lambda t: t.day) if t.kind == "topic_card"]
    owner_of = {p.id: t for t in corpus.topics.values() for p in t.prompts}
    for card in out:
        _score(card, corpus, owner_of, finished)
    return out


def _is_daily_plan(corpus: Corpus, number: int) -> bool:
    return all(t.kind == "daily_topic" for t in corpus.topics_of_day(number))


def _day_card(corpus: Corpus, number: int) -> Card:
    topics = corpus.topics_of_day(number)
    prompts = sum(len(t.prompts) for t in topics)
    return Card(
        value=f"day:{number}",
        title=corpus.day(number).label,
        subtitle=f"Roadmap day {number} · {len(topics)} topics",
        level=None,
        minutes=prompts * MINUTES_PER_PROMPT,
        minutes_estimated=True,
        summary="; ".join(t.title for t in topics),
        objectives=[o.text for t in topics for o in t.objectives],
        prompts=prompts,
    )


def _topic_card(topic: Topic) -> Card:
    return Card(
        value=f"topic:{topic.id}",
        title=topic.title,
        subtitle=f"Topic card · roadmap day {topic.day}",
        level=topic.level,
        minutes=topic.minutes or len(topic.prompts) * MINUTES_PER_PROMPT,
        minutes_estimated=topic.minutes is None,
        summary=topic.summary,
        objectives=[o.text for o in topic.objectives],
        prompts=len(topic.prompts),
    )


def _score(card: Card, corpus: Corpus, owner_of: dict[str, Topic], finished: list[FinishedPrompt]) -> None:
    """The card's score in each session that finished any of its prompts: the mean of those prompts' scores."""
    mode, _, target = card.value.partition(":")
    topics = {t.id for t in corpus.topics_of_day(int(target))} if mode == "day" else {target}
    per_session: dict[str, list[int]] = defaultdict(list)
    last_at: dict[str, str] = {}
    for row in finished:
        topic = owner_of.get(row.prompt_id)
        if topic is not None and topic.id in topics:
            per_session[row.session_id].append(row.score)
            last_at[row.session_id] = max(row.at, last_at.get(row.session_id, ""))
    if not per_session:
        return
    order = sorted(per_session, key=lambda s: last_at[s])
    scores = [round(fmean(per_session[s]), 2) for s in order]
    card.last, card.best, card.sessions = scores[-1], max(scores), len(scores)


def mastery(
    corpus: Corpus, finished: list[FinishedPrompt], schedules: dict[str, Scheduled] | None = None
) -> list[MasteryRow]:
    """Per learning objective the person has answered on: weakest latest score first, then by topic; with
    `schedules`, when each comes due again."""
    by_session: dict[str, list[PointVerdict]] = defaultdict(list)
    at_of: dict[str, str] = {}
    for row in finished:
        by_session[row.session_id].extend(PointVerdict.model_validate(p) for p in row.points)
        at_of[row.session_id] = max(row.at, at_of.get(row.session_id, ""))
    scores_of: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for session_id in sorted(by_session, key=lambda s: at_of[s]):
        for objective, score in objective_scores(by_session[session_id]).items():
            if objective in corpus.objectives:
                scores_of[objective].append((at_of[session_id], score))
    rows = []
    due_at = objective_due(corpus, schedules or {})
    for objective, seen in scores_of.items():
        text, topic = corpus.objectives[objective][0].text, corpus.objectives[objective][1].title
        latest = seen[-1][1]
        rows.append(
            MasteryRow(
                objective=objective,
                text=text,
                topic=topic,
                latest=latest,
                best=max(s for _, s in seen),
                attempts=len(seen),
                last_at=seen[-1][0],
                weak=latest <= WEAK_AT,
                next_due=due_at.get(objective),
            )
        )
    return sorted(rows, key=lambda r: (r.latest, r.topic, r.text))


def weakest(rows: list[MasteryRow], limit: int = 3) -> list[MasteryRow]:
    """The weak objectives to review first (the lowest latest scores)."""
    return [r for r in rows if r.weak][:limit]


def trend(sessions: list[SessionRow]) -> list[TrendPoint]:
    """Scored sessions (given newest first, as `SessionIndex.recent` lists them), oldest first, each at the time
    it was last answered."""
    scored = [s for s in reversed(sessions) if s.score is not None and s.answered]  # `recent` is newest first
    return [
        TrendPoint(at=s.updated_at, session=s.id, label=s.label, score=float(s.score or 0.0))
        for s in sorted(scored, key=lambda s: s.updated_at)  # stable: sessions answered in the same second
    ]


class StartPage(BaseModel):
    """What the start page shows of one person's practice: the cards with their scores, and the weak points."""

    cards: list[Card]
    weakest: list[MasteryRow]
    practised: bool
    """Whether the person has answered on any objective (the weak-points card then says none is weak)."""
    due: DueCard


class History(BaseModel):
    """What the History tab shows of one person's practice, beside their session list."""

    mastery: list[MasteryRow]
    trend: list[TrendPoint]


def start_page(corpus: Corpus, finished: list[FinishedPrompt], now: datetime) -> StartPage:
    """The start page's view of the person's finished prompts, at `now`."""
    schedules = schedules_of(corpus, finished)
    rows = mastery(corpus, finished, schedules)
    return StartPage(
        cards=cards(corpus, finished),
        weakest=weakest(rows),
        practised=bool(rows),
        due=due_card(schedules, now),
    )


def history(corpus: Corpus, finished: list[FinishedPrompt], sessions: list[SessionRow]) -> History:
    """The History tab's view of the person's finished prompts and sessions (newest first)."""
    return History(mastery=mastery(corpus, finished, schedules_of(corpus, finished)), trend=trend(sessions))
