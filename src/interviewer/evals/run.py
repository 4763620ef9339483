"""Grading the labelled cases with a brain, as the interview does, and the follow-up it would ask; the report."""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from interviewer.curriculum.index import query_vector
from interviewer.curriculum.tokens import words
from interviewer.evals.cases import HONEST, CaseResult, LabelledCase, folder_hash, load_cases
from interviewer.evals.labels import (
    Balance,
    Bands,
    CopiedCase,
    GraderAgreement,
    Intended,
    balance,
    bands,
    copied_cases,
    graders_agreement,
    intended,
)
from interviewer.evals.shortcut import ShortcutFigures, fit_length_cuts, scored, shortcut_figures
from interviewer.evals.summary import (
    Figures,
    SplitFigures,
    Summary,
    UsageSummary,
    WorstCase,
    by_split,
    reason,
    summarise,
    usage_summary,
    worst_cases,
)
from interviewer.grading import FollowUp, TurnContext
from interviewer.grading.grader import Grader
from interviewer.grading.prompting import prompts_hash
from interviewer.grading.text import reveals


class FollowUpExample(Figures):
    case: str
    answer: str
    follow_up: str
    point: str
    gold_verdict: str | None
    source: str


class FollowUpSummary(Figures):
    answers: int
    answers_with_gaps: int
    asked_when_gaps: float | None
    on_a_gold_gap: float | None
    on_the_top_gold_gap: float | None
    asked_when_complete: float | None
    one_question: float | None
    gives_away: float | None
    written_by_model: float | None
    model_not_used: int
    model_not_used_reasons: dict[str, int]
    examples: list[FollowUpExample]


class Versions(Figures):
    corpus: str
    prompts: str
    cases: str
    grader: str


class CaseRow(Figures):
    case: str
    kind: str
    intended: int | None
    words: int
    gold: int
    predicted: int
    brain: str
    fallback: str | None
    follow_up: str | None
    follow_up_source: str | None
    follow_up_fallback: str | None


class CasesReport(Figures):
    """What `interviewer eval` measures; every figure traces to the versions it was measured on."""

    kind: Literal["cases"] = "cases"
    brain: str
    date: str
    versions: Versions
    summary: Summary
    splits: dict[str, SplitFigures]
    shortcut: dict[str, ShortcutFigures]
    bands: Bands
    balance: dict[str, Balance]
    intended: Intended
    agreement: GraderAgreement
    copied: list[CopiedCase]
    worst: list[WorstCase]
    follow_ups: FollowUpSummary
    usage: UsageSummary
    cases: list[CaseRow]


def run_cases(grader: Grader, cases: list[LabelledCase], brain: str, progress: bool = False) -> list[CaseResult]:
    """Grade every case as the interview does (with the objectives retrieved for the answer), then ask the
    brain which follow-up it would put to the candidate after an honest answer."""
    chosen = grader.brain(brain)
    results: list[CaseResult] = []
    began = time.perf_counter()
    for n, item in enumerate(cases, 1):
        answer = grader.clean_answer(item.case.answer)
        context = TurnContext(related=grader.index.around(item.prompt, answer))
        start = time.perf_counter()
        grade = chosen.grade(item.prompt, answer, context)
        seconds = time.perf_counter() - start
        follow: FollowUp | None = None
        honest = item.case.kind in HONEST
        if honest:
            conversation = TurnContext(related=context.related, history=[(item.prompt.text, answer)])
            follow = chosen.follow_up(item.prompt, grade.points, [], conversation)
        related = grader.index.related(query_vector(item.prompt.text, item.case.answer), kinds=("objective",), k=5)
        results.append(CaseResult(item, grade, seconds, tuple(r.objective for r in related), follow, honest))
        if progress and (n % 25 == 0 or n == len(cases)):
            per_case = (time.perf_counter() - began) / n
            left = per_case * (len(cases) - n)
            print(
                f"eval: {n}/{len(cases)} cases, {per_case:.2f} s each, about {left / 60:.0f} min left", file=sys.stderr
            )
    return results


def _has_gap(r: CaseResult) -> bool:
    return any(v != "covered" for v in r.labelled.case.gold_points.values())


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _gap_hits(with_gap: list[CaseResult]) -> tuple[int, int]:
    """How many follow-ups probe a gold gap, and how many the most important one (heaviest, missed first)."""
    on_gap = on_top = 0
    for r in with_gap:
        if r.follow_up is None:
            continue
        gold = r.labelled.case.gold_points
        weight = {p.id: p.weight for p in r.labelled.prompt.rubric}
        gaps = [pid for pid, v in gold.items() if v != "covered"]
        best = max((weight[pid], gold[pid] == "missed") for pid in gaps)
        probed = r.follow_up.point_id
        on_gap += probed in gaps
        on_top += probed in gaps and (weight[probed], gold[probed] == "missed") == best
    return on_gap, on_top


def _examples(followed: list[tuple[CaseResult, FollowUp]]) -> list[FollowUpExample]:
    """Up to six follow-ups spread over the run, the model's own where there are any."""
    examples = [(r, f) for r, f in followed if f.source == "model"] or followed
    return [
        FollowUpExample(
            case=r.labelled.case.id,
            answer=r.labelled.case.answer[:240],
            follow_up=f.text,
            point=f.point_id,
            gold_verdict=r.labelled.case.gold_points.get(f.point_id),
            source=f.source,
        )
        for r, f in examples[:: max(1, len(examples) // 6)][:6]
    ]


def follow_up_summary(results: list[CaseResult]) -> FollowUpSummary:
    """How the follow-ups would land against the gold verdicts on the same answers.

    A good follow-up probes a point the graders found missing or partial, preferably the most important
    one; it is one question; it gives nothing away; and it is not asked of an answer the graders found complete.
    """
    asked = [r for r in results if r.asked_follow_up]
    with_gap = [r for r in asked if _has_gap(r)]
    complete = [r for r in asked if not _has_gap(r)]
    followed = [(r, r.follow_up) for r in asked if r.follow_up is not None]
    asked_with_gap = sum(r.follow_up is not None for r in with_gap)
    on_gap, on_top = _gap_hits(with_gap)
    not_used = [f.fallback for _, f in followed if f.fallback]
    return FollowUpSummary(
        answers=len(asked),
        answers_with_gaps=len(with_gap),
        asked_when_gaps=_share(asked_with_gap, len(with_gap)),
        on_a_gold_gap=_share(on_gap, asked_with_gap),
        on_the_top_gold_gap=_share(on_top, asked_with_gap),
        asked_when_complete=_share(sum(r.follow_up is not None for r in complete), len(complete)),
        one_question=_share(sum(f.text.strip().endswith("?") for _, f in followed), len(followed)),
        gives_away=_share(sum(reveals(f.text, r.labelled.prompt) for r, f in followed), len(followed)),
        written_by_model=_share(sum(f.source == "model" for _, f in followed), len(followed)),
        model_not_used=len(not_used),
        model_not_used_reasons=dict(Counter(reason(x) for x in not_used).most_common(5)),
        examples=_examples(followed),
    )


def versions(grader: Grader, cases_dir: Path, brain: str) -> Versions:
    return Versions(
        corpus=grader.corpus.version,
        prompts=prompts_hash(grader.settings.prompts_dir),
        cases=folder_hash(cases_dir, "*.yaml"),
        grader=grader.brain(brain).version,
    )


def _case_row(r: CaseResult) -> CaseRow:
    return CaseRow(
        case=r.labelled.case.id,
        kind=r.labelled.case.kind,
        intended=r.labelled.case.intended,
        words=len(words(r.labelled.case.answer)),
        gold=r.labelled.case.gold_score,
        predicted=r.grade.score,
        brain=r.grade.brain,
        fallback=r.grade.fallback,
        follow_up=r.follow_up.text if r.follow_up else None,
        follow_up_source=r.follow_up.source if r.follow_up else None,
        follow_up_fallback=r.follow_up.fallback if r.follow_up else None,
    )


def shortcut_by_split(results: list[CaseResult]) -> dict[str, ShortcutFigures]:
    """The length shortcut, its cut-offs fitted on the development prompts' honest answers, beside the grader on
    each split's honest answers."""
    rows = {
        split: [
            scored(r.labelled.prompt.id, r.labelled.case.answer, r.labelled.case.gold_score, r.grade.score)
            for r in results
            if r.labelled.split == split and r.labelled.case.kind in HONEST
        ]
        for split in ("development", "held_out")
    }
    tuning = rows["development"] or rows["held_out"]
    cuts = fit_length_cuts([r.n_words for r in tuning], [r.gold for r in tuning])
    return {split: shortcut_figures(part, cuts) for split, part in rows.items() if part}


def evaluate_cases(grader: Grader, cases_dir: Path, brain: str = "rubric", progress: bool = False) -> CasesReport:
    """Grade every labelled case in `cases_dir` with `brain` and measure the grades against gold, on the
    whole set and on each split; with the figures of the cases themselves (score bands, the graders'
    agreement, answers that copy their rubric)."""
    cases = load_cases(cases_dir, grader.corpus)
    results = run_cases(grader, cases, brain, progress)
    return CasesReport(
        brain=brain,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        versions=versions(grader, cases_dir, brain),
        summary=summarise(results),
        splits=by_split(results),
        shortcut=shortcut_by_split(results),
        bands=bands(cases),
        balance=balance(cases),
        intended=intended(cases),
        agreement=graders_agreement(cases),
        copied=copied_cases(cases),
        worst=worst_cases(results),
        follow_ups=follow_up_summary(results),
        usage=usage_summary(results),
        cases=[_case_row(r) for r in results],
    )
