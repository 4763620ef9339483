"""Shared fixtures: no network, a temporary data folder per test, one curriculum index built per run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
NETBLOCK = TESTS / "netblock"

# Block the network in this process and in every Python process the tests start.
sys.path.insert(0, str(NETBLOCK))
import sitecustomize  # noqa: E402,F401

os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETBLOCK), os.environ.get("PYTHONPATH", "")]))
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "INTERVIEWER_BRAIN"):
    os.environ.pop(key, None)

from interviewer.config import Settings  # noqa: E402
from interviewer.corpus import Corpus, load_corpus  # noqa: E402


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load_corpus(ROOT / "corpus")


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A curriculum index built once for the run; tests get copies of it."""
    data = tmp_path_factory.mktemp("index-base")
    subprocess.run(
        [sys.executable, "-m", "interviewer.cli", "index"],
        env={**os.environ, "INTERVIEWER_DATA_DIR": str(data)},
        check=True,
        capture_output=True,
    )
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


def run_cli(*args: str, stdin: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `interviewer ARGS` as a user would, in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "interviewer.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        cwd=ROOT,
    )


@pytest.fixture
def cli(data_dir: Path) -> object:
    """`cli("grade", ...)` runs the command line against this test's data folder."""
    return run_cli


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(engine: Any = None) -> Iterator[str]:
    """The web app, served for real on a free local port (over the given engine, or a new one); its URL."""
    from interviewer.web import launch

    port = free_port()
    demo = launch("127.0.0.1", port, block=False, engine=engine)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture
def app_url(data_dir: Path) -> Iterator[str]:
    """The web app, served for real on a free local port, over this test's data folder."""
    with serving() as url:
        yield url
