"""Scoring a session from its checkpointed state: each prompt over its answers, the session, each objective.

Every credit comes from the per-point verdicts through `VERDICT_CREDIT` and `score_from`, the same rules the
brains grade by.
"""

from __future__ import annotations

import json
from typing import Any

from interviewer.corpus import Corpus
from interviewer.grading.models import VERDICT_CREDIT, Grade, score_from
from interviewer.grading.rubric import feedback
from interviewer.graph import merged_points, prompt_turns


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


def objective_scores(points: list[dict[str, Any]]) -> dict[str, float]:
    """0-4 score per objective from a prompt's point verdicts, weighted like the prompt score."""
    totals: dict[str, list[float]] = {}
    for point in points:
        credit = VERDICT_CREDIT[point.get("verdict", "missed")]
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


def objective_summary(corpus: Corpus, prompts: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
            row["credit"] += point["weight"] * VERDICT_CREDIT[verdict]
    for row in rows.values():
        row["score"] = round(4 * row["credit"] / row["weight"], 2) if row["weight"] else 0.0
        del row["credit"], row["weight"]
    return sorted(rows.values(), key=lambda r: (r["score"], r["objective"]))
