"""The point reader: a cross-encoder that reads a rubric point and the answer's words about it together.

Sentence similarity sees that "skew is when serving features differ from training features" and "skew is when
the model overfits its training data" use the same words; it cannot tell the right claim from the wrong one. A
cross-encoder reads the point and the answer's text in one pass, word against word, and says whether the text
makes the point.

The model is MiniLM-L6 fine-tuned on the point verdicts of the development half of evals/cases (covered against
missed; `evals/train_point_reader.py` builds the pairs, trains, exports ONNX and quantises it to int8). It ships
as package data, and both files are checked against their SHA-256 before they are loaded.

For each point it reads the answer's sentence closest to the point (MiniLM similarity to the point and its
paraphrases) alone, and its window: that sentence and the next closest, most similar first, so the order of the
answer's sentences does not matter. The point's P(made) is the better of the two. Each pair is read on its own,
so a point's reading depends on nothing but the point and its text; the windows are read only where the closest
sentence alone leaves the verdict open.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from interviewer.curriculum.corpus import RubricPoint
from interviewer.curriculum.embeddings import Vectors, batch_tokenizer, checked_file, loaded_once, onnx_session

MODEL_FILE = "point-reader-int8.onnx"
MODEL_SHA256 = "3fcf519d86b1d952cfa08e877bfcb629fa4420bb591d9bcb2ae4932f931e8ade"
TOKENIZER_FILE = "point-reader-tokenizer.json"
TOKENIZER_SHA256 = "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66"
MAX_TOKENS = 160  # a point and two sentences; a longer pair is cut, longest part first
WINDOW = 2  # sentences per point


def _data(name: str) -> Path:
    return Path(str(resources.files("interviewer.grading").joinpath("data", name)))


class PointReader:
    """One ONNX session of the point reader, thread-safe, with a small cache of recent pairs."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._tokenizer = batch_tokenizer(checked_file(_data(TOKENIZER_FILE), TOKENIZER_SHA256), MAX_TOKENS)
        self._session = onnx_session(checked_file(_data(MODEL_FILE), MODEL_SHA256))
        self._lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def clear_cache(self) -> None:
        """Forget recent pairs."""
        with self._lock:
            self._recent.clear()

    def made(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """P(the text makes the point) for each (point, text) pair.

        Each pair is read on its own: the model quantises its activations with one scale per input, so a pair
        read in a batch would depend on its batch mates (and on their padding). Alone, it is also faster, and a
        pair read again (the same sentences of a longer answer, an answer graded again) is taken from the cache."""
        logits = np.zeros((len(pairs), 2))
        with self._lock:
            for i, (point, text) in enumerate(pairs):
                # The text by its digest: a small key, however long the text.
                key = (point, hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest())
                if key not in self._recent:
                    self._recent[key] = self._logits(point, text)
                    if len(self._recent) > self._cache_size:
                        self._recent.popitem(last=False)
                self._recent.move_to_end(key)
                logits[i] = self._recent[key]
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        out: np.ndarray = shifted[:, 1] / shifted.sum(axis=1)
        return out

    def _logits(self, point: str, text: str) -> np.ndarray:
        e = self._tokenizer.encode(point, text)
        feed = {
            "input_ids": np.array([e.ids], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids], dtype=np.int64),
        }
        logits: np.ndarray = np.asarray(self._session.run(None, feed)[0], dtype=np.float64)[0]
        return logits


@loaded_once
def point_reader() -> PointReader:
    """The process-wide point reader, loaded (and its files checked) on first use."""
    return PointReader()


def windows(
    points: Sequence[RubricPoint], sentences: list[str], vectors: Vectors, point_vecs: dict[str, Vectors]
) -> list[tuple[str, str]]:
    """For each rubric point, the answer's sentence closest to it, and that sentence with the next closest."""
    out = []
    for point in points:
        sims = (vectors @ point_vecs[point.id].T).max(axis=1)
        order = sorted(range(len(sentences)), key=lambda i: (-float(sims[i]), sentences[i]))
        out.append((sentences[order[0]], " ".join(sentences[i] for i in order[:WINDOW])))
    return out


def points_made(
    points: Sequence[RubricPoint],
    sentences: list[str],
    vectors: Vectors,
    point_vecs: dict[str, Vectors],
    undecided: Callable[[np.ndarray], list[bool]] | None = None,
) -> np.ndarray:
    """The point reader's P(made) for each of `points`: the better of its closest sentence alone and its window,
    so that a sentence added to the answer cannot dilute the one that makes the point.

    The closest sentences are read first. `undecided` (given their readings) says which points a higher reading
    could still change: only those windows are read, and the others keep the lower bound their closest sentence
    gives."""
    texts = windows(points, sentences, vectors, point_vecs)
    reader = point_reader()
    out = reader.made([(p.point, one) for p, (one, _) in zip(points, texts, strict=True)])
    todo = [j for j, (one, both) in enumerate(texts) if one != both]
    if undecided is not None and todo:
        open_ = undecided(out)
        todo = [j for j in todo if open_[j]]
    if todo:
        out[todo] = np.maximum(out[todo], reader.made([(points[j].point, texts[j][1]) for j in todo]))
    return out
