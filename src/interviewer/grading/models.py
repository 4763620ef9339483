"""The grade of one answer: per-point verdicts with evidence, and a 0-4 score computed from them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

Verdict = Literal["covered", "partial", "missed"]
Flag = Literal["empty", "too_short", "off_topic", "keyword_stuffing", "instruction_to_grader", "restated_question"]

FLAG_MESSAGES: dict[str, str] = {
    "empty": "No answer was given.",
    "too_short": "The answer is too short to show understanding.",
    "off_topic": "The answer does not address this question.",
    "keyword_stuffing": "A list of terms without explanation earns little: say how and why.",
    "instruction_to_grader": (
        "Text addressed to the grader was ignored: it is read as part of the answer, never as an instruction, and "
        "the rest of the answer is graded on what it says."
    ),
    "restated_question": "The answer restates the question instead of answering it.",
}


class PointVerdict(BaseModel):
    """How well the answer makes one rubric point."""

    point_id: str
    text: str
    objective: str
    weight: int
    verdict: Verdict
    evidence: str | None = Field(default=None, description="The answer's own sentence that shows the point.")
    strength: float = Field(default=0.0, description="Match strength 0-1 behind the verdict.")


class RedFlagHit(BaseModel):
    claim: str
    evidence: str
    correction: str


class Usage(BaseModel):
    """What the model calls behind one grade or follow-up cost."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0

    def add(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            latency_ms=round(self.latency_ms + other.latency_ms, 1),
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
        )


class Assessment(BaseModel):
    """Verdicts on a prompt's key points, and the score, coverage and advice that follow from them in code."""

    score: int = Field(ge=0, le=4)
    coverage: float = Field(ge=0.0, le=1.0)
    points: list[PointVerdict]
    red_flags: list[RedFlagHit] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    feedback: str = ""


class Grade(Assessment):
    """One graded answer. The score is derived in code from `points`, `red_flags` and `flags`."""

    prompt_id: str
    brain: str = "rubric"
    fallback: str | None = None
    grader_version: str = ""
    usage: Usage | None = None
    unread: int = Field(default=0, description="The answer's sentences past the reading limit, not read.")

    def covered(self) -> list[PointVerdict]:
        return [p for p in self.points if p.verdict == "covered"]

    def missed(self) -> list[PointVerdict]:
        return [p for p in self.points if p.verdict != "covered"]


VERDICT_CREDIT: dict[str, float] = {"covered": 1.0, "partial": 0.5, "missed": 0.0}
# Coverage needed for each score step 1..4 (the weighted share of rubric credit, see `coverage_of`). Fitted by
# evals/fit_bands.py on the gold per-point verdicts and red flags of the development half's honest answers, so that
# they, put through `score_from`, give back their gold scores: recall of each level 0..4 there is 0.82 / 0.80 / 0.64
# / 0.83 / 0.90 (exact 0.82), and on the held-out half 0.94 / 0.76 / 0.68 / 0.89 / 0.91 (exact 0.85); `interviewer
# eval` reports it as "bands". The rest is judgement no coverage band holds: how central a gap is, how serious a
# misconception the rubric's red flags do not name.
SCORE_CUTS: tuple[float, float, float, float] = (0.04, 0.28, 0.52, 0.80)


def coverage_of(points: list[PointVerdict]) -> float:
    total = sum(p.weight for p in points)
    if total == 0:
        return 0.0
    return round(sum(p.weight * VERDICT_CREDIT[p.verdict] for p in points) / total, 4)


def score_from(
    points: list[PointVerdict],
    red_flags: list[RedFlagHit],
    flags: Sequence[str],
    cuts: tuple[float, ...] = SCORE_CUTS,
) -> tuple[int, float]:
    """The 0-4 score and the coverage behind it. Both brains use this one function."""
    coverage = coverage_of(points)
    score = sum(1 for cut in cuts if coverage >= cut)
    essentials = [p for p in points if p.weight == max((q.weight for q in points), default=0)]
    if score >= 4 and any(p.verdict == "missed" for p in essentials):
        score = 3  # full marks need every essential point
    if red_flags:  # a stated misconception costs up to two steps, but an answer that makes a point keeps a 1
        score = max(min(score, 1), score - min(len(red_flags), 2))
    if {"empty", "off_topic", "restated_question"} & set(flags):
        score = 0
    elif {"keyword_stuffing", "too_short"} & set(flags):
        score = min(score, 1)
    return max(0, min(4, score)), coverage


def merge_verdicts(grades: list[Grade]) -> list[PointVerdict]:
    """Best verdict per rubric point across a prompt's answer and its follow-up answers."""
    best: dict[str, PointVerdict] = {}
    for grade in grades:
        for point in grade.points:
            if "keyword_stuffing" in grade.flags and point.verdict == "covered":  # a list of terms explains nothing
                point = point.model_copy(update={"verdict": "partial"})
            current = best.get(point.point_id)
            if current is None or VERDICT_CREDIT[point.verdict] > VERDICT_CREDIT[current.verdict]:
                best[point.point_id] = point
    order = [p.point_id for p in grades[0].points] if grades else []
    return [best[i] for i in order]
