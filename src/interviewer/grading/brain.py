"""The Brain protocol every grader implements, and what it is given and gives back besides a Grade."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from interviewer.curriculum.corpus import Prompt
from interviewer.curriculum.index import Related
from interviewer.grading.models import Grade, PointVerdict, Usage


@dataclass(frozen=True)
class FollowUp:
    """A follow-up question probing one rubric point."""

    text: str
    point_id: str
    usage: Usage | None = None  # what writing it cost, when a model was asked
    source: Literal["authored", "model"] = "authored"
    fallback: str | None = None  # why a model's follow-up was not used, when it was asked for one


@dataclass(frozen=True)
class TurnContext:
    """What a brain may use beyond the prompt and the answer."""

    related: list[Related] = field(default_factory=list)
    history: list[tuple[str, str]] = field(default_factory=list)  # (question, answer) earlier in this prompt


class Brain(Protocol):
    name: str

    @property
    def version(self) -> str: ...

    def grade(self, prompt: Prompt, answer: str, context: TurnContext) -> Grade: ...

    def follow_up(
        self, prompt: Prompt, points: list[PointVerdict], probed: list[str], context: TurnContext
    ) -> FollowUp | None: ...
