"""The LLM interviewer: a chat model writes the follow-up question about the most important open point.

It runs as a LangChain agent that may look up the topic's objectives (the `related_objectives` tool) before
it asks. The candidate's words reach it with text addressed to the grader removed; the oldest exchanges are
trimmed to fit the token budget. A reply that is not one short question, gives a key point away or repeats
the interviewer's instructions is refused, and the authored probe is asked instead, saying why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

from interviewer.curriculum.corpus import Prompt, RubricPoint
from interviewer.grading.brain import FollowUp, TurnContext
from interviewer.grading.guards import redact
from interviewer.grading.metering import Meter, ModelFailure, describe
from interviewer.grading.models import PointVerdict, Usage
from interviewer.grading.prompting import Prompts
from interviewer.grading.rubric import RubricBrain
from interviewer.grading.text import reveals, shared_runs

Retrieve = Callable[[str, str], list[str]]  # (prompt id, query) -> objectives and rubric points from the index


@lru_cache(maxsize=8)
def _scaffold(templates: Prompts) -> str:
    """The fixed wording of the follow-up prompt, which a follow-up must not echo."""
    empty = templates.render("followup.user", question="", history=[], answer="", point="", probe="")
    return templates.render("followup.system") + "\n" + empty


class LLMInterviewer:
    """Follow-ups written by a chat model, with the rubric brain's authored probe as the safety net."""

    def __init__(self, meter: Meter, templates: Prompts, fallback: RubricBrain, retrieve: Retrieve | None) -> None:
        self.meter = meter
        self.prompts = templates
        self.fallback = fallback
        self.retrieve = retrieve

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
            text = self.write(prompt, point, context, usage)
        except ModelFailure as exc:
            return FollowUp(
                text=authored.text,
                point_id=point.id,
                usage=usage if usage.calls else None,
                fallback=f"The model's follow-up was not used ({exc}); the authored probe was asked.",
            )
        return FollowUp(text=text, point_id=point.id, usage=usage, source="model")

    def write(self, prompt: Prompt, point: RubricPoint, context: TurnContext, usage: Usage) -> str:
        """The model's question about `point`; raises ModelFailure when it failed or the reply is refused."""
        system, user = self._request(prompt, point, context)
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

    def _request(self, prompt: Prompt, point: RubricPoint, context: TurnContext) -> tuple[str, str]:
        """The system and user messages, trimmed to the budget: the oldest exchanges go first, while the
        rubric point and the current answer always stay."""
        # The candidate's words are data here too: text addressed to the interviewer or grader is replaced.
        history = [{"question": q, "answer": redact(a)} for q, a in context.history]
        answer = history.pop()["answer"] if history else ""
        while True:
            user = self.prompts.render(
                "followup.user",
                question=prompt.text,
                history=history,
                answer=answer,
                point=point.point,
                probe=point.probe,
            )
            system = self.prompts.render("followup.system")
            if self.meter.fits(system + user) or not history:
                return system, user
            history.pop(0)

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

        if not self.meter.fits(system + user):
            raise ModelFailure("the follow-up request is over the token budget")
        start = time.perf_counter()
        try:
            agent = create_agent(self.meter.model, tools=[related_objectives], system_prompt=system)
            result = agent.invoke({"messages": [HumanMessage(user)]}, {"recursion_limit": 6})
        except Exception as exc:
            raise ModelFailure(describe(exc)) from exc
        self.meter.record_run(result["messages"], usage, start)
        final = result["messages"][-1].content
        return final if isinstance(final, str) else ""
