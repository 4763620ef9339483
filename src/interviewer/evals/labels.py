"""Figures of the labelled cases themselves, whichever brain grades them.

The score bands the graders' own verdicts imply, how far the two independent graders agreed before
adjudication, whether length predicts gold (a case set where it does cannot tell a grader from a word count),
how the writers' intended levels came out, and any answer that copies its prompt's rubric or reference answer
(which would make it an unfair test of a grader that matches answers against that rubric).
"""

from __future__ import annotations

from typing import get_args

from interviewer.curriculum.tokens import words
from interviewer.evals import metrics
from interviewer.evals.cases import HONEST, LabelledCase, Split, copied_runs
from interviewer.evals.summary import Figures, LevelRecall, level_recall
from interviewer.grading.models import SCORE_CUTS, PointVerdict, RedFlagHit, score_from


class BandRecall(LevelRecall):
    """Honest answers of one split: how often the graders' verdicts, scored in code, give back their own score."""

    n: int


class Bands(Figures):
    """The mapping from weighted rubric coverage to a 0-4 score: the coverage each score step needs, and how
    faithfully it turns the graders' own per-point verdicts into their own scores."""

    cuts: list[float]
    splits: dict[str, BandRecall]


class GraderAgreement(Figures):
    """The two independent graders' scores before adjudication, on the cases that record them."""

    n: int
    qwk: float | None
    exact: float | None
    within_1: float | None
    adjudicated: int


class Balance(Figures):
    """Honest answers of one split (or of all): how many at each gold level, and how well their length alone
    ranks them by gold (|Spearman| near 0: length cannot stand in for content)."""

    n: int
    per_level: list[int]
    length_gold_spearman: float | None


class Intended(Figures):
    """Cases whose writer aimed at a level: how often gold came out at that level, above it or below it, and the
    counts (rows: intended level, columns: gold)."""

    n: int
    exact: float | None
    above: int
    below: int
    confusion: list[list[int]]


def balance(cases: list[LabelledCase]) -> dict[str, Balance]:
    """`Balance` of the honest answers of each split and of all of them (`all`)."""
    groups = {name: [c for c in cases if c.split == name] for name in get_args(Split)}
    groups["all"] = cases
    out: dict[str, Balance] = {}
    for name, group in groups.items():
        honest = [c for c in group if c.case.kind in HONEST]
        gold = [c.case.gold_score for c in honest]
        lengths = [len(words(c.case.answer)) for c in honest]
        out[name] = Balance(
            n=len(honest),
            per_level=[gold.count(level) for level in range(5)],
            length_gold_spearman=round(metrics.spearman(lengths, gold), 4) if honest else None,
        )
    return out


def intended(cases: list[LabelledCase]) -> Intended:
    """The writers' intended levels against the final gold grades."""
    pairs = [(c.case.intended, c.case.gold_score) for c in cases if c.case.intended is not None]
    return Intended(
        n=len(pairs),
        exact=round(sum(i == g for i, g in pairs) / len(pairs), 4) if pairs else None,
        above=sum(g > i for i, g in pairs),
        below=sum(g < i for i, g in pairs),
        confusion=metrics.confusion([i for i, _ in pairs], [g for _, g in pairs]).tolist(),
    )


class CopiedCase(Figures):
    """A case whose answer shares runs of words with its prompt's rubric or reference answer."""

    case: str
    runs: list[str]


def gold_score_in_code(item: LabelledCase, cuts: tuple[float, ...] = SCORE_CUTS) -> int:
    """The score `score_from` gives the gold per-point verdicts and red flags of a case (no answer flags)."""
    points = [
        PointVerdict(
            point_id=p.id,
            text=p.point,
            objective=p.objective,
            weight=p.weight,
            verdict=item.case.gold_points[p.id],
        )
        for p in item.prompt.rubric
    ]
    flags = [RedFlagHit(claim=claim, evidence="", correction="") for claim in item.case.gold_red_flags]
    return score_from(points, flags, [], cuts)[0]


def bands(cases: list[LabelledCase], cuts: tuple[float, ...] = SCORE_CUTS) -> Bands:
    """The cuts, and per split the level recall of the gold verdicts put through them.

    Only honest answers count: an adversarial answer's gold score comes from what it tries (an instruction to
    the grader, a pile of terms), which no coverage band can express.
    """
    splits: dict[str, BandRecall] = {}
    for name in get_args(Split):
        honest = [c for c in cases if c.split == name and c.case.kind in HONEST]
        if honest:
            gold = [c.case.gold_score for c in honest]
            recall = level_recall(gold, [gold_score_in_code(c, cuts) for c in honest])
            splits[name] = BandRecall(n=len(honest), **recall.model_dump())
    return Bands(cuts=list(cuts), splits=splits)


def graders_agreement(cases: list[LabelledCase]) -> GraderAgreement:
    """QWK, exact and within-1 agreement between grader a and grader b, and how many cases they disagreed on
    (each such case was adjudicated by a third grader, whose score is the gold score)."""
    pairs = [(c.case.graders["a"], c.case.graders["b"]) for c in cases if c.case.graders]
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    return GraderAgreement(
        n=len(pairs),
        qwk=round(metrics.quadratic_weighted_kappa(a, b), 4) if pairs else None,
        exact=round(sum(x == y for x, y in pairs) / len(pairs), 4) if pairs else None,
        within_1=round(sum(abs(x - y) <= 1 for x, y in pairs) / len(pairs), 4) if pairs else None,
        adjudicated=sum(x != y for x, y in pairs),
    )


def copied_cases(cases: list[LabelledCase]) -> list[CopiedCase]:
    """Every case whose answer shares a run of `COPY_RUN` or more words (one of them may differ) with its
    prompt's rubric or reference answer, with each shared run at its full length."""
    copied = []
    for item in cases:
        runs = copied_runs(item.case.answer, item.prompt)
        if runs:
            copied.append(CopiedCase(case=item.case.id, runs=_joined(runs)))
    return copied


def _joined(runs: list[str]) -> list[str]:
    """Overlapping n-word runs, in the answer's order, joined into the longer runs they come from."""
    joined: list[list[str]] = []
    for run in runs:
        tokens = run.split()
        if joined and joined[-1][len(joined[-1]) - len(tokens) + 1 :] == tokens[:-1]:
            joined[-1].append(tokens[-1])
        else:
            joined.append(tokens)
    return [" ".join(tokens) for tokens in joined]
