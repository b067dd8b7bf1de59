"""The group-chat manager: picks who speaks, runs their turn, posts the message, checks termination.

The manager owns the conversation: its state (:class:`~groupchat.state.ChatState`, folded from
every event it publishes, and from a stored chat's events when it resumes one), who takes part,
and the one task that runs the loop. It gives each participant a read-only
:class:`~groupchat.participant.ChatView` and its policy a
:class:`~groupchat.participant.PolicyView`, instead of a copy of the history.

What people and front-ends ask of a running chat (a person's line, pause, resume, interrupt,
stop, steer, kick, invite) arrives as events on the bus, published by whoever asks; the manager
reads them from its subscription and acts (see :mod:`groupchat.commands`). The methods
:meth:`~GroupChat.pause`, :meth:`~GroupChat.stop`, :meth:`~GroupChat.steer` and the others
publish those events for code in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from groupchat.bus import Bus, EventBus, EventsUnavailableError, Publisher
from groupchat.commands import Commands
from groupchat.events import (
    MANAGER,
    ChatEnded,
    ChatStarted,
    ErrorEvent,
    Event,
    EventBase,
    HumanInputRequested,
    SpeakerSelected,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import Message, Usage
from groupchat.participant import (
    ChatView,
    EndChat,
    Participant,
    Pass,
    PolicyView,
)
from groupchat.policies import (
    ChatComplete,
    RoundRobinPolicy,
    Selection,
    SelectionError,
    SelectionPolicy,
)
from groupchat.publishing import ManagerActions
from groupchat.result import ChatResult
from groupchat.state import SELECTOR, ChatState
from groupchat.termination import Termination
from groupchat.tracing import Tracing
from groupchat.tracing import resolve as resolve_tracing
from groupchat.turn import TurnOutcome, stream_turn

if TYPE_CHECKING:
    from groupchat.tracing.subscriber import ChatTracer

__all__ = ["ChatResult", "GroupChat", "ManagerActions"]

E = TypeVar("E", bound=EventBase)

YIELD_EVERY = 0.005
"""Seconds the manager may run turns back to back before it lets other tasks run."""


class GroupChat(Commands):
    """A group chat of participants with a speaker-selection policy and termination conditions.

    ``max_turns`` caps the turns of one run. ``idle_rounds`` ends the chat once that many rounds
    in a row (a round: as many turns as there are participants) passed without a message;
    ``None`` never does. ``on_error`` says what happens when a participant's turn raises:
    ``"end"`` the chat (status ``error``) or ``"continue"`` with the next speaker; either way
    the error is an event and whatever the turn had streamed is kept.

    ``tracing`` says whether each run emits OpenTelemetry spans and metrics (the ``otel``
    extra, see :mod:`groupchat.tracing`): by default when the application has set a tracer
    provider; ``False`` never, or a :class:`~groupchat.tracing.Tracing` with options.
    """

    def __init__(
        self,
        participants: Iterable[Participant],
        *,
        policy: SelectionPolicy | None = None,
        termination: Termination | None = None,
        max_turns: int | None = None,
        idle_rounds: int | None = 1,
        on_error: Literal["end", "continue"] = "end",
        bus: Bus | None = None,
        chat_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tracing: bool | Tracing | None = None,
    ) -> None:
        if max_turns is not None and max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        if idle_rounds is not None and idle_rounds < 1:
            raise ValueError("idle_rounds must be at least 1 (or None)")
        if on_error not in ("end", "continue"):
            raise ValueError("on_error must be 'end' or 'continue'")
        self.bus: Bus = bus if bus is not None else EventBus()
        self.chat_id = self.bus.open(chat_id)
        self._first_seq = self.bus.next_seq(self.chat_id)
        self.policy = policy if policy is not None else RoundRobinPolicy()
        self.termination = termination
        self.max_turns = max_turns
        self.idle_rounds = idle_rounds
        self.on_error = on_error
        self.metadata = dict(metadata or {})
        self.tracing = tracing

        self._state = ChatState(self.chat_id, str(getattr(self.policy, "usage_key", SELECTOR)))
        self.view = ChatView(self._state, self._ask)
        self._policy_view = PolicyView(self._state, self._ask, self._report_attempt)
        self._pub = self.bus.publisher(self.chat_id, MANAGER)
        self._participants: dict[str, Participant] = {}
        self._publishers: dict[str, Publisher] = {}
        Commands.__init__(self)
        for participant in participants:
            self._register(participant)
        if not self._participants:
            raise ValueError("a group chat needs at least one participant")
        bind_chat = getattr(self.policy, "bind_chat", None)
        if bind_chat is not None:
            bind_chat(ManagerActions(self))

        self._started = False
        self._turns_this_run = 0
        self._skipped_in_a_row = 0
        self.result: ChatResult | None = None

    # ------------------------------------------------------------------ reading

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(self._state.messages)

    @property
    def participants(self) -> Mapping[str, Participant]:
        return dict(self._participants)

    @property
    def usage(self) -> Usage:
        return self._state.usage

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def paused(self) -> bool:
        return self._state.paused

    @property
    def speaker(self) -> str | None:
        return self._state.speaker

    def events(self) -> list[Event]:
        """Every event this chat has published on its bus (since :meth:`load`, for a resumed
        chat).

        The bus keeps only a window of each chat's events in memory (see
        :class:`~groupchat.bus.EventBus`); once it has let go of the first ones this raises
        :class:`~groupchat.bus.EventsUnavailableError` instead of returning a part. Subscribe
        before the run (``bus.subscribe``, ``stream()``), record the chat in a transcript store,
        or give the chat ``EventBus(retain=None)`` to have them all.
        """
        oldest = self.bus.oldest_seq(self.chat_id)
        if oldest > self._first_seq:
            raise EventsUnavailableError(
                f"chat {self.chat_id}: the bus no longer holds events {self._first_seq}.."
                f"{oldest - 1}; read the chat from a subscription or its transcript"
            )
        return self.bus.history(self.chat_id, self._first_seq)

    # ------------------------------------------------------------------ running

    def load(self, events: Sequence[Event]) -> None:
        """Continue a stored chat: fold its events into the chat's state, then call :meth:`run`.

        History, turn count, last speaker, token totals, message numbering and who has left
        come back as they were, and the bus continues the chat's sequence numbers. A turn (or
        a choice of speaker) that had not finished when the chat stopped is given again first.
        The participants are this chat's own: built from the stored spec, or from another.
        """
        state = self._state
        if self._started or state.messages:
            raise RuntimeError("load() needs a chat that has not run yet")
        if not events or not isinstance(events[0], ChatStarted):
            raise ValueError("a stored chat starts with its chat_started event")
        for expected, event in enumerate(events):
            if event.chat_id != self.chat_id:
                raise ValueError(
                    f"event {event.seq} belongs to chat {event.chat_id}, not {self.chat_id}"
                )
            if event.seq != expected:
                raise ValueError(f"events are not a whole chat: seq {event.seq} at {expected}")
        for event in events:
            state.apply(event)
        for name in state.left & set(self._participants):
            self._forget(name)
        if state.open_turn is not None:
            name = state.open_turn.speaker
            self._steer = (name, f"resumed: {name}'s turn had not finished")
        elif state.chosen is not None:
            name = state.chosen
            self._steer = (name, f"resumed: {name} had been chosen to speak next")
        state.open_turn = state.chosen = state.speaker = None
        state.paused = False  # a resumed chat runs; pausing is for the person watching it
        self.bus.open(self.chat_id, start_seq=events[-1].seq + 1)
        self._first_seq = events[-1].seq + 1
        self.policy.validate(self._candidates)
        self.policy.restore(events)
        self._started = True

    async def run(self, task: str | None = None) -> ChatResult:
        """Run until a termination condition, ``max_turns``, a stop or an error ends the chat.

        Calling it again after the chat ended continues the same chat, with ``task`` (if any)
        posted as a new task message.
        """
        if self._runner is not None:
            raise RuntimeError("this chat is already running")
        self._runner = asyncio.current_task()
        self._end = None
        self._cancel = None
        self._turns_this_run = 0
        self._skipped_in_a_row = 0
        self.bus.open(self.chat_id)
        tracer = self._tracer()
        if self.termination is not None:
            self.termination.reset()
            self.termination.start(self._condition_fired)
            if self.termination.reason is not None:  # e.g. an ExternalStop set before the run
                self._end = (self.termination.reason, "completed")
        error: str | None = None
        try:
            try:
                await self._publish_between_runs()
                await self._begin(task)
                self._open_inbox()  # lines people sent before the start are posted now
                await self._loop()
            except asyncio.CancelledError:
                self._end = ("cancelled", "cancelled")
                await self._finish(None)
                raise
            except Exception as exc:  # a policy, a condition or the bus failed: end cleanly
                error = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(Exception):
                    await self._emit(None, ErrorEvent, error=error, fatal=True)
                self._end = (error, "error")
            return await self._finish(error)
        finally:
            if self.termination is not None:
                self.termination.stop()
            self._close_inbox()
            self._runner = None
            self.bus.close(self.chat_id)
            if tracer is not None:
                await tracer.finish()

    def _tracer(self) -> ChatTracer | None:
        """The tracer of this run, if it is traced (nothing is imported when it is not)."""
        options = resolve_tracing(self.tracing)
        if options is None:
            return None
        from groupchat.tracing.subscriber import ChatTracer

        return ChatTracer(self.bus, self.chat_id, self.bus.next_seq(self.chat_id), options)

    async def stream(self, task: str | None = None) -> AsyncIterator[Event]:
        """Run the chat and yield its events as they happen; leaving early stops the chat."""
        sub = self.bus.subscribe(self.chat_id, start=self.bus.next_seq(self.chat_id))
        runner = asyncio.create_task(self.run(task))
        try:
            async for event in sub:
                yield event
            await runner
        finally:
            sub.close()
            if not runner.done():
                await self.stop("the event stream was closed")
                try:
                    await asyncio.shield(runner)
                except asyncio.CancelledError:
                    runner.cancel()
                    raise

    async def _begin(self, task: str | None) -> None:
        state = self._state
        if not self._started:
            self.policy.validate(self._candidates)
            self._started = True
            await self._emit(
                None,
                ChatStarted,
                task=task,
                participants=tuple(state.infos.values()),
                policy=self.policy.describe(),
                termination=self.termination.describe() if self.termination else None,
                metadata=self.metadata,
            )
        if task:
            await self._post(self._pub, self._message(MANAGER, task, "task"))

    async def _loop(self) -> None:
        state = self._state
        loop = asyncio.get_running_loop()
        last_yield = loop.time()
        while self._end is None:
            if loop.time() - last_yield >= YIELD_EVERY:
                # Turns that never wait would otherwise hold the event loop for the whole chat:
                # let timers, front-ends and people's input in now and then.
                await asyncio.sleep(0)
                last_yield = loop.time()
            self._drain()  # commands sent while the manager ran without waiting
            if self._end is not None:
                break
            if self.max_turns is not None and self._turns_this_run >= self.max_turns:
                self._end = (f"reached {_count(self.max_turns, 'turn')}", "max_turns")
                break
            self._interruptible = True
            try:
                if state.paused:
                    await self._unpaused.wait()
                    continue
                candidates = self._candidates
                selection = await self._select(candidates)
            except asyncio.CancelledError:
                if self._take_cancel() is None:
                    raise
                continue
            except SelectionError as exc:
                await self._emit(None, ErrorEvent, error=str(exc), detail="selection", fatal=True)
                self._end = (str(exc), "error")
                break
            except ChatComplete as exc:
                # The policy conducts the chat and ended it; its reason beats a condition that
                # fired on a message it posted on the way (e.g. its final answer).
                if self._end is None or self._end[1] == "completed":
                    self._end = (exc.reason, exc.status)
                break
            finally:
                self._interruptible = False
            self._drain()  # what was said while the policy chose comes before the turn
            if self._end is not None:
                break  # a condition fired while the policy chose (on an interjection, say)
            if state.paused:
                continue  # paused while the policy chose: choose again after resuming
            await self._emit(
                None,
                SpeakerSelected,
                speaker=selection.speaker,
                candidates=candidates,
                reason=selection.reason,
                policy=selection.policy or self.policy.name,
                turn=state.turn + 1,
            )
            self._turns_this_run += 1
            await self._run_turn(selection.speaker)

    @property
    def _candidates(self) -> tuple[str, ...]:
        return tuple(self._participants)

    async def _select(self, candidates: tuple[str, ...]) -> Selection:
        steer = self._steer
        if steer is not None:
            self._steer = None
            name, reason = steer
            if name in self._participants:
                return Selection(name, reason, "steer")
        if not candidates:
            raise SelectionError("nobody is left in the chat to speak")
        selection = await self.policy.select(self._policy_view, candidates)
        if selection.speaker not in self._participants:
            raise SelectionError(
                f"policy {self.policy.name} chose {selection.speaker!r}, "
                f"not one of: {', '.join(candidates)}"
            )
        return selection

    # ------------------------------------------------------------------ a turn

    async def _run_turn(self, speaker: str) -> None:
        message_id = self._state.next_message_id()
        await self._emit(
            None, TurnStarted, speaker=speaker, message_id=message_id, turn=self._state.turn + 1
        )
        self._in_turn = self._interruptible = True
        cut: list[str] = []

        def claim_cancel() -> bool:
            cancel = self._take_cancel()
            if cancel is not None:
                cut.append(cancel.kind)
            return cancel is not None

        outcome = await stream_turn(
            self._participants[speaker],
            self.view,
            message_id,
            self._publishers[speaker],
            self._emit,
            claim_cancel,
            self._settle_turn,
        )
        # A stop (``/stop``, quitting the app), not a condition, cut the turn: it is to be
        # given again when the chat is resumed.
        stopped = "stop" in cut and self._end is not None and self._end[1] == "stopped"
        await self._conclude(speaker, message_id, outcome, stopped=stopped)

    def _settle_turn(self) -> None:
        self._in_turn = self._interruptible = False

    async def _conclude(
        self, speaker: str, message_id: str, outcome: TurnOutcome, *, stopped: bool = False
    ) -> None:
        """Post the turn's message (or its skip), report a failure, apply what it ended.

        ``stopped``: a stop of the chat cut the turn short; with nothing said, the turn is
        recorded as cancelled (as after Ctrl+C), so that a resumed chat asks again."""
        failure = outcome.failure
        interrupted = outcome.interrupted
        if failure is not None:
            await self._emit(
                None,
                ErrorEvent,
                error=f"{type(failure).__name__}: {failure}",
                detail="turn",
                participant=speaker,
                fatal=self.on_error == "end",
            )
            interrupted = True
            if self.on_error == "end" and self._end is None:
                self._end = (f"{speaker} failed: {type(failure).__name__}: {failure}", "error")

        final, content, parts = outcome.final, outcome.content, outcome.parts
        if isinstance(final, Pass) or (not content and not parts):
            if failure is not None:
                reason = "failed"
            elif outcome.cancelled_outside or (stopped and not isinstance(final, Pass | EndChat)):
                reason = "cancelled"  # a resumed chat gives this turn again
            elif isinstance(final, (Pass, EndChat)):
                reason = final.reason
            else:
                reason = "interrupted" if interrupted else "no message"
            await self._emit(
                None, TurnSkipped, speaker=speaker, message_id=message_id, reason=reason
            )
            self._skipped_in_a_row += 1
            idle = self.idle_rounds
            if (
                idle is not None
                and self._end is None
                and self._skipped_in_a_row >= idle * max(1, len(self._participants))
            ):
                rounds = "a round" if idle == 1 else f"{idle} rounds"
                self._end = (f"nobody said anything for {rounds}", "completed")
        else:
            reply = outcome.reply
            message = self._message(
                speaker,
                content,
                "turn",
                message_id=message_id,
                parts=tuple(parts),
                interrupted=interrupted,
                usage=reply.usage if reply is not None else None,
            )
            await self._post(self._publishers[speaker], message)
            self._skipped_in_a_row = 0
        if isinstance(final, EndChat) and self._end is None:
            self._end = (f"{speaker}: {final.reason}", "completed")
        if speaker in self._leaving:
            self._drop(speaker, self._leaving.pop(speaker))
        if outcome.cancelled_outside:
            raise asyncio.CancelledError

    async def _finish(self, error: str | None) -> ChatResult:
        self._drain()  # what people said at the very end is posted before the end
        reason, status = self._end or ("ended", "completed")
        state = self._state
        fields: dict[str, Any] = {
            "reason": reason,
            "status": status,
            "messages": len(state.messages),
            "usage": state.usage,
            "usage_by": dict(state.usage_by),
        }
        ended: ChatEnded | None = None
        with contextlib.suppress(Exception):
            ended = await self._emit(None, ChatEnded, **fields)
        if ended is None:  # the bus could not take it: the result says the same
            ended = ChatEnded(
                chat_id=self.chat_id,
                seq=self.bus.next_seq(self.chat_id),
                time=datetime.now(UTC),
                sender=MANAGER,
                **fields,
            )
        self.result = ChatResult(
            ended=ended,
            messages=tuple(state.messages),
            turns=state.turn,
            error=error if error is not None else (reason if status == "error" else None),
        )
        return self.result

    # ------------------------------------------------------------------ people

    async def _ask(
        self,
        participant: str,
        prompt: str,
        *,
        request: str = "turn",
        choices: tuple[str, ...] = (),
        timeout: float | None = None,
    ) -> str | None:
        channel = self._state.channels.get(participant)
        if channel is None:
            raise SelectionError(f"{participant} has no input channel to ask")
        await self._emit(
            None,
            HumanInputRequested,
            participant=participant,
            request=request,
            prompt=prompt,
            choices=choices,
            timeout=timeout,
        )
        try:
            return await channel.receive(timeout)
        except TimeoutError:
            return None


def _count(n: int, noun: str) -> str:
    """``1 turn``, ``2 turns``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
