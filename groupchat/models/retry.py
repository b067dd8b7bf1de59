"""Retrying model calls with exponential backoff, before the first piece of an answer arrives.

Once a streamed answer has started, its pieces are already in the chat, so a failure after that
is raised rather than retried.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

from pydantic import BaseModel, ConfigDict, Field

from groupchat.models.base import ModelError, RateLimitError, StreamEvent

__all__ = ["RetryPolicy", "with_retries"]


class RetryPolicy(BaseModel):
    """How often and how patiently to retry a call that failed with a retryable error.

    The n-th retry waits ``initial_delay * multiplier ** (n - 1)`` seconds (at most
    ``max_delay``), plus up to ``jitter`` of that at random; a server's ``Retry-After`` hint
    is used instead when it gives one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_retries: int = Field(default=3, ge=0)
    initial_delay: float = Field(default=0.5, ge=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_delay: float = Field(default=20.0, ge=0)
    jitter: float = Field(default=0.1, ge=0, le=1)

    def delay(self, retry: int, error: ModelError) -> float:
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_delay)
        base = min(self.initial_delay * self.multiplier ** (retry - 1), self.max_delay)
        return base * (1 + self.jitter * random.random())


async def with_retries(
    attempt: Callable[[], AsyncIterator[StreamEvent]], policy: RetryPolicy
) -> AsyncIterator[StreamEvent]:
    """Run ``attempt()`` and yield its pieces; retry it while it fails before yielding any."""
    retries = 0
    while True:
        started = False
        try:
            async for event in attempt():
                started = True
                yield event
            return
        except ModelError as exc:
            if started or not exc.retryable or retries >= policy.max_retries:
                raise
            retries += 1
            await asyncio.sleep(policy.delay(retries, exc))
