"""The LLM brain: an OpenAI-compatible model judges each rubric point, quoting the answer as evidence.

The model only gives per-point verdicts with a verbatim quote; a quote that does not occur in the answer
does not count. The score is computed in code from the verdicts with the same function as the rubric
brain, and the flags and misconceptions come from the rubric brain's deterministic checks, so the two
brains are comparable and nothing in the answer can set the score. Any model failure (down, slow,
rate-limited, invalid output twice) falls back to the rubric brain for that turn, and the grade says so.
Follow-ups are written by the LLM interviewer (`llm_interviewer`); calls are metered by `metering`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from interviewer.curriculum.corpus import Prompt, RubricPoint
from interviewer.grading.brain import FollowUp, TurnContext
from interviewer.grading.guards import REMOVED, redact
from interviewer.grading.llm import LLMSettings
from interviewer.grading.llm_interviewer import LLMInterviewer, Retrieve
from interviewer.grading.metering import InvalidOutput, Meter, ModelFailure
from interviewer.grading.models import VERDICT_CREDIT, Grade, PointVerdict, Usage
from interviewer.grading.prompting import prompts
from interviewer.grading.rubric import RubricBrain, assess, verdict_for

POINT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["covered", "partial", "missed"]},
        "quote": {"type": "string", "maxLength": 300},
    },
    "required": ["verdict", "quote"],
    "additionalProperties": False,
}


class PointJudgement(BaseModel):
    verdict: Literal["covered", "partial", "missed"]
    quote: str = Field(default="", max_length=400)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def quote_in(quote: str, answer: str) -> bool:
    """True when the quote occurs in the answer (ignoring case and runs of white space)."""
    q = _squash(quote.strip("\"'“”‘’ "))
    return len(q) >= 3 and q in _squash(answer)


class LLMBrain:
    """Per-point judgements from a chat model, with the rubric brain as its safety net."""

    name = "llm"

    def __init__(
        self,
        model: Any,
        settings: LLMSettings,
        fallback: RubricBrain,
        retrieve: Retrieve | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.fallback = fallback
        self.retrieve = retrieve  # (prompt id, query) -> objectives and rubric points from the index
        self.prompts = prompts(settings.prompts_dir)  # the templates of INTERVIEWER_PROMPTS_DIR or the shipped ones
        self.meter = Meter(model, settings)
        self.interviewer = LLMInterviewer(self.meter, self.prompts, fallback, retrieve)

    @property
    def version(self) -> str:
        return f"llm-{self.settings.model}-{self.prompts.version}"

    # -- the Brain interface ---------------------------------------------------------------------

    def grade(self, prompt: Prompt, answer: str, context: TurnContext | None = None) -> Grade:
        context = context or TurnContext()
        baseline = self.fallback.grade(prompt, answer, context)
        data = redact(answer)
        start = time.perf_counter()
        failed = threading.Event()  # after one failure, points not yet sent are not asked about
        # The points are judged independently, so they are asked for at once (up to the concurrency setting).
        with ThreadPoolExecutor(max_workers=max(1, min(self.settings.concurrency, len(prompt.rubric)))) as pool:
            jobs = [pool.submit(self._verdict_or_failure, prompt, p, data, context, failed) for p in prompt.rubric]
            outcomes = [job.result() for job in jobs]
        usage = Usage()
        for _, point_usage in outcomes:
            usage = usage.add(point_usage)
        usage.latency_ms = round((time.perf_counter() - start) * 1000, 1)  # wall time, not the sum of calls
        failures = [o for o, _ in outcomes if isinstance(o, ModelFailure)]
        if failures:
            return baseline.model_copy(
                update={
                    "fallback": f"The model failed ({failures[0]}); this answer was graded by the rubric brain.",
                    "usage": usage,
                }
            )
        points = [o for o, _ in outcomes if isinstance(o, PointVerdict)]
        return Grade(
            prompt_id=prompt.id,
            brain=self.name,
            grader_version=self.version,
            usage=usage,
            **assess(points, baseline.red_flags, baseline.flags),
        )

    def follow_up(
        self, prompt: Prompt, points: list[PointVerdict], probed: list[str], context: TurnContext | None = None
    ) -> FollowUp | None:
        """A follow-up written by the model about the most important open point; the authored probe if it fails."""
        return self.interviewer.follow_up(prompt, points, probed, context)

    # -- judging one point ------------------------------------------------------------------------

    def _verdict_or_failure(
        self, prompt: Prompt, point: RubricPoint, data: str, context: TurnContext, failed: threading.Event
    ) -> tuple[PointVerdict | ModelFailure | None, Usage]:
        """One point's verdict, or the failure; None when an earlier failure made asking pointless."""
        usage = Usage()
        if failed.is_set():
            return None, usage
        try:
            return self._verdict(prompt, point, data, context, usage), usage
        except ModelFailure as exc:
            failed.set()
            return exc, usage

    def _verdict(
        self, prompt: Prompt, point: RubricPoint, data: str, context: TurnContext, usage: Usage
    ) -> PointVerdict:
        judgement = self._judge(prompt, point, data, context, usage)
        verdict = judgement.verdict
        evidence: str | None = judgement.quote.strip() or None
        if verdict != "missed" and (
            evidence is None or REMOVED.casefold() in evidence.casefold() or not quote_in(evidence, data)
        ):
            verdict, evidence = "missed", None  # a quote that is not in the answer does not count
        if verdict == "missed":
            evidence = None
        return verdict_for(point, verdict, evidence, VERDICT_CREDIT[verdict])

    def _judge(
        self, prompt: Prompt, point: RubricPoint, answer: str, context: TurnContext, usage: Usage
    ) -> PointJudgement:
        from langchain_core.messages import HumanMessage, SystemMessage

        objectives = [r.text for r in context.related if r.kind == "objective"]
        messages = [
            SystemMessage(self.prompts.render("grade_point.system")),
            HumanMessage(
                self.prompts.render(
                    "grade_point.user", question=prompt.text, point=point.point, objectives=objectives, answer=answer
                )
            ),
        ]
        schema = {"type": "json_schema", "json_schema": {"name": "point_judgement", "schema": POINT_SCHEMA}}
        problem = ""
        for _ in range(2):  # invalid or empty output is retried once
            try:
                text = self.meter.call(messages, usage, response_format=schema)
                return PointJudgement.model_validate(json.loads(text))
            except InvalidOutput as exc:
                problem = f"invalid output ({exc})"
            except (json.JSONDecodeError, ValidationError, TypeError) as exc:
                problem = f"invalid output ({type(exc).__name__})"
        raise ModelFailure(problem)
