"""The rubric brain's reader of meaning: evidence that an answer makes each key point, and a calibrated verdict.

Several readers give evidence for each point, and a calibrated combination of them decides the verdict:
- MiniLM sentence similarity to the point, its paraphrases, and pairs of sentences (an idea may run on). Each
  sentence is read once, for its vector and its tokens' vectors;
- the point's own terms, read with negation (the hand-tuned strength of earlier versions is one feature too);
- soft token alignment (as in BERTScore): how well the point's content words are matched by the answer's,
  which credits a plain-language answer that says the same thing in other words;
- multilingual-e5-small sentence similarity (a second, differently trained encoder; about 40 ms a sentence,
  computed only for a reader that uses it);
- the answer as a whole against the reference answer, and each point against the answer's other points.

Two logistic heads turn the evidence into P(at least partly made) and P(covered). They, the feature list and
the two cut-offs live in `reader.json`, fitted by `evals/fit_reader.py` on the development half of evals/cases
only, choosing the best by development figures; the file's hash is part of the grader's version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

import numpy as np

from interviewer.corpus import Prompt
from interviewer.embeddings import TextReading, Vectors, e5, encoder
from interviewer.errors import InterviewerError
from interviewer.grading.models import Verdict
from interviewer.grading.text import STOPWORDS, Sentence

Table = dict[str, np.ndarray]  # feature name -> one value per rubric point
FEATURES = frozenset(
    "cur terms_next mini_pt mini_para mini_win rival qsim_best ref_mini tokal tokal_s ref_tok e5_pt e5_para "
    "cur_rel mini_pt_rel tokal_rel e5_pt_rel".split()
)


@dataclass(frozen=True)
class Head:
    """A logistic regression over standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # one per feature, then the bias

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.scale
        out: np.ndarray = 1.0 / (1.0 + np.exp(-(z @ self.weights[:-1] + self.weights[-1])))
        return out


@dataclass(frozen=True)
class Reader:
    features: tuple[str, ...]
    partial: Head
    covered: Head
    partial_at: float
    covered_at: float
    digest: str

    def read(self, table: Table) -> tuple[list[Verdict], np.ndarray]:
        """Each point's verdict, and its P(covered) as the match strength."""
        x = np.stack([table[f] for f in self.features], axis=1)
        made, covered = self.partial.probability(x), self.covered.probability(x)
        verdicts: list[Verdict] = [
            "covered" if c > self.covered_at else "partial" if m > self.partial_at else "missed"
            for m, c in zip(made, covered, strict=True)
        ]
        return verdicts, covered


def _head(data: dict[str, list[float]]) -> Head:
    return Head(np.array(data["mean"]), np.array(data["scale"]), np.array(data["weights"]))


def reader_from(text: str, source: str = "reader.json") -> Reader:
    """A reader from its JSON; a broken or unknown one is refused with the reason."""
    try:
        data = json.loads(text)
        reader = _reader(data, hashlib.sha256(text.encode()).hexdigest()[:10])
    except (ValueError, KeyError, TypeError) as exc:
        raise InterviewerError(f"{source} is not a fitted reader ({exc.__class__.__name__}: {exc}).") from None
    unknown = sorted(set(reader.features) - FEATURES)
    sizes = {len(h.mean) for h in (reader.partial, reader.covered)} | {
        len(h.weights) - 1 for h in (reader.partial, reader.covered)
    }
    if unknown or sizes != {len(reader.features)}:
        raise InterviewerError(
            f"{source} does not fit this grader: unknown features {unknown} or wrong sizes {sorted(sizes)}."
        )
    return reader


def _reader(data: dict[str, Any], digest: str) -> Reader:
    return Reader(
        features=tuple(data["features"]),
        partial=_head(data["partial"]),
        covered=_head(data["covered"]),
        partial_at=float(data["partial_at"]),
        covered_at=float(data["covered_at"]),
        digest=digest,
    )


@lru_cache(maxsize=1)
def shipped_reader() -> Reader:
    """The fitted reader shipped with the package."""
    return reader_from(resources.files("interviewer.grading").joinpath("reader.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Answer:
    """What the readers look at: the answer's usable sentences, each read once by MiniLM (its vector and its
    content tokens' vectors), and the question's vector."""

    text: str
    sentences: list[Sentence]
    readings: list[TextReading]
    question: Vectors

    @cached_property
    def vectors(self) -> Vectors:
        """The sentence vectors as one matrix, stacked once."""
        return np.stack([r.vector for r in self.readings])


def evidence(
    prompt: Prompt,
    answer: Answer,
    point_vecs: dict[str, Vectors],
    strength: Table,
    features: frozenset[str] = FEATURES,
) -> Table:
    """The features a reader uses (by default every one), one value per rubric point; `strength` holds `cur` and
    `terms_next`. Only the second encoder's features need more than the sentences' one MiniLM reading."""
    table = {**strength, **_sentence_evidence(prompt, answer, point_vecs)}
    table.update(_token_evidence(prompt, answer))
    if any(f.startswith("e5_") for f in features):
        table.update(_e5_evidence(prompt, answer))
    for name in ("cur", "mini_pt", "tokal", "e5_pt"):
        if name in table:
            table[name + "_rel"] = table[name] - table[name].mean()
    return table


def _sentence_evidence(prompt: Prompt, answer: Answer, point_vecs: dict[str, Vectors]) -> Table:
    """MiniLM: the best sentence (and pair of sentences) for each point, its rival points, the whole answer."""
    sv, texts = answer.vectors, [s.text for s in answer.sentences]
    own = np.stack([point_vecs[p.id][0] for p in prompt.rubric])
    sims = sv @ own.T  # sentences x points
    pairs = encoder().encode([" ".join(texts[i : i + 2]) for i in range(max(1, len(texts) - 1))])
    best = sims.argmax(axis=0)
    cols = np.arange(len(prompt.rubric))
    others = np.where(np.eye(len(cols), dtype=bool)[None, :, :], -np.inf, sims[:, None, :]).max(axis=2)
    whole, reference = encoder().encode([answer.text[:2000], prompt.reference_answer])
    return {
        "mini_pt": sims.max(axis=0),
        "mini_para": np.array([float((sv @ point_vecs[p.id].T).max()) for p in prompt.rubric]),
        "mini_win": (pairs @ own.T).max(axis=0),
        "rival": sims[best, cols] - (others[best, cols] if len(cols) > 1 else 0.0),
        "qsim_best": sv[best] @ answer.question,
        "ref_mini": np.full(len(cols), float(whole @ reference)),
    }


def _token_evidence(prompt: Prompt, answer: Answer) -> Table:
    """Soft token alignment: the share of each point's (and the reference answer's) content words matched."""
    per_sentence = [r.tokens for r in answer.readings]
    whole = np.vstack(per_sentence)  # the answer's content tokens, each read in its own sentence
    *points, reference = _rubric_tokens((*(p.point for p in prompt.rubric), prompt.reference_answer))
    return {
        "tokal": np.array([_recall(p, whole) for p in points]),
        "tokal_s": np.array([max((_recall(p, s) for s in per_sentence), default=0.0) for p in points]),
        "ref_tok": np.full(len(points), _recall(reference, whole)),
    }


@lru_cache(maxsize=256)
def _rubric_tokens(texts: tuple[str, ...]) -> list[Vectors]:
    """Token vectors of a prompt's key points and reference answer (the same for every answer to it)."""
    return encoder().token_vectors(list(texts), skip=STOPWORDS)


def _recall(reference: Vectors, answer: Vectors) -> float:
    if not len(reference) or not len(answer):
        return 0.0
    return float((reference @ answer.T).max(axis=1).mean())


def _e5_evidence(prompt: Prompt, answer: Answer) -> Table:
    """multilingual-e5-small: the best sentence for each point and for any of its paraphrases."""
    sentences = e5().query([s.text for s in answer.sentences])
    own = e5().passage([p.point for p in prompt.rubric])
    return {
        "e5_pt": (sentences @ own.T).max(axis=0),
        "e5_para": np.array(
            [float((sentences @ e5().passage(list(p.paraphrases) or [p.point]).T).max()) for p in prompt.rubric]
        ),
    }
