"""Tune the rubric brain's numbers on the development half of the labelled cases.

The cases are split by prompt (each case file's `split`): the development half is used here; the held-out half
is only ever measured. These numbers shape the hand-tuned strength, one feature of the calibrated reader
(evals/fit_reader.py, which also fits the score cuts' verdicts): refit the reader after changing them. Run:

    .venv/bin/python evals/tune_rubric.py [--trials 300]

It prints the best configuration found and its figures on both halves; copy it into RubricConfig and
SCORE_CUTS by hand, so every change to the grader is a reviewed diff.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import asdict, replace
from pathlib import Path

from interviewer.evals.cases import CaseResult, LabelledCase, development_prompts, load_cases
from interviewer.evals.summary import Summary, summarise
from interviewer.grading.grader import Grader
from interviewer.grading.models import score_from
from interviewer.grading.rubric import RubricBrain, RubricConfig
from interviewer.grading.text import clean

ROOT = Path(__file__).resolve().parent.parent
SPACE: dict[str, list[float]] = {
    "sim_floor": [0.20, 0.25, 0.30, 0.35, 0.40, 0.45],
    "sim_full": [0.58, 0.62, 0.66, 0.70, 0.74, 0.78],
    "meaning_weight": [0.6, 0.7, 0.8, 0.9, 1.0],
    "term_weight": [0.2, 0.3, 0.4, 0.5, 0.6],
    "rival_margin": [0.03, 0.06, 0.1, 1.0],
    "covered_at": [0.55, 0.6, 0.65, 0.7, 0.75],
    "partial_at": [0.3, 0.35, 0.4, 0.45],
    "restate_similarity": [0.7, 0.75, 0.8, 0.85],
    "question_discount": [0.0, 0.2, 0.3, 0.4, 0.5, 0.6],
}
CUTS = [
    (a, b, c, d)
    for a in (0.08, 0.12, 0.16, 0.2)
    for b in (0.25, 0.3, 0.35, 0.4)
    for c in (0.45, 0.5, 0.55, 0.6, 0.65)
    for d in (0.7, 0.75, 0.8, 0.85)
]


def split(cases: list[LabelledCase]) -> tuple[list[LabelledCase], list[LabelledCase]]:
    dev = development_prompts(cases)
    return [c for c in cases if c.prompt.id in dev], [c for c in cases if c.prompt.id not in dev]


def grade_all(grader: Grader, brain: RubricBrain, cases: list[LabelledCase]) -> list[CaseResult]:
    return [CaseResult(c, brain.grade(c.prompt, clean(c.case.answer, 50_000)), 0.0, ()) for c in cases]


def rescore(results: list[CaseResult], cuts: tuple[float, ...]) -> list[CaseResult]:
    out = []
    for r in results:
        score, _ = score_from(r.grade.points, r.grade.red_flags, list(r.grade.flags), cuts)
        out.append(replace(r, grade=r.grade.model_copy(update={"score": score})))
    return out


def objective(summary: Summary) -> float:
    adversarial = [k.handled for k in summary.kinds.values()]
    return (
        summary.spearman
        + summary.qwk
        + 0.5 * summary.verdict_macro_f1
        + 0.5 * sum(adversarial) / max(len(adversarial), 1)
        + 0.5 * min(adversarial, default=0.0)
    )


def fast_objective(results: list[CaseResult], cuts: tuple[float, ...], verdict_f1: float) -> float:
    """The objective above, computed only from what the score cuts change."""
    from interviewer.evals import metrics
    from interviewer.evals.summary import EXPECTED, meets

    gold = [r.labelled.case.gold_score for r in results]
    pred = [score_from(r.grade.points, r.grade.red_flags, list(r.grade.flags), cuts)[0] for r in results]
    handled = []
    for kind in EXPECTED:
        pairs = [
            (p, r.labelled.case.gold_score) for r, p in zip(results, pred, strict=True) if r.labelled.case.kind == kind
        ]
        if pairs:
            handled.append(sum(meets(kind, s, g) for s, g in pairs) / len(pairs))
    return (
        metrics.spearman(gold, pred)
        + metrics.quadratic_weighted_kappa(gold, pred)
        + 0.5 * verdict_f1
        + 0.5 * sum(handled) / max(len(handled), 1)
        + 0.5 * min(handled, default=0.0)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    grader = Grader(progress=False)
    dev, held = split(load_cases(ROOT / "evals" / "cases", grader.corpus))
    rng = random.Random(args.seed)
    best: tuple[float, RubricConfig, tuple[float, ...]] | None = None
    configs = [RubricConfig()] + [
        replace(RubricConfig(), **{k: rng.choice(v) for k, v in SPACE.items()}) for _ in range(args.trials)
    ]
    for n, config in enumerate(configs):
        if config.partial_at >= config.covered_at or config.sim_floor >= config.sim_full:
            continue
        brain = RubricBrain(point_vectors=grader.point_vectors, config=config, reader=None)
        graded = grade_all(grader, brain, dev)
        verdict_f1 = summarise(graded).verdict_macro_f1
        for cuts in CUTS:
            value = fast_objective(graded, cuts, verdict_f1)
            if best is None or value > best[0]:
                best = (value, config, cuts)
                print(f"trial {n}: objective {value:.4f} cuts {cuts} {asdict(config)}", flush=True)
    assert best is not None
    _, config, cuts = best
    brain = RubricBrain(point_vectors=grader.point_vectors, config=config)
    for name, part in (("development", dev), ("held-out", held)):
        s = summarise(rescore(grade_all(grader, brain, part), cuts))
        kinds = {k: v.handled for k, v in s.kinds.items()}
        print(
            f"{name}: n={s.n} spearman={s.spearman} qwk={s.qwk} mae={s.mae} "
            f"verdict_f1={s.verdict_macro_f1} adversarial={kinds}"
        )
    print("best config:", asdict(config), "cuts:", cuts)


if __name__ == "__main__":
    main()
