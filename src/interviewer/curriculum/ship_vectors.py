"""Writes the corpus's vectors that ship beside the sentence encoder (`make vectors`).

Building the curriculum index embeds about 1,150 texts: on 2 cores, most of a first start, of `interviewer index`
into a Chroma server and of `make cluster`. The encoder gives a text the same vector whatever it reads beside it,
so the vectors it made of the corpus's texts are kept in `interviewer/curriculum/data/corpus-vectors.npz` and read
back instead of made again (`embeddings.shipped_vectors`). The file holds each text's key (the first 32 hex digits
of its SHA-256) and vector, and the SHA-256 of the encoder that made them; `corpus-vectors.sha256` pins the file's
own SHA-256, checked before it is read. A text it lacks (the corpus edited since) is embedded as before;
tests/integration/test_index.py fails until the file is written again.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from interviewer.config import Settings
from interviewer.curriculum.corpus import load_corpus
from interviewer.curriculum.embeddings import (
    MODEL_SHA256,
    SHIPPED_PIN,
    SHIPPED_VECTORS,
    SentenceEncoder,
    Vectors,
    shipped_folder,
    text_key,
)
from interviewer.curriculum.index import BATCH, corpus_entries


def write_vectors(texts: list[str], folder: Path | None = None) -> Path:
    """Embed `texts` afresh, in the batches a new index embeds them in (so that each vector is the very one a build
    without this file stores), and write them, and the file's pin, to `folder` (the package's data)."""
    folder = folder or shipped_folder()
    fresh = SentenceEncoder(shipped={})  # never the vectors it is replacing
    made: dict[str, Vectors] = {}
    for start in range(0, len(texts), BATCH):
        chunk = texts[start : start + BATCH]
        made.update((t, v) for t, v in zip(chunk, fresh.encode(chunk), strict=True) if t not in made)
    unique = sorted(made)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SHIPPED_VECTORS
    with path.open("wb") as out:
        keys = np.array([text_key(t) for t in unique])
        vectors = np.stack([made[t] for t in unique])
        np.savez_compressed(out, model=np.array(MODEL_SHA256), keys=keys, vectors=vectors)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / SHIPPED_PIN).write_text(f"{digest}  {SHIPPED_VECTORS}\n", encoding="utf-8")
    return path


def main() -> int:
    texts = [e.text for e in corpus_entries(load_corpus(Settings().corpus_dir))]
    path = write_vectors(texts)
    print(f"wrote {path} ({len(set(texts))} texts) and its pin {SHIPPED_PIN}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
