"""The interview as a LangGraph graph, checkpointed to SQLite after every step.

    START -> ask -> wait -> grade -> wait (follow-up or next prompt) ... -> finish -> END

`wait` pauses the graph with `interrupt()` until an answer arrives; `grade` records the graded turn and
decides what comes next. State holds only JSON-ready data, so any process can resume any session.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from interviewer.corpus import Corpus
from interviewer.grading import Brain, TurnContext
from interviewer.grading.models import Grade, PointVerdict, merge_verdicts
from interviewer.index import CurriculumIndex
from interviewer.store import now

Reply = dict[str, str]  # {"action": "answer" | "skip" | "end", "text": ...}


class InterviewState(TypedDict, total=False):
    session_id: str
    brain: str
    plan: list[str]
    position: int
    max_followups: int
    followups: int
    probed: list[str]
    pending: dict[str, Any] | None
    reply: Reply | None
    turns: Annotated[list[dict[str, Any]], operator.add]
    status: Literal["active", "finished"]
    finished_at: str | None


def question_for(state: InterviewState, corpus: Corpus, position: int) -> dict[str, Any] | None:
    if position >= len(state["plan"]):
        return None
    prompt = corpus.prompt(state["plan"][position]).prompt
    return {
        "kind": "question",
        "prompt_id": prompt.id,
        "text": prompt.text,
        "number": position + 1,
        "of": len(state["plan"]),
        "point_id": None,
    }


def prompt_turns(state: InterviewState, prompt_id: str) -> list[dict[str, Any]]:
    return [t for t in state.get("turns", []) if t["prompt_id"] == prompt_id]


def merged_points(turns: list[dict[str, Any]]) -> list[PointVerdict]:
    grades = [Grade.model_validate(t["grade"]) for t in turns if t.get("grade")]
    return merge_verdicts(grades)


def build_graph(
    corpus: Corpus,
    index: CurriculumIndex,
    brains: Callable[[str], Brain],
    checkpointer: Any,
) -> Any:
    """Compile the interview graph with its brains and retrieval bound in."""

    def ask(state: InterviewState) -> dict[str, Any]:
        pending = question_for(state, corpus, state.get("position", 0))
        return {"pending": pending, "followups": 0, "probed": [], "status": "active"}

    def wait(state: InterviewState) -> dict[str, Any]:
        reply: Reply = interrupt(state["pending"])
        return {"reply": reply}

    def grade(state: InterviewState) -> dict[str, Any]:
        pending = state["pending"] or {}
        reply = state.get("reply") or {"action": "end"}
        action = reply.get("action", "answer")
        if action == "end":
            return {"pending": None, "reply": None}
        prompt = corpus.prompt(pending["prompt_id"]).prompt
        turn: dict[str, Any] = {
            "at": now(),
            "kind": pending["kind"],
            "prompt_id": prompt.id,
            "question": pending["text"],
            "point_id": pending.get("point_id"),
            "answer": None,
            "grade": None,
            "related": [],
        }
        if action == "skip":
            return {**_advance(state), "turns": [turn]}
        # Over the caller's model call limit, the offline brain grades and asks, and the grade says why.
        refused = reply.get("model_refused")
        brain = brains("rubric" if refused else state["brain"])
        earlier = prompt_turns(state, prompt.id)
        context = TurnContext(
            related=index.around(prompt, reply["text"]),
            history=[(t["question"], t["answer"] or "") for t in earlier],
        )
        result = brain.grade(prompt, reply["text"], context)
        if refused and state["brain"] != "rubric":
            result = result.model_copy(update={"fallback": refused})
        turn.update(
            answer=reply.get("raw", reply["text"]),
            grade=result.model_dump(),
            related=[r.__dict__ for r in context.related],
        )
        points = merged_points([*earlier, turn])
        follow = None
        if state.get("followups", 0) < state.get("max_followups", 2):
            conversation = TurnContext(
                related=context.related, history=[*context.history, (pending["text"], reply["text"])]
            )
            follow = brain.follow_up(prompt, points, state.get("probed", []), conversation)
        if follow is not None and follow.usage is not None:
            turn["followup_usage"] = follow.usage.model_dump()
        if follow is not None and follow.fallback:
            turn["followup_fallback"] = follow.fallback
        if follow is None:
            return {**_advance(state), "turns": [turn]}
        number = pending.get("number")
        pending_next = {
            "kind": "followup",
            "prompt_id": prompt.id,
            "text": follow.text,
            "number": number,
            "of": pending.get("of"),
            "point_id": follow.point_id,
        }
        return {
            "turns": [turn],
            "pending": pending_next,
            "followups": state.get("followups", 0) + 1,
            "probed": [*state.get("probed", []), follow.point_id],
            "reply": None,
        }

    def _advance(state: InterviewState) -> dict[str, Any]:
        position = state.get("position", 0) + 1
        return {
            "position": position,
            "pending": question_for(state, corpus, position),
            "followups": 0,
            "probed": [],
            "reply": None,
        }

    def finish(state: InterviewState) -> dict[str, Any]:
        return {"status": "finished", "pending": None, "finished_at": now()}

    def route(state: InterviewState) -> str:
        return "wait" if state.get("pending") else "finish"

    graph = StateGraph(InterviewState)
    graph.add_node("ask", ask)
    graph.add_node("wait", wait)
    graph.add_node("grade", grade)
    graph.add_node("finish", finish)
    graph.add_edge(START, "ask")
    graph.add_conditional_edges("ask", route, ["wait", "finish"])
    graph.add_edge("wait", "grade")
    graph.add_conditional_edges("grade", route, ["wait", "finish"])
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)
