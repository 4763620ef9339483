"""What a candidate may see while the interviewer may still probe a prompt.

Until a prompt is done, its grade names only the key points already made and counts the rest: naming them
would answer the follow-up. The reference answer and the study list wait too. Every front end and the
transcript apply this one rule.
"""

from __future__ import annotations

from typing import Any

from interviewer.grading.models import PointVerdict, RedFlagHit
from interviewer.grading.rubric import feedback


def probing(state: dict[str, Any]) -> str | None:
    """The prompt the interviewer is still probing (a follow-up on it is waiting), if any."""
    pending = state.get("pending")
    if state.get("status") == "finished" or not pending or pending.get("kind") != "followup":
        return None
    return str(pending["prompt_id"])


def shown_grade(grade: dict[str, Any], still_probing: bool) -> dict[str, Any]:
    """A grade as the candidate may see it. While the interviewer may still probe the prompt, the key points
    not made yet are not named (that would answer the follow-up); they are counted in `withheld`."""
    if not still_probing:
        return {**grade, "withheld": 0}
    made = [PointVerdict.model_validate(p) for p in grade["points"] if p["verdict"] == "covered"]
    red_flags = [RedFlagHit.model_validate(r) for r in grade.get("red_flags", [])]
    return {
        **grade,
        "points": [p.model_dump() for p in made],
        "withheld": len(grade["points"]) - len(made),
        "feedback": feedback(made, red_flags, grade.get("flags", [])),
    }


def last_shown_grade(state: dict[str, Any]) -> dict[str, Any] | None:
    """The session's latest grade as the candidate may see it now (see `shown_grade`)."""
    graded = [t for t in state.get("turns", []) if t.get("grade")]
    if not graded:
        return None
    return shown_grade(graded[-1]["grade"], probing(state) == graded[-1]["prompt_id"])


def withheld_note(grade: dict[str, Any]) -> str:
    """How a shown grade says that some key points are not named yet."""
    more = " more" if grade["points"] else ""
    return f"{grade['withheld']}{more} key point(s) not made yet: named when this question is done"


def withheld_line(withheld: int) -> str:
    points = "1 key point" if withheld == 1 else f"{withheld} key points"
    return (
        f"*{points} not made yet: the interviewer may ask about them. They are named, with the reference answer, "
        "when this question is done.*"
    )
