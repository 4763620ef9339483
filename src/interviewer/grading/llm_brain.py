"""The LLM brain: an OpenAI-compatible model judges each rubric point, quoting the answer as evidence.

The model only gives per-point verdicts with a verbatim quote; a quote that does not occur in the answer
does not count. The score is computed in code from the verdicts with the same function as the rubric
brain, and the flags and misconceptions come from the rubric brain's deterministic checks, so the two
brains are comparable and nothing in the answer can set the score. Any model failure (down, slow,
rate-limited, invalid output twice) falls back to the rubric brain for that turn, and the grade says so.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from interviewer.corpus import Prompt, RubricPoint
from interviewer.grading import FollowUp, TurnContext
from interviewer.grading.guards import addresses_grader
from interviewer.grading.models import VERDICT_CREDIT, Grade, PointVerdict, Usage, score_from
from interviewer.grading.rubric import RubricBrain, feedback, verdict_for
from interviewer.grading.text import reveals, shared_runs, split_sentences
from interviewer.llm import LLMSettings, count_tokens
from interviewer.prompting import Prompts, prompts

POINT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["covered", "partial", "missed"]},
        "quote": {"type": "string", "maxLength": 300},
    },
    "required": ["verdict", "quote"],
    "additionalProperties": False,
}
REMOVED = "[removed: text addressed to the grader]"


class PointJudgement(BaseModel):
    verdict: Literal["covered", "partial", "missed"]
    quote: str = Field(default="", max_length=400)


class ModelFailure(Exception):
    """The model could not give a usable reply; the turn falls back to the rubric brain."""


class InvalidOutput(ModelFailure):
    """The model replied, but not with what was asked for; worth one more try."""


def _describe(exc: BaseException) -> str:
    """One short line naming a failure, for the transcript."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0][:160] if text else ''}"


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def quote_in(quote: str, answer: str) -> bool:
    """True when the quote occurs in the answer (ignoring case and runs of white space)."""
    q = _squash(quote.strip("\"'“”‘’ "))
    return len(q) >= 3 and q in _squash(answer)


@lru_cache(maxsize=8)
def _scaffold(templates: Prompts) -> str:
    """The fixed wording of the follow-up prompt, which a follow-up must not echo."""
    empty = templates.render("followup.user", question="", history=[], answer="", point="", probe="")
    return templates.render("followup.system") + "\n" + empty


class LLMBrain:
    """Per-point judgements from a chat model, with the rubric brain as its safety net."""

    name = "llm"

    def __init__(
        self,
        model: Any,
        settings: LLMSettings,
        fallback: RubricBrain,
        retrieve: Callable[[str, str], list[str]] | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.fallback = fallback
        self.retrieve = retrieve  # (prompt id, query) -> objectives and rubric points from the index
        self.prompts = prompts(settings.prompts_dir)  # the templates of INTERVIEWER_PROMPTS_DIR or the shipped ones

    @property
    def version(self) -> str:
        return f"llm-{self.settings.model}-{self.prompts.version}"

    # -- calling the model -----------------------------------------------------------------------

    def _call(self, messages: list[Any], usage: Usage, **kwargs: Any) -> str:
        import openai
        from langchain_core.messages import BaseMessage

        prompt_text = "\n".join(str(m.content) for m in messages if isinstance(m, BaseMessage))
        tokens_in = count_tokens(prompt_text, self.settings.model)
        if tokens_in > self.settings.context_tokens:
            raise ModelFailure(
                f"the request needs {tokens_in} tokens, over the budget of {self.settings.context_tokens}"
            )
        start = time.perf_counter()
        try:
            reply = self.model.invoke(messages, **kwargs)
        except Exception as exc:  # connection errors, timeouts, 429/5xx after the client's own retries
            if isinstance(exc, openai.LengthFinishReasonError):  # it replied at length: that is paid for too
                spent = exc.completion.usage
                self._record(
                    usage, start, spent.prompt_tokens if spent else tokens_in, spent.completion_tokens if spent else 0
                )
                raise InvalidOutput("cut off at the output token limit") from exc
            raise ModelFailure(_describe(exc)) from exc
        text = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
        meta = getattr(reply, "usage_metadata", None) or {}
        used_in = int(meta.get("input_tokens") or tokens_in)
        used_out = int(meta.get("output_tokens") or count_tokens(text, self.settings.model))
        self._record(usage, start, used_in, used_out)
        return text

    def _record(self, usage: Usage, start: float, used_in: int, used_out: int) -> None:
        elapsed = (time.perf_counter() - start) * 1000
        usage.calls += 1
        usage.input_tokens += used_in
        usage.output_tokens += used_out
        usage.latency_ms = round(usage.latency_ms + elapsed, 1)
        usage.cost_usd = round(usage.cost_usd + self.settings.cost(used_in, used_out), 6)

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
                text = self._call(messages, usage, response_format=schema)
                return PointJudgement.model_validate(json.loads(text))
            except InvalidOutput as exc:
                problem = f"invalid output ({exc})"
            except (json.JSONDecodeError, ValidationError, TypeError) as exc:
                problem = f"invalid output ({type(exc).__name__})"
        raise ModelFailure(problem)

    # -- the Brain interface ---------------------------------------------------------------------

    def grade(self, prompt: Prompt, answer: str, context: TurnContext | None = None) -> Grade:
        context = context or TurnContext()
        baseline = self.fallback.grade(prompt, answer, context)
        data = self._data(answer)
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
        score, coverage = score_from(points, baseline.red_flags, list(baseline.flags))
        return Grade(
            prompt_id=prompt.id,
            score=score,
            coverage=coverage,
            points=points,
            red_flags=baseline.red_flags,
            flags=baseline.flags,
            feedback=feedback(points, baseline.red_flags, baseline.flags),
            brain=self.name,
            grader_version=self.version,
            usage=usage,
        )

    @staticmethod
    def _data(answer: str) -> str:
        """The answer as the model sees it: sentences addressed to the grader are replaced by a marker."""
        out = answer
        for sentence in split_sentences(answer):
            if addresses_grader(sentence.text):
                out = out.replace(sentence.text, REMOVED)
        return out

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

    def follow_up(
        self, prompt: Prompt, points: list[PointVerdict], probed: list[str], context: TurnContext | None = None
    ) -> FollowUp | None:
        """A follow-up written by the model about the most important open point; the authored probe if it fails."""
        authored = self.fallback.follow_up(prompt, points, probed, context)
        if authored is None:
            return None
        context = context or TurnContext()
        point = next(p for p in prompt.rubric if p.id == authored.point_id)
        usage = Usage()
        try:
            text = self._write_follow_up(prompt, point, context, usage)
        except ModelFailure as exc:
            return FollowUp(
                text=authored.text,
                point_id=point.id,
                usage=usage if usage.calls else None,
                fallback=f"The model's follow-up was not used ({exc}); the authored probe was asked.",
            )
        return FollowUp(text=text, point_id=point.id, usage=usage, source="model")

    def _ask_agent(self, prompt: Prompt, system: str, user: str, usage: Usage) -> str:
        """The interviewer as a LangChain agent that may look up the topic's objectives before it asks."""
        from langchain.agents import create_agent
        from langchain_core.messages import HumanMessage
        from langchain_core.tools import tool

        retrieve = self.retrieve

        @tool
        def related_objectives(query: str) -> str:
            """Learning objectives and key points of this topic related to the query."""
            return "\n".join(retrieve(prompt.id, query)) if retrieve else "No index available."

        if count_tokens(system + user, self.settings.model) > self.settings.context_tokens:
            raise ModelFailure("the follow-up request is over the token budget")
        start = time.perf_counter()
        try:
            agent = create_agent(self.model, tools=[related_objectives], system_prompt=system)
            result = agent.invoke({"messages": [HumanMessage(user)]}, {"recursion_limit": 6})
        except Exception as exc:
            raise ModelFailure(_describe(exc)) from exc
        for message in result["messages"]:
            meta = getattr(message, "usage_metadata", None)
            if meta and getattr(message, "type", "") == "ai":
                usage.calls += 1
                usage.input_tokens += int(meta.get("input_tokens") or 0)
                usage.output_tokens += int(meta.get("output_tokens") or 0)
        usage.latency_ms = round(usage.latency_ms + (time.perf_counter() - start) * 1000, 1)
        usage.cost_usd = round(self.settings.cost(usage.input_tokens, usage.output_tokens), 6)
        final = result["messages"][-1].content
        return final if isinstance(final, str) else ""

    def _write_follow_up(self, prompt: Prompt, point: RubricPoint, context: TurnContext, usage: Usage) -> str:
        # The candidate's words are data here too: text addressed to the interviewer or grader is replaced.
        history = [{"question": q, "answer": self._data(a)} for q, a in context.history]
        answer = history.pop()["answer"] if history else ""
        while True:  # trim the oldest exchanges first; the rubric point and the current answer always stay
            user = self.prompts.render(
                "followup.user",
                question=prompt.text,
                history=history,
                answer=answer,
                point=point.point,
                probe=point.probe,
            )
            system = self.prompts.render("followup.system")
            if count_tokens(system + user, self.settings.model) <= self.settings.context_tokens or not history:
                break
            history.pop(0)
        text = self._ask_agent(prompt, system, user, usage).strip().strip('"')
        if not text:
            raise ModelFailure("empty reply")
        if not text.endswith("?") or len(text) > 400:
            raise ModelFailure("the reply was not one short question")
        if reveals(text, prompt):
            raise ModelFailure("the reply gave away a key point")
        if shared_runs(text, _scaffold(self.prompts), n=4):
            raise ModelFailure("the reply repeated the interviewer's instructions")
        return text
