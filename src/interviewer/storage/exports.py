"""Transcript downloads: made per request in a private folder under the data directory.

Each download sits in its own folder with an unguessable name, so only the person whose page received
the link can fetch it. Downloads are removed after an hour, at the next start, and when their session
is deleted. The web server serves this folder and nothing else.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

MAX_AGE_SECONDS = 3600
PREFIX = "t-"


def write(folder: Path, session_id: str, markdown: str, json_text: str) -> tuple[Path, Path]:
    """A transcript's Markdown and JSON files in a new private folder; older downloads are swept."""
    sweep(folder)
    _private(folder)
    box = folder / f"{PREFIX}{secrets.token_urlsafe(24)}"
    box.mkdir(mode=0o700)
    md = box / f"interview-{session_id}.md"
    js = box / f"interview-{session_id}.json"
    md.write_text(markdown, encoding="utf-8")
    js.write_text(json_text, encoding="utf-8")
    return md, js


def sweep(folder: Path, max_age: float = MAX_AGE_SECONDS) -> int:
    """Remove downloads older than `max_age` seconds; returns how many folders went."""
    cutoff = time.time() - max_age
    removed = 0
    for box in _boxes(folder):
        try:
            if box.stat().st_mtime < cutoff:
                shutil.rmtree(box, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue  # another request swept it first
    return removed


def clear(folder: Path) -> int:
    """Remove every download (at start: no link from an earlier run stays valid)."""
    return sweep(folder, max_age=-1.0)


def remove_session(folder: Path, session_id: str) -> int:
    """Remove every download of one session; returns how many files went."""
    removed = 0
    for box in _boxes(folder):
        try:
            for file in box.glob(f"interview-{session_id}.*"):
                file.unlink(missing_ok=True)
                removed += 1
            if not any(box.iterdir()):
                box.rmdir()
        except FileNotFoundError:
            continue  # swept meanwhile
    return removed


def _boxes(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.is_dir()]
    except FileNotFoundError:
        return []


def _private(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def discard_upload(folder: Path, path: Path) -> bool:
    """Remove an uploaded recording once it is transcribed: Gradio keeps uploads in this same folder, and nothing
    spoken is kept. Only a file inside `folder` is removed (with its folder, once empty); True if it went."""
    try:
        target, root = path.resolve(), folder.resolve()
        if not target.is_file() or not target.is_relative_to(root):
            return False
        target.unlink()
        if target.parent != root and not any(target.parent.iterdir()):
            target.parent.rmdir()
    except OSError:
        return False
    return True
