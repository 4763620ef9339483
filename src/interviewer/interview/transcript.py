"""The graded transcript of a session: every question, answer, follow-up and grade, with the per-objective
summary, and the interview as chat messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from interviewer.curriculum.corpus import Corpus
from interviewer.grading.models import Grade, Usage
from interviewer.interview.attempts import attempts_of, change_in
from interviewer.interview.disclosure import after_answer, answered_probes, probing, shown_grade, withhold
from interviewer.interview.records import Message, PromptBlock, ShownTurn, Standing, Transcript, Turn, turns_of, waiting
from interviewer.interview.results import (
    asked_prompts,
    objective_summary,
    overall,
    prompt_result,
    session_score,
    unanswered_points,
)
from interviewer.speech.delivery import combine
from interviewer.storage.session_index import FinishedPrompt, SessionRow


def transcript(
    corpus: Corpus, row: SessionRow, state: dict[str, Any], finished: Sequence[FinishedPrompt] = ()
) -> Transcript:
    """Every question, answer, follow-up and grade, with the per-objective summary; with the owner's `finished`
    prompts, each prompt's attempts and what this session's attempt changed since the one before it."""
    open_prompt = probing(state)
    blocks = [_block(corpus, turns_of(state, pid), pid == open_prompt) for pid in asked_prompts(state)]
    finished = list(finished)
    for block in blocks:
        block.attempts = attempts_of(finished, block.prompt_id)
        block.change = None if block.in_progress else change_in(finished, row.id, block.prompt_id)
    turns = turns_of(state)
    usage = Usage()
    for turn in turns:
        usage = usage.add(turn.usage())
    return Transcript(
        session=row,
        corpus_version=corpus.version,
        status=state.get("status", row.status),
        plan=state.get("plan", []),
        pending=waiting(state),
        prompts=blocks,
        score=session_score(state),
        overall=overall(state),
        usage=usage,
        objectives=objective_summary(corpus, blocks),
        delivery=combine(t.spoken for t in turns if t.spoken) if any(t.spoken for t in turns) else None,
    )


def _block(corpus: Corpus, turns: list[Turn], hidden: bool) -> PromptBlock:
    """One prompt. While it is still probed (`hidden`), nothing that would answer the follow-up is shown."""
    prompt = corpus.prompt(turns[0].prompt_id).prompt
    result = prompt_result(turns)
    if result is None:
        study = [r.point for r in prompt.rubric]
    else:
        study = [p.text for p in result.points if p.verdict != "covered"]
    shown = shown_turns(turns)
    if hidden:
        probed = answered_probes(turns)
        shown = [t.model_copy(update={"grade": _withheld(t, probed)}) for t in shown]
        result = withhold(result, True, probed) if result else None
    return PromptBlock(
        prompt_id=prompt.id,
        question=prompt.text,
        turns=shown,
        result=result,
        in_progress=hidden,
        skipped=result is None,
        unanswered_points=unanswered_points(corpus, prompt.id) if result is None else [],
        reference_answer=None if hidden else prompt.reference_answer,
        study=[] if hidden else study,
    )


def shown_turns(turns: list[Turn]) -> list[ShownTurn]:
    """A prompt's turns, each answered follow-up with what the candidate saw after it (`after_answer`): its verdict
    on the probed point and the question's result so far."""
    shown: list[ShownTurn] = []
    for n, turn in enumerate(turns, 1):
        row = ShownTurn.model_validate(turn.model_dump())
        if turn.kind == "followup" and turn.grade is not None:
            seen = after_answer(turns[:n], False)
            row.probed = seen.probed
            row.so_far = Standing(score=seen.score, coverage=seen.coverage, answers=seen.answers)
        shown.append(row)
    return shown


def _withheld(turn: ShownTurn, probed: set[str]) -> Grade | None:
    return withhold(shown_grade(turn.grade, False), True, probed) if turn.grade else None


def conversation(state: dict[str, Any]) -> list[Message]:
    """The interview as chat messages, oldest first, ending with the question that waits for an answer."""
    messages: list[Message] = []
    for turn in turns_of(state):
        messages.append(Message(role="assistant", kind=turn.kind, text=turn.question))
        if turn.answer is None:
            messages.append(Message(role="user", kind="skip", text="(skipped)"))
        else:
            messages.append(Message(role="user", kind="answer", text=turn.answer, spoken=turn.spoken))
    question = waiting(state)
    if question is not None:
        messages.append(Message(role="assistant", kind=question.kind, text=question.text))
    return messages
