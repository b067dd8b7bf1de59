"""Keeping secrets out of what is shown and stored: specs without their keys, URLs without
their passwords, error text without the key that was sent.

The store redacts every spec and chat metadata it writes with :func:`redact_spec`; model
clients name their endpoints with :func:`shown_url` and clean error text with
:func:`scrub_key`, so a key reaches no transcript, log or message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_spec", "scrub_key", "shown_url"]


def shown_url(url: str) -> str:
    """``url`` as it may be shown in a name, a message or a transcript: a password in it (an
    endpoint such as ``https://user:KEY@proxy/v1``) is replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def scrub_key(text: str, key: str | None) -> str:
    """``text`` with the key (and any long enough piece of it) blotted out."""
    if key and len(key) >= 8:
        for size in (len(key), 12, 8):
            for start in range(0, len(key) - size + 1):
                piece = key[start : start + size]
                if piece in text:
                    text = text.replace(piece, "***")
    return text


_SECRET_WORDS = frozenset(
    {
        "key",
        "keys",
        "apikey",
        "token",
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "passphrase",
        "credentials",
        "authorization",
    }
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _is_secret_key(key: object) -> bool:
    """``api_key``, ``apiKey``, ``X-Api-Key``, ``auth_token``, ``password``: yes. ``api_key_env``
    (the *name* of a variable), ``max_tokens``, ``token_budget``: no. The last word decides."""
    if not isinstance(key, str):
        return False
    words = [w for w in _NON_WORD.split(_CAMEL.sub(r"\1_\2", key).lower()) if w]
    return bool(words) and words[-1] in _SECRET_WORDS


def redact_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` without secrets: every key that names a key, token, secret or password
    (case-insensitive, at any depth, inside lists too) is removed with its value, and a password
    inside a URL (``https://user:KEY@proxy/v1#model``) becomes ``***``, in keys too.

    The keys of the top-level ``prices`` are model names, not field names: they are kept
    whatever their words (``ollama:api-key-bot``), their URLs' passwords hidden."""

    def shown(key: Any) -> Any:
        return shown_url(key) if isinstance(key, str) and "@" in key and "://" in key else key

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):  # a dict, or an event's FrozenDict
            return {shown(k): clean(v) for k, v in value.items() if not _is_secret_key(k)}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, str) and "@" in value and "://" in value:
            return shown_url(value)
        return value

    cleaned: dict[str, Any] = clean(spec)
    prices = spec.get("prices")
    if isinstance(prices, Mapping):
        cleaned["prices"] = {shown(model): clean(price) for model, price in prices.items()}
    return cleaned
