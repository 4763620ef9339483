"""The graded transcript rendered as Markdown, with everything a person or a model wrote shown literally.

Each grade is drawn by `grades`, the renderer the terminal and the web app's grade panel use too.
"""

from __future__ import annotations

from interviewer.grading.models import Usage
from interviewer.interview.disclosure import withheld_line
from interviewer.interview.grade_text import (
    attempt_lines,
    change_lines,
    escape_markdown,
    fallback_line,
    probed_line,
    verdict_lines,
)
from interviewer.interview.records import ObjectiveRow, Overall, PromptBlock, ShownTurn, Transcript


def _usage_line(label: str, usage: Usage) -> str:
    return (
        f"*{label}: {usage.calls} calls, {usage.input_tokens} input and {usage.output_tokens} output tokens, "
        f"{usage.latency_ms / 1000:.1f} s, estimated cost ${usage.cost_usd:.4f}.*"
    )


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.splitlines() or [""])


def to_markdown(data: Transcript) -> str:
    """The whole session: its header, one block per prompt, model use and the learning objectives."""
    lines = _session_header(data)
    for n, block in enumerate(data.prompts, 1):
        lines += _prompt_block(n, block, data.session.id)
    if data.pending is not None:
        lines += [f"*Waiting for an answer to:* {escape_markdown(data.pending.text)}", ""]
    if data.usage.calls:
        lines += [_usage_line("Model use in this session", data.usage), ""]
    lines += _objectives_table(data.objectives)
    return "\n".join(lines)


def overall_line(overall: Overall) -> str:
    """The session's score over the questions asked, and how many an early end left unanswered, e.g. "Overall
    4.00/4 over 1 of 2 questions asked; 1 unanswered". A skipped question is asked and scores 0."""
    if overall.score is None:
        line = "No question answered" + ("" if overall.finished else " yet")
    else:
        so_far = "" if overall.finished else " so far"
        line = f"Overall{so_far} {overall.score:.2f}/4 over {overall.asked} of {overall.planned} questions asked"
    if overall.skipped:
        line += f" ({overall.skipped} skipped, scored 0)"
    return line + (f"; {overall.unanswered} unanswered" if overall.unanswered else "")


def _session_header(data: Transcript) -> list[str]:
    s = data.session
    lines = [
        f"# Mock interview: {s.label}",
        "",
        f"Session `{s.id}` · started {s.created_at} · status {data.status} · brain {s.brain}",
        "",
        f"**{overall_line(data.overall)}.**",
        "",
    ]
    if data.delivery is not None:
        answers = data.delivery.answers
        lines += [
            f"**Delivery over {answers} spoken answer{'' if answers == 1 else 's'}:** {data.delivery.line()}.",
            "",
        ]
    return lines


def _prompt_block(n: int, block: PromptBlock, session_id: str) -> list[str]:
    """One prompt: every question and answer on it, its result, what changed since the previous attempt and every
    attempt, what to study and the reference answer."""
    lines = [f"## {n}. {block.question}", ""]
    for turn in block.turns:
        lines += _turn(turn, block.question)
    result = block.result
    if result is None:
        lines += ["**Result:** skipped (0/4).", ""]
    else:
        label = "So far" if block.in_progress else "Result"
        lines += [f"**{label}: {result.score}/4**", "", *verdict_lines(result, "markdown"), ""]
    lines += change_lines(block.change, "markdown") + attempt_lines(block.attempts, session_id)
    if block.study:
        lines += ["**To study:**", *[f"- {t}" for t in block.study], ""]
    if block.in_progress:
        lines += [withheld_line(result.withheld if result else 0), ""]
    else:
        lines += ["**Reference answer:**", "", block.reference_answer or "", ""]
    return lines


def _turn(turn: ShownTurn, heading: str) -> list[str]:
    """One question or follow-up, the answer quoted, what it scored (a follow-up answer: its verdict on the point
    asked about and the question's result after it), and its model use. The question the block's heading already
    shows (`heading`) is not written again: its answer follows under "Your answer"."""
    if turn.kind == "question" and turn.question == heading:
        lines = ["**Your answer:**", ""]
    else:
        label = "Question" if turn.kind == "question" else "Follow-up"
        lines = [f"**{label}:** {escape_markdown(turn.question)}", ""]
    if turn.answer is None or turn.grade is None:
        return [*lines, "*Skipped.*", ""]
    grade = turn.grade
    lines += [_quote(escape_markdown(turn.answer)), ""]
    if turn.spoken is not None:
        lines += [f"*Spoken: {turn.spoken.line()}.*", ""]
    lines += _scored(turn, grade.score, grade.coverage)
    used = turn.usage()
    if used.calls:
        lines += [_usage_line("Model use for this answer (grading and follow-up)", used), ""]
    if grade.fallback:
        lines += [fallback_line(grade.fallback, "markdown"), ""]
    if turn.followup_fallback:
        lines += [f"*{escape_markdown(turn.followup_fallback)}*", ""]
    return lines


def _scored(turn: ShownTurn, score: int, coverage: float) -> list[str]:
    """An answer's grade; a follow-up answer's verdict on the point asked about and the question's result after it."""
    if turn.so_far is None:
        return [f"Grade for this answer: **{score}/4** (coverage {coverage:.0%})", ""]
    lines = []
    if turn.probed is not None:
        lines += ["On the point the follow-up asked about:", "", probed_line(turn.probed, "markdown"), ""]
    now = turn.so_far
    return [
        *lines,
        f"This question so far: **{now.score}/4** over {now.answers} answers (coverage {now.coverage:.0%})",
        "",
    ]


def _objectives_table(objectives: list[ObjectiveRow]) -> list[str]:
    lines = [
        "## Learning objectives",
        "",
        "| objective | score | covered | partial | missed |",
        "|---|---|---|---|---|",
    ]
    for o in objectives:
        lines.append(f"| {o.text} | {o.score:.1f} / 4 | {o.covered} | {o.partial} | {o.missed} |")
    return [*lines, ""]
