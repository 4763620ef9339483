"""One typed settings object, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent.parent


def _default_corpus_dir() -> Path:
    return Path(os.environ.get("INTERVIEWER_CORPUS_DIR", PROJECT_ROOT / "corpus"))


def _default_data_dir() -> Path:
    return Path(os.environ.get("INTERVIEWER_DATA_DIR", Path.cwd() / ".interviewer"))


def _default_brain() -> str:
    """INTERVIEWER_BRAIN, else the LLM brain when a model is configured, else the offline rubric brain."""
    chosen = os.environ.get("INTERVIEWER_BRAIN", "").strip()
    if chosen:
        return chosen
    return "llm" if os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY") else "rubric"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Where things live and the limits of an interview.

    Every field can be set from the environment (INTERVIEWER_*), so a deployment changes by
    configuration alone.
    """

    corpus_dir: Path = field(default_factory=_default_corpus_dir)
    data_dir: Path = field(default_factory=_default_data_dir)
    max_followups: int = field(default_factory=lambda: _env_int("INTERVIEWER_MAX_FOLLOWUPS", 2))
    max_answer_chars: int = field(default_factory=lambda: _env_int("INTERVIEWER_MAX_ANSWER_CHARS", 20_000))
    brain: str = field(default_factory=lambda: _default_brain())

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "sessions.sqlite"

    @property
    def reports_dir(self) -> Path:
        return PROJECT_ROOT / "evals" / "reports"

    @property
    def cases_dir(self) -> Path:
        return PROJECT_ROOT / "evals" / "cases"

    @property
    def thresholds_path(self) -> Path:
        return PROJECT_ROOT / "evals" / "thresholds.yaml"
