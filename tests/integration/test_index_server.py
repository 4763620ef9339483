"""The curriculum index on a real Chroma server (INTERVIEWER_CHROMA_URL): `chroma run` from this venv, bound to
127.0.0.1 on a free port, its data in a temporary folder."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from interviewer.compose import build_engine
from interviewer.config import CHROMA_URL_VAR, Settings
from interviewer.curriculum import index_server
from interviewer.curriculum.corpus import Corpus
from interviewer.curriculum.index import COLLECTION, corpus_entries
from interviewer.curriculum.index_server import DEGRADED, RUBRIC_COPY, ServerIndex, load_copy, open_index, server_client
from interviewer.errors import InterviewerError
from interviewer.grading.grader import Grader
from interviewer.grading.models import Grade
from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine
from tests.chroma_server import ChromaServer
from tests.helpers import run_cli

ME = Caller.terminal()
PROMPT = "fsw-p1"
SAMPLE = (
    "A feature store keeps one definition of each feature for training and serving, so there is no skew, "
    "and it gives point-in-time correct training data."
)


def _server() -> Iterator[ChromaServer]:
    server = ChromaServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chroma() -> Iterator[ChromaServer]:
    """One Chroma server for this module, filled by the first test that runs `interviewer index`."""
    yield from _server()


@pytest.fixture
def own_chroma() -> Iterator[ChromaServer]:
    """A Chroma server of the test's own (one it may fill wrongly or kill)."""
    yield from _server()


@pytest.fixture(scope="module")
def filled(chroma: ChromaServer, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """`interviewer index` run twice against the module's server; what each run printed."""
    env = {**os.environ, CHROMA_URL_VAR: chroma.url, "INTERVIEWER_DATA_DIR": str(tmp_path_factory.mktemp("writer"))}
    printed = []
    for _ in range(2):
        done = run_cli("index", env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        printed.append(done.stdout)
    return printed


def _on(server: ChromaServer, settings: Settings, data_dir: Path) -> Settings:
    return replace(settings, chroma_url=server.url, data_dir=data_dir)


def _engine(settings: Settings) -> Engine:
    engine = build_engine(settings, progress=False)
    engine.prepare()  # what the web app does at start
    return engine


def test_interviewer_index_fills_the_server_and_then_embeds_nothing(
    filled: list[str], chroma: ChromaServer, corpus: Corpus
) -> None:
    entries = len(corpus_entries(corpus))
    assert f"index {chroma.url}: {entries} embedded, 0 removed, 0 unchanged" in filled[0]
    assert f"{chroma.url}: 0 embedded, 0 removed, {entries} unchanged" in filled[1]
    assert server_client(chroma.url).get_collection(COLLECTION).count() == entries


def test_a_replica_on_the_server_grades_and_retrieves_as_embedded(
    filled: list[str], chroma: ChromaServer, settings: Settings, tmp_path: Path
) -> None:
    embedded, remote = Grader(settings, progress=False), _engine(_on(chroma, settings, tmp_path / "replica"))
    assert isinstance(remote.grader.index, ServerIndex) and not isinstance(embedded.index, ServerIndex)
    prompt = embedded.corpus.prompt(PROMPT).prompt
    assert remote.grader.grade(prompt, SAMPLE) == embedded.grade(prompt, SAMPLE)
    found = embedded.index.around(prompt, SAMPLE)
    assert found and remote.grader.index.around(prompt, SAMPLE) == found
    session, _ = remote.start(ME, "topic", "fs-why")
    assert remote.submit(ME, session, SAMPLE).grade == embedded.grade(prompt, SAMPLE)
    assert remote.grader.index.degraded is None and (tmp_path / "replica" / RUBRIC_COPY).is_file()
    with pytest.raises(InterviewerError, match="interviewer index"):
        remote.grader.index.sync()  # a replica never writes
    remote.storage.close()


def test_a_replica_refuses_an_empty_server_or_another_embedding_function(
    own_chroma: ChromaServer, settings: Settings, corpus: Corpus, tmp_path: Path
) -> None:
    replica = _on(own_chroma, settings, tmp_path)
    with pytest.raises(InterviewerError, match=f"run `interviewer index` with {CHROMA_URL_VAR}"):
        open_index(replica, corpus).collection()
    server_client(own_chroma.url).create_collection(COLLECTION)  # Chroma's default function, not ours
    with pytest.raises(InterviewerError, match="interviewer-minilm-int8"):
        open_index(replica, corpus).collection()
    with pytest.raises(InterviewerError, match="interviewer-minilm-int8"):
        open_index(replica, corpus, writer=True).sync()


def _notice(engine: Engine, session: str) -> Any:
    from interviewer.web.handlers import InterviewApp

    return InterviewApp(engine).screens(session, ME)[6]


def _interviewing(
    server: ChromaServer, settings: Settings, corpus: Corpus, tmp_path: Path
) -> tuple[Settings, Engine, str, Grade | None]:
    """A replica on a server that `interviewer index` filled, with a day-58 session whose first answer is graded:
    the replica's settings, its engine, the session and that grade."""
    replica = _on(server, settings, tmp_path / "replica")
    open_index(replace(replica, data_dir=tmp_path / "writer"), corpus, progress=False, writer=True).sync()
    engine = _engine(replica)
    session, _ = engine.start(ME, "day", "58")
    return replica, engine, session, engine.submit(ME, session, SAMPLE).grade


def test_an_interview_goes_on_when_the_server_dies(
    own_chroma: ChromaServer, settings: Settings, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_server, "RETRY_SECONDS", 0.0)  # try the server again at every call
    replica, engine, session, first = _interviewing(own_chroma, settings, corpus, tmp_path)
    own_chroma.kill()
    after = engine.submit(ME, session, engine.corpus.prompt(PROMPT).prompt.reference_answer)
    assert after.grade is not None and after.grade.score >= 3
    assert engine.grader.index.degraded == DEGRADED and DEGRADED in _notice(engine, session)
    restarted = _engine(replica)  # a replica started while the server is down: the local copy of the rubric
    assert restarted.grader.index.degraded == DEGRADED
    rubric = {e.id for e in corpus_entries(corpus) if e.metadata["kind"] in ("point", "paraphrase")}
    assert set(load_copy(replica.data_dir / RUBRIC_COPY)) == rubric
    again, _ = restarted.start(ME, "day", "58")
    assert restarted.submit(ME, again, SAMPLE).grade == first
    own_chroma.start()  # back, on the same folder and port: both replicas use it again
    for each in (engine, restarted):
        assert each.grader.index.around(each.corpus.prompt(PROMPT).prompt, SAMPLE)
        assert each.grader.index.degraded is None
    for each in (engine, restarted):
        each.storage.close()


def test_a_server_that_stops_answering_does_not_hang_the_interview(
    own_chroma: ChromaServer, settings: Settings, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_server, "SERVER_TIMEOUT_S", 1.0)
    _, engine, session, first = _interviewing(own_chroma, settings, corpus, tmp_path)
    own_chroma.pause()
    try:
        done: dict[str, Any] = {}
        turn = threading.Thread(target=lambda: done.update(out=engine.submit(ME, session, SAMPLE)), daemon=True)
        turn.start()
        turn.join(timeout=120)
        assert not turn.is_alive(), "the answer waited for a server that does not answer"
        assert done["out"].grade is not None and done["out"].grade.score == first.score
        assert engine.grader.index.degraded == DEGRADED and DEGRADED in _notice(engine, session)
    finally:
        own_chroma.resume()
    engine.storage.close()


def test_a_bad_chroma_url_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHROMA_URL_VAR, "not a url")
    with pytest.raises(InterviewerError, match=CHROMA_URL_VAR):
        Settings()
    done = run_cli("index", env={**os.environ, CHROMA_URL_VAR: "ftp://127.0.0.1:8000"})
    assert done.returncode == 2 and CHROMA_URL_VAR in done.stderr and "Traceback" not in done.stderr
