"""The graded transcript rendered as Markdown, with everything a person or a model wrote shown literally."""

from __future__ import annotations

from typing import Any

from interviewer.disclosure import withheld_line
from interviewer.transcript import turn_usage


def _usage_line(label: str, usage: dict[str, Any]) -> str:
    return (
        f"*{label}: {usage['calls']} calls, {usage['input_tokens']} input and {usage['output_tokens']} output tokens, "
        f"{usage['latency_ms'] / 1000:.1f} s, estimated cost ${usage['cost_usd']:.4f}.*"
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
            used = turn_usage(turn)
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
            lines += [withheld_line(block["result"]["withheld"]), ""]
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
