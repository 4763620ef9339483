"""The rubric brain's reader of meaning: evidence that an answer makes each key point, and a calibrated verdict.

A point is judged on what the answer says about it, and on nothing else. Several readers give evidence that
ties the answer's sentences to the point, and a calibrated combination of them decides its verdict:
- MiniLM sentence similarity to the point and to its paraphrases (each sentence is read once, for its vector
  and its tokens' vectors);
- the point's own terms, read with negation, in its best sentence and anywhere in the answer (the hand-tuned
  strength of earlier versions is one feature too);
- soft token alignment (as in BERTScore): how well the point's content words are matched by the answer's,
  which credits a plain-language answer that says the same thing in other words;
- multilingual-e5-small sentence similarity (a second, differently trained encoder, computed only for a reader
  that uses it);
- the point reader (grading/cross.py): a cross-encoder that reads the point and the answer's two sentences
  closest to it together, and tells a right claim from a wrong one in the same words.
No feature of the whole answer enters: its length, its likeness to the reference answer and the other points'
evidence are not read, and answer-level judgements (padding, stuffing, off topic) are flags that act on the score.

Two logistic heads turn the evidence into P(at least partly made) and P(covered). Their weights are never
negative, so more evidence never lowers a verdict: adding a sentence cannot cost another point anything. They,
the feature list and the two cut-offs live in `reader.json`, fitted by `evals/fit_reader.py` on the development
half of evals/cases only, choosing by a rule declared on development; the file's hash is part of the grader's
version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from interviewer.curriculum.corpus import Prompt
from interviewer.curriculum.embeddings import MODEL_SHA256, TextReading, Vectors, e5, encoder
from interviewer.errors import InterviewerError
from interviewer.grading.cross import points_made
from interviewer.grading.models import Verdict
from interviewer.grading.text import STOPWORDS, Sentence

log = logging.getLogger(__name__)
Table = dict[str, np.ndarray]  # feature name -> one value per rubric point
# Each a point's own evidence: nothing of the whole answer (its length, its likeness to the reference answer, the
# other points' evidence) enters a point's verdict.
FEATURES = frozenset("cur terms_s terms_all mini_pt mini_para tokal tokal_s e5_pt e5_para nli_pt".split())


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


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, steps: int = 3000, rate: float = 0.2, nonnegative: bool = True
) -> Head:
    """Gradient descent on the L2-regularised log-loss over standardised features; with `nonnegative`, each
    feature's weight is projected back to 0 or above after every step (as a reader's heads must be)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        w -= rate * (z.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0.0] / len(y))
        if nonnegative:
            w[:-1] = np.maximum(w[:-1], 0.0)
    return Head(mean, scale, w)


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
    if any((h.weights[:-1] < 0).any() for h in (reader.partial, reader.covered)):
        raise InterviewerError(f"{source} weighs some evidence negatively: more evidence could lower a verdict.")
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
    def texts(self) -> list[str]:
        return [s.text for s in self.sentences]

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
    """The features a reader uses (by default every one), one value per rubric point; `strength` holds `cur`,
    `terms_s` and `terms_all`. Only the second encoder's features need more than the sentences' MiniLM reading.

    Every feature is a point's own evidence, the best over the answer's sentences (or over their union): adding a
    sentence never lowers it, and the order of the sentences does not change it."""
    table = {**strength, **_sentence_evidence(prompt, answer, point_vecs)}
    table.update(_token_evidence(prompt, answer))
    if any(f.startswith("e5_") for f in features):
        table.update(_e5_evidence(prompt, answer))
    if "nli_pt" in features:
        table["nli_pt"] = points_made(prompt.rubric, answer.texts, answer.vectors, point_vecs)
    return table


def read_answer(
    reader: Reader,
    prompt: Prompt,
    answer: Answer,
    point_vecs: dict[str, Vectors],
    strength: Table,
    every_point: bool = False,
) -> tuple[list[Verdict], np.ndarray]:
    """The reader's verdict and P(covered) on each point of an answer.

    The point reader runs only on the points whose verdict it could still change. Its P(made) lies in [0, 1]
    and weighs positively, so a point that gets the same verdict with it at 0 and at 1 gets that verdict at any
    value: the verdicts are exact, and a point settled without it reports P(covered) with it at 0 (a lower
    bound). Likewise a point whose closest sentence alone settles it is not read in its wider window, and reports
    P(covered) at that reading (a lower bound too). `every_point` reads every point in full, for an exact
    P(covered) everywhere."""
    needs = frozenset(reader.features)
    table = evidence(prompt, answer, point_vecs, strength, needs - {"nli_pt"})
    if "nli_pt" in needs:
        count = len(prompt.rubric)
        at_0 = reader.read({**table, "nli_pt": np.zeros(count)})[0]
        at_1 = reader.read({**table, "nli_pt": np.ones(count)})[0]
        unsettled = [j for j in range(count) if every_point or at_0[j] != at_1[j]]
        made = np.zeros(count)

        def undecided(lower: np.ndarray) -> list[bool]:
            made[unsettled] = lower
            at_lower = reader.read({**table, "nli_pt": made})[0]
            return [every_point or at_lower[j] != at_1[j] for j in unsettled]

        if unsettled:
            points = [prompt.rubric[j] for j in unsettled]
            made[unsettled] = points_made(points, answer.texts, answer.vectors, point_vecs, undecided)
        table["nli_pt"] = made
    return reader.read(table)


def _sentence_evidence(prompt: Prompt, answer: Answer, point_vecs: dict[str, Vectors]) -> Table:
    """MiniLM: the best sentence for each point, and for any of its paraphrases."""
    sv = answer.vectors
    own = np.stack([point_vecs[p.id][0] for p in prompt.rubric])
    return {
        "mini_pt": (sv @ own.T).max(axis=0),
        "mini_para": np.array([float((sv @ point_vecs[p.id].T).max()) for p in prompt.rubric]),
    }


def _token_evidence(prompt: Prompt, answer: Answer) -> Table:
    """Soft token alignment: the share of each point's content words matched in its best sentence, and anywhere."""
    per_sentence = [r.tokens for r in answer.readings]
    whole = np.vstack(per_sentence)  # the answer's content tokens, each read in its own sentence
    points = rubric_tokens(tuple(p.point for p in prompt.rubric))
    return {
        "tokal": np.array([_recall(p, whole) for p in points]),
        "tokal_s": np.array([max((_recall(p, s) for s in per_sentence), default=0.0) for p in points]),
    }


_TOKENS: dict[str, Vectors] = {}
_TOKENS_LOCK = threading.Lock()


def rubric_tokens(texts: tuple[str, ...]) -> list[Vectors]:
    """Token vectors of a prompt's key points (the same for every answer to it), kept once read."""
    with _TOKENS_LOCK:
        missing = [t for t in dict.fromkeys(texts) if t not in _TOKENS]
    if missing:
        read = encoder().token_vectors(missing, skip=STOPWORDS)
        with _TOKENS_LOCK:
            _TOKENS.update(zip(missing, read, strict=True))
    with _TOKENS_LOCK:
        return [_TOKENS[t] for t in texts]


def _key(text: str) -> str:
    return hashlib.sha256(f"{MODEL_SHA256}\n{text}".encode()).hexdigest()[:32]


def load_rubric_tokens(path: Path, texts: list[str]) -> int:
    """Take the token vectors of `texts` that the file at `path` holds (written by `save_rubric_tokens` for the
    same encoder); how many it held. A missing or unreadable file holds none."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, offsets, vectors = list(data["keys"]), data["offsets"], data["vectors"]
    except (OSError, ValueError, KeyError) as exc:
        log.info("no stored rubric token vectors at %s: %s", path, exc)
        return 0
    at = {str(k): i for i, k in enumerate(keys)}
    found = {t: at[_key(t)] for t in texts if _key(t) in at}
    with _TOKENS_LOCK:
        for text, i in found.items():
            _TOKENS[text] = np.asarray(vectors[offsets[i] : offsets[i + 1]], dtype=np.float32)
    return len(found)


def keep_rubric_tokens(path: Path, texts: list[str]) -> None:
    """Read the token vectors of `texts` from `path`, and read the rest with the encoder and store them all there."""
    if load_rubric_tokens(path, texts) < len(set(texts)):
        save_rubric_tokens(path, texts)


def save_rubric_tokens(path: Path, texts: list[str]) -> None:
    """Write the token vectors of `texts` to `path` atomically (replicas sharing a folder may write it at once)."""
    tokens = rubric_tokens(tuple(dict.fromkeys(texts)))
    offsets = np.cumsum([0, *(len(v) for v in tokens)])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            keys = np.array([_key(t) for t in dict.fromkeys(texts)], dtype=str)
            np.savez(out, keys=keys, offsets=offsets, vectors=np.vstack(tokens))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot store the rubric token vectors at %s: %s", path, exc)


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
