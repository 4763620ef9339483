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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from interviewer.curriculum.corpus import Corpus, Prompt
from interviewer.curriculum.embeddings import DIMENSIONS, MiniLMInt8, Vectors, encoder
from interviewer.curriculum.tokens import READ_SENTENCES, STOPWORDS, split_sentences
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
    """One unit vector for a question and its answer: the question plus the mean of the answer's sentences (its
    first READ_SENTENCES, as the rubric brain reads at most).

    The sentences are read one by one, as the rubric brain reads them, and cached: the grade that follows
    reuses the reading of each sentence instead of reading it again.
    """
    read = encoder().read([s.text for s in split_sentences(answer)[:READ_SENTENCES]], STOPWORDS)
    query = encoder().encode([question])[0]
    if read:
        query = query + np.mean([r.vector for r in read], axis=0)
    unit: Vectors = query / max(float(np.linalg.norm(query)), 1e-12)
    return unit


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _BrokenIndex(Exception):
    """The stored collection opened but does not hold what it should (vectors that cannot be read)."""


# Failures that say the index is busy or the disk is full, not that it is broken: moving it aside would not help.
_NOT_BROKEN = ("database is locked", "database is busy", "disk is full", "no space left")


def _reason(exc: BaseException) -> str:
    """The first line of an error, short enough for a one-line notice."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _busy(exc: BaseException) -> bool:
    """True when a failure says the index is busy or the disk is full, not that it is broken."""
    return any(marker in str(exc).lower() for marker in _NOT_BROKEN)


def open_collection(path: Path) -> Any:
    """The curriculum collection of the Chroma database in the folder `path`, created empty when missing."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(path),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
        )
        function: Any = MiniLMInt8()
        return client.get_or_create_collection(
            COLLECTION, embedding_function=function, metadata={"hnsw:space": "cosine"}
        )
    except PermissionError as exc:
        raise InterviewerError(f"The index folder {path} is not writable: {exc.strerror}") from None


def forget_clients() -> None:
    """Drop Chroma's cached clients, so the next open reads the disk again."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def add_entries(col: Any, entries: list[IndexEntry], *, progress: bool, announced: bool) -> None:
    """Embed entries and add them in batches: a progress bar on a terminal, else one line unless announced."""
    from tqdm import tqdm

    tty = progress and sys.stderr.isatty()
    if progress and not tty and not announced:
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


def read_vectors(col: Any, ids: Sequence[str]) -> dict[str, Vectors]:
    """The stored vector of every id; raises _BrokenIndex when any of them cannot be read."""
    got = col.get(ids=list(ids), include=["embeddings"])
    vectors = {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}
    bad = len(ids) - sum(1 for v in vectors.values() if v.shape == (DIMENSIONS,))
    if bad:
        raise _BrokenIndex(f"{bad} of {len(ids)} vectors cannot be read")
    return vectors


def move_aside(path: Path) -> Path:
    """Rename a broken index to `<name>.broken-<UTC time>` beside it; the user decides when to delete it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    for n in range(1, 100):
        if not aside.exists():
            break
        aside = path.with_name(f"{path.name}.broken-{stamp}-{n}")
    try:
        path.rename(aside)
    except OSError as exc:
        raise InterviewerError(
            f"The curriculum index in {path} is broken and cannot be moved aside ({exc.strerror or exc}); "
            "move it away and start again."
        ) from None
    return aside


def _where(kinds: Sequence[str], topic: str | None, day: int | None) -> dict[str, Any]:
    """A Chroma filter on the kinds of entry, and optionally a topic or a day."""
    clauses: list[dict[str, Any]] = [{"kind": {"$in": list(kinds)}}]
    if topic is not None:
        clauses.append({"topic": topic})
    if day is not None:
        clauses.append({"day": day})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _related(res: Any) -> list[Related]:
    """The hits of a Chroma query, nearest first."""
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


class CurriculumIndex:
    """The curriculum collection in a Chroma PersistentClient under `path`.

    A missing index is built on first use, with a notice on stderr. An index that cannot be opened, synced
    or read back (a garbage database, a file where the folder should be, vectors gone) is moved aside to
    `index.broken-<UTC time>`, never deleted, and built again; `notice` then says what happened and where the
    old folder went, and the same line is printed on stderr.
    """

    degraded: str | None = None  # why the index answers from a local fallback (a server index), else None

    def __init__(self, path: Path, corpus: Corpus, progress: bool = True) -> None:
        self.path = path
        self.corpus = corpus
        self.progress = progress
        self.notice: str | None = None
        self._lock = threading.RLock()
        self._collection: Any = None
        self._vectors: dict[str, Vectors] = {}
        self._wanted = {e.id: e for e in corpus_entries(corpus)}
        self._announced = False

    # -- opening and syncing -------------------------------------------------------------------

    def _open(self) -> Any:
        return open_collection(self.path)

    def collection(self) -> Any:
        """The open collection: built on first use, rebuilt when its folder vanished or broke."""
        with self._lock:
            if self._collection is not None and not (self.path / "chroma.sqlite3").exists():
                log.warning("index folder %s vanished; rebuilding it", self.path)
                self.rebuild()
            if self._collection is None:
                self._load()
            return self._collection

    def sync(self) -> SyncReport:
        """Make the collection hold exactly the corpus entries, embedding only what is new."""
        with self._lock:
            if self._collection is None:
                return self._load()
            return self._sync()

    def _load(self, *, first_start_notice: bool = True) -> SyncReport:
        """Open, sync and read back every vector; a broken index is moved aside and built again."""
        if first_start_notice and not self.path.is_file() and not (self.path / "chroma.sqlite3").exists():
            self._say(f"Building the curriculum index in {self.path} (first start)...", always=False)
        try:
            if self.path.exists() and not self.path.is_dir():
                raise _BrokenIndex("it is a file, not a folder")
            return self._fill()
        except InterviewerError:
            raise
        except Exception as exc:
            if _busy(exc):
                self._reset()
                raise InterviewerError(
                    f"The curriculum index in {self.path} cannot be used now ({_reason(exc)}); try again shortly."
                ) from None
            return self._recover(exc)

    def _fill(self) -> SyncReport:
        """Open the collection, sync it and read every corpus entry's vector back (kept for grading)."""
        self._collection = self._open()
        report = self._sync()
        if self._wanted:
            self._vectors = read_vectors(self._collection, sorted(self._wanted))
        return report

    def _sync(self) -> SyncReport:
        """Embed the corpus entries the open collection lacks and delete the ones the corpus no longer has."""
        col = self._collection
        present = set(col.get(include=[])["ids"])
        wanted = set(self._wanted)
        stale = sorted(present - wanted)
        missing = [self._wanted[i] for i in sorted(wanted - present)]
        for chunk in _batches(stale, 512):
            col.delete(ids=list(chunk))
        if missing:
            add_entries(col, missing, progress=self.progress, announced=self._announced)
        self._vectors.clear()
        return SyncReport(added=len(missing), removed=len(stale), kept=len(present & wanted))

    def _recover(self, exc: Exception) -> SyncReport:
        """Keep the broken index aside, build a new one, and say so on stderr and in `notice`."""
        self._reset()
        aside = move_aside(self.path) if self.path.exists() or self.path.is_symlink() else None
        try:
            report = self._fill()
        except InterviewerError:
            raise
        except Exception as again:
            self._reset()
            raise InterviewerError(
                f"The curriculum index in {self.path} cannot be built ({_reason(again)}); check the data folder."
            ) from None
        where = f"moved it to {aside} and built a new one" if aside else "built a new one"
        self.notice = f"The curriculum index in {self.path} could not be used ({_reason(exc)}); {where}."
        self._say(self.notice, always=True)
        return report

    def _reset(self) -> None:
        """Forget the open collection and Chroma's cached clients, so the next open reads the disk again."""
        self._collection = None
        self._vectors.clear()
        forget_clients()

    def _say(self, line: str, *, always: bool) -> None:
        if always or self.progress:
            print(line, file=sys.stderr, flush=True)
            self._announced = True

    def _guarded(self, operation: Callable[[Any], T]) -> T:
        """Run an operation; if it fails, open the index afresh (repairing it if broken) and retry once."""
        with self._lock:
            try:
                return operation(self.collection())
            except InterviewerError:
                raise
            except Exception as exc:
                log.warning("index operation failed (%s); reopening %s", exc, self.path)
                self._reset()
                self._load(first_start_notice=False)
                return operation(self.collection())

    def rebuild(self) -> SyncReport:
        """Drop the index and embed everything again (`interviewer index --rebuild`)."""
        with self._lock:
            self._reset()
            if self.path.is_dir() and not self.path.is_symlink():
                shutil.rmtree(self.path, ignore_errors=True)
            return self._load(first_start_notice=False)

    # -- reading -------------------------------------------------------------------------------
    def vectors(self, ids: Sequence[str]) -> Vectors:
        """Stored unit vectors for corpus entry ids (as from `entry_ids`), in order."""
        if not ids:
            return np.zeros((0, DIMENSIONS), np.float32)
        for attempt in range(3):
            missing = [i for i in ids if i not in self._vectors]
            if missing:
                got = self._fetch(missing)
                for ident, vector in zip(got["ids"], got["embeddings"], strict=True):
                    self._vectors[ident] = np.asarray(vector, dtype=np.float32)
            if all(i in self._vectors for i in ids):
                return np.stack([self._vectors[i] for i in ids])
            if attempt == 0:
                self.sync()  # the stored collection lacks an entry the corpus has: make it whole
            elif attempt == 1:
                with self._lock:  # entries listed but their vectors gone: read it all back, repair if broken
                    self._reset()
                    self._load(first_start_notice=False)
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
        res = self._guarded(
            lambda col: col.query(
                query_embeddings=[query.tolist()],
                n_results=k,
                where=_where(kinds, topic, day),
                include=["documents", "metadatas", "distances"],
            )
        )
        return _related(res)

    def around(self, prompt: Prompt, answer: str, k: int = 5) -> list[Related]:
        """Objectives and rubric points of the prompt's topic nearest to the question and an answer to it."""
        topic = self.corpus.prompt(prompt.id).topic.id
        return self.related(query_vector(prompt.text, answer), topic=topic, kinds=("objective", "point"), k=k)

    def count(self) -> int:
        return int(self._guarded(lambda col: col.count()))
