"""evals/reports/speech.md: the domain set's figures per model and hint, the goals, marking and memory."""

from __future__ import annotations

from typing import Any

from interviewer.speech.recognition import BEAM

HINTS = {
    "none": "none, as heard",
    "question": "the question alone, as heard",
    "untidied": "the prompt's vocabulary, as heard",
    "vocabulary": "the prompt's vocabulary, tidied (the app)",
}


GOALS = {"wer_150": 0.10, "term_recall_150": 0.90, "wer_175": 0.15, "rtf": 0.3, "grades_within_1": 0.90}


def goals_of(result: dict[str, Any], scope: str = "") -> list[tuple[str, float | None, float, bool]]:
    """(figure, measured, goal, met) for the chosen hint, over the whole set (`scope` "") or one half."""
    figures = result["modes"]["vocabulary"]
    at150, at175 = figures[f"150{scope}"], figures[f"175{scope}"]
    rtf = max(at150["rtf_p95"], at175["rtf_p95"])
    recall = at150["term_recall"]
    rows = [
        ("word error rate at 150 wpm", at150["wer"], GOALS["wer_150"], at150["wer"] <= GOALS["wer_150"]),
        ("rubric-term recall at 150 wpm", recall, GOALS["term_recall_150"], (recall or 0) >= GOALS["term_recall_150"]),
        ("word error rate at 175 wpm", at175["wer"], GOALS["wer_175"], at175["wer"] <= GOALS["wer_175"]),
        ("real-time factor, p95", rtf, GOALS["rtf"], rtf < GOALS["rtf"]),
    ]
    if not scope:
        within = result["grades"]["within_1"]
        goal = GOALS["grades_within_1"]
        rows.append(("grade of the heard answer within 1 of the typed", within, goal, within >= goal))
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _goal_rows(result: dict[str, Any]) -> list[str]:
    whole, held = goals_of(result), goals_of(result, " held-out")
    rows = ["| figure | whole set | held-out half | goal | met |", "|---|---|---|---|---|"]
    for n, (name, value, goal, met) in enumerate(whole):
        held_value = held[n][1] if n < len(held) else None
        show = (lambda v: "-" if v is None else f"{v:.3f}") if "factor" in name else _pct
        bound = (
            f"< {goal}"
            if "factor" in name
            else (f">= {_pct(goal)}" if "recall" in name or "within" in name else f"<= {_pct(goal)}")
        )
        rows.append(f"| {name} | {show(value)} | {show(held_value)} | {bound} | {'met' if met else '**missed**'} |")
    return rows


def _table(models: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| model | hint | pace | half | WER | rubric-term recall (n) | jargon recall (n) | RTF median | RTF p95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in models:
        if not result["measured"]:
            continue
        for mode, groups in result["modes"].items():
            for key, f in groups.items():
                pace, _, half = key.partition(" ")
                rows.append(
                    f"| {result['model']} | {HINTS[mode]} | {pace} | {half or 'whole set'} | {_pct(f['wer'])} | "
                    f"{_pct(f['term_recall'])} ({f['terms']}) | {_pct(f['jargon_recall'])} ({f['jargon']}) | "
                    f"{f['rtf_median']:.3f} | {f['rtf_p95']:.3f} |"
                )
    return rows


def _marking(result: dict[str, Any]) -> list[str]:
    rows = ["| half | below | words | heard wrongly | marked | precision | recall |", "|---|---|---|---|---|---|---|"]
    for half, lines in result["marking"].items():
        for m in lines:
            rows.append(
                f"| {half} | {m['below']} | {m['words']} | {m['wrong']} | {m['marked']} | {_pct(m['precision'])} | "
                f"{_pct(m['recall'])} |"
            )
    return rows


def _memory(models: list[dict[str, Any]]) -> list[str]:
    rows = ["| model | process before load MB | model load MB | peak RSS while transcribing MB |", "|---|---|---|---|"]
    for r in models:
        if r["measured"]:
            m = r["memory_mb"]
            rows.append(f"| {r['model']} | {m['before_load']} | {m['model_loaded']} | {m['peak_while_transcribing']} |")
        else:
            rows.append(f"| {r['model']} | not measured: {r['note']} | | |")
    return rows


def to_markdown(report: dict[str, Any]) -> str:
    chosen = next(r for r in report["models"] if r["model"] == report["chosen"])
    s = report["set"]
    lines = [
        f"# Spoken answers full of the field's words ({report['date']})",
        "",
        f"Written by `interviewer bench --speech` on {report['machine']['cpus']} cores. The domain set "
        f"(evals/speech/domain.json): {s['sentences']} sentences, 2 for each of 25 prompts, written without the "
        f"rubrics; each spoken by espeak-ng in the voices {', '.join(s['voices'])} at {s['paces'][0]} and "
        f"{s['paces'][1]} words a minute. Halves by prompt (a hash of its id): settings were chosen on the "
        "development half. Rubric-term recall counts each rubric term of the prompt in a sentence and whether it "
        "was heard; jargon recall does the same for the words the writer listed (many not in the hint). Decoded "
        f"as the app decodes: a beam of {BEAM} at temperature 0, each 30-second window without the last one's text; "
        '"tidied" leaves out the recogniser\'s slips, a closing "Thank you." written over silence and loops '
        "(`interviewer.speech.cleanup`).",
        "",
        f"## Goals ({report['chosen']}, the prompt's vocabulary as the hint, tidied)",
        "",
        *(_goal_rows(chosen) if chosen["measured"] else [f"Not measured: {chosen['note']}"]),
        "",
        "## Every model and hint",
        "",
        *_table(report["models"]),
        "",
        "## Memory (each model in a process of its own)",
        "",
        *_memory(report["models"]),
    ]
    if chosen["measured"]:
        g = chosen["grades"]
        lines += [
            "",
            f"## Grades: {g['answers']} answers (a prompt's two sentences, per voice and pace), typed and heard",
            "",
            f"Within 1 point: {_pct(g['within_1'])}; the same: {_pct(g['same'])}; typed answers scored "
            f"{', '.join(map(str, g['typed_scores']))}.",
            "",
            "## Words marked unsure, against the words heard wrongly",
            "",
            *_marking(chosen),
        ]
    return "\n".join(lines) + "\n"
