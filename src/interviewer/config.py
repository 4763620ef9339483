"""One typed settings object, read from the environment.

`Settings()` reads every INTERVIEWER_* variable (and the model's OPENAI_* ones) once; a bad value is one
`InterviewerError` that names the variable. Nothing here writes the environment. Any field can be given
directly instead, e.g. `Settings(corpus_dir=..., data_dir=...)`, and then its variable is not read.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from interviewer.errors import InterviewerError

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent.parent

AUTH_VAR = "INTERVIEWER_AUTH"
AUTH_FILE_VAR = "INTERVIEWER_AUTH_FILE"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# US dollars per million tokens (input, output) for well-known hosted models; local models cost nothing.
PRICES = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60)}

_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


# -- reading one variable ------------------------------------------------------------------------------


def shipped(name: str) -> Path:
    """A folder shipped with the program: `interviewer/data/<name>` inside an installed wheel, else the
    top-level `<name>/` of the source tree (a checkout or an editable install, where the wheel's copy is
    not made)."""
    packaged = resources.files("interviewer") / "data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    return PROJECT_ROOT / name


def default_prompts_dir() -> Path:
    """INTERVIEWER_PROMPTS_DIR, else the shipped prompt templates (an empty value counts as unset)."""
    return _env_path("INTERVIEWER_PROMPTS_DIR", shipped("prompts"))


def _env_str(name: str) -> str:
    """A text setting, stripped; unset and blank are both ''."""
    return os.environ.get(name, "").strip()


def _env_path(name: str, default: Path) -> Path:
    """A folder or file setting; an empty value counts as unset."""
    raw = os.environ.get(name)
    return Path(raw).expanduser() if raw else default


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


THREADS_VAR = "INTERVIEWER_THREADS"


def model_threads() -> int:
    """INTERVIEWER_THREADS: the cores each model (the sentence encoder, the point reader, the recogniser) may use
    at once in this process; 2 by default. One is the better choice where processes already share the cores
    (replicas of a cluster on one machine, a test run on every core): it costs the least CPU per answer."""
    return _env_int(THREADS_VAR, 2, 1)


NOW_VAR = "INTERVIEWER_NOW"


def now() -> datetime:
    """The time now, in UTC: the clock every stamp (a session's, an answer's) and every schedule reads.

    INTERVIEWER_NOW fixes it to one ISO 8601 time with its zone (e.g. `2027-01-04T09:00:00+00:00`), for tests and
    demonstrations that need a known day: restarting with a later value moves the clock on.
    """
    raw = os.environ.get(NOW_VAR, "").strip()
    if not raw:
        return datetime.now(UTC)
    try:
        fixed = datetime.fromisoformat(raw)
    except ValueError:
        example = "2027-01-04T09:00:00+00:00"
        raise InterviewerError(f"{NOW_VAR} must be an ISO 8601 time such as {example}, got {raw!r}.") from None
    if fixed.tzinfo is None:
        raise InterviewerError(f"{NOW_VAR} must name its time zone (e.g. +00:00 or Z), got {raw!r}.")
    return fixed.astimezone(UTC)


def _env_float(name: str, default: float, *, positive: bool = False) -> float:
    """A decimal setting; a bad value is one clear line that names the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InterviewerError(f"{name} must be a number, got {raw!r}.") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise InterviewerError(f"{name} must be a {'positive' if positive else 'non-negative'} number, got {raw!r}.")
    return value


def parse_host(raw: str, source: str) -> str:
    """A host name or IP address to bind; anything else is one error naming `source`."""
    host = raw.strip()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        if _HOSTNAME.fullmatch(host):
            return host
    raise InterviewerError(f"{source} must be a host name or IP address (such as 127.0.0.1 or 0.0.0.0), got {raw!r}.")


def parse_port(raw: str, source: str) -> int:
    """A TCP port from 0 (any free port) to 65535; anything else is one error naming `source`."""
    try:
        port = int(raw.strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise InterviewerError(f"{source} must be a port number from 0 to 65535, got {raw!r}.")
    return port


def _env_host() -> str:
    raw = _env_str("INTERVIEWER_HOST")
    return parse_host(raw, "INTERVIEWER_HOST") if raw else DEFAULT_HOST


def _env_port() -> int:
    raw = _env_str("INTERVIEWER_PORT")
    return parse_port(raw, "INTERVIEWER_PORT") if raw else DEFAULT_PORT


SECRET_FILE_VAR = "INTERVIEWER_SECRET_FILE"


def _env_secret_file() -> Path | None:
    raw = _env_str(SECRET_FILE_VAR)
    return Path(raw).expanduser() if raw else None


def _env_auth_file() -> Path | None:
    raw = _env_str(AUTH_FILE_VAR)
    return Path(raw).expanduser() if raw else None


TRUSTED_PROXIES_VAR = "INTERVIEWER_TRUSTED_PROXIES"


def parse_trusted_proxies(raw: str, source: str = TRUSTED_PROXIES_VAR) -> tuple[str, ...]:
    """Comma-separated addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`) of the proxies whose
    X-Forwarded-For the web app believes; each normalized. A wrong entry is an error naming `source`."""
    found: list[str] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            parsed = ipaddress.ip_network(item, strict=False) if "/" in item else ipaddress.ip_address(item)
            found.append(str(parsed))
        except ValueError:
            raise InterviewerError(
                f"{source}: {item!r} is neither an IP address nor a network (e.g. 10.0.0.5 or 10.0.0.0/24)."
            ) from None
    return tuple(found)


DATABASE_URL_VAR = "INTERVIEWER_DATABASE_URL"
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:).*@")
_QUERY_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'?|[^&#\s]*)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """A database URL fit to show or log: its password (in the user part, the query or a `key=value` string)
    replaced by ***.

    Everything up to the last `@` after `user:` counts as the password, so a malformed URL leaks none of it.
    """
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", url.strip()))


def parse_database_url(raw: str, source: str) -> str:
    """A PostgreSQL URL (postgresql://user:password@host:port/dbname); anything else is one error naming
    `source`, which shows the value with its password redacted."""
    url = raw.strip()
    try:
        parts = urlsplit(url)
        well_formed = parts.port is None or parts.port >= 0
    except ValueError:  # a port that is no number, or a broken [IPv6] host
        well_formed = False
    if not well_formed or parts.scheme not in {"postgresql", "postgres"} or not parts.path.strip("/"):
        raise InterviewerError(
            f"{source} must be a PostgreSQL URL such as postgresql://user:password@host:5432/dbname, "
            f"got {redact_url(url)!r}."
        )
    return url


def _env_database_url() -> str:
    raw = _env_str(DATABASE_URL_VAR)
    return parse_database_url(raw, DATABASE_URL_VAR) if raw else ""


CHROMA_URL_VAR = "INTERVIEWER_CHROMA_URL"


def parse_chroma_url(raw: str, source: str) -> str:
    """A Chroma server's URL (http://host:port or https://host:port); anything else is one error naming `source`."""
    url = raw.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        well_formed = parts.port is None or parts.port > 0
    except ValueError:  # a port that is no number, or a broken [IPv6] host
        well_formed = False
    if not well_formed or parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query:
        raise InterviewerError(f"{source} must be a Chroma server URL such as http://127.0.0.1:8000, got {raw!r}.")
    return url


def _env_chroma_url() -> str:
    raw = _env_str(CHROMA_URL_VAR)
    return parse_chroma_url(raw, CHROMA_URL_VAR) if raw else ""


def _default_brain() -> str:
    """INTERVIEWER_BRAIN, else the LLM brain when a model is configured, else the offline rubric brain."""
    chosen = _env_str("INTERVIEWER_BRAIN")
    if chosen:
        return chosen
    return "llm" if os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY") else "rubric"


# -- the model -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LLMSettings:
    """The chat model behind the LLM brain: any OpenAI-compatible endpoint. `LLMSettings.from_env()` reads it."""

    base_url: str | None
    """OPENAI_BASE_URL: the endpoint (vLLM, Ollama, llama.cpp, LM Studio, ...); None means OpenAI itself."""
    api_key: str | None = field(repr=False)
    """OPENAI_API_KEY; never logged, stored or shown (kept out of repr)."""
    model: str
    """INTERVIEWER_LLM_MODEL, else OPENAI_MODEL, else gpt-4o-mini."""
    timeout: float = 30.0
    """INTERVIEWER_LLM_TIMEOUT: seconds one request may take (positive)."""
    max_retries: int = 2
    """INTERVIEWER_LLM_RETRIES: retries of a failed request (0 or more)."""
    context_tokens: int = 4096
    """INTERVIEWER_LLM_CONTEXT_TOKENS: the most tokens one request may send (at least 1)."""
    concurrency: int = 4
    """INTERVIEWER_LLM_CONCURRENCY: rubric points judged in parallel; 1 by default for a local server, else 4."""
    max_output_tokens: int = 300
    """INTERVIEWER_LLM_MAX_OUTPUT_TOKENS: the longest reply (at least 1); a looping model is cut off."""
    price_in: float = 0.0
    """INTERVIEWER_LLM_PRICE_IN: US dollars per million input tokens (known hosted models have a default)."""
    price_out: float = 0.0
    """INTERVIEWER_LLM_PRICE_OUT: US dollars per million output tokens."""
    prompts_dir: Path = field(default_factory=default_prompts_dir)
    """INTERVIEWER_PROMPTS_DIR: the Jinja templates the model is prompted with, else the shipped `prompts/`."""

    @classmethod
    def from_env(cls) -> LLMSettings:
        model = os.environ.get("INTERVIEWER_LLM_MODEL") or os.environ.get("OPENAI_MODEL") or "gpt-4o-mini"
        base_url = os.environ.get("OPENAI_BASE_URL") or None
        known = PRICES.get(model, (0.0, 0.0)) if base_url is None else (0.0, 0.0)
        return cls(
            base_url=base_url,
            api_key=os.environ.get("OPENAI_API_KEY") or None,
            model=model,
            timeout=_env_float("INTERVIEWER_LLM_TIMEOUT", 30.0, positive=True),
            max_retries=_env_int("INTERVIEWER_LLM_RETRIES", 2),
            context_tokens=_env_int("INTERVIEWER_LLM_CONTEXT_TOKENS", 4096, 1),
            # Hosted APIs take parallel requests; a local server often runs one at a time, and requests queued
            # behind each other would spend their timeout waiting.
            concurrency=_env_int("INTERVIEWER_LLM_CONCURRENCY", 1 if base_url else 4, 1),
            max_output_tokens=_env_int("INTERVIEWER_LLM_MAX_OUTPUT_TOKENS", 300, 1),
            price_in=_env_float("INTERVIEWER_LLM_PRICE_IN", known[0]),
            price_out=_env_float("INTERVIEWER_LLM_PRICE_OUT", known[1]),
        )

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key)

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return round((tokens_in * self.price_in + tokens_out * self.price_out) / 1_000_000, 6)


# -- everything ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Where things live, the model, the web login and address, and the limits of an interview.

    Every field can be set from the environment, so a deployment changes by configuration alone.
    """

    corpus_dir: Path = field(default_factory=lambda: _env_path("INTERVIEWER_CORPUS_DIR", shipped("corpus")))
    """INTERVIEWER_CORPUS_DIR: the curriculum's YAML files, else the shipped `corpus/`."""
    data_dir: Path = field(default_factory=lambda: _env_path("INTERVIEWER_DATA_DIR", Path.cwd() / ".interviewer"))
    """INTERVIEWER_DATA_DIR: sessions, the curriculum index and downloads, else `.interviewer` in the working folder."""
    max_followups: int = field(default_factory=lambda: _env_int("INTERVIEWER_MAX_FOLLOWUPS", 2))
    """INTERVIEWER_MAX_FOLLOWUPS: follow-up questions per prompt (0 or more)."""
    max_answer_chars: int = field(default_factory=lambda: _env_int("INTERVIEWER_MAX_ANSWER_CHARS", 20_000, 1))
    """INTERVIEWER_MAX_ANSWER_CHARS: the longest answer graded; a longer one is refused."""
    turn_lease_s: float = field(default_factory=lambda: _env_float("INTERVIEWER_TURN_LEASE_S", 10.0, positive=True))
    """INTERVIEWER_TURN_LEASE_S: how long a turn in flight holds its session without renewing its lease (it renews it
    every third of that while it runs); a turn whose process died is repaired by another once it lapses."""
    max_audio_s: float = field(default_factory=lambda: _env_float("INTERVIEWER_MAX_AUDIO_S", 300.0, positive=True))
    """INTERVIEWER_MAX_AUDIO_S: the longest spoken answer transcribed, in seconds; a longer recording is refused."""
    threads: int = field(default_factory=model_threads)
    """INTERVIEWER_THREADS: the cores each model may use at once (read again where a model loads)."""
    started: datetime = field(default_factory=now)
    """INTERVIEWER_NOW: the clock (`now`) as this process started; a fixed one for tests (read again at each use)."""
    brain: str = field(default_factory=_default_brain)
    """INTERVIEWER_BRAIN: the default grader, else `llm` when a model is configured, else `rubric`."""
    llm: LLMSettings = field(default_factory=LLMSettings.from_env)
    """The chat model (OPENAI_BASE_URL, OPENAI_API_KEY, INTERVIEWER_LLM_*) and its prompts."""
    # Per-user limits on the web (OWASP LLM10): high enough that a small team never meets them.
    max_open_sessions: int = field(default_factory=lambda: _env_int("INTERVIEWER_MAX_OPEN_SESSIONS", 20, 1))
    """INTERVIEWER_MAX_OPEN_SESSIONS: unfinished sessions one signed-in person may keep."""
    answers_per_minute: int = field(default_factory=lambda: _env_int("INTERVIEWER_ANSWERS_PER_MINUTE", 20, 1))
    """INTERVIEWER_ANSWERS_PER_MINUTE: answers one signed-in person may send a minute."""
    model_calls_per_minute: int = field(default_factory=lambda: _env_int("INTERVIEWER_MODEL_CALLS_PER_MINUTE", 120, 1))
    """INTERVIEWER_MODEL_CALLS_PER_MINUTE: model calls one signed-in person may spend a minute."""
    host: str = field(default_factory=_env_host)
    """INTERVIEWER_HOST: the address the web app binds (`--host` wins), else 127.0.0.1."""
    port: int = field(default_factory=_env_port)
    """INTERVIEWER_PORT: the web app's port, 0 for any free one (`--port` wins), else 7860."""
    auth: str = field(default_factory=lambda: _env_str(AUTH_VAR), repr=False)
    """INTERVIEWER_AUTH: clear web logins "user:password[,...]" for a quick trial ('' for none; kept out of repr)."""
    auth_file: Path | None = field(default_factory=_env_auth_file)
    """INTERVIEWER_AUTH_FILE: the web logins' password file of argon2id hashes (None for none)."""
    secret_file: Path | None = field(default_factory=_env_secret_file)
    """INTERVIEWER_SECRET_FILE: a secret shared by app replicas behind one load balancer, which signs web logins so
    that any replica accepts them (None: each process signs with a secret of its own)."""
    trusted_proxies: tuple[str, ...] = field(
        default_factory=lambda: parse_trusted_proxies(_env_str(TRUSTED_PROXIES_VAR))
    )
    """INTERVIEWER_TRUSTED_PROXIES: the load balancers (addresses or networks, comma-separated) whose
    X-Forwarded-For names the client; no one's by default, so a client cannot pick the address it is counted
    under (failed sign-ins are locked out per address)."""
    database_url: str = field(default_factory=_env_database_url, repr=False)
    """INTERVIEWER_DATABASE_URL: a PostgreSQL database for sessions and checkpoints ('' for the SQLite file in the
    data folder); kept out of repr, shown only through `database_label`."""
    chroma_url: str = field(default_factory=_env_chroma_url)
    """INTERVIEWER_CHROMA_URL: a Chroma server holding the curriculum index ('' for the folder `index/` in the
    data folder); only `interviewer index` writes to it."""

    @property
    def prompts_dir(self) -> Path:
        """The LLM brain's prompt templates (INTERVIEWER_PROMPTS_DIR)."""
        return self.llm.prompts_dir

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "sessions.sqlite"

    @property
    def database_label(self) -> str:
        """Where sessions are stored, fit to show: the PostgreSQL URL without its password, or the SQLite file."""
        return redact_url(self.database_url) if self.database_url else str(self.database_path)

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
