"""Calling a chat model within the token budget and metering what each call cost (calls, tokens, time, money)."""

from __future__ import annotations

import json
import time
from typing import Any

from interviewer.grading.llm import LLMSettings, count_tokens
from interviewer.grading.models import Usage


class ModelFailure(Exception):
    """The model could not give a usable reply; the turn falls back to the rubric brain."""


class InvalidOutput(ModelFailure):
    """The model replied, but not with what was asked for; worth one more try."""


def describe(exc: BaseException) -> str:
    """One short line naming a failure, for the transcript."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0][:160] if text else ''}"


class Meter:
    """A chat model and its settings: every call is checked against the budget and added to a Usage."""

    def __init__(self, model: Any, settings: LLMSettings) -> None:
        self.model = model
        self.settings = settings

    def fits(self, text: str) -> bool:
        """True when a request of this text is within the context token budget."""
        return count_tokens(text, self.settings.model) <= self.settings.context_tokens

    def call(self, messages: list[Any], usage: Usage, **kwargs: Any) -> str:
        """The model's reply to the messages; what it cost is added to `usage`, even when it failed."""
        import openai
        from langchain_core.messages import BaseMessage

        prompt_text = "\n".join(str(m.content) for m in messages if isinstance(m, BaseMessage))
        tokens_in = count_tokens(prompt_text, self.settings.model)
        if tokens_in > self.settings.context_tokens:
            raise ModelFailure(
                f"the request needs {tokens_in} tokens, over the budget of {self.settings.context_tokens}"
            )
        start = time.perf_counter()
        try:
            reply = self.model.invoke(messages, **kwargs)
        except Exception as exc:  # connection errors, timeouts, 429/5xx after the client's own retries
            if isinstance(exc, openai.LengthFinishReasonError):  # it replied at length: that is paid for too
                spent = exc.completion.usage
                self.record(
                    usage, start, spent.prompt_tokens if spent else tokens_in, spent.completion_tokens if spent else 0
                )
                raise InvalidOutput("cut off at the output token limit") from exc
            raise ModelFailure(describe(exc)) from exc
        text = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
        meta = getattr(reply, "usage_metadata", None) or {}
        used_in = int(meta.get("input_tokens") or tokens_in)
        used_out = int(meta.get("output_tokens") or count_tokens(text, self.settings.model))
        self.record(usage, start, used_in, used_out)
        return text

    def record(self, usage: Usage, start: float, used_in: int, used_out: int) -> None:
        """Add one call that began at `start` (perf_counter) and used these tokens."""
        elapsed = (time.perf_counter() - start) * 1000
        usage.calls += 1
        usage.input_tokens += used_in
        usage.output_tokens += used_out
        usage.latency_ms = round(usage.latency_ms + elapsed, 1)
        usage.cost_usd = round(usage.cost_usd + self.settings.cost(used_in, used_out), 6)

    def record_run(self, messages: list[Any], usage: Usage, start: float) -> None:
        """Add an agent's run that began at `start`: each model reply among its messages is one call."""
        for message in messages:
            meta = getattr(message, "usage_metadata", None)
            if meta and getattr(message, "type", "") == "ai":
                usage.calls += 1
                usage.input_tokens += int(meta.get("input_tokens") or 0)
                usage.output_tokens += int(meta.get("output_tokens") or 0)
        usage.latency_ms = round(usage.latency_ms + (time.perf_counter() - start) * 1000, 1)
        usage.cost_usd = round(self.settings.cost(usage.input_tokens, usage.output_tokens), 6)
