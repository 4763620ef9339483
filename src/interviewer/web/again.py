"""The handlers of answering a done question again: the interview's "Answer again" button, the Review tab's list of
the session's done questions, and the `/again` API. Each goes through `Engine.again`, with its ownership checks."""

from __future__ import annotations

from typing import Any

import gradio as gr

from interviewer.errors import InterviewerError
from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine
from interviewer.interview.grade_text import escape_markdown, shorten

AGAIN_CHARS = 60  # of a question, on the "Answer again" button and in the Review tab's list


def note(exc: Exception) -> str:
    """A refusal as the page shows it."""
    return f"**Note:** {escape_markdown(str(exc))}"


class AgainHandlers:
    """Part of `handlers.InterviewApp`: answering again."""

    engine: Engine

    def caller(self, request: gr.Request | None) -> Caller:
        raise NotImplementedError

    def screens(self, session_id: str, caller: Caller, notice: str = "") -> tuple[Any, ...]:
        raise NotImplementedError

    def again(self, session_id: str, prompt_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Answer one of the session's done questions again: a new session of that question (`Engine.again`)."""
        caller = self.caller(request)
        try:
            new_id, _ = self.engine.again(caller, session_id, prompt_id or "")
        except InterviewerError as exc:
            return self.screens(session_id, caller, notice=note(exc))
        return self.screens(new_id, caller)

    def again_last(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        """The interview's "Answer again": the session's latest done question."""
        try:
            done = self.engine.views.done(self.caller(request), session_id)
        except InterviewerError:
            done = []
        return self.again(session_id, done[-1] if done else "", request)

    def again_controls(self, session_id: str, request: gr.Request) -> tuple[Any, Any, Any]:
        """The "Answer again" button (naming the latest done question) and the Review tab's list of done questions."""
        try:
            done = self.engine.views.done(self.caller(request), session_id) if session_id else []
        except InterviewerError:
            done = []
        if not done:
            return gr.update(visible=False), gr.update(choices=[], value=None), gr.update(visible=False)
        named = [(shorten(self.engine.corpus.prompt(pid).prompt.text, AGAIN_CHARS), pid) for pid in done]
        button = gr.update(value=f"Answer again: {named[-1][0]}", visible=True)
        return button, gr.update(choices=named, value=done[-1]), gr.update(visible=True)
