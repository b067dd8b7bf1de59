"""The input channel through which a person speaks in a chat.

Any front-end, a script or a test writes lines with :meth:`InputChannel.send`. In a running chat
a line is published on the bus as a ``human_input`` event from the person, and the manager,
reading it from the bus, routes it: it answers the request that is open (the person's turn, a
speaker choice, an approval, given to :meth:`InputChannel.receive`), or else is posted at once as
an interjection. Lines sent before the chat runs wait in the channel and are published when it
starts; with no chat at all, a line answers an open :meth:`~InputChannel.receive` directly.
Closing the channel means the person has gone: open and later requests get ``None``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["ChannelClosedError", "InputChannel"]


class ChannelClosedError(RuntimeError):
    """Raised when sending to a channel that was closed."""


_TIMED_OUT = object()


class InputChannel:
    """Lines from a person to the chat; see the module docstring for how they are routed."""

    def __init__(self) -> None:
        self._buffer: deque[str] = deque()
        self._waiter: asyncio.Future[object] | None = None
        self._closed = False
        self._publish: Callable[[str], object] | None = None
        self._answered: asyncio.Future[object] | None = None  # the request a line was sent for
        self._request_changed: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None  # loop time the open request times out at
        self._holding = False  # the clock is held (the chat is paused)
        self._held: float | None = None  # then, the seconds the open request has left

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def requested(self) -> bool:
        """Whether someone is waiting for this person's input right now (and no line has been
        sent for it yet)."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and waiter is not self._answered

    def attach(self, publish: Callable[[str], object] | None) -> None:
        """Publish every line sent from now on with ``publish`` (the chat's manager gives it,
        while the chat runs), starting with those waiting; ``None`` keeps lines here again."""
        self._publish = publish
        if publish is not None:
            while self._buffer:
                publish(self._buffer.popleft())

    def send(self, text: str) -> None:
        """Send a line from the person. Never blocks."""
        if self._closed:
            raise ChannelClosedError("the input channel is closed")
        if not isinstance(text, str):
            raise TypeError(f"input must be str, not {type(text).__name__}")
        if self._publish is not None:
            waiter = self._waiter
            self._publish(text)
            if waiter is not None and not waiter.done():
                self._answered = waiter  # on its way through the chat: not asked any more
                self._notify()
        elif not self.deliver(text):
            self._buffer.append(text)

    def deliver(self, text: str) -> bool:
        """Give ``text`` to the open request; ``False`` if none is open. The manager calls this
        for the person's ``human_input`` events."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return False
        waiter.set_result(text)
        return True

    def send_threadsafe(self, loop: asyncio.AbstractEventLoop, text: str) -> None:
        """Send from another thread (e.g. one reading a terminal)."""
        loop.call_soon_threadsafe(self.send, text)

    def close(self) -> None:
        """The person has left: the open request and every later one get ``None``."""
        self._closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._notify()

    async def receive(self, timeout: float | None = None) -> str | None:
        """Wait for the next line; ``None`` if the channel closes.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        if self._buffer:
            return self._buffer.popleft()
        if self._closed:
            return None
        if self.requested:
            raise RuntimeError("another request is already waiting on this channel")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[object] = loop.create_future()
        self._waiter = waiter
        if timeout is not None:
            if self._holding:  # asked while held: the clock starts when released
                self._held = timeout
            else:
                self._start_clock(timeout)
        self._notify()
        try:
            result = await waiter
        finally:
            self._stop_clock()
            self._deadline = self._held = None
            self._waiter = None
            self._notify()
        if result is _TIMED_OUT:
            raise TimeoutError(f"no input within {timeout} s")
        assert result is None or isinstance(result, str)
        return result

    def hold(self) -> None:
        """Stop the clock of the open request (the chat is paused): it does not time out until
        :meth:`release`, which gives it the time it had left. Idempotent."""
        if self._holding:
            return
        self._holding = True
        if self._deadline is not None:
            self._held = max(0.0, self._deadline - asyncio.get_running_loop().time())
            self._stop_clock()
            self._deadline = None

    def release(self) -> None:
        """Start the clock again (the chat resumed) with the time the request had left."""
        if not self._holding:
            return
        self._holding = False
        held, self._held = self._held, None
        waiter = self._waiter
        if held is not None and waiter is not None and not waiter.done():
            self._start_clock(held)

    def _start_clock(self, seconds: float) -> None:
        waiter = self._waiter
        assert waiter is not None
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + seconds
        self._timer = loop.call_later(seconds, _resolve, waiter, _TIMED_OUT)

    def _stop_clock(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def wait_requested(self) -> bool:
        """Wait until a request is open; ``False`` if the channel closed instead."""
        while not self.requested:
            if self._closed:
                return False
            if self._request_changed is None:
                self._request_changed = asyncio.Event()
            event = self._request_changed
            await event.wait()
        return True

    def _notify(self) -> None:
        event = self._request_changed
        if event is not None:
            self._request_changed = None
            event.set()


def _resolve(fut: asyncio.Future[object], value: object) -> None:
    if not fut.done():
        fut.set_result(value)
