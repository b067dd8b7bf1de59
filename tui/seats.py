"""The people at one terminal: whoever of them is asked answers from here (a "hot seat").

A team may have several human participants and one keyboard. Whenever any of them is asked for
something (a turn, a choice of speaker, an approval), the front-end says *who* is asked, and
the line typed is that person's answer. A line typed when none of them is asked is said out of
turn by the one *seated* (``--as NAME`` at start, ``/as NAME`` at any moment), who is also the
one named when this terminal pauses, steers or stops the chat. Shared by the TUI and the plain
console; headless runs answer every request from standard input in the order they come. A
person claimed by a joined terminal (see :mod:`groupchat.tui.claims`) is not here while claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from groupchat.channel import InputChannel
from groupchat.tui.claims import Claims
from groupchat.tui.control import ControlError

if TYPE_CHECKING:
    from groupchat.chat import GroupChat
    from groupchat.participant import Participant

__all__ = ["Seats", "addressed", "input_channel"]


def input_channel(participant: object) -> InputChannel | None:
    """The channel through which a person speaks as ``participant`` (``None``: not a person)."""
    channel = getattr(participant, "channel", None)
    return channel if isinstance(channel, InputChannel) else None


def addressed(name: str, text: str) -> str:
    """``text`` said to ``name``: "bob, your turn". To a person named "you", just the text."""
    if name.lower() == "you" or not text:
        return text
    return f"{name}, {text[0].lower()}{text[1:]}"


class Seats:
    """Who at this terminal may speak: ``people`` (default: every participant of ``chat`` with
    an input channel, including any who join later), and the one ``seated`` among them.

    With nobody seated (``seated=None`` and no ``people``), the terminal only watches. The
    people in ``claims`` answer from other terminals, and so are not here while claimed.
    """

    def __init__(
        self,
        chat: GroupChat,
        seated: Participant | None = None,
        *,
        people: Sequence[Participant] | None = None,
        claims: Claims | None = None,
    ) -> None:
        self.chat = chat
        self.claims = claims if claims is not None else Claims()
        if self.claims.home is None:
            self.claims.home = lambda: self.me
        self._fixed: dict[str, Participant] | None = None
        if people is not None:
            self._fixed = {p.name: p for p in people}
            if seated is not None:
                self._fixed.setdefault(seated.name, seated)
        elif seated is None:
            self._fixed = {}  # watching
        self._seated = seated
        if seated is None and self._fixed:
            self._seated = next(iter(self._fixed.values()))

    # ------------------------------------------------------------------ who is here

    @property
    def watching(self) -> bool:
        """Nobody here takes part: the terminal only watches (and runs commands)."""
        return self._seated is None

    @property
    def seated(self) -> Participant | None:
        """The person whose voice what is typed out of turn is."""
        return self._seated

    @property
    def me(self) -> str | None:
        return self._seated.name if self._seated is not None else None

    @property
    def names(self) -> list[str]:
        """The people here who take part in the chat now, in the chat's order."""
        present = self.chat.participants
        claimed = self.claims
        if self._fixed is None:
            return [
                name
                for name, p in present.items()
                if input_channel(p) is not None and name not in claimed
            ]
        return [name for name in present if name in self._fixed and name not in claimed]

    def here(self, name: str | None) -> bool:
        """Whether ``name`` is one of the people at this terminal (and not claimed elsewhere)."""
        if name is None or name in self.claims:
            return False
        if self._fixed is not None:
            return name in self._fixed
        return input_channel(self.chat.participants.get(name)) is not None or name == self.me

    def channels(self) -> dict[str, InputChannel]:
        """The input channels of the people here (for a reader of piped lines)."""
        found: dict[str, InputChannel] = {}
        for name in self.names:
            channel = input_channel(self.chat.participants[name])
            if channel is not None:
                found[name] = channel
        return found

    def asked(self, prefer: str | None = None) -> str | None:
        """Who of the people here is waiting to be answered right now (``prefer`` first)."""
        names = self.names
        if prefer in names:
            names.remove(prefer)
            names.insert(0, prefer)
        return next((name for name in names if self.waiting(name)), None)

    def waiting(self, name: str) -> bool:
        """Whether ``name`` (one of the people here) is being asked for input right now."""
        channel = self._channel(name) if self.here(name) else None
        return channel is not None and channel.requested

    def _participant(self, name: str) -> Participant | None:
        """One of the people here by name (``None``: not one of them)."""
        if self._fixed is not None:
            return self._fixed.get(name)
        if self._seated is not None and name == self._seated.name:
            return self._seated
        return self.chat.participants.get(name)

    def _channel(self, name: str) -> InputChannel | None:
        return input_channel(self._participant(name))

    # ------------------------------------------------------------------ what the person does

    def sit(self, name: str) -> str:
        """Speak as ``name`` from now on (any case, with or without ``@``); says who you are."""
        wanted = name.lstrip("@")
        names = self.names
        for candidate in names:
            if candidate.lower() == wanted.lower():
                participant = self._participant(candidate)
                assert participant is not None
                self._seated = participant
                return f"you are {candidate} now; /as NAME switches again"
        if not names:
            raise ControlError(self._watching())
        raise ControlError(f"{wanted!r} is not one of the people here ({', '.join(names)})")

    def who(self) -> str:
        """A line saying who you are and who else may be answered for here."""
        if self.me is None:
            return self._watching()
        others = [name for name in self.names if name != self.me]
        also = f"; you also answer for {', '.join(others)} when asked" if others else ""
        return f"you are {self.me}{also}"

    def _watching(self) -> str:
        people = any(input_channel(p) is not None for p in self.chat.participants.values())
        if people:
            return "you are watching: the people in this chat answer elsewhere"
        return "you are watching: there is no person in this team"

    def post(self, text: str, name: str | None = None) -> str | None:
        """Send a typed line as ``name`` (default: whoever is asked, else the one seated).

        It answers that person's open request, or else is posted at once as an interjection;
        a blank line only passes a request. Returns who it was sent as (``None``: a blank line
        with nothing asked). Raises :class:`ControlError` when nobody can say it.
        """
        if name is None:
            name = self.asked(self.me) or self.me
        if name is None:
            raise ControlError(self._watching())
        if name in self.claims:
            raise ControlError(f"{name} answers from another terminal now")
        channel = self._channel(name)
        if channel is None:
            raise ControlError(f"{name} does not speak from this terminal")
        if name not in self.chat.participants:
            raise ControlError(f"{name} is not in the chat; /as NAME speaks as someone else")
        if channel.closed:
            left = "you have" if name == self.me else f"{name} has"
            raise ControlError(f"{left} left this chat")
        if not text.strip() and not channel.requested:
            return None
        channel.send(text)
        return name

    def skip(self, name: str | None) -> str:
        """Pass the open turn of ``name``, one of the people here (``None``: nobody's)."""
        if name is None or not self.waiting(name):
            raise ControlError("there is no turn to pass: nobody here is asked to speak")
        channel = self._channel(name)
        assert channel is not None
        channel.send("")
        return name
