"""Launching the browser app: settings, optional login, safe defaults. `app.py` calls `serve`."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from interviewer.errors import InterviewerError


def auth_from_env() -> list[tuple[str, str]] | None:
    """Optional login for a shared deployment: INTERVIEWER_AUTH="user:password[,user2:password2]"."""
    raw = os.environ.get("INTERVIEWER_AUTH", "").strip()
    if not raw:
        return None
    pairs = []
    for item in raw.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise InterviewerError("INTERVIEWER_AUTH must look like user:password[,user2:password2].")
        pairs.append((user, password))
    return pairs


def launch(host: str = "127.0.0.1", port: int = 7860, *, block: bool = True) -> Any:
    """Build the engine and the app and start serving; returns the Blocks app."""
    from interviewer.engine import Engine
    from interviewer.ui import CSS, THEME, build_app

    engine = Engine()
    engine.grader.index.collection()  # build a missing index now, not on the first answer
    demo = build_app(engine)
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=auth_from_env(),
        auth_message="Sign in to your mock interviews.",
        max_file_size="1mb",
        allowed_paths=[tempfile.gettempdir()],
        show_error=False,
        theme=THEME,
        css=CSS,
        prevent_thread_lock=not block,
        quiet=False,
        footer_links=[],
    )
    return demo


def serve(host: str, port: int) -> int:
    try:
        launch(host, port)
    except InterviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
