"""Every attempt a person made at one prompt, and what an attempt changed since the one before it.

An attempt is a session that finished the prompt (a day, a topic, a review, or "answer again", which opens a
session of that one prompt). Attempts come from the session index, oldest first, so they are the same wherever
they are read: the interview's grade panel, the Review tab, the downloads and the terminal.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from interviewer.grading.models import PointVerdict, Verdict
from interviewer.storage.session_index import FinishedPrompt

RANK: dict[str, int] = {"missed": 0, "partial": 1, "covered": 2}


class Attempt(BaseModel):
    """One finished attempt at a prompt."""

    session_id: str
    at: str
    score: int
    covered: int = Field(description="Key points made in full.")
    points: int = Field(description="Key points in the rubric.")


class PointChange(BaseModel):
    """A key point whose verdict differs from the previous attempt's."""

    point_id: str
    text: str
    before: Verdict
    after: Verdict


class Change(BaseModel):
    """What an attempt changed since the previous one: the score before and after, points gained and lost."""

    previous_session: str
    previous_at: str
    before: int
    after: int
    gained: list[PointChange] = Field(default_factory=list, description="Points made better than before.")
    lost: list[PointChange] = Field(default_factory=list, description="Points made worse than before.")


class Attempts(BaseModel):
    """A person's attempts at one prompt, oldest first, with the latest and the best (the latest of the best)."""

    prompt_id: str
    attempts: list[Attempt]

    @property
    def latest(self) -> Attempt:
        return self.attempts[-1]

    @property
    def best(self) -> Attempt:
        top = max(a.score for a in self.attempts)
        return [a for a in self.attempts if a.score == top][-1]


def attempts_of(finished: list[FinishedPrompt], prompt_id: str) -> Attempts | None:
    """The person's attempts at a prompt, from their finished prompts (oldest first); None before the first."""
    rows = [r for r in finished if r.prompt_id == prompt_id]
    if not rows:
        return None
    return Attempts(prompt_id=prompt_id, attempts=[_attempt(r) for r in rows])


def _attempt(row: FinishedPrompt) -> Attempt:
    verdicts = [PointVerdict.model_validate(p) for p in row.points]
    covered = sum(1 for v in verdicts if v.verdict == "covered")
    return Attempt(session_id=row.session_id, at=row.at, score=row.score, covered=covered, points=len(verdicts))


def change_in(finished: list[FinishedPrompt], session_id: str, prompt_id: str) -> Change | None:
    """What the session's attempt at a prompt changed since the attempt before it; None when it has not finished
    the prompt, or it is the first attempt."""
    rows = [r for r in finished if r.prompt_id == prompt_id]
    place = next((i for i, r in enumerate(rows) if r.session_id == session_id), None)
    if not place:  # not finished here (None), or the first attempt (0)
        return None
    return change(rows[place - 1], rows[place])


def change(previous: FinishedPrompt, current: FinishedPrompt) -> Change:
    """Point by point, what `current` made better or worse than `previous` (points matched by id)."""
    before = {p.point_id: p for p in (PointVerdict.model_validate(v) for v in previous.points)}
    gained: list[PointChange] = []
    lost: list[PointChange] = []
    for now in (PointVerdict.model_validate(v) for v in current.points):
        was = before.get(now.point_id)
        old: Verdict = was.verdict if was is not None else "missed"
        if RANK[now.verdict] != RANK[old]:
            moved = PointChange(point_id=now.point_id, text=now.text, before=old, after=now.verdict)
            (gained if RANK[now.verdict] > RANK[old] else lost).append(moved)
    return Change(
        previous_session=previous.session_id,
        previous_at=previous.at,
        before=previous.score,
        after=current.score,
        gained=gained,
        lost=lost,
    )
