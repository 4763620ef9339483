"""Typed interview data: what the interviewer says, each turn as the graph records it, a prompt's result, a
grade as the candidate may see it, the transcript, and the views the front ends show.

The graph's checkpoint stores these as JSON (`model_dump`), so any process can resume any session; everything
that reads a session parses them back here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from interviewer.grading.models import Assessment, Grade, PointVerdict, Usage
from interviewer.interview.attempts import Attempts, Change
from interviewer.speech.delivery import Delivery
from interviewer.storage.session_index import SessionRow


class Question(BaseModel):
    """What the interviewer asks: a roadmap prompt or a follow-up on one of its points."""

    kind: Literal["question", "followup"]
    prompt_id: str
    text: str
    number: int | None = Field(default=None, description="The prompt's place in the plan, from 1.")
    of: int | None = Field(default=None, description="How many prompts the plan holds.")
    point_id: str | None = Field(default=None, description="The rubric point a follow-up probes.")


class Turn(BaseModel):
    """One question or follow-up and the answer to it (None when skipped), with its grade."""

    at: str = ""
    kind: Literal["question", "followup"]
    prompt_id: str
    question: str
    point_id: str | None = None
    answer: str | None = None
    spoken: Delivery | None = Field(default=None, description="How the answer was said, when it was spoken.")
    grade: Grade | None = None
    related: list[dict[str, Any]] = Field(default_factory=list, description="Curriculum entries retrieved for it.")
    followup_usage: Usage | None = None
    followup_fallback: str | None = Field(default=None, description="Why a stand-in wrote the follow-up.")

    def usage(self) -> Usage:
        """Model use behind this answer: grading it, and writing the follow-up it led to."""
        total = Usage()
        for part in (self.grade.usage if self.grade else None, self.followup_usage):
            if part is not None:
                total = total.add(part)
        return total


class ShownGrade(Grade):
    """What the candidate sees after an answer, as `disclosure` allows it now. After a question's first answer,
    that answer's grade; after a follow-up answer, the question's result over all its answers so far (the best
    verdict per point, as `results.prompt_result` scores the prompt) and, in `probed`, the follow-up answer's
    verdict on the point it asked about."""

    withheld: int = Field(default=0, description="Key points not made yet and not named while still probed.")
    kind: Literal["question", "followup"] = Field(default="question", description="What the answer answered.")
    answers: int = Field(default=1, description="How many answers to the question the score is over.")
    probed: PointVerdict | None = Field(default=None, description="A follow-up answer's verdict on its point.")
    change: Change | None = Field(
        default=None, description="Once the answer finished its question: what changed since the previous attempt."
    )


class Standing(BaseModel):
    """A question's result over its answers up to one of them."""

    score: int
    coverage: float
    answers: int


class ShownTurn(Turn):
    """A turn as the transcript shows it: for an answered follow-up, what the answer changed (derived from the
    recorded turns when shown, never stored)."""

    probed: PointVerdict | None = Field(default=None, description="A follow-up answer's verdict on its point.")
    so_far: Standing | None = Field(default=None, description="After a follow-up answer: the question's result.")


class PromptResult(Assessment):
    """A prompt's grade over its answer and follow-ups: the best verdict per point; `flags` are those every
    answer raised."""

    withheld: int = Field(default=0, description="Key points not made yet and not named while still probed.")


class PromptBlock(BaseModel):
    """One prompt in the transcript: its turns, its result, what to study and the reference answer."""

    prompt_id: str
    question: str
    turns: list[ShownTurn]
    result: PromptResult | None = Field(description="None when the prompt was skipped.")
    in_progress: bool = Field(description="Still being probed: nothing that would answer the follow-up is shown.")
    skipped: bool
    unanswered_points: list[PointVerdict] = Field(default_factory=list)
    reference_answer: str | None = None
    study: list[str] = Field(default_factory=list)
    attempts: Attempts | None = Field(default=None, description="Every attempt of the person's at this prompt.")
    change: Change | None = Field(default=None, description="What this attempt changed since the one before it.")


class ObjectiveRow(BaseModel):
    """How a session did on one learning objective, over every point that serves it."""

    objective: str
    text: str
    topic: str
    covered: int = 0
    partial: int = 0
    missed: int = 0
    score: float = 0.0


class Overall(BaseModel):
    """A session's score over the questions asked (answered or skipped; a skipped one scores 0), and how many of
    its plan an early end left unanswered."""

    score: float | None = Field(description="Mean 0-4 score over the questions asked; None before any.")
    asked: int = Field(description="Questions answered or skipped.")
    skipped: int
    planned: int
    unanswered: int = Field(description="Questions of the plan never answered or skipped, once finished.")
    finished: bool


class Transcript(BaseModel):
    """Every question, answer, follow-up and grade of a session, with the per-objective summary."""

    session: SessionRow
    corpus_version: str
    status: str
    plan: list[str]
    pending: Question | None
    prompts: list[PromptBlock]
    score: float | None
    overall: Overall
    usage: Usage
    objectives: list[ObjectiveRow]
    delivery: Delivery | None = Field(default=None, description="Pace, fillers and pauses over the spoken answers.")


class Message(BaseModel):
    """The interview as chat: one thing the interviewer or the candidate said."""

    role: Literal["assistant", "user"]
    kind: Literal["question", "followup", "answer", "skip"]
    text: str
    spoken: Delivery | None = None


class Overview(BaseModel):
    """Where a session stands: label, progress, time budget and what is waiting."""

    session: SessionRow
    status: str
    question: Question | None
    asked: int
    planned: int
    minutes: int | None


class Snapshot(BaseModel):
    """Everything a page shows about one session, from one read of its checkpoint."""

    overview: Overview
    messages: list[Message]
    turns: list[Turn]
    last_grade: ShownGrade | None
    transcript: Transcript
    done: list[str] = Field(default_factory=list, description="Prompts finished here, oldest first: answerable again.")


class ProgressRow(BaseModel):
    """A 0-4 score on one learning objective in one finished prompt's session."""

    at: str
    session: str
    objective: str
    score: float


def turns_of(state: Mapping[str, Any], prompt_id: str | None = None) -> list[Turn]:
    """The recorded turns of a session's state (of one prompt, with `prompt_id`), oldest first."""
    return [Turn.model_validate(t) for t in state.get("turns", []) if prompt_id in (None, t["prompt_id"])]


def waiting(state: dict[str, Any]) -> Question | None:
    """The question or follow-up that waits for an answer, if the session is not finished."""
    pending = state.get("pending")
    if not pending or state.get("status") == "finished":
        return None
    return Question.model_validate(pending)
