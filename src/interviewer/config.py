"""One typed settings object, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from interviewer.errors import InterviewerError

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent.parent


def _default_corpus_dir() -> Path:
    """INTERVIEWER_CORPUS_DIR, else the curriculum shipped with the project (an empty value counts as unset)."""
    return Path(os.environ.get("INTERVIEWER_CORPUS_DIR") or PROJECT_ROOT / "corpus")


def _default_data_dir() -> Path:
    """INTERVIEWER_DATA_DIR, else `.interviewer` in the working folder (an empty value counts as unset)."""
    return Path(os.environ.get("INTERVIEWER_DATA_DIR") or Path.cwd() / ".interviewer")


def _default_brain() -> str:
    """INTERVIEWER_BRAIN, else the LLM brain when a model is configured, else the offline rubric brain."""
    chosen = os.environ.get("INTERVIEWER_BRAIN", "").strip()
    if chosen:
        return chosen
    return "llm" if os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY") else "rubric"


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    """A whole-number setting; a bad value is one clear line that names the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InterviewerError(f"{name} must be a whole number, got {raw!r}.") from None
    if value < minimum:
        raise InterviewerError(f"{name} must be at least {minimum}, got {value}.")
    return value


@dataclass(frozen=True)
class Settings:
    """Where things live and the limits of an interview.

    Every field can be set from the environment (INTERVIEWER_*), so a deployment changes by
    configuration alone.
    """

    corpus_dir: Path = field(default_factory=_default_corpus_dir)
    data_dir: Path = field(default_factory=_default_data_dir)
    max_followups: int = field(default_factory=lambda: _env_int("INTERVIEWER_MAX_FOLLOWUPS", 2))
    max_answer_chars: int = field(default_factory=lambda: _env_int("INTERVIEWER_MAX_ANSWER_CHARS", 20_000, 1))
    brain: str = field(default_factory=lambda: _default_brain())
    # Per-user limits on the web (OWASP LLM10): high enough that a small team never meets them.
    max_open_sessions: int = field(default_factory=lambda: _env_int("INTERVIEWER_MAX_OPEN_SESSIONS", 20, 1))
    answers_per_minute: int = field(default_factory=lambda: _env_int("INTERVIEWER_ANSWERS_PER_MINUTE", 20, 1))
    model_calls_per_minute: int = field(default_factory=lambda: _env_int("INTERVIEWER_MODEL_CALLS_PER_MINUTE", 120, 1))

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "sessions.sqlite"

    @property
    def downloads_dir(self) -> Path:
        """Transcript downloads, made per request and removed after an hour or at the next start."""
        return self.data_dir / "downloads"

    @property
    def reports_dir(self) -> Path:
        return PROJECT_ROOT / "evals" / "reports"

    @property
    def cases_dir(self) -> Path:
        return PROJECT_ROOT / "evals" / "cases"

    @property
    def thresholds_path(self) -> Path:
        return PROJECT_ROOT / "evals" / "thresholds.yaml"
