"""`interviewer eval asag FILE.jsonl`: the rubric brain on human-graded short-answer data sets.

Each line holds a question, a reference answer, a student's answer and the human score (fields
question, reference_answer, answer, score, max_score; optional split, label_2way, reference_answers).
The reference answers become the rubric: one point whose alternatives are the reference answers, with
their content words (less the question's) as its terms. The brain's continuous match strength, rescaled
to max_score, is compared with the human score; for 2-way labels the threshold is fitted on the train
split only and then applied to every split.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SerializerFunctionWrapHandler, model_serializer

from interviewer.curriculum.corpus import Prompt, RubricPoint
from interviewer.curriculum.embeddings import Vectors, e5, encoder
from interviewer.errors import InterviewerError
from interviewer.evals import metrics
from interviewer.evals.summary import Figures
from interviewer.grading.reader import Head, fit_logistic
from interviewer.grading.rubric import RubricBrain
from interviewer.grading.text import NEGATIONS, STOPWORDS, clean, content_stems, words

REQUIRED = ("question", "reference_answer", "answer", "score", "max_score")


@dataclass(frozen=True)
class AsagRow:
    question: str
    references: tuple[str, ...]
    answer: str
    score: float
    max_score: float
    split: str
    label_2way: str | None


def _references(item: dict[str, Any]) -> tuple[str, ...]:
    refs = [str(item["reference_answer"])]
    extra = item.get("reference_answers")
    if isinstance(extra, str) and extra.strip():
        try:
            extra = ast.literal_eval(extra)
        except (ValueError, SyntaxError):
            extra = None
    if isinstance(extra, list):
        refs += [str(r.get("text", "")) if isinstance(r, dict) else str(r) for r in extra]
    return tuple(dict.fromkeys(r.strip() for r in refs if r and r.strip()))


def read_rows(path: Path) -> Iterator[AsagRow]:
    """Rows of a JSON Lines file; a bad line stops with its number and the field at fault."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InterviewerError(f"Cannot read {path}: {exc.strerror}.") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InterviewerError(f"{path}:{number}: not JSON ({exc.msg}).") from None
            if not isinstance(item, dict):
                raise InterviewerError(f"{path}:{number}: expected a JSON object.")
            for name in REQUIRED:
                if name not in item or item[name] is None:
                    raise InterviewerError(f"{path}:{number}: field {name!r} is missing.")
            try:
                score, max_score = float(item["score"]), float(item["max_score"])
            except (TypeError, ValueError):
                raise InterviewerError(f"{path}:{number}: score and max_score must be numbers.") from None
            if max_score <= 0:
                raise InterviewerError(f"{path}:{number}: max_score must be positive.")
            label = item.get("label_2way")
            yield AsagRow(
                question=str(item["question"]),
                references=_references(item),
                answer=str(item["answer"]),
                score=score,
                max_score=max_score,
                split=str(item.get("split") or "all"),
                label_2way=str(label) if label is not None else None,
            )


def reference_prompt(question: str, references: tuple[str, ...]) -> Prompt:
    """A one-point rubric built from the reference answers of a question."""
    asked = set(words(question))
    terms = sorted(
        {w for r in references for w in words(r) if w not in STOPWORDS and w not in asked and len(w) > 2}
    ) or ["answer"]
    ident = "asag-" + hashlib.sha256(("\n".join([question, *references])).encode()).hexdigest()[:12]
    point = RubricPoint.model_construct(
        id=ident + "-ref",
        point=references[0],
        objective="reference",
        weight=3,
        terms=tuple(terms),
        paraphrases=references[1:],
        probe="?",
    )
    return Prompt.model_construct(
        id=ident,
        text=question,
        source="authored",
        rubric=(point,),
        red_flags=(),
        follow_ups=(),
        reference_answer=references[0],
    )


def strength(brain: RubricBrain, row: AsagRow) -> float:
    """The brain's 0-1 match strength of an answer against the reference rubric."""
    text = clean(row.answer, 100_000)
    if not any(ch.isalnum() for ch in text):
        return 0.0
    grade = brain.grade(reference_prompt(row.question, row.references), text)
    return grade.points[0].strength if grade.points else 0.0


def best_threshold(values: list[float], labels: list[str], positive: str) -> float:
    """The cut on `values` that maximises 2-way macro-F1 (fitted on the train split only)."""
    v = np.asarray(values, dtype=float)
    pos = np.asarray([label == positive for label in labels])
    order = np.argsort(-v)
    v, pos = v[order], pos[order]
    tp = np.cumsum(pos)  # predicting positive for the top k+1 values
    fp = np.cumsum(~pos)
    total_pos, n = pos.sum(), len(v)
    fn = total_pos - tp
    tn = (n - total_pos) - fp
    f1_pos = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    f1_neg = 2 * tn / np.maximum(2 * tn + fn + fp, 1)
    macro = (f1_pos + f1_neg) / 2
    # only cut between distinct values
    valid = np.r_[v[1:] != v[:-1], True]
    best = int(np.argmax(np.where(valid, macro, -1.0)))
    return float(v[best])


FEATURES = (
    "strength",
    "similarity_max",
    "similarity_mean",
    "term_recall",
    "term_precision",
    "question_overlap",
    "negation_mismatch",
    "log_words",
    "token_recall",
    "token_precision",
    "token_f1",
    "e5_similarity_max",
    "e5_similarity_mean",
)
NEIGHBOUR_FEATURES = (
    "nearest_correct",
    "nearest_incorrect",
    "nearest_margin",
    "top3_correct",
    "top3_incorrect",
    "nearest_correct_token_f1",
    "e5_nearest_correct",
    "e5_nearest_incorrect",
    "e5_nearest_margin",
    "e5_top3_correct",
    "e5_top3_incorrect",
)


@dataclass(frozen=True)
class _Encoded:
    """Sentence and token vectors of every answer and reference, by text."""

    vectors: np.ndarray
    tokens: list[Vectors]
    at: dict[str, int]
    e5_answers: np.ndarray  # multilingual-e5-small `query` vectors, by the same index as `vectors`
    e5_references: np.ndarray  # its `passage` vectors (zero rows for texts that are only answers)

    def vector(self, text: str) -> np.ndarray:
        row: np.ndarray = self.vectors[self.at[text]]
        return row

    def aligned(self, reference: str, answer: str) -> tuple[float, float, float]:
        return _alignment(self.tokens[self.at[reference]], self.tokens[self.at[answer]])


def _encode(rows: list[AsagRow]) -> _Encoded:
    texts = sorted({r.answer for r in rows} | {x for r in rows for x in r.references})
    vectors = encoder().encode(texts, batch_size=64)
    tokens = encoder().token_vectors(texts, skip=STOPWORDS)
    at = {text: i for i, text in enumerate(texts)}
    answers = e5().query(texts)
    references = np.zeros_like(answers)
    refs = sorted({x for r in rows for x in r.references})
    references[[at[x] for x in refs]] = e5().passage(refs)
    return _Encoded(vectors, tokens, at, answers, references)


def _features(brain: RubricBrain, rows: list[AsagRow], progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Reference-matching evidence per answer, and evidence from graded train answers of the same question."""
    from tqdm import tqdm

    encoded = _encode(rows)
    train_of: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.split == "train" and r.label_2way:
            train_of[r.question].append(i)
    base, neighbours = [], []
    bar = tqdm(rows, desc="Grading answers", unit="answer", disable=not progress, file=sys.stderr)
    for i, r in enumerate(bar):
        base.append(_reference_evidence(brain, r, encoded))
        others = [j for j in train_of.get(r.question, []) if j != i]
        neighbours.append(_neighbour_evidence(r, [rows[j] for j in others], encoded))
    return np.array(base, dtype=float), np.array(neighbours, dtype=float)


def _reference_evidence(brain: RubricBrain, r: AsagRow, encoded: _Encoded) -> list[float]:
    """The FEATURES of one answer: how it matches the reference answers."""
    answer = encoded.vector(r.answer)
    sims = encoded.vectors[[encoded.at[x] for x in r.references]] @ answer
    asked = set(content_stems(r.question))
    said = set(content_stems(r.answer))
    own = said - asked
    recall = precision = 0.0
    for ref in r.references:
        ref_stems = set(content_stems(ref))
        if ref_stems - asked:
            recall = max(recall, len((ref_stems - asked) & said) / len(ref_stems - asked))
        if own:
            precision = max(precision, len(own & ref_stems) / len(own))
    negated = bool(set(words(r.answer)) & NEGATIONS) != bool(set(words(r.references[0])) & NEGATIONS)
    alignment = max((encoded.aligned(ref, r.answer) for ref in r.references), key=lambda t: t[2])
    e5_sims = encoded.e5_references[[encoded.at[x] for x in r.references]] @ encoded.e5_answers[encoded.at[r.answer]]
    return [
        strength(brain, r),
        float(sims.max()),
        float(sims.mean()),
        recall,
        precision,
        len(said & asked) / max(len(said), 1),
        float(negated),
        float(np.log1p(len(words(r.answer)))),
        *alignment,
        float(e5_sims.max()),
        float(e5_sims.mean()),
    ]


def _neighbour_evidence(r: AsagRow, others: list[AsagRow], encoded: _Encoded) -> list[float]:
    """The NEIGHBOUR_FEATURES of one answer: how it matches the other graded train answers to its question."""
    if not others:
        return [np.nan] * len(NEIGHBOUR_FEATURES)
    near = encoded.vectors[[encoded.at[o.answer] for o in others]] @ encoded.vector(r.answer)
    good = np.array([o.label_2way == "correct" for o in others])
    closest = others[int(np.argmax(np.where(good, near, -1.0)))] if good.any() else None
    aligned = encoded.aligned(closest.answer, r.answer)[2] if closest is not None else 0.0
    e5_near = encoded.e5_answers[[encoded.at[o.answer] for o in others]] @ encoded.e5_answers[encoded.at[r.answer]]
    return [*_nearest(near, good), aligned, *_nearest(e5_near, good)]


def _nearest(near: np.ndarray, good: np.ndarray) -> list[float]:
    """Similarity to the closest correct and incorrect answers, their margin, and the mean of the top three."""
    best_good = float(near[good].max()) if good.any() else 0.0
    best_bad = float(near[~good].max()) if (~good).any() else 0.0
    top_good = float(np.sort(near[good])[-3:].mean()) if good.any() else 0.0
    top_bad = float(np.sort(near[~good])[-3:].mean()) if (~good).any() else 0.0
    return [best_good, best_bad, best_good - best_bad, top_good, top_bad]


def _alignment(reference: np.ndarray, answer: np.ndarray) -> tuple[float, float, float]:
    """Soft token overlap (as in BERTScore): recall, precision and F1 of the best token matches."""
    if not len(reference) or not len(answer):
        return 0.0, 0.0, 0.0
    sims = reference @ answer.T
    recall, precision = float(sims.max(axis=1).mean()), float(sims.max(axis=0).mean())
    return recall, precision, 2 * recall * precision / max(recall + precision, 1e-9)


@dataclass(frozen=True)
class Calibration:
    """Logistic regression from evidence to P(correct), fitted on the train split, and its 2-way cut."""

    head: Head
    threshold: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.head.probability(x)


def fit_calibration(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 4000) -> Calibration:
    head = fit_logistic(x, y, l2=l2, steps=steps, rate=0.1, nonnegative=False)
    cut = best_threshold(head.probability(x).tolist(), ["correct" if v else "incorrect" for v in y], "correct")
    return Calibration(head, cut)


class SplitFigures(Figures):
    n: int
    pearson: float
    spearman: float
    rmse: float
    accuracy: float | None = None  # with 2-way labels and a fitted threshold only (absent from the JSON otherwise)
    macro_f1: float | None = None

    @model_serializer(mode="wrap")
    def _measured_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if v is not None}


class AsagReport(Figures):
    """What `interviewer eval asag FILE` measures, per split of the file."""

    file: str
    grader: str
    method: str
    thresholds_2way: dict[str, float]
    fitted_on: str | None
    splits: dict[str, SplitFigures]


@dataclass(frozen=True)
class _Fitted:
    """P(correct) per row, the 2-way cut per row, and how they were obtained."""

    probs: np.ndarray
    cut: np.ndarray
    method: str
    thresholds: dict[str, float]


def _fit(rows: list[AsagRow], base: np.ndarray, neighbours: np.ndarray) -> _Fitted:
    """Calibrate the evidence to P(correct) on the labelled train split, when it is large enough."""
    is_train = np.array([r.split == "train" and r.label_2way is not None for r in rows])
    seen = ~np.isnan(neighbours[:, 0])
    probs = np.array([strength for strength in base[:, 0]])
    method = "match strength only (no labelled train split to fit on)"
    models: dict[str, float] = {}
    if is_train.sum() >= 20:
        y = np.array([r.label_2way == "correct" for r in rows], dtype=float)
        reference = fit_calibration(base[is_train], y[is_train])
        probs = reference.predict(base)
        models["reference"] = reference.threshold
        method = "reference answers as the rubric, calibrated on train"
        with_train = is_train & seen
        if with_train.sum() >= 20 and seen.any():
            both = np.hstack([base, np.nan_to_num(neighbours)])
            neighbour = fit_calibration(both[with_train], y[with_train])
            probs = np.where(seen, neighbour.predict(both), probs)
            models["reference_and_train_answers"] = neighbour.threshold
            method += "; for questions seen in train, its graded answers are extra references"
    cut = np.where(seen, models.get("reference_and_train_answers", 0.5), models.get("reference", 0.5))
    return _Fitted(probs, cut, method, models)


def _split_figures(rows: list[AsagRow], pick: list[int], fitted: _Fitted) -> SplitFigures:
    gold = [rows[i].score for i in pick]
    pred = [float(fitted.probs[i]) * rows[i].max_score for i in pick]
    accuracy = macro_f1 = None
    if fitted.thresholds and all(rows[i].label_2way for i in pick):
        labels = [rows[i].label_2way or "" for i in pick]
        guesses = ["correct" if fitted.probs[i] >= fitted.cut[i] else "incorrect" for i in pick]
        accuracy = round(metrics.accuracy(labels, guesses), 4)
        macro_f1 = round(metrics.macro_f1(labels, guesses), 4)
    return SplitFigures(
        n=len(pick),
        pearson=round(metrics.pearson(gold, pred), 4),
        spearman=round(metrics.spearman(gold, pred), 4),
        rmse=round(metrics.rmse(gold, pred), 4),
        accuracy=accuracy,
        macro_f1=macro_f1,
    )


def evaluate(path: Path, brain: RubricBrain, only_split: str | None = None, progress: bool = True) -> AsagReport:
    """Per split: n, Pearson, Spearman, RMSE; with 2-way labels, accuracy and macro-F1 (fitted on train)."""
    rows = list(read_rows(path))
    if not rows:
        raise InterviewerError(f"{path} has no rows.")
    fitted = _fit(rows, *_features(brain, rows, progress))
    splits = {
        split: _split_figures(rows, [i for i, r in enumerate(rows) if r.split == split], fitted)
        for split in sorted({r.split for r in rows})
        if only_split is None or split == only_split
    }
    return AsagReport(
        file=str(path),
        grader=brain.version,
        method=fitted.method,
        thresholds_2way={k: round(v, 4) for k, v in fitted.thresholds.items()},
        fitted_on="train" if fitted.thresholds else None,
        splits=splits,
    )
