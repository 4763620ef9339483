"""Shared fixtures: no network, a temporary data folder per test, one curriculum index built per run.

Tests write only inside pytest's temporary folders; the helpers they import are in tests/helpers.py.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import ROOT, TESTS, Cli, call_cli, run_cli, serving
from tests.postgres_server import PostgresServer, missing_binaries

NETBLOCK = TESTS / "netblock"

# Block the network in this process and in every Python process the tests start.
sys.path.insert(0, str(NETBLOCK))
importlib.import_module("sitecustomize")

os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETBLOCK), os.environ.get("PYTHONPATH", "")]))
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "INTERVIEWER_BRAIN"):
    os.environ.pop(key, None)
os.environ.pop("INTERVIEWER_DATABASE_URL", None)  # never a developer's own database: see `storage_settings`
os.environ.pop("INTERVIEWER_CHROMA_URL", None)  # never a developer's own Chroma server: see test_index_server.py

from interviewer.compose import build_engine  # noqa: E402
from interviewer.config import Settings  # noqa: E402
from interviewer.curriculum.corpus import Corpus, load_corpus  # noqa: E402
from interviewer.grading.grader import Grader  # noqa: E402
from interviewer.interview.engine import Engine  # noqa: E402

# The files that take longest (`pytest --durations`), started first: with `--no-loadscope-reorder` (make test),
# pytest-xdist hands a worker a file at a time in the order they were collected, so no long file is left to the end
# to run alone while the other worker waits.
LONGEST_FIRST = (
    "integration/test_gate.py",
    "integration/test_speech_domain.py",
    "integration/test_soak.py",
    "integration/test_point_reading.py",
    "integration/test_eval.py",
    "integration/test_loadtest.py",
    "integration/test_speech.py",
    "integration/test_engine.py",
    "llm/test_local_model.py",
    "integration/test_shared_limits.py",
    "integration/test_cluster.py",
    "integration/test_failover.py",
    "integration/test_crash.py",
    "integration/test_backup.py",
    "integration/test_index_server.py",
    "browser/test_browser.py",
    "integration/test_bench.py",
    "integration/test_bad_input.py",
)
assert all((TESTS / name).is_file() for name in LONGEST_FIRST), "a file in LONGEST_FIRST was renamed or removed"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        where = item.path.relative_to(TESTS).as_posix()
        return LONGEST_FIRST.index(where) if where in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: within a file, and among the other files, the usual order


@pytest.fixture(scope="session", autouse=True)
def no_default_data_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A process a test starts without a data folder of its own uses a temporary one, never ./.interviewer."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTERVIEWER_DATA_DIR", str(tmp_path_factory.mktemp("default-data")))
        yield


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load_corpus(ROOT / "corpus")


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A curriculum index built once for the run, by `interviewer index`; tests get copies of it.

    Under pytest-xdist the first worker to need it builds it in the run's folder, which every worker shares,
    while the others wait for it."""
    run_folder = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        run_folder = run_folder.parent  # the run's folder; each worker's own is below it
    data = run_folder / "index-base"
    with (run_folder / "index-base.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (data / "built").exists():
            done = run_cli("index", env={**os.environ, "INTERVIEWER_DATA_DIR": str(data)}, timeout=600)
            assert done.returncode == 0, done.stderr
            (data / "built").touch()
    return data / "index"


@pytest.fixture
def data_dir(tmp_path: Path, built_index: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data folder holding a copy of the built index; INTERVIEWER_DATA_DIR points at it."""
    data = tmp_path / "data"
    shutil.copytree(built_index, data / "index")
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(data))
    yield data


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(corpus_dir=ROOT / "corpus", data_dir=data_dir)


@pytest.fixture(scope="module")
def module_grader(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    """The grader over a copy of the built index, shared by one test file's tests (a brain a file registers on it
    stays in that file)."""
    data = tmp_path_factory.mktemp("module-data")
    shutil.copytree(built_index, data / "index")
    return Grader(Settings(corpus_dir=ROOT / "corpus", data_dir=data), progress=False)


@pytest.fixture
def grader(settings: Settings) -> Grader:
    """The grader (rubric brain) over this test's data folder."""
    return Grader(settings, progress=False)


@pytest.fixture
def cli(data_dir: Path) -> Cli:
    """`cli("grade", ...)` runs the command line against this test's data folder, in this process (`call_cli`)."""
    return call_cli


@pytest.fixture
def app_url(data_dir: Path) -> Iterator[str]:
    """The web app, served for real on a free local port, over this test's data folder."""
    with serving() as url:
        yield url


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the run, in a temporary folder, started on first use and stopped at the end.

    Without the postgresql-15 binaries the tests that need it fail, saying how to install them.
    """
    missing = missing_binaries()
    if missing:
        pytest.fail(missing, pytrace=False)
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def storage_settings(request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings over each storage backend in turn: the SQLite file in its data folder, then a fresh
    database on the test PostgreSQL server (INTERVIEWER_DATABASE_URL names it for the processes a test starts)."""
    if request.param == "sqlite":
        return settings
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.new_database()
    monkeypatch.setenv("INTERVIEWER_DATABASE_URL", url)
    return replace(settings, database_url=url)


@pytest.fixture
def engine(storage_settings: Settings) -> Iterator[Engine]:
    """An engine over each storage backend in turn (see `storage_settings`), closed afterwards."""
    engine = build_engine(storage_settings, progress=False)
    yield engine
    engine.storage.close()
