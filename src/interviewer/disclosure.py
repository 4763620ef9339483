"""What a candidate may see while the interviewer may still probe a prompt.

Until a prompt is done, its grade names only the key points already made and counts the rest: naming them
would answer the follow-up. The reference answer and the study list wait too. Every front end and the
transcript apply this one rule.
"""

from __future__ import annotations

from typing import Any, TypeVar

from interviewer.grading.models import Grade
from interviewer.grading.rubric import feedback
from interviewer.records import PromptResult, ShownGrade, waiting

Shown = TypeVar("Shown", ShownGrade, PromptResult)


def probing(state: dict[str, Any]) -> str | None:
    """The prompt the interviewer is still probing (a follow-up on it is waiting), if any."""
    question = waiting(state)
    return question.prompt_id if question is not None and question.kind == "followup" else None


def shown_grade(grade: Grade, still_probing: bool) -> ShownGrade:
    """An answer's grade as the candidate may see it (see `withhold`)."""
    return withhold(ShownGrade.model_validate(grade.model_dump()), still_probing)


def withhold(graded: Shown, still_probing: bool) -> Shown:
    """A grade or a prompt's result as the candidate may see it. While the interviewer may still probe the
    prompt, the key points not made yet are not named (that would answer the follow-up); they are counted in
    `withheld`."""
    if not still_probing:
        return graded
    made = [p for p in graded.points if p.verdict == "covered"]
    return graded.model_copy(
        update={
            "points": made,
            "withheld": len(graded.points) - len(made),
            "feedback": feedback(made, graded.red_flags, graded.flags),
        }
    )


def last_shown_grade(state: dict[str, Any]) -> ShownGrade | None:
    """The session's latest grade as the candidate may see it now."""
    graded = [t for t in state.get("turns", []) if t.get("grade")]
    if not graded:
        return None
    return shown_grade(Grade.model_validate(graded[-1]["grade"]), probing(state) == graded[-1]["prompt_id"])


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
