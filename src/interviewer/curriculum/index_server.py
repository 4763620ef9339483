"""The curriculum index on a Chroma server (INTERVIEWER_CHROMA_URL), and the choice between it and the folder.

Only `interviewer index` writes to the server; the app's replicas only read, and refuse an empty or stale
collection, or one embedded with another function, saying what to do. While the server cannot be reached an
interview goes on: rubric point vectors come from the local copy written whenever they were read from the
server (else from the shipped encoder, which made them), related objectives are not retrieved, and
`degraded` says so.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np

from interviewer.config import CHROMA_URL_VAR, Settings
from interviewer.curriculum.corpus import Corpus
from interviewer.curriculum.embeddings import DIMENSIONS, MiniLMInt8, Vectors, encoder
from interviewer.curriculum.index import COLLECTION, CurriculumIndex, Related, SyncReport, read_vectors
from interviewer.errors import InterviewerError

log = logging.getLogger(__name__)
T = TypeVar("T")

RUBRIC_COPY = "rubric-vectors.npz"
RETRY_SECONDS = 15.0
SERVER_TIMEOUT_S = 10.0  # seconds a request to the Chroma server may take before grading uses the local copy
DEGRADED = "The curriculum server is unreachable; grading goes on from a local copy of the rubric."
_RUBRIC_KINDS = ("point", "paraphrase")


class _Unreachable(Exception):
    """The Chroma server did not answer (or answered with an error): the index is degraded."""


def open_index(settings: Settings, corpus: Corpus, *, progress: bool = True, writer: bool = False) -> CurriculumIndex:
    """The curriculum index the settings choose: on the Chroma server of INTERVIEWER_CHROMA_URL (written only
    when `writer`, as by `interviewer index`), else in the folder `index/` of the data folder."""
    if not settings.chroma_url:
        return CurriculumIndex(settings.index_dir, corpus, progress=progress)
    copy = settings.data_dir / RUBRIC_COPY
    return ServerIndex(settings.chroma_url, corpus, copy=copy, progress=progress, writer=writer)


def server_client(url: str) -> Any:
    """A `chromadb.HttpClient` for a checked server URL; raises _Unreachable when the server does not answer."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    try:
        client = chromadb.HttpClient(
            host=parts.hostname or "",
            port=parts.port or (443 if ssl else 8000),
            ssl=ssl,
            settings=ChromaSettings(anonymized_telemetry=False),
        )
    except Exception as exc:
        raise _Unreachable(str(exc)) from exc
    _bound_wait(client)
    return client


def _bound_wait(client: Any) -> None:
    """Give the client's HTTP session a timeout: chromadb's own waits for ever, so a server that accepts a
    connection and never answers would hang the turn instead of sending grading to the local rubric copy."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(SERVER_TIMEOUT_S, connect=min(SERVER_TIMEOUT_S, 3.0))


def _check_function(col: Any, url: str) -> None:
    """Refuse a collection whose stored embedding function (or distance) is not this program's."""
    config = col.configuration_json or {}
    stored = config.get("embedding_function") or {}
    ours = MiniLMInt8()
    expected = {"name": ours.name(), "config": ours.get_config()}
    found = {"name": stored.get("name"), "config": stored.get("config")}
    space = (config.get("hnsw") or {}).get("space", "cosine")
    if found != expected or space != "cosine":
        raise InterviewerError(
            f"The curriculum collection on the Chroma server {url} ({CHROMA_URL_VAR}) was embedded with "
            f"{found['name'] or 'no known function'} ({space} distance), not {ours.name()} (cosine): its vectors "
            f"cannot be mixed with this program's. Point {CHROMA_URL_VAR} at another server, or delete the "
            f"collection {COLLECTION!r} there and run `interviewer index --rebuild`."
        )


def open_server_collection(url: str, *, create: bool) -> Any:
    """The curriculum collection on the server, with this program's registered embedding function; created
    (empty) only when `create`. A missing or foreign collection is an InterviewerError that says what to do."""
    from chromadb.errors import NotFoundError

    client = server_client(url)
    function: Any = MiniLMInt8()
    try:
        if create:
            col = client.get_or_create_collection(
                COLLECTION, embedding_function=function, metadata={"hnsw:space": "cosine"}
            )
        else:
            col = client.get_collection(COLLECTION, embedding_function=function)
    except NotFoundError:
        raise InterviewerError(_run_index(url, "holds no curriculum index")) from None
    except ValueError as exc:  # Chroma's own check: another embedding function is stored with the collection
        raise InterviewerError(f"{CHROMA_URL_VAR} ({url}): {exc}") from None
    except Exception as exc:
        raise _Unreachable(str(exc)) from exc
    _check_function(col, url)
    return col


def _run_index(url: str, what: str) -> str:
    return f"The Chroma server {url} ({CHROMA_URL_VAR}) {what}: run `interviewer index` with {CHROMA_URL_VAR} set."


def save_copy(path: Path, vectors: dict[str, Vectors]) -> None:
    """Write the rubric vectors to `path` atomically (replicas sharing a data folder may write it at once)."""
    ids = sorted(vectors)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, ids=np.array(ids, dtype=str), vectors=np.stack([vectors[i] for i in ids]))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write the local rubric copy %s: %s", path, exc)
        Path(tmp).unlink(missing_ok=True)


def load_copy(path: Path) -> dict[str, Vectors]:
    """The rubric vectors of the local copy; nothing when it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {str(i): np.asarray(v, dtype=np.float32) for i, v in zip(data["ids"], data["vectors"], strict=True)}
    except (OSError, ValueError, KeyError) as exc:
        log.warning("no local rubric copy at %s: %s", path, exc)
        return {}


class ServerIndex(CurriculumIndex):
    """The curriculum collection on a Chroma server; `path` is the local copy of the rubric vectors.

    A reader (the app) checks the collection holds exactly the corpus entries and never writes to it; a
    writer (`interviewer index`) syncs it. `degraded` is set while the server cannot be reached.
    """

    def __init__(self, url: str, corpus: Corpus, *, copy: Path, progress: bool = True, writer: bool = False) -> None:
        super().__init__(copy, corpus, progress=progress)
        self.url, self.writer = url, writer
        self._retry_at = 0.0

    def _open(self) -> Any:
        return open_server_collection(self.url, create=self.writer)

    def collection(self) -> Any:
        """The open collection; None while the server cannot be reached (a reader then runs degraded)."""
        with self._lock:
            if self._collection is None:
                try:
                    self._load()
                except InterviewerError:
                    raise
                except Exception as exc:
                    if self.writer:
                        raise self._unreachable(exc) from None
                    self._degrade(exc)
            return self._collection

    def _load(self, *, first_start_notice: bool = True) -> SyncReport:
        """A writer syncs the collection; a reader checks it is current and reads every vector back."""
        col = self._open()
        if self.writer:
            self._collection = col
            return self._sync()
        present = set(col.get(include=[])["ids"])
        if present != set(self._wanted):
            what = "holds no curriculum index" if not present else "holds another version of the curriculum"
            raise InterviewerError(_run_index(self.url, what))
        self._vectors = read_vectors(col, sorted(self._wanted))
        kinds = {i for i, e in self._wanted.items() if e.metadata["kind"] in _RUBRIC_KINDS}
        save_copy(self.path, {i: v for i, v in self._vectors.items() if i in kinds})
        self._collection, self.degraded = col, None
        return SyncReport(added=0, removed=0, kept=len(present))

    def _unreachable(self, exc: BaseException) -> InterviewerError:
        return InterviewerError(f"The Chroma server {self.url} ({CHROMA_URL_VAR}) cannot be used: {exc}")

    def _writer_only(self) -> None:
        if not self.writer:
            raise InterviewerError(_run_index(self.url, "is written only by `interviewer index`"))

    def sync(self) -> SyncReport:
        """Make the server's collection hold exactly the corpus entries (a writer only)."""
        self._writer_only()
        with self._lock:
            try:
                return self._load() if self._collection is None else self._sync()
            except InterviewerError:
                raise
            except Exception as exc:
                raise self._unreachable(exc) from None

    def rebuild(self) -> SyncReport:
        """Drop the server's collection and embed everything again (`interviewer index --rebuild`)."""
        from chromadb.errors import NotFoundError

        self._writer_only()
        with self._lock:
            self._collection = None
            self._vectors.clear()
            try:
                server_client(self.url).delete_collection(COLLECTION)
            except NotFoundError:
                pass
            except Exception as exc:
                raise self._unreachable(exc) from None
            return self.sync()

    def _degrade(self, exc: BaseException) -> None:
        if self.degraded is None:
            log.warning("curriculum server %s unreachable (%s); grading from the local rubric copy", self.url, exc)
        self.degraded = DEGRADED
        self._retry_at = time.monotonic() + RETRY_SECONDS

    def _guarded(self, operation: Callable[[Any], T]) -> T:
        """Run an operation on the server; while it cannot be reached raise _Unreachable (retried every
        RETRY_SECONDS), and a reader sets `degraded`."""
        with self._lock:
            if self.degraded is not None and time.monotonic() < self._retry_at:
                raise _Unreachable(self.degraded)
            try:
                col = self.collection()
                if col is None:
                    raise _Unreachable(self.degraded or "no collection")
                result = operation(col)
            except InterviewerError:
                if self.writer:
                    raise
                self._degrade(InterviewerError("the collection is not current"))
                raise _Unreachable(DEGRADED) from None
            except Exception as exc:
                if self.writer:
                    raise self._unreachable(exc) from None
                self._degrade(exc)
                raise _Unreachable(str(exc)) from exc
            self.degraded = None
            return result

    def vectors(self, ids: Sequence[str]) -> Vectors:
        """Stored unit vectors of corpus entries, in order: from the server, else the local copy, else the
        shipped encoder (which made the stored ones)."""
        if not ids:
            return np.zeros((0, DIMENSIONS), np.float32)
        with self._lock:
            missing = [i for i in ids if i not in self._vectors]
            if missing:
                try:
                    got = self._guarded(lambda col: col.get(ids=missing, include=["embeddings"]))
                    pairs = zip(got["ids"], got["embeddings"], strict=True)
                    self._vectors.update({i: np.asarray(v, np.float32) for i, v in pairs})
                except _Unreachable:
                    pass
                self._fill_locally([i for i in missing if i not in self._vectors])
            return np.stack([self._vectors[i] for i in ids])

    def _fill_locally(self, ids: list[str]) -> None:
        unknown = sorted(set(ids) - set(self._wanted))
        if unknown:
            raise InterviewerError(f"The curriculum index has no entries {unknown}.")
        if not ids:
            return
        copy = load_copy(self.path)
        self._vectors.update({i: copy[i] for i in ids if i in copy})
        rest = [i for i in ids if i not in self._vectors]
        if rest:
            encoded = encoder().encode([self._wanted[i].text for i in rest])
            self._vectors.update({i: np.asarray(v, np.float32) for i, v in zip(rest, encoded, strict=True)})

    def related(self, query: Vectors, **where: Any) -> list[Related]:
        """The nearest objectives and rubric points; nothing while the server cannot be reached."""
        try:
            return super().related(query, **where)
        except _Unreachable:
            return []
