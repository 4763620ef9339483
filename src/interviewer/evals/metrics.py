"""Agreement statistics between a grader and people, in plain numpy (no fitting, no randomness)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _ranks(values: Sequence[float]) -> np.ndarray:
    """Average ranks, ties sharing the mean of their positions."""
    arr = np.asarray(values, dtype=float)
    _, tie, counts = np.unique(arr, return_inverse=True, return_counts=True)
    last = np.cumsum(counts) - 1  # the last position of each distinct value, in sorted order
    ranks: np.ndarray = (last - (counts - 1) / 2.0)[tie]
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    return pearson(_ranks(x).tolist(), _ranks(y).tolist())


def rmse(x: Sequence[float], y: Sequence[float]) -> float:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.sqrt(np.mean((a - b) ** 2))) if len(a) else 0.0


def quadratic_weighted_kappa(gold: Sequence[int], pred: Sequence[int], levels: int = 5) -> float:
    """Cohen's kappa with quadratic weights over scores 0..levels-1."""
    observed = confusion(gold, pred, levels).astype(float)
    n = observed.sum()
    if n == 0:
        return 0.0
    weights = np.array([[(i - j) ** 2 for j in range(levels)] for i in range(levels)], dtype=float) / (levels - 1) ** 2
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    denominator = (weights * expected).sum()
    return 1.0 - float((weights * observed).sum() / denominator) if denominator else 1.0


def confusion(gold: Sequence[int], pred: Sequence[int], levels: int = 5) -> np.ndarray:
    """Rows: gold score; columns: predicted score."""
    g, p = np.asarray(gold, dtype=int), np.asarray(pred, dtype=int)
    if g.shape != p.shape:
        raise ValueError(f"{len(g)} gold scores but {len(p)} predicted")
    if len(g) and (min(g.min(), p.min()) < 0 or max(g.max(), p.max()) >= levels):
        raise IndexError(f"a score outside 0..{levels - 1}")
    matrix: np.ndarray = np.bincount(g * levels + p, minlength=levels * levels).reshape(levels, levels)
    return matrix


def precision_recall_f1(gold: Sequence[str], pred: Sequence[str], label: str) -> dict[str, float]:
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p == label)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != label and p == label)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p != label)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": tp + fn}


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    labels = sorted(set(gold))
    if not labels:
        return 0.0
    return float(np.mean([precision_recall_f1(gold, pred, label)["f1"] for label in labels]))


def accuracy(gold: Sequence[object], pred: Sequence[object]) -> float:
    return float(np.mean([g == p for g, p in zip(gold, pred, strict=True)])) if gold else 0.0
