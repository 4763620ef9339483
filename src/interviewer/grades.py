"""A grade as people read it: the one renderer behind the terminal, the web app's grade panel and the transcript.

Two styles: "markdown" (the web panel and the transcript) and "text" (the terminal). In Markdown, everything
a candidate or a model wrote (evidence, a fallback's reason) is escaped, so it shows literally.
"""

from __future__ import annotations

from typing import Literal, Protocol

from interviewer.disclosure import withheld_note
from interviewer.grading.models import Grade, PointVerdict, RedFlagHit
from interviewer.records import ShownGrade

Style = Literal["markdown", "text"]


class Graded(Protocol):
    """An answer's grade or a prompt's result: verdicts on key points, and misconceptions."""

    @property
    def points(self) -> list[PointVerdict]: ...

    @property
    def red_flags(self) -> list[RedFlagHit]: ...


MARKS: dict[Style, dict[str, str]] = {
    "markdown": {"covered": "✓", "partial": "~", "missed": "✗"},
    "text": {"covered": "+", "partial": "~", "missed": "-"},  # plain ASCII for any terminal
}
# How each piece reads in each style; `{evidence}` and `{reason}` are escaped in Markdown.
FORMATS: dict[Style, dict[str, str]] = {
    "markdown": {
        "heading": "### Last answer: {score}/4\nCoverage {coverage:.0%} · brain {brain}",
        "fallback": "*Graded by the rubric brain: {reason}*",
        "point": "- {mark} {text} *({verdict})*",
        "evidence": " — you said: “{evidence}”",
        "misconception": "- ⚠ Misconception: {claim} You said: “{evidence}”. {correction}",
        "withheld": "- {note}",
        "flags": "Flags: {flags}",
    },
    "text": {
        "heading": "Score: {score}/4 (coverage {coverage:.0%}, brain {brain})",
        "fallback": "  (Graded by the rubric brain: {reason})",
        "point": "  {mark} [{verdict}] {text}",
        "evidence": '\n      evidence: "{evidence}"',
        "misconception": '  ! Misconception: {claim} You said: "{evidence}". {correction}',
        "withheld": "  {note}",
        "flags": "Flags: {flags}",
    },
}


def render_grade(grade: ShownGrade | None, style: Style) -> str:
    """One answer's grade in full: score, why the rubric brain graded it (if it stood in), every key point
    with its verdict, misconceptions, the key points not named yet, and flags."""
    if grade is None:
        return "*Grades appear here after each answer.*" if style == "markdown" else ""
    form = FORMATS[style]
    gap = [""] if style == "markdown" else []  # Markdown needs a blank line between a paragraph and a list
    lines = [form["heading"].format(score=grade.score, coverage=grade.coverage, brain=grade.brain), *gap]
    if grade.fallback:
        lines += [fallback_line(grade.fallback, style), *gap]
    lines += verdict_lines(grade, style)
    if grade.withheld:
        lines.append(form["withheld"].format(note=withheld_note(grade.withheld, len(grade.points))))
    if grade.flags:
        lines += [*gap, form["flags"].format(flags=", ".join(f.replace("_", " ") for f in grade.flags))]
    return "\n".join(lines)


def advice_lines(grade: Grade) -> list[str]:
    """The grader's advice (flags explained, what was strong, what to study), without the misconceptions,
    which `render_grade` already names with the candidate's own words."""
    return [line for line in grade.feedback.splitlines() if not line.startswith("Misconception:")]


def fallback_line(reason: str, style: Style) -> str:
    """Why the rubric brain graded an answer in the model's place."""
    return FORMATS[style]["fallback"].format(reason=_literal(reason, style))


def verdict_lines(graded: Graded, style: Style) -> list[str]:
    """Each key point with its verdict mark and the answer's own words for it, then each misconception."""
    form, marks = FORMATS[style], MARKS[style]
    lines = []
    for p in graded.points:
        line = form["point"].format(mark=marks[p.verdict], text=p.text, verdict=p.verdict)
        if p.evidence:
            line += form["evidence"].format(evidence=_literal(p.evidence, style))
        lines.append(line)
    for r in graded.red_flags:
        evidence = _literal(r.evidence, style)
        lines.append(form["misconception"].format(claim=r.claim, evidence=evidence, correction=r.correction))
    return lines


def escape_markdown(text: str) -> str:
    """Inline text from a user or a model, shown literally in Markdown (no HTML, no formatting)."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "\\`*_[]#|":
        out = out.replace(ch, "\\" + ch)
    return out


def _literal(text: str, style: Style) -> str:
    return escape_markdown(text) if style == "markdown" else text
