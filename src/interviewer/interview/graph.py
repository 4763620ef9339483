"""The interview as a LangGraph graph; one checkpoint per turn, written when the graph stops for an answer.

    START -> ask -> wait -> grade -> decide -> ask -> wait ... -> finish -> END

`ask` puts the next utterance (a prompt or a follow-up) in `pending`; `wait` pauses the graph with
`interrupt()` until an answer arrives; `grade` judges it; `decide` records the graded turn and chooses what
comes next: a follow-up, the next prompt, or the end. Each node is a module-level function over a small
`Deps` object. State holds only JSON-ready data, so any process can resume any session.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from interviewer.curriculum.corpus import Corpus
from interviewer.curriculum.index import CurriculumIndex, Related
from interviewer.grading import Brain, FollowUp, TurnContext
from interviewer.grading.models import merge_verdicts
from interviewer.interview.records import Question, Turn, turns_of
from interviewer.speech.delivery import Delivery
from interviewer.storage.session_index import now

Reply = dict[str, str]  # {"action": "answer" | "skip" | "end", "text", "raw", "model_refused", "spoken" (JSON)}


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
    graded: dict[str, Any] | None  # the turn `grade` judged, until `decide` records it
    decision: dict[str, Any] | None  # what `decide` chose, until `ask` acts on it
    turns: Annotated[list[dict[str, Any]], operator.add]
    status: Literal["active", "finished"]
    finished_at: str | None


@dataclass(frozen=True)
class Deps:
    """What the nodes need besides the state: the curriculum, retrieval and the brains by name."""

    corpus: Corpus
    index: CurriculumIndex
    brains: Callable[[str], Brain]

    def brain_for(self, state: InterviewState, reply: Reply) -> Brain:
        """The session's brain; the offline one when the caller is over their model call limit."""
        return self.brains("rubric" if reply.get("model_refused") else state["brain"])


def question_for(state: InterviewState, corpus: Corpus, position: int) -> dict[str, Any] | None:
    if position >= len(state["plan"]):
        return None
    prompt = corpus.prompt(state["plan"][position]).prompt
    return Question(
        kind="question", prompt_id=prompt.id, text=prompt.text, number=position + 1, of=len(state["plan"])
    ).model_dump()


# -- the nodes ----------------------------------------------------------------------------------------------


def ask(state: InterviewState, deps: Deps) -> dict[str, Any]:
    """Put the next utterance in `pending`: the chosen follow-up, or the prompt at the (next) position."""
    decision = state.get("decision") or {}
    if decision.get("next") == "followup":
        follow = decision["followup"]
        return {
            "pending": follow,
            "followups": state.get("followups", 0) + 1,
            "probed": [*state.get("probed", []), follow["point_id"]],
            "decision": None,
        }
    position = state.get("position", 0) + (1 if decision.get("next") == "advance" else 0)
    return {
        "position": position,
        "pending": question_for(state, deps.corpus, position),
        "followups": 0,
        "probed": [],
        "status": "active",
        "decision": None,
    }


def wait(state: InterviewState) -> dict[str, Any]:
    reply: Reply = interrupt(state["pending"])
    return {"reply": reply}


def grade(state: InterviewState, deps: Deps) -> dict[str, Any]:
    """Judge the answer to the pending utterance (a skip is a turn with no answer; an end is no turn)."""
    pending = state["pending"] or {}
    reply = state.get("reply") or {"action": "end"}
    if reply.get("action", "answer") == "end":
        return {"graded": None}
    prompt = deps.corpus.prompt(pending["prompt_id"]).prompt
    turn = Turn(
        at=now(), kind=pending["kind"], prompt_id=prompt.id, question=pending["text"], point_id=pending.get("point_id")
    )
    if reply["action"] == "skip":
        return {"graded": turn.model_dump()}
    context = TurnContext(related=deps.index.around(prompt, reply["text"]), history=_history(state, prompt.id))
    result = deps.brain_for(state, reply).grade(prompt, reply["text"], context)
    if reply.get("model_refused") and state["brain"] != "rubric":
        result = result.model_copy(update={"fallback": reply["model_refused"]})
    turn = turn.model_copy(
        update={
            "answer": reply.get("raw", reply["text"]),
            "spoken": Delivery.model_validate_json(reply["spoken"]) if reply.get("spoken") else None,
            "grade": result,
            "related": [r.__dict__ for r in context.related],
        }
    )
    return {"graded": turn.model_dump()}


def decide(state: InterviewState, deps: Deps) -> dict[str, Any]:
    """Record the graded turn and choose what comes next: a follow-up, the next prompt, or the end."""
    reply, turn = state.get("reply") or {"action": "end"}, state.get("graded")
    cleared: dict[str, Any] = {"reply": None, "graded": None}
    if turn is None:  # the candidate ended the session
        return {**cleared, "pending": None, "decision": {"next": "finish"}}
    follow = _follow_up(state, deps, reply, turn) if turn["grade"] else None
    if follow is not None and follow.usage is not None:
        turn = {**turn, "followup_usage": follow.usage.model_dump()}
    if follow is not None and follow.fallback:
        turn = {**turn, "followup_fallback": follow.fallback}
    if follow is None:
        return {**cleared, "turns": [turn], "decision": {"next": "advance"}}
    pending = state["pending"] or {}
    followup = Question(
        kind="followup",
        prompt_id=turn["prompt_id"],
        text=follow.text,
        number=pending.get("number"),
        of=pending.get("of"),
        point_id=follow.point_id,
    ).model_dump()
    return {**cleared, "turns": [turn], "decision": {"next": "followup", "followup": followup}}


def finish(state: InterviewState) -> dict[str, Any]:
    return {"status": "finished", "pending": None, "finished_at": now(), "decision": None}


def _history(state: InterviewState, prompt_id: str) -> list[tuple[str, str]]:
    return [(t.question, t.answer or "") for t in turns_of(state, prompt_id)]


def _follow_up(state: InterviewState, deps: Deps, reply: Reply, turn: dict[str, Any]) -> FollowUp | None:
    """The brain's follow-up on the prompt's open points, while the prompt has follow-ups left."""
    if state.get("followups", 0) >= state.get("max_followups", 2):
        return None
    prompt = deps.corpus.prompt(turn["prompt_id"]).prompt
    history = _history(state, prompt.id)
    grades = [t.grade for t in [*turns_of(state, prompt.id), Turn.model_validate(turn)] if t.grade]
    points = merge_verdicts(grades)
    context = TurnContext(
        related=[Related(**r) for r in turn["related"]], history=[*history, (turn["question"], reply["text"])]
    )
    return deps.brain_for(state, reply).follow_up(prompt, points, state.get("probed", []), context)


# -- the graph ----------------------------------------------------------------------------------------------


def _after_ask(state: InterviewState) -> str:
    return "wait" if state.get("pending") else "finish"


def _after_decide(state: InterviewState) -> str:
    return "finish" if (state.get("decision") or {}).get("next") == "finish" else "ask"


def build_graph(corpus: Corpus, index: CurriculumIndex, brains: Callable[[str], Brain], checkpointer: Any) -> Any:
    """Compile the interview graph with its brains and retrieval bound in."""
    deps = Deps(corpus, index, brains)
    graph = StateGraph(InterviewState)
    graph.add_node("ask", lambda state: ask(state, deps))
    graph.add_node("wait", wait)
    graph.add_node("grade", lambda state: grade(state, deps))
    graph.add_node("decide", lambda state: decide(state, deps))
    graph.add_node("finish", finish)
    graph.add_edge(START, "ask")
    graph.add_conditional_edges("ask", _after_ask, ["wait", "finish"])
    graph.add_edge("wait", "grade")
    graph.add_edge("grade", "decide")
    graph.add_conditional_edges("decide", _after_decide, ["ask", "finish"])
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)
