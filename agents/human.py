"""A person taking part in a chat, fed by an input channel any front-end can write to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from groupchat.channel import InputChannel
from groupchat.participant import AwaitingInput, ChatView, EndChat, Pass, Reply, TurnItem

__all__ = ["HumanParticipant", "TimeoutAction"]

TimeoutAction = Literal["skip", "default", "end"]


class HumanParticipant:
    """A human participant. Their turn waits for a line on :attr:`channel`.

    With ``timeout`` set, a turn that gets no answer in time is skipped (``on_timeout="skip"``),
    answered with ``default_reply`` (``"default"``) or ends the chat (``"end"``). A blank line
    passes the turn; a closed channel (the person left) passes every turn from then on. Lines
    sent when it is not their turn are posted at once as interjections.
    """

    kind = "human"
    human = True

    def __init__(
        self,
        name: str = "you",
        description: str = "A person taking part in the chat.",
        *,
        channel: InputChannel | None = None,
        timeout: float | None = None,
        on_timeout: TimeoutAction = "skip",
        default_reply: str = "",
        prompt: str = "Your turn.",
    ) -> None:
        if on_timeout not in ("skip", "default", "end"):
            raise ValueError("on_timeout must be 'skip', 'default' or 'end'")
        if on_timeout == "default" and not default_reply:
            raise ValueError("on_timeout='default' needs a default_reply")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        self.name = name
        self.description = description
        self.channel = channel if channel is not None else InputChannel()
        self.timeout = timeout
        self.on_timeout: TimeoutAction = on_timeout
        self.default_reply = default_reply
        self.prompt = prompt

    def send(self, text: str) -> None:
        """Shorthand for ``self.channel.send(text)``."""
        self.channel.send(text)

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        yield AwaitingInput(self.prompt, self.timeout)
        try:
            text = await self.channel.receive(self.timeout)
        except TimeoutError:
            limit = f"{self.timeout:g} s"
            if self.on_timeout == "default":
                yield Reply(self.default_reply)
            elif self.on_timeout == "end":
                yield EndChat(f"{self.name} did not answer within {limit}")
            else:
                yield Pass(f"no answer within {limit}")
            return
        if text is None:
            yield Pass("input ended")
        elif not text.strip():
            yield Pass("passed")
        else:
            yield Reply(text)
