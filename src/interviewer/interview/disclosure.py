"""What a candidate sees after an answer, and what stays hidden while the interviewer may still probe a prompt.

After a question's first answer the candidate sees its grade; after a follow-up answer, that answer's verdict on
the point the follow-up asked about and the question's result over all its answers so far, never the follow-up
reply graded alone as if it answered the whole question.

The one rule of what stays hidden: until a prompt is done, its grades name only the key points already made and
those the interviewer has asked about and had answered (it never asks about a point twice); the rest are counted,
since naming them would answer a follow-up. The reference answer and the study list wait too. Every front end and
the transcript apply this one rule.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from interviewer.grading.models import Grade, PointVerdict
from interviewer.grading.rubric import feedback
from interviewer.interview.records import PromptResult, ShownGrade, Turn, turns_of, waiting
from interviewer.interview.results import prompt_result

Shown = TypeVar("Shown", ShownGrade, PromptResult)
RESULT_FIELDS = {"score", "coverage", "points", "red_flags", "flags", "feedback"}


def probing(state: dict[str, Any]) -> str | None:
    """The prompt the interviewer is still probing (a follow-up on it is waiting), if any."""
    question = waiting(state)
    return question.prompt_id if question is not None and question.kind == "followup" else None


def shown_grade(grade: Grade, still_probing: bool) -> ShownGrade:
    """One answer's grade alone as the candidate may see it (see `withhold`): a question's first answer, or an
    answer graded outside an interview."""
    return withhold(ShownGrade.model_validate(grade.model_dump()), still_probing)


def answered_probes(turns: list[Turn]) -> set[str]:
    """The points follow-ups have asked about and had answered: never asked about again, so they may be named."""
    return {t.point_id for t in turns if t.kind == "followup" and t.grade is not None and t.point_id}


def probed_verdict(turn: Turn) -> PointVerdict | None:
    """A follow-up answer's verdict on the point the follow-up asked about."""
    if turn.kind != "followup" or turn.grade is None:
        return None
    return next((p for p in turn.grade.points if p.point_id == turn.point_id), None)


def after_answer(turns: list[Turn], still_probing: bool) -> ShownGrade:
    """What the candidate sees after the last of a question's `turns` (graded): the question's first answer, its
    grade; a follow-up answer, its verdict on the probed point and the question's result over every answer."""
    last = turns[-1]
    assert last.grade is not None
    fields = last.grade.model_dump()
    if last.kind == "followup":
        result = prompt_result(turns)
        assert result is not None
        fields.update(result.model_dump(include=RESULT_FIELDS))
    answers = sum(1 for t in turns if t.grade is not None)
    shown = ShownGrade(**fields, kind=last.kind, answers=answers, probed=probed_verdict(last))
    return withhold(shown, still_probing, answered_probes(turns))


def withhold(graded: Shown, still_probing: bool, probed: Collection[str] = ()) -> Shown:
    """A grade or a prompt's result as the candidate may see it. While the interviewer may still probe the
    prompt, the key points neither made yet nor asked about and answered (`probed`) are not named (that would
    answer a follow-up); they are counted in `withheld`."""
    if not still_probing:
        return graded
    named = [p for p in graded.points if p.verdict == "covered" or p.point_id in probed]
    return graded.model_copy(
        update={
            "points": named,
            "withheld": len(graded.points) - len(named),
            "feedback": feedback(named, graded.red_flags, graded.flags),
        }
    )


def last_shown_grade(state: dict[str, Any]) -> ShownGrade | None:
    """What the candidate sees now after the session's latest graded answer."""
    graded = [t for t in turns_of(state) if t.grade is not None]
    if not graded:
        return None
    prompt_id = graded[-1].prompt_id
    turns = turns_of(state, prompt_id)
    upto = max(i for i, t in enumerate(turns) if t.grade is not None) + 1
    return after_answer(turns[:upto], probing(state) == prompt_id)


def withheld_note(withheld: int, named: int) -> str:
    """How a shown grade says that some key points are not named yet."""
    more = " more" if named else ""
    return f"{withheld}{more} key point(s) not made yet: named when this question is done"


def withheld_line(withheld: int) -> str:
    points = "1 key point" if withheld == 1 else f"{withheld} key points"
    return (
        f"*{points} not made yet: the interviewer may ask about them. They are named, with the reference answer, "
        "when this question is done.*"
    )
