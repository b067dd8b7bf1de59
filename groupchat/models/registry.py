"""Model names as written in specs and on the command line, and the clients they make.

``provider:model`` picks a known provider (``openai:gpt-4.1-mini``, ``azure:my-deployment``,
``ollama:llama3.2``, ``vllm:…``, ``lmstudio:…``, ``llamacpp:…``); a base URL with the model
after ``#`` (``http://localhost:8000/v1#qwen2.5``) reaches any other OpenAI-compatible server.
Keys and endpoints come from the environment (see :data:`PROVIDERS`); nothing here reads a key.
"""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict

from groupchat.models.base import ChatModel
from groupchat.models.retry import RetryPolicy

__all__ = [
    "PROVIDERS",
    "ModelName",
    "Provider",
    "parse_model_name",
    "resolve_model",
]


class Provider(BaseModel):
    """Where a provider's server is and how it wants a key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None
    """Default base URL (``None``: the SDK's own, i.e. OpenAI)."""
    base_url_env: str | None = None
    """Environment variable that overrides ``base_url``."""
    key_env: str | None = None
    key_required: bool = False
    append_v1: bool = False
    """Add ``/v1`` to a base URL from the environment (``OLLAMA_HOST`` names only the host)."""


PROVIDERS: dict[str, Provider] = {
    "openai": Provider(
        base_url=None, base_url_env="OPENAI_BASE_URL", key_env="OPENAI_API_KEY", key_required=True
    ),
    "azure": Provider(base_url=None, key_env="AZURE_OPENAI_API_KEY", key_required=True),
    "ollama": Provider(
        base_url="http://localhost:11434/v1",
        base_url_env="OLLAMA_HOST",
        key_env="OLLAMA_API_KEY",
        append_v1=True,
    ),
    "vllm": Provider(
        base_url="http://localhost:8000/v1", base_url_env="VLLM_BASE_URL", key_env="VLLM_API_KEY"
    ),
    "lmstudio": Provider(
        base_url="http://localhost:1234/v1",
        base_url_env="LMSTUDIO_BASE_URL",
        key_env="LMSTUDIO_API_KEY",
    ),
    "llamacpp": Provider(
        base_url="http://localhost:8080/v1",
        base_url_env="LLAMACPP_BASE_URL",
        key_env="LLAMACPP_API_KEY",
    ),
}
"""Known providers. Azure also needs ``AZURE_OPENAI_ENDPOINT`` and takes its API version from
``OPENAI_API_VERSION`` (default :data:`AZURE_API_VERSION`)."""

AZURE_API_VERSION = "2024-10-21"
URL_KEY_ENV = "GROUPCHAT_API_KEY"
"""The key sent to a server named by its URL, if set (never ``OPENAI_API_KEY``: the URL may
belong to anyone)."""

_URL = re.compile(r"^https?://[^\s#]+#(?P<model>\S+)$")


class ModelName(BaseModel):
    """A parsed model name: which provider (or URL) and which model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    model: str
    base_url: str | None = None

    def __str__(self) -> str:
        if self.provider == "url":
            return f"{self.base_url}#{self.model}"
        return f"{self.provider}:{self.model}"


def parse_model_name(text: str) -> ModelName:
    """Parse ``provider:model`` or ``URL#model``; ``ValueError`` says what is accepted."""
    text = text.strip()
    match = _URL.match(text)
    if match:
        return ModelName(provider="url", model=match["model"], base_url=text.partition("#")[0])
    if text.startswith(("http://", "https://")):
        raise ValueError(f"model {text!r}: put the model after the URL: {text}#MODEL")
    provider, sep, model = text.partition(":")
    if not sep or not model.strip():
        raise ValueError(
            f"model {text!r}: write PROVIDER:MODEL (providers: {', '.join(PROVIDERS)}) "
            "or BASE_URL#MODEL"
        )
    if provider not in PROVIDERS:
        raise ValueError(
            f"model {text!r}: unknown provider {provider!r}; use one of {', '.join(PROVIDERS)} "
            "or BASE_URL#MODEL"
        )
    return ModelName(provider=provider, model=model.strip())


def _env_url(provider: Provider) -> str | None:
    url = os.environ.get(provider.base_url_env) if provider.base_url_env else None
    if not url:
        return provider.base_url
    if "://" not in url:
        url = f"http://{url}"
    url = url.rstrip("/")
    if provider.append_v1 and not url.endswith("/v1"):
        url += "/v1"
    return url


def resolve_model(
    name: str | ModelName,
    *,
    timeout: float = 60.0,
    retry: RetryPolicy | None = None,
) -> ChatModel:
    """The client for a model name. No network, SDK import or key lookup happens until the
    first call, so a team can be built and checked anywhere."""
    from groupchat.models.openai_compat import AzureSettings, OpenAICompatModel

    parsed = name if isinstance(name, ModelName) else parse_model_name(name)
    label = str(parsed)
    if parsed.provider == "url":
        return OpenAICompatModel(
            parsed.model,
            name=label,
            base_url=parsed.base_url,
            key_env=URL_KEY_ENV,
            key_required=False,
            timeout=timeout,
            retry=retry,
        )
    provider = PROVIDERS[parsed.provider]
    azure = None
    if parsed.provider == "azure":
        endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT", "")  # checked at the first call
        version = os.environ.get("OPENAI_API_VERSION") or AZURE_API_VERSION
        azure = AzureSettings(endpoint=endpoint, api_version=version)
    return OpenAICompatModel(
        parsed.model,
        name=label,
        base_url=None if azure else _env_url(provider),
        key_env=provider.key_env,
        key_required=provider.key_required,
        azure=azure,
        timeout=timeout,
        retry=retry,
    )
