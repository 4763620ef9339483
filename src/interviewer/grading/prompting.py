"""The LLM brain's prompt templates, rendered strictly: a missing variable is an error, never blank text.

The templates are the shipped `prompts/` folder (package data in a wheel, the repo's folder in a checkout)
unless INTERVIEWER_PROMPTS_DIR (`LLMSettings.prompts_dir`) names another.
"""

from __future__ import annotations

import hashlib
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined


class Prompts:
    """The templates of one folder: `render` them, and `digest`/`version` name their exact content."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._environment = Environment(
            loader=FileSystemLoader(str(folder)),
            undefined=StrictUndefined,
            autoescape=False,  # plain text for a model, not HTML
            keep_trailing_newline=False,
            trim_blocks=True,
        )

    def render(self, name: str, **variables: Any) -> str:
        """Render <folder>/<name>.j2; raises jinja2.UndefinedError when a variable is missing."""
        return self._environment.get_template(f"{name}.j2").render(**variables).strip()

    @cached_property
    def digest(self) -> str:
        """The one hash of the templates (each file's name and bytes, in name order), 12 hex digits.

        The eval reports record it as the prompts version, and `version` (stored with each grade the LLM
        brain makes, and part of its grader version) is its first 10 digits.
        """
        sha = hashlib.sha256()
        for path in sorted(self.folder.glob("*.j2")):
            sha.update(path.name.encode())
            sha.update(path.read_bytes())
        return sha.hexdigest()[:12]

    @property
    def version(self) -> str:
        return "prompts-" + self.digest[:10]


@lru_cache(maxsize=8)
def _prompts_at(folder: Path) -> Prompts:
    return Prompts(folder)


def prompts(folder: Path | None = None) -> Prompts:
    """The templates of `folder`, else of INTERVIEWER_PROMPTS_DIR, else the shipped ones; made once per folder."""
    from interviewer.config import default_prompts_dir

    return _prompts_at(folder if folder is not None else default_prompts_dir())


def render(name: str, **variables: Any) -> str:
    """Render a template of the default folder (see `prompts`)."""
    return prompts().render(name, **variables)


def prompts_version(folder: Path | None = None) -> str:
    """A short hash of every template, stored with each grade the LLM brain makes (see `Prompts.digest`)."""
    return prompts(folder).version


def prompts_hash(folder: Path | None = None) -> str:
    """The prompts version the eval reports record (see `Prompts.digest`)."""
    return prompts(folder).digest
