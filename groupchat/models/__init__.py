"""Model clients: the chat-completion protocol, the OpenAI-compatible client, the record/replay
cache, scripted doubles and prices.

Names load on first use; the ``openai`` SDK loads only when a call is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from groupchat._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AuthError": "groupchat.models.base",
    "CacheMiss": "groupchat.models.base",
    "ChatModel": "groupchat.models.base",
    "Completed": "groupchat.models.base",
    "MissingExtraError": "groupchat.models.base",
    "ModelConnectionError": "groupchat.models.base",
    "ModelError": "groupchat.models.base",
    "ModelMessage": "groupchat.models.base",
    "ModelRequest": "groupchat.models.base",
    "ModelResponse": "groupchat.models.base",
    "ModelTimeout": "groupchat.models.base",
    "ModelToolCall": "groupchat.models.base",
    "RateLimitError": "groupchat.models.base",
    "RequestRejected": "groupchat.models.base",
    "ResponseFormat": "groupchat.models.base",
    "ServerError": "groupchat.models.base",
    "StreamBroken": "groupchat.models.base",
    "StreamEvent": "groupchat.models.base",
    "TextChunk": "groupchat.models.base",
    "ToolCallChunk": "groupchat.models.base",
    "ToolSpec": "groupchat.models.base",
    "complete": "groupchat.models.base",
    "complete_structured": "groupchat.models.base",
    "estimate_tokens": "groupchat.models.base",
    "CachedModel": "groupchat.models.cache",
    "CacheMode": "groupchat.models.cache",
    "ModelCache": "groupchat.models.cache",
    "OpenAICompatModel": "groupchat.models.openai_compat",
    "ChatCost": "groupchat.models.pricing",
    "Price": "groupchat.models.pricing",
    "PriceTable": "groupchat.models.pricing",
    "models_in": "groupchat.models.pricing",
    "ModelName": "groupchat.models.registry",
    "PROVIDERS": "groupchat.models.registry",
    "parse_model_name": "groupchat.models.registry",
    "resolve_model": "groupchat.models.registry",
    "RetryPolicy": "groupchat.models.retry",
    "FunctionModel": "groupchat.models.scripted",
    "ScriptedModel": "groupchat.models.scripted",
    "reply": "groupchat.models.scripted",
    "tool_call": "groupchat.models.scripted",
}

__all__ = [
    "PROVIDERS",
    "AuthError",
    "CacheMiss",
    "CacheMode",
    "CachedModel",
    "ChatCost",
    "ChatModel",
    "Completed",
    "FunctionModel",
    "MissingExtraError",
    "ModelCache",
    "ModelConnectionError",
    "ModelError",
    "ModelMessage",
    "ModelName",
    "ModelRequest",
    "ModelResponse",
    "ModelTimeout",
    "ModelToolCall",
    "OpenAICompatModel",
    "Price",
    "PriceTable",
    "RateLimitError",
    "RequestRejected",
    "ResponseFormat",
    "RetryPolicy",
    "ScriptedModel",
    "ServerError",
    "StreamBroken",
    "StreamEvent",
    "TextChunk",
    "ToolCallChunk",
    "ToolSpec",
    "complete",
    "complete_structured",
    "estimate_tokens",
    "models_in",
    "parse_model_name",
    "reply",
    "resolve_model",
    "tool_call",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())


if TYPE_CHECKING:
    from groupchat.models.base import (
        AuthError,
        CacheMiss,
        ChatModel,
        Completed,
        MissingExtraError,
        ModelConnectionError,
        ModelError,
        ModelMessage,
        ModelRequest,
        ModelResponse,
        ModelTimeout,
        ModelToolCall,
        RateLimitError,
        RequestRejected,
        ResponseFormat,
        ServerError,
        StreamBroken,
        StreamEvent,
        TextChunk,
        ToolCallChunk,
        ToolSpec,
        complete,
        complete_structured,
        estimate_tokens,
    )
    from groupchat.models.cache import CachedModel, CacheMode, ModelCache
    from groupchat.models.openai_compat import OpenAICompatModel
    from groupchat.models.pricing import ChatCost, Price, PriceTable, models_in
    from groupchat.models.registry import PROVIDERS, ModelName, parse_model_name, resolve_model
    from groupchat.models.retry import RetryPolicy
    from groupchat.models.scripted import FunctionModel, ScriptedModel, reply, tool_call
