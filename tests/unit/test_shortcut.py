"""The length shortcut beside the grader: a grader that only counts words shows as one."""

from __future__ import annotations

import numpy as np

from interviewer.evals.shortcut import (
    Scored,
    fit_length_cuts,
    length_scores,
    partial_spearman,
    shortcut_figures,
)


def _answers(grader: str, n: int = 200, seed: int = 1) -> list[Scored]:
    """Answers to 20 prompts whose length tracks gold loosely; a `grader` that reads content or counts words."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        gold = int(rng.integers(0, 5))
        n_words = int(60 + 40 * gold + rng.integers(-90, 90))
        predicted = gold if grader == "content" else length_scores([n_words], [60, 110, 150, 190])[0]
        rows.append(Scored(prompt=f"p{i % 20}", n_words=max(5, n_words), gold=gold, predicted=predicted))
    return rows


def test_cut_offs_fitted_where_length_decides_gold_give_it_back() -> None:
    n_words = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    gold = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    cuts = fit_length_cuts(n_words, gold)
    assert length_scores(n_words, cuts) == gold
    assert cuts == sorted(cuts)


def test_a_grader_that_counts_words_has_no_margin_and_no_partial_correlation() -> None:
    counting, reading = _answers("length"), _answers("content")
    cuts = fit_length_cuts([r.n_words for r in counting], [r.gold for r in counting])
    words_only, content = shortcut_figures(counting, cuts), shortcut_figures(reading, cuts)
    assert abs(words_only.partial_spearman) < 0.2 < 0.9 < content.partial_spearman
    assert words_only.margin.qwk < 0.05 < 0.2 < content.margin.qwk
    assert content.shortcut_fails is not None and content.shortcut_fails.exact == 1.0


def test_bootstrap_intervals_hold_the_figure_and_repeat_exactly() -> None:
    rows = [*_answers("content")[:120], Scored("p0", 100, 3, 1), Scored("p1", 300, 0, 2)]
    cuts = [60, 110, 150, 190]
    first, again = shortcut_figures(rows, cuts), shortcut_figures(rows, cuts)
    assert first.intervals == again.intervals
    low, high = first.intervals["partial_spearman"]
    assert low <= first.partial_spearman <= high and low < high


def test_partial_correlation_removes_a_shared_cause() -> None:
    z = list(range(100))
    x = [v + (7 * v % 3) for v in z]
    y = [v + (5 * v % 4) for v in z]
    assert partial_spearman(x, y, z) < 0.5 < partial_spearman(x, y, [(v * 37) % 100 for v in z])
