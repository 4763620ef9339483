"""Prompt templates from prompts/, rendered strictly: a missing variable is an error, never blank text."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from interviewer.config import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(PROMPTS_DIR)),
        undefined=StrictUndefined,
        autoescape=False,  # plain text for a model, not HTML
        keep_trailing_newline=False,
        trim_blocks=True,
    )


def render(name: str, **variables: Any) -> str:
    """Render prompts/<name>.j2; raises jinja2.UndefinedError when a variable is missing."""
    return _environment().get_template(f"{name}.j2").render(**variables).strip()


@lru_cache(maxsize=1)
def prompts_version() -> str:
    """A short hash of every template, stored with each grade the LLM brain makes."""
    digest = hashlib.sha256()
    for path in sorted(PROMPTS_DIR.glob("*.j2")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return "prompts-" + digest.hexdigest()[:10]
