"""The graded transcript of a session: as a dict (JSON) and as Markdown."""

from __future__ import annotations

import json
from typing import Any

from interviewer.corpus import Corpus
from interviewer.grading.models import Grade, PointVerdict, RedFlagHit, Usage, score_from
from interviewer.grading.rubric import feedback
from interviewer.graph import merged_points
from interviewer.store import SessionRow


def prompt_turns(state: dict[str, Any], prompt_id: str) -> list[dict[str, Any]]:
    return [t for t in state.get("turns", []) if t["prompt_id"] == prompt_id]


def prompt_result(state: dict[str, Any], prompt_id: str) -> dict[str, Any] | None:
    """The prompt's grade over its answer and follow-ups: best verdict per point."""
    turns = [t for t in prompt_turns(state, prompt_id) if t.get("grade")]
    if not turns:
        return None
    grades = [Grade.model_validate(t["grade"]) for t in turns]
    points = merged_points(turns)
    red_flags = [r for g in grades for r in g.red_flags]
    unique_flags = list({r.claim: r for r in red_flags}.values())
    shared = set.intersection(*(set(g.flags) for g in grades)) - {"instruction_to_grader"}
    score, coverage = score_from(points, unique_flags, sorted(shared))
    return {
        "score": score,
        "coverage": coverage,
        "points": [p.model_dump() for p in points],
        "red_flags": [r.model_dump() for r in unique_flags],
        "feedback": feedback(points, unique_flags, sorted(shared)),
    }


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


def session_score(state: dict[str, Any]) -> float | None:
    """Mean prompt score over the prompts asked so far (a skipped prompt scores 0)."""
    asked = list(dict.fromkeys(t["prompt_id"] for t in state.get("turns", [])))
    if not asked:
        return None
    scores = [(prompt_result(state, pid) or {"score": 0})["score"] for pid in asked]
    return round(float(sum(scores)) / len(scores), 2)


def unanswered_points(corpus: Corpus, prompt_id: str) -> list[dict[str, Any]]:
    """Every rubric point of a skipped prompt, as missed."""
    return [
        {
            "point_id": r.id,
            "text": r.point,
            "objective": r.objective,
            "weight": r.weight,
            "verdict": "missed",
            "evidence": None,
        }
        for r in corpus.prompt(prompt_id).prompt.rubric
    ]


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


def objective_scores(points: list[dict[str, Any]]) -> dict[str, float]:
    """0-4 score per objective from a prompt's point verdicts, weighted like the prompt score."""
    totals: dict[str, list[float]] = {}
    for point in points:
        credit = {"covered": 1.0, "partial": 0.5}.get(point.get("verdict", "missed"), 0.0)
        pair = totals.setdefault(point["objective"], [0.0, 0.0])
        pair[0] += point["weight"] * credit
        pair[1] += point["weight"]
    return {o: round(4 * c / w, 2) for o, (c, w) in totals.items() if w}


def progress_rows(corpus: Corpus, history: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """0-4 score per learning objective in each session, oldest first, from (finished_at, session, points JSON)."""
    sessions: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for finished_at, session_id, points_json in history:
        _, points = sessions.setdefault(session_id, (finished_at, []))
        points.extend(json.loads(points_json))
    rows: list[dict[str, Any]] = []
    for session_id, (at, points) in sessions.items():
        for objective_id, score in objective_scores(points).items():
            if objective_id in corpus.objectives:
                objective = corpus.objectives[objective_id][0]
                rows.append({"at": at, "session": session_id, "objective": objective.text, "score": score})
    return rows


def _objective_summary(corpus: Corpus, prompts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for block in prompts:
        for point in block["result"]["points"] if block["result"] else block["unanswered_points"]:
            objective, topic = corpus.objectives[point["objective"]]
            row = rows.setdefault(
                objective.id,
                {
                    "objective": objective.id,
                    "text": objective.text,
                    "topic": topic.id,
                    "covered": 0,
                    "partial": 0,
                    "missed": 0,
                    "credit": 0.0,
                    "weight": 0,
                },
            )
            verdict = point.get("verdict", "missed")
            row[verdict] += 1
            row["weight"] += point["weight"]
            row["credit"] += point["weight"] * {"covered": 1.0, "partial": 0.5}.get(verdict, 0.0)
    for row in rows.values():
        row["score"] = round(4 * row["credit"] / row["weight"], 2) if row["weight"] else 0.0
        del row["credit"], row["weight"]
    return sorted(rows.values(), key=lambda r: (r["score"], r["objective"]))


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
        "objectives": _objective_summary(corpus, blocks),
    }


def _usage_total(state: dict[str, Any]) -> dict[str, Any]:
    total = Usage()
    for turn in state.get("turns", []):
        total = total.add(Usage.model_validate(_turn_usage(turn)))
    return total.model_dump()


def _turn_usage(turn: dict[str, Any]) -> dict[str, Any]:
    """Model use behind one answer: grading it, and writing the follow-up it led to."""
    total = Usage()
    if turn.get("grade") and turn["grade"].get("usage"):
        total = total.add(Usage.model_validate(turn["grade"]["usage"]))
    if turn.get("followup_usage"):
        total = total.add(Usage.model_validate(turn["followup_usage"]))
    return total.model_dump()


def _usage_line(label: str, usage: dict[str, Any]) -> str:
    return (
        f"*{label}: {usage['calls']} calls, {usage['input_tokens']} input and {usage['output_tokens']} output tokens, "
        f"{usage['latency_ms'] / 1000:.1f} s, estimated cost ${usage['cost_usd']:.4f}.*"
    )


def _withheld_line(withheld: int) -> str:
    points = "1 key point" if withheld == 1 else f"{withheld} key points"
    return (
        f"*{points} not made yet: the interviewer may ask about them. They are named, with the reference answer, "
        "when this question is done.*"
    )


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.splitlines() or [""])


def escape_markdown(text: str) -> str:
    """Inline text from a user, shown literally in Markdown (no HTML, no formatting)."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "\\`*_[]#|":
        out = out.replace(ch, "\\" + ch)
    return out


def to_markdown(data: dict[str, Any]) -> str:
    s = data["session"]
    score = "-" if data["score"] is None else f"{data['score']:.2f} / 4"
    lines = [
        f"# Mock interview: {s['label']}",
        "",
        f"Session `{s['id']}` · started {s['created_at']} · status {data['status']} · brain {s['brain']} · "
        f"overall score {score}",
        "",
    ]
    for n, block in enumerate(data["prompts"], 1):
        lines += [f"## {n}. {block['question']}", ""]
        for turn in block["turns"]:
            label = "Question" if turn["kind"] == "question" else "Follow-up"
            lines += [f"**{label}:** {escape_markdown(turn['question'])}", ""]
            if turn["answer"] is None:
                lines += ["*Skipped.*", ""]
                continue
            lines += [_quote(escape_markdown(turn["answer"])), ""]
            grade = turn["grade"]
            lines += [f"Grade for this answer: **{grade['score']}/4** (coverage {grade['coverage']:.0%})", ""]
            used = _turn_usage(turn)
            if used["calls"]:
                lines += [_usage_line("Model use for this answer (grading and follow-up)", used), ""]
            if grade.get("fallback"):
                lines += [f"*Graded by the rubric brain: {escape_markdown(grade['fallback'])}*", ""]
            if turn.get("followup_fallback"):
                lines += [f"*{escape_markdown(turn['followup_fallback'])}*", ""]
        result = block["result"]
        if result is None:
            lines += ["**Result:** skipped (0/4).", ""]
        else:
            lines += [f"**{'So far' if block['in_progress'] else 'Result'}: {result['score']}/4**", ""]
            for p in result["points"]:
                mark = {"covered": "✓", "partial": "~", "missed": "✗"}[p["verdict"]]
                line = f"- {mark} {p['text']} *({p['verdict']})*"
                if p.get("evidence"):
                    line += f" — you said: “{escape_markdown(p['evidence'])}”"
                lines.append(line)
            for r in result["red_flags"]:
                lines.append(
                    f"- ⚠ Misconception: {r['claim']} You said: “{escape_markdown(r['evidence'])}”. {r['correction']}"
                )
            lines.append("")
        if block["study"]:
            lines += ["**To study:**", *[f"- {t}" for t in block["study"]], ""]
        if block["in_progress"]:
            lines += [_withheld_line(block["result"]["withheld"]), ""]
        else:
            lines += ["**Reference answer:**", "", block["reference_answer"], ""]
    if data["pending"]:
        lines += [f"*Waiting for an answer to:* {escape_markdown(data['pending']['text'])}", ""]
    if data.get("usage") and data["usage"]["calls"]:
        lines += [_usage_line("Model use in this session", data["usage"]), ""]
    lines += [
        "## Learning objectives",
        "",
        "| objective | score | covered | partial | missed |",
        "|---|---|---|---|---|",
    ]
    for o in data["objectives"]:
        lines.append(f"| {o['text']} | {o['score']:.1f} / 4 | {o['covered']} | {o['partial']} | {o['missed']} |")
    lines.append("")
    return "\n".join(lines)


__all__ = [
    "RedFlagHit",
    "escape_markdown",
    "last_shown_grade",
    "probing",
    "prompt_result",
    "session_score",
    "shown_grade",
    "to_markdown",
    "transcript",
    "withheld_note",
]
