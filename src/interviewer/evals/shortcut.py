"""What a shortcut would score, beside the grader: a grader earns its keep only where the shortcut fails.

The shortcut is the answer's length: four word-count cut-offs, fitted on the development prompts' honest
answers, turn a word count into a 0-4 score. Beside it:
- the grader's margin over it (QWK and exact agreement);
- the grader's partial Spearman correlation with gold, controlling for length (how much of its agreement is
  not length in disguise);
- the grader on the answers the shortcut misgrades by 2 or more;
- 95% intervals for each figure from a bootstrap over prompts (answers to one prompt are not independent, so
  whole prompts are resampled), with a fixed seed so a report can be reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from interviewer.curriculum.tokens import words
from interviewer.evals import metrics
from interviewer.evals.summary import Agreement, Figures, agreement

BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_SEED = 20261206


@dataclass(frozen=True)
class Scored:
    """One honest answer: its prompt, word count, gold grade and the grader's score."""

    prompt: str
    n_words: int
    gold: int
    predicted: int


def scored(prompt: str, answer: str, gold: int, predicted: int) -> Scored:
    return Scored(prompt, len(words(answer)), gold, predicted)


def length_scores(n_words: Sequence[int], cuts: Sequence[int]) -> list[int]:
    """The shortcut's score of each word count: how many cut-offs it reaches."""
    reached = np.asarray(n_words, dtype=int).reshape(-1, 1) >= np.asarray(cuts, dtype=int).reshape(1, -1)
    return [int(n) for n in reached.sum(axis=1)]


def fit_length_cuts(n_words: Sequence[int], gold: Sequence[int]) -> list[int]:
    """Four increasing word counts that best turn length into gold (QWK, then exact agreement), found by
    coordinate ascent over the observed counts from an even split by quantile. Deterministic."""
    candidates = [*sorted(set(n_words)), max(n_words, default=0) + 1]
    cuts = [int(np.quantile(n_words, q)) for q in (0.2, 0.4, 0.6, 0.8)] if n_words else [1, 2, 3, 4]

    def fit(c: list[int]) -> tuple[float, float]:
        pred = length_scores(n_words, c)
        return metrics.quadratic_weighted_kappa(list(gold), pred), metrics.accuracy(list(gold), pred)

    best = fit(cuts)
    for _ in range(20):
        improved = False
        for k in range(4):
            low, high = (cuts[k - 1] if k else 0), (cuts[k + 1] if k < 3 else candidates[-1])
            for value in (v for v in candidates if low <= v <= high):
                trial = [*cuts[:k], value, *cuts[k + 1 :]]
                score = fit(trial)
                if score > best:
                    best, cuts, improved = score, trial, True
        if not improved:
            break
    return cuts


def partial_spearman(x: Sequence[float], y: Sequence[float], z: Sequence[float]) -> float:
    """Spearman correlation of x and y with z held fixed (the first-order partial correlation of the ranks)."""
    rxy, rxz, ryz = metrics.spearman(x, y), metrics.spearman(x, z), metrics.spearman(y, z)
    denominator = np.sqrt(max(1e-12, (1 - rxz**2) * (1 - ryz**2)))
    return float((rxy - rxz * ryz) / denominator)


class Margin(Figures):
    qwk: float
    exact: float


class ShortcutFigures(Figures):
    """Honest answers of one split: the length shortcut beside the grader."""

    n: int
    length_gold_spearman: float  # how well length alone ranks these answers by gold
    cuts: list[int]  # the shortcut's word-count cut-offs (fitted on development)
    length_baseline: Agreement
    margin: Margin  # the grader's QWK and exact agreement less the shortcut's
    partial_spearman: float  # the grader against gold, controlling for length
    shortcut_fails: Agreement | None  # the grader on the answers the shortcut misgrades by 2 or more
    intervals: dict[str, list[float]]  # 95% prompt-bootstrap interval of each figure


def shortcut_figures(rows: list[Scored], cuts: list[int]) -> ShortcutFigures:
    """The shortcut and the grader on one split's honest answers (at least one)."""
    base = length_scores([r.n_words for r in rows], cuts)
    gold = [r.gold for r in rows]
    fails = [r for r, b in zip(rows, base, strict=True) if abs(b - r.gold) >= 2]
    figures = _figures(cuts)
    point = figures(rows)
    return ShortcutFigures(
        n=len(rows),
        length_gold_spearman=round(metrics.spearman([r.n_words for r in rows], gold), 4),
        cuts=cuts,
        length_baseline=agreement(gold, base),
        margin=Margin(qwk=round(point["margin_qwk"], 4), exact=round(point["margin_exact"], 4)),
        partial_spearman=round(point["partial_spearman"], 4),
        shortcut_fails=agreement([r.gold for r in fails], [r.predicted for r in fails]) if fails else None,
        intervals=bootstrap(rows, figures),
    )


Statistics = Callable[[list[Scored]], dict[str, float]]


def _figures(cuts: list[int]) -> Statistics:
    """The grader's six figures on some answers (all of a split, or a bootstrap resample), each worked out once
    from their gold, scores and lengths."""

    def figures(rows: list[Scored]) -> dict[str, float]:
        gold, pred = [r.gold for r in rows], [r.predicted for r in rows]
        n_words, base = [r.n_words for r in rows], length_scores([r.n_words for r in rows], cuts)
        qwk, exact = metrics.quadratic_weighted_kappa(gold, pred), metrics.accuracy(gold, pred)
        return {
            "spearman": metrics.spearman(gold, pred),
            "qwk": qwk,
            "exact": exact,
            "margin_qwk": qwk - metrics.quadratic_weighted_kappa(gold, base),
            "margin_exact": exact - metrics.accuracy(gold, base),
            "partial_spearman": partial_spearman(pred, gold, n_words),
        }

    return figures


def bootstrap(rows: list[Scored], statistics: Statistics, rounds: int = BOOTSTRAP_ROUNDS) -> dict[str, list[float]]:
    """The 2.5th and 97.5th percentiles of each statistic over `rounds` resamples of whole prompts."""
    by_prompt: dict[str, list[Scored]] = {}
    for r in rows:
        by_prompt.setdefault(r.prompt, []).append(r)
    groups = list(by_prompt.values())
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        picked = [row for i in rng.integers(0, len(groups), len(groups)) for row in groups[i]]
        for name, value in statistics(picked).items():
            samples.setdefault(name, []).append(value)
    return {name: [round(float(np.percentile(v, q)), 4) for q in (2.5, 97.5)] for name, v in samples.items()}
