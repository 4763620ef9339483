"""The figures of a cases run: agreement with the experts' gold grades, adversarial answers, model use."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from pydantic import BaseModel, ConfigDict

from interviewer.errors import InterviewerError
from interviewer.evals import metrics
from interviewer.evals.cases import HONEST, CaseResult
from interviewer.grading.models import Usage, Verdict

# What each adversarial kind must be graded as.
EXPECTED: dict[str, tuple[str, int]] = {
    "injection": ("<=", 1),
    "stuffing": ("<=", 1),
    "padding": ("<=", 1),
    "restated": ("<=", 1),
    "off_topic": ("<=", 1),
    "paraphrase": (">=", 3),
}
VERDICTS: tuple[Verdict, ...] = ("covered", "partial", "missed")


class Figures(BaseModel):
    """A typed part of a report; `model_dump()` gives the JSON written to disk."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CalibrationRow(Figures):
    gold: int
    n: int
    mean_predicted: float


class VerdictFigures(Figures):
    precision: float
    recall: float
    f1: float
    support: int


class KindFigures(Figures):
    n: int
    handled: float
    rule: str


class GradeTimes(Figures):
    median: float
    p95: float


class Summary(Figures):
    n: int
    spearman: float
    qwk: float
    mae: float
    exact: float
    within_1: float
    confusion: list[list[int]]
    calibration: list[CalibrationRow]
    verdicts: dict[str, VerdictFigures]
    verdict_macro_f1: float
    adversarial: dict[str, KindFigures]
    retrieval_recall_at_5: float | None
    grade_ms: GradeTimes
    by_kind: dict[str, int]


class UsageSummary(Figures):
    grading: Usage
    follow_ups: Usage
    fallbacks: int
    fallback_reasons: dict[str, int]


class WorstCase(Figures):
    case: str
    kind: str
    gold: int
    predicted: int
    flags: list[str]


def meets(kind: str, score: int) -> bool:
    """Whether an adversarial answer of this kind got a score its rule allows."""
    op, bound = EXPECTED[kind]
    return score <= bound if op == "<=" else score >= bound


def summarise(results: list[CaseResult]) -> Summary:
    """The figures of graded cases against their gold grades (at least one result)."""
    if not results:
        raise InterviewerError("No graded cases to summarise.")
    gold = [r.labelled.case.gold_score for r in results]
    pred = [r.grade.score for r in results]
    gold_verdicts, pred_verdicts = _verdict_pairs(results)
    errors = np.abs(np.array(gold) - np.array(pred))
    seconds = sorted(r.seconds for r in results)
    return Summary(
        n=len(results),
        spearman=round(metrics.spearman(gold, pred), 4),
        qwk=round(metrics.quadratic_weighted_kappa(gold, pred), 4),
        mae=round(float(np.mean(errors)), 4),
        exact=round(metrics.accuracy(gold, pred), 4),
        within_1=round(float(np.mean(errors <= 1)), 4),
        confusion=metrics.confusion(gold, pred).tolist(),
        calibration=_calibration(gold, pred),
        verdicts={
            v: VerdictFigures.model_validate(metrics.precision_recall_f1(gold_verdicts, pred_verdicts, v))
            for v in VERDICTS
        },
        verdict_macro_f1=round(metrics.macro_f1(gold_verdicts, pred_verdicts), 4),
        adversarial=_adversarial(results),
        retrieval_recall_at_5=_retrieval_recall(results),
        grade_ms=GradeTimes(
            median=round(1000 * seconds[len(seconds) // 2], 2),
            p95=round(1000 * seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 2),
        ),
        by_kind=dict(Counter(r.labelled.case.kind for r in results)),
    )


def _verdict_pairs(results: list[CaseResult]) -> tuple[list[str], list[str]]:
    """The experts' verdict and the brain's on every rubric point of every case."""
    gold: list[str] = []
    pred: list[str] = []
    for r in results:
        by_id = {p.point_id: p.verdict for p in r.grade.points}
        for point_id, verdict in r.labelled.case.gold_points.items():
            gold.append(verdict)
            pred.append(by_id[point_id])
    return gold, pred


def _adversarial(results: list[CaseResult]) -> dict[str, KindFigures]:
    kinds: dict[str, KindFigures] = {}
    for kind, (op, bound) in EXPECTED.items():
        scores = [r.grade.score for r in results if r.labelled.case.kind == kind]
        if scores:
            handled = round(sum(meets(kind, s) for s in scores) / len(scores), 4)
            kinds[kind] = KindFigures(n=len(scores), handled=handled, rule=f"score {op} {bound}")
    return kinds


def _retrieval_recall(results: list[CaseResult]) -> float | None:
    """How many of the prompt's objectives the index retrieves for a good honest answer, on average."""
    recall = []
    for r in results:
        if r.labelled.case.kind in HONEST and r.labelled.case.gold_score >= 2:
            right = {p.objective for p in r.labelled.prompt.rubric}
            recall.append(len(right & set(r.retrieved)) / len(right))
    return round(float(np.mean(recall)), 4) if recall else None


def _calibration(gold: list[int], pred: list[int]) -> list[CalibrationRow]:
    rows = []
    for level in range(5):
        picked = [p for g, p in zip(gold, pred, strict=True) if g == level]
        if picked:
            rows.append(CalibrationRow(gold=level, n=len(picked), mean_predicted=round(float(np.mean(picked)), 3)))
    return rows


def worst_cases(results: list[CaseResult], n: int = 15) -> list[WorstCase]:
    ranked = sorted(results, key=lambda r: -abs(r.grade.score - r.labelled.case.gold_score))
    return [
        WorstCase(
            case=r.labelled.case.id,
            kind=r.labelled.case.kind,
            gold=r.labelled.case.gold_score,
            predicted=r.grade.score,
            flags=list(r.grade.flags),
        )
        for r in ranked[:n]
        if r.grade.score != r.labelled.case.gold_score
    ]


def reason(fallback: str) -> str:
    """The reason inside a fallback sentence: "The model failed (REASON); ..." or "... not used (REASON); ..."."""
    found = re.search(r"\((.*)\); ", fallback)
    return (found.group(1) if found else fallback)[:100]


def usage_summary(results: list[CaseResult]) -> UsageSummary:
    """Model calls, tokens, time and cost behind the grades and follow-ups, and why any grade fell back."""
    grading = Usage()
    following = Usage()
    for r in results:
        if r.grade.usage:
            grading = grading.add(r.grade.usage)
        if r.follow_up and r.follow_up.usage:
            following = following.add(r.follow_up.usage)
    reasons = Counter(reason(r.grade.fallback) for r in results if r.grade.fallback)
    return UsageSummary(
        grading=grading,
        follow_ups=following,
        fallbacks=sum(reasons.values()),
        fallback_reasons=dict(reasons.most_common(5)),
    )
