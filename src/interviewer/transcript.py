"""The graded transcript of a session as JSON-ready data: every question, answer, follow-up and grade, with
the per-objective summary, and the interview as chat messages."""

from __future__ import annotations

from typing import Any

from interviewer.corpus import Corpus
from interviewer.disclosure import probing, shown_grade
from interviewer.grading.models import Usage
from interviewer.graph import prompt_turns
from interviewer.results import objective_summary, prompt_result, session_score, unanswered_points
from interviewer.store import SessionRow


def transcript(corpus: Corpus, row: SessionRow, state: dict[str, Any]) -> dict[str, Any]:
    """Every question, answer, follow-up and grade, with the per-objective summary."""
    blocks: list[dict[str, Any]] = []
    open_prompt = probing(state)
    for pid in dict.fromkeys(t["prompt_id"] for t in state.get("turns", [])):
        prompt = corpus.prompt(pid).prompt
        result = prompt_result(state, pid)
        turns = prompt_turns(state, pid)
        if result is None:
            study = [r.point for r in prompt.rubric]
        else:
            study = [p["text"] for p in result["points"] if p["verdict"] != "covered"]
        hidden = pid == open_prompt  # still being probed: nothing that would answer the follow-up
        if hidden:
            turns = [{**t, "grade": shown_grade(t["grade"], True) if t.get("grade") else None} for t in turns]
            result = shown_grade(result, True) if result else None
            study = []
        blocks.append(
            {
                "prompt_id": pid,
                "question": prompt.text,
                "turns": turns,
                "result": result,
                "in_progress": hidden,
                "skipped": result is None,
                "unanswered_points": unanswered_points(corpus, pid) if result is None else [],
                "reference_answer": None if hidden else prompt.reference_answer,
                "study": study,
            }
        )
    pending = state.get("pending") if state.get("status") != "finished" else None
    return {
        "session": row.as_dict(),
        "corpus_version": corpus.version,
        "status": state.get("status", row.status),
        "plan": state.get("plan", []),
        "pending": pending,
        "prompts": blocks,
        "score": session_score(state),
        "usage": _usage_total(state),
        "objectives": objective_summary(corpus, blocks),
    }


def _usage_total(state: dict[str, Any]) -> dict[str, Any]:
    total = Usage()
    for turn in state.get("turns", []):
        total = total.add(Usage.model_validate(turn_usage(turn)))
    return total.model_dump()


def turn_usage(turn: dict[str, Any]) -> dict[str, Any]:
    """Model use behind one answer: grading it, and writing the follow-up it led to."""
    total = Usage()
    if turn.get("grade") and turn["grade"].get("usage"):
        total = total.add(Usage.model_validate(turn["grade"]["usage"]))
    if turn.get("followup_usage"):
        total = total.add(Usage.model_validate(turn["followup_usage"]))
    return total.model_dump()


def conversation(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The interview as chat messages, oldest first, ending with the question that waits for an answer."""
    messages: list[dict[str, Any]] = []
    for turn in state.get("turns", []):
        messages.append({"role": "assistant", "kind": turn["kind"], "text": turn["question"], "grade": None})
        if turn["answer"] is None:
            messages.append({"role": "user", "kind": "skip", "text": "(skipped)", "grade": None})
        else:
            messages.append({"role": "user", "kind": "answer", "text": turn["answer"], "grade": turn["grade"]})
    pending = state.get("pending")
    if pending and state.get("status") != "finished":
        messages.append({"role": "assistant", "kind": pending["kind"], "text": pending["text"], "grade": None})
    return messages
