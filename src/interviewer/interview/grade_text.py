"""A grade as people read it: the one renderer behind the terminal, the web app's grade panel and the transcript.

Two styles: "markdown" (the web panel and the transcript) and "text" (the terminal, short unless verbose: the
points made in a line each and a count of the rest). In Markdown, everything a candidate or a model wrote
(evidence, a fallback's reason) is escaped, so it shows literally. Once a question is done, its grade opens with
what changed since the previous attempt (`change_lines`); the transcript lists every attempt (`attempt_lines`).
"""

from __future__ import annotations

from typing import Literal, Protocol

from interviewer.curriculum.tokens import READ_SENTENCES
from interviewer.grading.models import Grade, PointVerdict, RedFlagHit
from interviewer.interview.attempts import Attempts, Change, PointChange
from interviewer.interview.disclosure import withheld_note
from interviewer.interview.records import ShownGrade

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
VERDICT_WORDS = {"covered": "covered", "partial": "partly covered", "missed": "missed"}
SHORT = 70  # characters of a point's text, or of the candidate's words, in the terminal's short grade
# How each piece reads in each style; `{evidence}` and `{reason}` are escaped in Markdown.
FORMATS: dict[Style, dict[str, str]] = {
    "markdown": {
        "heading": "### Last answer: {score}/4\nCoverage {coverage:.0%} · brain {brain}",
        "followup": "### Last answer, to the follow-up{verdict}",
        "so_far": "**This question so far: {score}/4** over {answers} answers · coverage {coverage:.0%} · "
        "brain {brain}",
        "fallback": "*Graded by the rubric brain: {reason}*",
        "unread": "*Only the answer's first {read} sentences were read: the last {unread} were not.*",
        "point": "- {mark} {text} *({verdict})*",
        "probed": "- {mark} {text} *({verdict})*",
        "evidence": " — you said: “{evidence}”",
        "misconception": "- ⚠ Misconception: {claim} You said: “{evidence}”. {correction}",
        "withheld": "- {note}",
        "flags": "Flags: {flags}",
    },
    "text": {
        "heading": "Score: {score}/4 (coverage {coverage:.0%}, brain {brain})",
        "so_far": "This question so far: {score}/4 over {answers} answers (coverage {coverage:.0%}, brain {brain})",
        "fallback": "  (Graded by the rubric brain: {reason})",
        "unread": "  (Only the answer's first {read} sentences were read: the last {unread} were not.)",
        "point": "  {mark} [{verdict}] {text}",
        "probed": "On the point the follow-up asked about: {verdict} - {text}",
        "evidence": '\n      evidence: "{evidence}"',
        "misconception": '  ! Misconception: {claim} You said: "{evidence}". {correction}',
        "withheld": "  {note}",
        "flags": "Flags: {flags}",
    },
}


def render_grade(grade: ShownGrade | None, style: Style, verbose: bool = True) -> str:
    """What the candidate sees after an answer: its score (after a follow-up answer, its verdict on the point
    asked about, then the question's result so far), once the question is done what changed since the previous
    attempt, why the rubric brain graded it (if it stood in), the key
    points with their verdicts, misconceptions, the key points not named yet, and flags. The terminal's short
    form (`verbose=False`, text only) names the points made in a line each and counts the rest."""
    if grade is None:
        return "*Grades appear here after each answer.*" if style == "markdown" else ""
    form = FORMATS[style]
    gap = [""] if style == "markdown" else []  # Markdown needs a blank line between a paragraph and a list
    lines = _heading(grade, style, verbose)
    lines += change_lines(grade.change, style)
    if grade.fallback:
        lines += [fallback_line(grade.fallback, style), *gap]
    if grade.unread:
        lines += [form["unread"].format(read=READ_SENTENCES, unread=grade.unread), *gap]
    lines += verdict_lines(grade, style) if verbose or style == "markdown" else short_lines(grade)
    if grade.withheld:
        lines.append(form["withheld"].format(note=withheld_note(grade.withheld, len(grade.points))))
    if grade.flags:
        lines += [*gap, form["flags"].format(flags=", ".join(f.replace("_", " ") for f in grade.flags))]
    return "\n".join(lines)


def _heading(grade: ShownGrade, style: Style, verbose: bool) -> list[str]:
    """The score; after a follow-up answer, its verdict on the point asked about, then the question's result."""
    form, gap = FORMATS[style], [""] if style == "markdown" else []
    values = {"score": grade.score, "coverage": grade.coverage, "brain": grade.brain, "answers": grade.answers}
    if grade.kind == "question":
        return [form["heading"].format(**values), *gap]
    lines = []
    if style == "markdown":
        verdict = f": the point it asked about is {VERDICT_WORDS[grade.probed.verdict]}" if grade.probed else ""
        lines += [form["followup"].format(verdict=verdict), ""]
    if grade.probed is not None:
        lines += [probed_line(grade.probed, style, verbose or style == "markdown"), *gap]
    return [*lines, form["so_far"].format(**values), *gap]


def probed_line(point: PointVerdict, style: Style, verbose: bool = True) -> str:
    """A follow-up answer's verdict on the point it asked about, with the candidate's own words for it."""
    form = FORMATS[style]
    text = point.text if verbose else shorten(point.text)
    line = form["probed"].format(mark=MARKS[style][point.verdict], text=text, verdict=VERDICT_WORDS[point.verdict])
    if point.evidence:
        evidence = _literal(point.evidence if verbose else shorten(point.evidence), style)
        line += form["evidence"].format(evidence=evidence)
    return line


def short_lines(grade: ShownGrade) -> list[str]:
    """The terminal's short grade: each point made in a line, each misconception, and how many points are
    still missing (named with --verbose)."""
    lines = [f"  + {shorten(p.text)}" for p in grade.points if p.verdict == "covered"]
    lines += [f"  ! Misconception: {shorten(r.claim)}" for r in grade.red_flags]
    partial = sum(1 for p in grade.points if p.verdict == "partial")
    missed = sum(1 for p in grade.points if p.verdict == "missed")
    if partial or missed:
        lines.append(
            f"  {missing_count(partial, missed)} - --verbose to see {'it' if partial + missed == 1 else 'them'}"
        )
    return lines


def missing_count(partial: int, missed: int) -> str:
    """How many key points are only partly made and how many still missing, e.g. "2 points still missing"."""
    if not partial:
        return f"{missed} point{'s' if missed > 1 else ''} still missing"
    made = f"{partial} point{'s' if partial > 1 else ''} only partly made"
    return f"{made} and {missed} still missing" if missed else made


def shorten(text: str, width: int = SHORT) -> str:
    """One line of at most `width` characters, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    return flat[: width - 3].rsplit(" ", 1)[0].rstrip(",;:.") + "..."


def advice_lines(grade: Grade) -> list[str]:
    """The grader's advice: flags explained and what to study (the key points still missing over every answer
    to the question). Not what was strong, nor the misconceptions: `render_grade` already names each point made
    and each misconception with the candidate's own words."""
    return [line for line in grade.feedback.splitlines() if not line.startswith(("Misconception:", "Strong:"))]


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


# -- attempts: what changed since the previous one, and every attempt at a prompt --------------------------------

HEADINGS: dict[Style, str] = {
    "markdown": "**Since your previous attempt** ({at}): **{before}/4 → {after}/4**",
    "text": "Since your previous attempt ({at}): {before}/4 -> {after}/4",
}
LISTS: dict[Style, dict[str, str]] = {
    "markdown": {"gained": "- Newly made: {mark} {text} *(was {was})*", "lost": "- Lost: {mark} {text} *(was {was})*"},
    "text": {"gained": "  newly made: {mark} {text} (was {was})", "lost": "  lost: {mark} {text} (was {was})"},
}


def change_lines(change: Change | None, style: Style) -> list[str]:
    """The score before and after, then each point made better (newly made) or worse (lost) than last time."""
    if change is None:
        return []
    lines = [HEADINGS[style].format(at=change.previous_at[:10], before=change.before, after=change.after)]
    if style == "markdown":
        lines.append("")
    for kind, moved in (("gained", change.gained), ("lost", change.lost)):
        lines += [_moved(LISTS[style][kind], point, style) for point in moved]
    if not change.gained and not change.lost:
        lines.append("- The same key points as last time." if style == "markdown" else "  the same key points.")
    return [*lines, ""] if style == "markdown" else lines


def _moved(form: str, point: PointChange, style: Style) -> str:
    mark = MARKS[style][point.after]
    after = "" if point.after == "covered" else f" ({VERDICT_WORDS[point.after]})"
    return form.format(mark=mark, text=point.text + after, was=VERDICT_WORDS[point.before])


def attempt_lines(attempts: Attempts | None, session_id: str) -> list[str]:
    """A prompt's attempts in Markdown, oldest first: when, the score, the points made, and which is this
    session's, the latest and the best."""
    if attempts is None or len(attempts.attempts) < 2:
        return []
    lines = [f"**Your attempts at this question ({len(attempts.attempts)}):**", ""]
    for n, attempt in enumerate(attempts.attempts, 1):
        marks = [
            label
            for label, hit in (
                ("this one", attempt.session_id == session_id),
                ("latest", attempt is attempts.latest),
                ("best", attempt is attempts.best),
            )
            if hit
        ]
        tags = f" · {', '.join(marks)}" if marks else ""
        lines.append(
            f"{n}. {attempt.at[:16].replace('T', ' ')} UTC · **{attempt.score}/4** · "
            f"{attempt.covered} of {attempt.points} key points made · session `{attempt.session_id}`{tags}"
        )
    return [*lines, ""]
