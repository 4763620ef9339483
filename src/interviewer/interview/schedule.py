"""When each prompt comes back: the Free Spaced Repetition Scheduler (the `fsrs` package) over a person's grades.

A prompt's schedule is derived, never stored: its attempts (every session that finished it, oldest first) are
replayed through FSRS, each as one review rated from its 0-4 score by `RATINGS`. So a schedule survives restarts,
reads the same on SQLite and PostgreSQL and on every replica, and `interviewer forget` deletes it with the
sessions it comes from.

FSRS runs without fuzz (the same grades always give the same days) and without its learning steps of minutes: a
question comes back after a day at the soonest, since a second answer minutes after the first measures memory of
the answer, not of the subject.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from fsrs import Card, Rating, Scheduler
from pydantic import BaseModel, Field

from interviewer.curriculum.corpus import Corpus
from interviewer.storage.session_index import FinishedPrompt

RATINGS: dict[int, Rating] = {0: Rating.Again, 1: Rating.Again, 2: Rating.Hard, 3: Rating.Good, 4: Rating.Easy}
"""A prompt's 0-4 score as an FSRS rating: 0-1 forgotten (Again), 2 recalled with gaps (Hard), 3 recalled (Good),
4 recalled whole (Easy). A skipped prompt scores 0."""

SCHEDULER = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)


class Scheduled(BaseModel):
    """One prompt's schedule for one person: when it is due, and the attempts it is derived from."""

    prompt_id: str
    due: str = Field(description="When it is due again (ISO 8601, UTC).")
    last_score: int
    best_score: int
    attempts: int
    last_at: str
    stability: float = Field(description="FSRS's stability: about the days until recall falls to 90%.")

    def due_by(self, day: date) -> bool:
        """Whether it is due on or before `day` (UTC)."""
        return datetime.fromisoformat(self.due).date() <= day


def schedule(finished: list[FinishedPrompt]) -> dict[str, Scheduled]:
    """Each prompt's schedule from the person's finished prompts (oldest first, as the session index lists them)."""
    attempts: dict[str, list[FinishedPrompt]] = defaultdict(list)
    for row in finished:
        attempts[row.prompt_id].append(row)
    return {pid: _replay(pid, rows) for pid, rows in attempts.items()}


def _replay(prompt_id: str, rows: list[FinishedPrompt]) -> Scheduled:
    card = Card(card_id=1, due=datetime.fromisoformat(rows[0].at))
    for row in rows:
        card, _ = SCHEDULER.review_card(card, RATINGS[max(0, min(4, row.score))], datetime.fromisoformat(row.at))
    return Scheduled(
        prompt_id=prompt_id,
        due=card.due.isoformat(timespec="seconds"),
        last_score=rows[-1].score,
        best_score=max(r.score for r in rows),
        attempts=len(rows),
        last_at=rows[-1].at,
        stability=round(card.stability or 0.0, 2),
    )


def due(schedules: dict[str, Scheduled], now: datetime) -> list[Scheduled]:
    """The prompts due today or earlier (UTC), weakest first: the lowest last score, then the longest overdue."""
    today = now.date()
    return sorted((s for s in schedules.values() if s.due_by(today)), key=lambda s: (s.last_score, s.due, s.prompt_id))


def next_due(schedules: dict[str, Scheduled], now: datetime) -> Scheduled | None:
    """The first prompt to come due after today, when none is due today."""
    today = now.date()
    later = [s for s in schedules.values() if not s.due_by(today)]
    return min(later, key=lambda s: (s.due, s.prompt_id)) if later else None


def objective_due(corpus: Corpus, schedules: dict[str, Scheduled]) -> dict[str, str]:
    """Each learning objective's next due time: the soonest of the practised prompts whose points assess it."""
    out: dict[str, str] = {}
    for pid, scheduled in schedules.items():
        if pid not in corpus.prompts:
            continue  # a prompt the curriculum no longer has
        for objective in {p.objective for p in corpus.prompt(pid).prompt.rubric}:
            if objective not in out or scheduled.due < out[objective]:
                out[objective] = scheduled.due
    return out
