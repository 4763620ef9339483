"""The Chroma index of the curriculum: topic summaries, objectives, prompts, rubric points, paraphrases.

Ids are content hashes, so syncing re-embeds only what changed and removes what was deleted. A missing
or stale index is rebuilt on first use; a folder deleted under a running process is rebuilt on the next
call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from interviewer.corpus import Corpus, Prompt
from interviewer.embeddings import MiniLMInt8, Vectors, encoder
from interviewer.errors import InterviewerError

COLLECTION = "curriculum"
BATCH = 64
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class IndexEntry:
    id: str
    text: str
    metadata: dict[str, str | int]


@dataclass(frozen=True)
class SyncReport:
    added: int
    removed: int
    kept: int


@dataclass(frozen=True)
class Related:
    """One retrieved objective or rubric point, with its cosine similarity to the query."""

    kind: str
    ref: str
    text: str
    topic: str
    objective: str
    similarity: float


def _entry(kind: str, ref: str, text: str, **meta: str | int) -> IndexEntry:
    metadata: dict[str, str | int] = {"kind": kind, "ref": ref, **meta}
    digest = hashlib.sha256(json.dumps([text, metadata], sort_keys=True).encode()).hexdigest()[:16]
    return IndexEntry(f"{kind}:{ref}:{digest}", text, metadata)


def corpus_entries(corpus: Corpus) -> list[IndexEntry]:
    """Everything the index should hold for this corpus."""
    entries: list[IndexEntry] = []
    for topic in corpus.topics.values():
        base: dict[str, str | int] = {"topic": topic.id, "day": topic.day}
        entries.append(_entry("summary", topic.id, f"{topic.title}. {topic.summary}", objective="", **base))
        for o in topic.objectives:
            entries.append(_entry("objective", o.id, o.text, objective=o.id, **base))
        for p in topic.prompts:
            entries.append(_entry("prompt", p.id, p.text, objective="", prompt=p.id, **base))
            for r in p.rubric:
                meta: dict[str, str | int] = {**base, "objective": r.objective, "prompt": p.id, "point": r.id}
                entries.append(_entry("point", r.id, r.point, **meta))
                for n, text in enumerate(r.paraphrases):
                    entries.append(_entry("paraphrase", f"{r.id}#{n}", text, **meta))
    return entries


def query_vector(question: str, answer: str) -> Vectors:
    """One unit vector for a question and its answer: the question plus the mean of the answer's sentences.

    The sentences are embedded one by one (and cached), so the grader reuses them at no cost.
    """
    from interviewer.grading.text import split_sentences

    texts = [question, *(s.text for s in split_sentences(answer))]
    vectors = encoder().encode(texts)
    query = vectors[0] + vectors[1:].mean(axis=0) if len(texts) > 1 else vectors[0]
    unit: Vectors = query / max(float(np.linalg.norm(query)), 1e-12)
    return unit


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CurriculumIndex:
    """The curriculum collection in a Chroma PersistentClient under `path`."""

    def __init__(self, path: Path, corpus: Corpus, progress: bool = True) -> None:
        self.path = path
        self.corpus = corpus
        self.progress = progress
        self._lock = threading.RLock()
        self._collection: Any = None
        self._vectors: dict[str, Vectors] = {}
        self._wanted = {e.id: e for e in corpus_entries(corpus)}

    # -- opening and syncing -------------------------------------------------------------------

    def _open(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            self.path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=str(self.path),
                settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
            )
            function: Any = MiniLMInt8()
            return client.get_or_create_collection(
                COLLECTION, embedding_function=function, metadata={"hnsw:space": "cosine"}
            )
        except PermissionError as exc:
            raise InterviewerError(f"The index folder {self.path} is not writable: {exc.strerror}") from None

    def collection(self) -> Any:
        with self._lock:
            if self._collection is not None and not (self.path / "chroma.sqlite3").exists():
                log.warning("index folder %s vanished; rebuilding it", self.path)
                self.rebuild()
            if self._collection is None:
                self._collection = self._open()
                self.sync()
            return self._collection

    def sync(self) -> SyncReport:
        """Make the collection hold exactly the corpus entries, embedding only what is new."""
        with self._lock:
            if self._collection is None:
                self._collection = self._open()
            col = self._collection
            present = set(col.get(include=[])["ids"])
            wanted = set(self._wanted)
            stale = sorted(present - wanted)
            missing = [self._wanted[i] for i in sorted(wanted - present)]
            for chunk in _batches(stale, 512):
                col.delete(ids=list(chunk))
            if missing:
                self._add(col, missing)
            self._vectors.clear()
            return SyncReport(added=len(missing), removed=len(stale), kept=len(present & wanted))

    def _add(self, col: Any, entries: list[IndexEntry]) -> None:
        from tqdm import tqdm

        tty = self.progress and sys.stderr.isatty()
        if self.progress and not tty:
            print(f"Building the curriculum index ({len(entries)} entries)...", file=sys.stderr, flush=True)
        bar = tqdm(total=len(entries), desc="Indexing curriculum", unit="entry", disable=not tty, file=sys.stderr)
        with bar:
            for chunk in _batches(entries, BATCH):
                vectors = encoder().encode([e.text for e in chunk])
                col.add(
                    ids=[e.id for e in chunk],
                    documents=[e.text for e in chunk],
                    metadatas=[e.metadata for e in chunk],
                    embeddings=list(vectors),
                )
                bar.update(len(chunk))

    def _guarded(self, operation: Callable[[Any], T]) -> T:
        """Run an operation; if the folder vanished or broke under us, rebuild once and retry."""
        with self._lock:
            try:
                return operation(self.collection())
            except InterviewerError:
                raise
            except Exception as exc:
                log.warning("index unusable (%s); rebuilding %s", exc, self.path)
                self.rebuild()
                return operation(self.collection())

    def rebuild(self) -> SyncReport:
        with self._lock:
            from chromadb.api.shared_system_client import SharedSystemClient

            self._collection = None
            SharedSystemClient.clear_system_cache()
            shutil.rmtree(self.path, ignore_errors=True)
            self._collection = self._open()
            return self.sync()

    # -- reading -------------------------------------------------------------------------------

    def vectors(self, ids: Sequence[str]) -> Vectors:
        """Stored unit vectors for corpus entry ids (as from `entry_ids`), in order."""
        if not ids:
            return np.zeros((0, 384), np.float32)
        for attempt in range(2):
            missing = [i for i in ids if i not in self._vectors]
            if missing:
                got = self._fetch(missing)
                for ident, vector in zip(got["ids"], got["embeddings"], strict=True):
                    self._vectors[ident] = np.asarray(vector, dtype=np.float32)
            if all(i in self._vectors for i in ids):
                return np.stack([self._vectors[i] for i in ids])
            if attempt == 0:
                self.sync()  # the stored collection lacks an entry the corpus has: make it whole
        raise InterviewerError(f"The index at {self.path} has no vectors for {sorted(set(ids) - set(self._vectors))}.")

    def _fetch(self, ids: list[str]) -> Any:
        return self._guarded(lambda col: col.get(ids=ids, include=["embeddings"]))

    def entry_ids(self, kind: str, ref_prefix: str) -> list[str]:
        """Ids of entries of `kind` whose ref is `ref_prefix` or starts with `ref_prefix#`."""
        return [
            e.id
            for e in self._wanted.values()
            if e.metadata["kind"] == kind
            and (e.metadata["ref"] == ref_prefix or str(e.metadata["ref"]).startswith(ref_prefix + "#"))
        ]

    def related(
        self,
        query: Vectors,
        *,
        topic: str | None = None,
        day: int | None = None,
        kinds: Sequence[str] = ("objective", "point"),
        k: int = 5,
    ) -> list[Related]:
        """The objectives and rubric points nearest to a query vector, optionally within a topic or day."""
        clauses: list[dict[str, Any]] = [{"kind": {"$in": list(kinds)}}]
        if topic is not None:
            clauses.append({"topic": topic})
        if day is not None:
            clauses.append({"day": day})
        where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        res = self._guarded(
            lambda col: col.query(
                query_embeddings=[query.tolist()],
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        )
        out: list[Related] = []
        for doc, meta, dist in zip(res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True):
            out.append(
                Related(
                    kind=str(meta["kind"]),
                    ref=str(meta["ref"]),
                    text=str(doc),
                    topic=str(meta["topic"]),
                    objective=str(meta.get("objective", "")),
                    similarity=round(1.0 - float(dist), 4),
                )
            )
        return out

    def around(self, prompt: Prompt, answer: str, k: int = 5) -> list[Related]:
        """Objectives and rubric points of the prompt's topic nearest to the question and an answer to it."""
        topic = self.corpus.prompt(prompt.id).topic.id
        return self.related(query_vector(prompt.text, answer), topic=topic, kinds=("objective", "point"), k=k)

    def count(self) -> int:
        return int(self._guarded(lambda col: col.count()))
