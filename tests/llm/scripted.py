"""A scripted chat model: replies from a queue, with a history of what it was asked.

Only for logic a real small model cannot exercise deterministically (fabricated quotes, injected
instructions, invalid output, failures); the real HTTP path is tested against a real local server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field


class ScriptedChatModel(BaseChatModel):
    """Each call pops the next reply: a string becomes the message text; an exception is raised.

    With `respond`, the reply is computed from the messages instead (for calls made concurrently).
    """

    replies: list[Any] = Field(default_factory=list)
    respond: Callable[[list[BaseMessage]], str] | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        """Tools are accepted; which one is called is up to the script."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.history.append({"messages": messages, "kwargs": kwargs})
        if self.respond is not None:
            self.replies.append(self.respond(messages))
        if not self.replies:
            raise AssertionError("the scripted model ran out of replies")
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        usage = {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}
        message = reply if isinstance(reply, AIMessage) else AIMessage(content=reply, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])
