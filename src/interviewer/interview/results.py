"""Scoring a session from its recorded turns: each prompt over its answers, the session, each objective.

Every credit comes from the per-point verdicts through `VERDICT_CREDIT` and `grading.rubric.assess`, the same rules the
brains grade by.
"""

from __future__ import annotations

import json
from typing import Any

from interviewer.curriculum.corpus import Corpus
from interviewer.grading.models import VERDICT_CREDIT, Flag, PointVerdict, merge_verdicts
from interviewer.grading.rubric import assess
from interviewer.interview.records import ObjectiveRow, Overall, ProgressRow, PromptBlock, PromptResult, Turn, turns_of


def prompt_result(turns: list[Turn]) -> PromptResult | None:
    """A prompt's grade over its answer and follow-ups (its turns): best verdict per point."""
    grades = [t.grade for t in turns if t.grade is not None]
    if not grades:
        return None
    points = merge_verdicts(grades)
    unique_flags = list({r.claim: r for g in grades for r in g.red_flags}.values())
    shared: list[Flag] = sorted(
        f for f in grades[0].flags if f != "instruction_to_grader" and all(f in g.flags for g in grades)
    )
    return PromptResult(**assess(points, unique_flags, shared))


def asked_prompts(state: dict[str, Any]) -> list[str]:
    """The prompts a session has asked so far, in order."""
    return list(dict.fromkeys(t["prompt_id"] for t in state.get("turns", [])))


def session_score(state: dict[str, Any]) -> float | None:
    """Mean prompt score over the prompts asked so far (a skipped prompt scores 0)."""
    asked = asked_prompts(state)
    if not asked:
        return None
    results = [prompt_result(turns_of(state, pid)) for pid in asked]
    return round(float(sum(r.score if r else 0 for r in results)) / len(results), 2)


def overall(state: dict[str, Any]) -> Overall:
    """The session's score over the questions asked (a skipped one asked and scored 0, as in `session_score`), and
    once it has finished, how many questions of its plan it never reached (ended early)."""
    asked = asked_prompts(state)
    skipped = sum(1 for pid in asked if prompt_result(turns_of(state, pid)) is None)
    planned, finished = len(state.get("plan", [])), state.get("status") == "finished"
    return Overall(
        score=session_score(state),
        asked=len(asked),
        skipped=skipped,
        planned=planned,
        unanswered=max(0, planned - len(asked)) if finished else 0,
        finished=finished,
    )


def unanswered_points(corpus: Corpus, prompt_id: str) -> list[PointVerdict]:
    """Every rubric point of a skipped prompt, as missed."""
    return [
        PointVerdict(point_id=r.id, text=r.point, objective=r.objective, weight=r.weight, verdict="missed")
        for r in corpus.prompt(prompt_id).prompt.rubric
    ]


def objective_scores(points: list[PointVerdict]) -> dict[str, float]:
    """0-4 score per objective from a prompt's point verdicts, weighted like the prompt score."""
    totals: dict[str, list[float]] = {}
    for point in points:
        pair = totals.setdefault(point.objective, [0.0, 0.0])
        pair[0] += point.weight * VERDICT_CREDIT[point.verdict]
        pair[1] += point.weight
    return {o: round(4 * c / w, 2) for o, (c, w) in totals.items() if w}


def progress_rows(corpus: Corpus, history: list[tuple[str, str, str]]) -> list[ProgressRow]:
    """0-4 score per learning objective in each session, oldest first, from (finished_at, session, points JSON)."""
    sessions: dict[str, tuple[str, list[PointVerdict]]] = {}
    for finished_at, session_id, points_json in history:
        _, points = sessions.setdefault(session_id, (finished_at, []))
        points.extend(PointVerdict.model_validate(p) for p in json.loads(points_json))
    rows: list[ProgressRow] = []
    for session_id, (at, points) in sessions.items():
        for objective_id, score in objective_scores(points).items():
            if objective_id in corpus.objectives:
                objective = corpus.objectives[objective_id][0]
                rows.append(ProgressRow(at=at, session=session_id, objective=objective.text, score=score))
    return rows


def objective_summary(corpus: Corpus, prompts: list[PromptBlock]) -> list[ObjectiveRow]:
    """Per learning objective: how many of its points were covered, partly made and missed, and a 0-4 score."""
    rows: dict[str, ObjectiveRow] = {}
    weights: dict[str, list[float]] = {}
    for block in prompts:
        for point in block.result.points if block.result else block.unanswered_points:
            objective, topic = corpus.objectives[point.objective]
            row = rows.setdefault(
                objective.id, ObjectiveRow(objective=objective.id, text=objective.text, topic=topic.id)
            )
            setattr(row, point.verdict, getattr(row, point.verdict) + 1)
            pair = weights.setdefault(objective.id, [0.0, 0.0])
            pair[0] += point.weight * VERDICT_CREDIT[point.verdict]
            pair[1] += point.weight
    for objective_id, (credit, weight) in weights.items():
        rows[objective_id].score = round(4 * credit / weight, 2) if weight else 0.0
    return sorted(rows.values(), key=lambda r: (r.score, r.objective))
