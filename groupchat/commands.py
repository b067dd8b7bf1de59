"""What a running chat is asked to do, and how the manager does it.

People and front-ends never call into the manager's loop: they publish events on the chat's bus
(a person's line as ``human_input``, pause, resume, interrupt, stop, steer, kick and invite as
``control``, seats taken from other terminals as ``seat_claimed``/``seat_released``), each
through the sender's own publisher, so the bus stamps who asked. The manager reads them from a
subscription to just those types and acts; what it does is an event of its own (``paused``, a
``speaker_selected`` by ``steer``, ``participant_left`` ...). A process on another machine asks
the same way, by publishing the same events.

:class:`Commands` is the manager's side of this; :class:`~groupchat.chat.GroupChat` inherits it.
Its public methods publish the commands for code in this process, and act on them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Literal

from groupchat.bus import ChatClosedError, Subscription
from groupchat.events import (
    INBOUND,
    MANAGER,
    ControlCommand,
    ControlRequested,
    EndStatus,
    ErrorEvent,
    Event,
    EventBase,
    HumanInput,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    Resumed,
    SeatClaimed,
    SeatReleased,
)
from groupchat.publishing import Publishing

if TYPE_CHECKING:
    from groupchat.bus import Publisher
    from groupchat.messages import Message
    from groupchat.participant import Participant

__all__ = ["Commands"]


class _Cancel:
    """Why the manager cancelled its own runner task (as opposed to a cancellation from outside)."""

    __slots__ = ("kind",)

    def __init__(self, kind: Literal["interrupt", "stop"]) -> None:
        self.kind = kind


class Commands(Publishing):
    """The commands a running chat takes, the people who may be invited back, and the
    cancellation of the manager's own task that interrupts and stops rely on."""

    if TYPE_CHECKING:
        _started: bool

    def __init__(self) -> None:
        self._runner: asyncio.Task[Any] | None = None
        self._interruptible = False
        self._in_turn = False
        self._cancel: _Cancel | None = None
        self._end: tuple[str, EndStatus] | None = None
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._steer: tuple[str, str] | None = None  # (next speaker, reason)
        self._leaving: dict[str, str] = {}  # removed while speaking: name -> reason
        self._departed: dict[str, Participant] = {}  # who left, and may be invited back
        self._between_runs: list[tuple[type[EventBase], dict[str, Any]]] = []
        self._queued: list[tuple[Publisher, dict[str, Any]]] = []  # commands before the run
        self._inbox: Subscription | None = None
        self._inbox_reader: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ asking the chat

    async def stop(self, reason: str = "stopped", *, by: str | None = None) -> None:
        """End the chat now; a turn in progress is cut short and its text kept."""
        self._command(by, "stop", reason=reason)

    async def interrupt(self, *, by: str | None = None) -> bool:
        """Cut the current speaker short; the chat goes on. Returns whether a turn was running."""
        if not self._in_turn:
            return False
        self._command(by, "interrupt")
        return True

    async def pause(self, *, by: str | None = None) -> None:
        """Hold the chat before the next turn (the current one finishes). People may still post."""
        self._command(by, "pause")

    async def resume(self, *, by: str | None = None) -> None:
        self._command(by, "resume")

    def steer(self, name: str, *, by: str | None = None) -> None:
        """Make ``name`` the next speaker, whatever the policy would pick."""
        if name not in self._participants:
            raise KeyError(f"no participant {name!r} in this chat")
        self._command(by, "steer", name=name)

    async def remove(self, name: str, *, reason: str = "", by: str | None = None) -> None:
        """Remove a participant; if it is speaking, its turn is cut short first. They can be
        invited back (:meth:`invite`)."""
        if name not in self._participants:
            raise KeyError(f"no participant {name!r} in this chat")
        if self._inbox is None:
            self._drop(name, reason)
        else:
            self._command(by, "kick", name=name, reason=reason)

    async def invite(self, name: str, *, by: str | None = None) -> None:
        """Bring back a participant who left (any case)."""
        found = self._departed_named(name)
        if found is None:
            raise KeyError(f"{name!r} has not left this chat")
        if self._inbox is None:
            self._readmit(found)
        else:
            self._command(by, "invite", name=found)

    @property
    def departed(self) -> list[str]:
        """Who left the chat (or was removed) and can be invited back."""
        return list(self._departed)

    async def add(self, participant: Participant) -> None:
        """Add a participant; it is a candidate from the next selection on."""
        info = self._register(participant)
        if self._inbox is not None:
            self._attach_channel(participant.name)
        self._announce(ParticipantJoined, participant=info)

    async def say(self, sender: str, text: str) -> Message:
        """Post ``text`` from participant ``sender`` right away, outside the turn order.

        The next speaker sees it; an @mention in it is a hint the policy may follow.
        """
        if sender not in self._participants:
            raise KeyError(f"no participant {sender!r} in this chat")
        if not self._started:
            raise RuntimeError("the chat has not started yet")
        return await self._post(
            self._publishers[sender], self._message(sender, text, "interjection")
        )

    def claim_seat(self, name: str, holder: str) -> None:
        """Record that the person ``name`` answers from another terminal, ``holder``."""
        self._seat(SeatClaimed, name, holder)

    def release_seat(self, name: str, holder: str) -> None:
        """Record that ``name`` no longer answers from ``holder``."""
        self._seat(SeatReleased, name, holder)

    def _seat(self, cls: type[EventBase], name: str, holder: str) -> None:
        pub = self._publishers.get(name)
        if pub is not None and self._inbox is not None:
            with contextlib.suppress(ChatClosedError):
                pub.emit_nowait(cls, holder=holder)

    async def fail(self, error: str, *, detail: str = "") -> None:
        """End the running chat now because something it relies on failed outside it (its
        transcript can no longer be written, say): a fatal ``error`` event, then the end with
        status ``error``. A turn in progress is cut short and its text kept."""
        if self._runner is None:
            return
        if self._end is None:
            self._end = (error, "error")
        with contextlib.suppress(Exception):  # the chat may be closing already
            self._pub.emit_nowait(ErrorEvent, error=error, detail=detail, fatal=True)
        self._cancel_runner("stop")

    def _command(
        self, by: str | None, command: ControlCommand, *, name: str | None = None, reason: str = ""
    ) -> None:
        """Publish a command as ``by`` (``None``: the manager) and act on it now; before the
        run it waits, and is published when the run starts."""
        if by is None:
            pub = self._pub
        else:
            pub = self._publishers.get(by) or self.bus.publisher(self.chat_id, by)
        fields: dict[str, Any] = {"command": command, "name": name, "reason": reason}
        if self._inbox is None:
            self._queued.append((pub, fields))
            return
        with contextlib.suppress(ChatClosedError):  # the run is ending: nothing left to do
            pub.emit_nowait(ControlRequested, **fields)
        self._drain()

    # ------------------------------------------------------------------ the inbox

    def _open_inbox(self) -> None:
        """Read commands from now on; publish those waiting (people's early lines first)."""
        self._inbox = self.bus.subscribe(self.chat_id, start=None, kinds=INBOUND)
        for name in self._state.channels:
            self._attach_channel(name)
        for pub, fields in self._queued:
            pub.emit_nowait(ControlRequested, **fields)
        self._queued.clear()
        self._drain()
        self._inbox_reader = asyncio.get_running_loop().create_task(self._read(self._inbox))

    def _close_inbox(self) -> None:
        for channel in self._state.channels.values():
            channel.attach(None)
        inbox, self._inbox = self._inbox, None
        if inbox is not None:
            inbox.close()
        reader, self._inbox_reader = self._inbox_reader, None
        if reader is not None:
            reader.cancel()

    async def _read(self, inbox: Subscription) -> None:
        """Act on commands while the manager waits (for a person, a model, a pause)."""
        async for event in inbox:
            self._handle(event)

    def _drain(self) -> None:
        """Act on the commands that arrived while the manager ran without waiting."""
        inbox = self._inbox
        if inbox is not None and inbox.lag:
            for event in inbox.ready():
                self._handle(event)

    def _handle(self, event: Event) -> None:
        try:
            if isinstance(event, HumanInput):
                self._heard(event.sender, event.text)
            elif isinstance(event, ControlRequested):
                self._control(event)
        except ChatClosedError:
            pass
        except Exception as exc:  # a command that cannot be done: said, and the chat goes on
            what = getattr(event, "command", event.type)
            with contextlib.suppress(ChatClosedError):
                self._emit_now(
                    None,
                    ErrorEvent,
                    error=f"{what} from {event.sender} failed: {exc}",
                    detail="command",
                    participant=event.sender if event.sender in self._participants else None,
                )

    def _heard(self, name: str, text: str) -> None:
        """A person's line: the answer to what they are asked, else an interjection."""
        channel = self._state.channels.get(name)
        if channel is None or channel.deliver(text):
            return
        self._post_now(self._publishers[name], self._message(name, text, "interjection"))

    def _control(self, event: ControlRequested) -> None:
        by = None if event.sender == MANAGER else event.sender
        command, name = event.command, event.name
        if command == "pause":
            if not self._state.paused:
                self._emit_now(None, Paused, by=by)
                self._unpaused.clear()
                for channel in self._state.channels.values():
                    channel.hold()  # a person's turn does not run out while paused
        elif command == "resume":
            if self._state.paused:
                self._emit_now(None, Resumed, by=by)
                self._unpaused.set()
                for channel in self._state.channels.values():
                    channel.release()
        elif command == "interrupt":
            if self._in_turn:
                self._cancel_runner("interrupt")
        elif command == "stop":
            reason = event.reason or "stopped"
            if self._end is None:
                self._end = (f"{reason} by {by}" if by else reason, "stopped")
            self._cancel_runner("stop")
        elif command == "steer":
            target = self._present(name)
            self._steer = (target, f"{by} asked for {target}" if by else f"steered for {target}")
        elif command == "kick":
            target = self._present(name)
            if self._state.speaker == target:
                # Its turn ends first (message or skip); it leaves when the turn is concluded.
                self._leaving[target] = event.reason
                self._cancel_runner("interrupt")
            else:
                self._drop(target, event.reason)
        elif command == "invite":
            found = self._departed_named(name or "")
            if found is None:
                raise KeyError(f"{name!r} has not left this chat")
            self._readmit(found)

    def _present(self, name: str | None) -> str:
        if name is None or name not in self._participants:
            raise KeyError(f"no participant {name!r} in this chat")
        return name

    def _departed_named(self, name: str) -> str | None:
        wanted = name.lstrip("@").lower()
        return next((n for n in self._departed if n.lower() == wanted), None)

    # ------------------------------------------------------------------ membership

    def _readmit(self, name: str) -> None:
        info = self._register(self._departed[name])
        if self._inbox is not None:
            self._attach_channel(name)
        self._announce(ParticipantJoined, participant=info)

    def _drop(self, name: str, reason: str) -> None:
        self._forget(name)
        self._announce(ParticipantLeft, name=name, reason=reason)

    def _announce(self, cls: type[EventBase], **fields: Any) -> None:
        """Publish a membership change; between runs it is published when the next run starts."""
        if not self._started:
            return  # chat_started will list who takes part
        if self._runner is None:
            self._between_runs.append((cls, fields))
        else:
            self._emit_now(None, cls, **fields)

    async def _publish_between_runs(self) -> None:
        for cls, fields in self._between_runs:
            await self._emit(None, cls, **fields)
        self._between_runs.clear()

    def _attach_channel(self, name: str) -> None:
        channel = self._state.channels.get(name)
        if channel is not None:
            pub = self._publishers[name]
            channel.attach(lambda text: pub.emit_nowait(HumanInput, text=text))

    # ------------------------------------------------------------------ cancellation

    def _cancel_runner(self, kind: Literal["interrupt", "stop"]) -> bool:
        """Cancel the runner where it waits, if it waits somewhere that may be cut short."""
        runner = self._runner
        if runner is None or not self._interruptible or runner is asyncio.current_task():
            return False
        if self._cancel is None:
            self._cancel = _Cancel(kind)
            runner.cancel()
        return True

    def _take_cancel(self) -> _Cancel | None:
        """Claim a cancellation the manager asked for; ``None`` if it came from outside."""
        cancel = self._cancel
        if cancel is None:
            return None
        self._cancel = None
        task = asyncio.current_task()
        if task is not None and task.uncancel() > 0:
            return None  # someone else cancelled the run too: that one wins
        return cancel

    def _condition_fired(self, reason: str) -> None:
        if self._end is None:
            self._end = (reason, "completed")
        self._cancel_runner("stop")
