"""Fit the score bands (SCORE_CUTS) on the development half: the weighted-coverage cuts that best turn the gold
per-point verdicts of the development prompts' honest answers into their gold scores.

    .venv/bin/python evals/fit_bands.py

It prints the best cuts by development figures (exact agreement, then the mean recall of the five levels) and,
for them, how often the gold verdicts come back as the gold score on each half: a ceiling on any reader whose
score is computed from verdicts. Copy the cuts into SCORE_CUTS by hand, so the change is a reviewed diff.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from interviewer.config import Settings
from interviewer.curriculum.corpus import load_corpus
from interviewer.evals.cases import HONEST, LabelledCase, load_cases
from interviewer.evals.labels import gold_score_in_code
from interviewer.evals.summary import level_recall

ROOT = Path(__file__).resolve().parent.parent
GRID = np.round(np.arange(0.02, 0.96, 0.02), 2)


def _figures(cases: list[LabelledCase], cuts: tuple[float, ...]) -> tuple[float, float]:
    gold = [c.case.gold_score for c in cases]
    back = [gold_score_in_code(c, cuts) for c in cases]
    recall = [v for v in level_recall(gold, back).model_dump().values() if v is not None]
    return float(np.mean([g == b for g, b in zip(gold, back, strict=True)])), float(np.mean(recall))


def fit(cases: list[LabelledCase]) -> tuple[float, ...]:
    """The increasing cuts with the best development figures (a coarse grid, then a fine one around it)."""
    best: tuple[tuple[float, float], tuple[float, ...]] = ((-1.0, -1.0), (0.04, 0.4, 0.62, 0.8))
    coarse = GRID[::3]
    for cuts in itertools.combinations(coarse, 4):
        best = max(best, (_figures(cases, tuple(cuts)), tuple(float(c) for c in cuts)))
    for _ in range(3):
        for k in range(4):
            for value in GRID:
                trial = (*best[1][:k], float(value), *best[1][k + 1 :])
                if list(trial) == sorted(trial) and len(set(trial)) == 4:
                    best = max(best, (_figures(cases, trial), trial))
    return best[1]


def main() -> None:
    every = load_cases(ROOT / "evals" / "cases", load_corpus(Settings().corpus_dir))
    cases = [c for c in every if c.case.kind in HONEST]
    development = [c for c in cases if c.split == "development"]
    cuts = fit(development)
    print(f"SCORE_CUTS = {cuts}")
    for name in ("development", "held_out"):
        part = [c for c in cases if c.split == name]
        gold = [c.case.gold_score for c in part]
        back = [gold_score_in_code(c, cuts) for c in part]
        exact, mean_recall = _figures(part, cuts)
        print(f"{name}: n={len(part)} exact={exact:.3f} mean level recall={mean_recall:.3f} {level_recall(gold, back)}")


if __name__ == "__main__":
    main()
