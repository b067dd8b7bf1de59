"""The group-chat manager: picks who speaks, runs their turn, posts the message, checks termination.

The manager owns the conversation: its history, who takes part, and the one task that runs the
loop. Everything it does is published on the bus; it gives each participant a read-only
:class:`~groupchat.participant.ChatView` instead of a copy of the history.

Control from outside (a front-end, a script, another task) goes through :meth:`GroupChat.pause`,
:meth:`~GroupChat.resume`, :meth:`~GroupChat.interrupt`, :meth:`~GroupChat.stop`,
:meth:`~GroupChat.say`, :meth:`~GroupChat.steer`, :meth:`~GroupChat.add` and
:meth:`~GroupChat.remove`; people speak through their participant's input channel.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from groupchat.bus import EventBus, Publisher, share_fields_set
from groupchat.channel import InputChannel
from groupchat.events import (
    MANAGER,
    ChatEnded,
    ChatStarted,
    EndStatus,
    ErrorEvent,
    Event,
    EventBase,
    Handoff,
    HumanInputRequested,
    MessagePosted,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    Resumed,
    SelectorAttempt,
    SpeakerSelected,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnSkipped,
    TurnStarted,
)
from groupchat.frozen import FrozenDict
from groupchat.messages import (
    Message,
    MessageKind,
    Part,
    ToolCallPart,
    ToolResultPart,
    Usage,
    parse_mentions,
)
from groupchat.participant import (
    AwaitingInput,
    ChatView,
    EndChat,
    HandTo,
    Participant,
    Pass,
    Reply,
    _ViewState,
    participant_info,
    validate_name,
)
from groupchat.policies import (
    ChatComplete,
    RoundRobinPolicy,
    Selection,
    SelectionError,
    SelectionPolicy,
)
from groupchat.termination import Termination

__all__ = ["ChatResult", "GroupChat", "ManagerActions"]

SELECTOR = "selector"
"""Whom the tokens of selection calls are counted under in per-participant totals (unless the
policy names another ``usage_key``)."""

E = TypeVar("E", bound=EventBase)

YIELD_EVERY = 0.005
"""Seconds the manager may run turns back to back before it lets other tasks run."""


class ChatResult(BaseModel):
    """How a run ended and what was said."""

    model_config = ConfigDict(frozen=True)

    chat_id: str
    status: EndStatus
    reason: str
    messages: tuple[Message, ...]
    usage: Usage
    usage_by: FrozenDict[str, Usage] = FrozenDict()
    turns: int
    error: str | None = None


def _message_number(message_id: str) -> int:
    """The counter in a manager-made message id (``m12`` -> 12); 0 for any other id."""
    return int(message_id[1:]) if message_id[:1] == "m" and message_id[1:].isdigit() else 0


class ManagerActions:
    """What a policy that conducts the chat may do besides choosing who speaks: publish events
    and post messages as the manager.

    A policy with a ``bind_chat(actions)`` method gets one when the chat is built (the magentic
    manager does); participants never do, so their view stays read-only.
    """

    __slots__ = ("_chat",)

    def __init__(self, chat: GroupChat) -> None:
        self._chat = chat

    async def emit(self, cls: type[E], /, **fields: Any) -> E:
        """Publish an event as the manager."""
        return await self._chat._pub.emit(cls, **fields)

    async def post(self, content: str, kind: MessageKind) -> Message:
        """Post a message from the manager; it joins the history and counts for termination
        like any other message."""
        chat = self._chat
        return await chat._post(chat._pub, chat._message(MANAGER, content, kind))


class _Cancel:
    """Why the manager cancelled its own runner task (as opposed to a cancellation from outside)."""

    __slots__ = ("kind",)

    def __init__(self, kind: Literal["interrupt", "stop"]) -> None:
        self.kind = kind


class GroupChat:
    """A group chat of participants with a speaker-selection policy and termination conditions.

    ``max_turns`` caps the turns of one run. ``idle_rounds`` ends the chat once that many rounds
    in a row (a round: as many turns as there are participants) passed without a message;
    ``None`` never does. ``on_error`` says what happens when a participant's turn raises:
    ``"end"`` the chat (status ``error``) or ``"continue"`` with the next speaker; either way
    the error is an event and whatever the turn had streamed is kept.
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
        bus: EventBus | None = None,
        chat_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if max_turns is not None and max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        if idle_rounds is not None and idle_rounds < 1:
            raise ValueError("idle_rounds must be at least 1 (or None)")
        if on_error not in ("end", "continue"):
            raise ValueError("on_error must be 'end' or 'continue'")
        self.bus = bus if bus is not None else EventBus()
        self.chat_id = self.bus.open(chat_id)
        self.policy = policy if policy is not None else RoundRobinPolicy()
        self.termination = termination
        self.max_turns = max_turns
        self.idle_rounds = idle_rounds
        self.on_error = on_error
        self.metadata = dict(metadata or {})

        self._state = _ViewState(self.chat_id)
        self.view = ChatView(self._state, self._ask, self._report_attempt)
        self._pub = self.bus.publisher(self.chat_id, MANAGER)
        self._participants: dict[str, Participant] = {}
        self._publishers: dict[str, Publisher] = {}
        self._candidates: tuple[str, ...] = ()
        self._candidates_for_event: tuple[str, ...] = ()
        for participant in participants:
            self._register(participant)
        if not self._participants:
            raise ValueError("a group chat needs at least one participant")
        bind_chat = getattr(self.policy, "bind_chat", None)
        if bind_chat is not None:
            bind_chat(ManagerActions(self))

        self._message_counter = 0
        self._started = False
        self._runner: asyncio.Task[Any] | None = None
        self._interruptible = False
        self._in_turn = False
        self._cancel: _Cancel | None = None
        self._end: tuple[str, EndStatus] | None = None
        self._paused = False
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._steer: tuple[str, str] | None = None  # (next speaker, reason)
        self._turns_this_run = 0
        self._skipped_in_a_row = 0
        self._between_runs: list[tuple[type[EventBase], dict[str, Any]]] = []
        self._turn_of: str | None = None  # whose turn is being run or wound up
        self._leaving: dict[str, str] = {}  # removed while speaking: name -> reason
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
        return self._paused

    @property
    def speaker(self) -> str | None:
        return self._state.speaker

    def events(self) -> list[Event]:
        """Every event of this chat the bus still holds."""
        return self.bus.history(self.chat_id)

    # ------------------------------------------------------------------ running

    def load(self, events: Sequence[Event]) -> None:
        """Continue a stored chat: rebuild its state from its events, then call :meth:`run`.

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
        open_turn: TurnStarted | None = None
        chosen: str | None = None
        left: set[str] = set()
        numbers = [0]
        for event in events:
            if isinstance(event, MessagePosted):
                message = event.message
                state.messages.append(message)
                if message.usage is not None:
                    self._count_usage(message.sender, message.usage)
                numbers.append(_message_number(message.id))
                if open_turn is not None and message.id == open_turn.message_id:
                    state.last_speaker, open_turn = open_turn.speaker, None
            elif isinstance(event, TurnStarted):
                state.turn, open_turn, chosen = event.turn, event, None
                numbers.append(_message_number(event.message_id))
            elif isinstance(event, TurnSkipped):
                ended = open_turn is not None and event.message_id == open_turn.message_id
                if ended and event.reason != "cancelled":
                    state.last_speaker, open_turn = open_turn.speaker, None  # type: ignore[union-attr]
            elif isinstance(event, SpeakerSelected):
                chosen = event.speaker
            elif isinstance(event, SelectorAttempt) and event.usage is not None:
                self._count_usage(self._attempt_key(), event.usage)
            elif isinstance(event, ParticipantLeft):
                left.add(event.name)
            elif isinstance(event, ParticipantJoined):
                left.discard(event.participant.name)
            elif isinstance(event, ChatStarted) and event.task:
                state.task = event.task
        if state.task is None:
            state.task = next((m.content for m in state.messages if m.kind == "task"), None)
        for name in left & set(self._participants):
            self._forget(name)
        if open_turn is not None:
            name = open_turn.speaker
            self._steer = (name, f"resumed: {name}'s turn had not finished")
        elif chosen is not None:
            self._steer = (chosen, f"resumed: {chosen} had been chosen to speak next")
        self._message_counter = max(numbers)
        self.bus.open(self.chat_id, start_seq=events[-1].seq + 1)
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
        if self.termination is not None:
            self.termination.reset()
            self.termination.start(self._condition_fired)
            if self.termination.reason is not None:  # e.g. an ExternalStop set before the run
                self._end = (self.termination.reason, "completed")
        error: str | None = None
        try:
            try:
                for cls, fields in self._between_runs:
                    await self._pub.emit(cls, **fields)
                self._between_runs.clear()
                await self._begin(task)
                self._attach_channels()  # lines people sent before the start are posted now
                await self._loop()
            except asyncio.CancelledError:
                self._end = ("cancelled", "cancelled")
                await self._finish(None)
                raise
            except Exception as exc:  # a policy, a condition or the bus failed: end cleanly
                error = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(Exception):
                    await self._pub.emit(ErrorEvent, error=error, fatal=True)
                self._end = (error, "error")
            return await self._finish(error)
        finally:
            if self.termination is not None:
                self.termination.stop()
            self._detach_channels()
            self._runner = None
            self.bus.close(self.chat_id)

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
        if not self._started:
            self.policy.validate(self._candidates)
            self._started = True
            await self._pub.emit(
                ChatStarted,
                task=task,
                participants=tuple(self._state.infos.values()),
                policy=self.policy.describe(),
                termination=self.termination.describe() if self.termination else None,
                metadata=self.metadata,
            )
        if task:
            if self._state.task is None:
                self._state.task = task
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
            if self.max_turns is not None and self._turns_this_run >= self.max_turns:
                self._end = (f"reached {_count(self.max_turns, 'turn')}", "max_turns")
                break
            self._interruptible = True
            try:
                if self._paused:
                    await self._unpaused.wait()
                    continue
                selection = await self._select()
            except asyncio.CancelledError:
                if self._take_cancel() is None:
                    raise
                continue
            except SelectionError as exc:
                await self._pub.emit(ErrorEvent, error=str(exc), detail="selection", fatal=True)
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
            if self._end is not None:
                break  # a condition fired while the policy chose (on an interjection, say)
            if self._paused:
                continue  # paused while the policy chose: choose again after resuming
            await self._pub.emit(
                SpeakerSelected,
                speaker=selection.speaker,
                candidates=self._candidates_for_event,
                reason=selection.reason,
                policy=selection.policy or self.policy.name,
                turn=state.turn + 1,
            )
            self._turns_this_run += 1
            await self._run_turn(selection.speaker)

    async def _select(self) -> Selection:
        candidates = self._candidates
        self._candidates_for_event = candidates
        steer = self._steer
        if steer is not None:
            self._steer = None
            name, reason = steer
            if name in self._participants:
                return Selection(name, reason, "steer")
        if not candidates:
            raise SelectionError("nobody is left in the chat to speak")
        selection = await self.policy.select(self.view, candidates)
        if selection.speaker not in self._participants:
            raise SelectionError(
                f"policy {self.policy.name} chose {selection.speaker!r}, "
                f"not one of: {', '.join(candidates)}"
            )
        return selection

    async def _run_turn(self, speaker: str) -> None:
        state = self._state
        participant = self._participants[speaker]
        pub = self._publishers[speaker]
        message_id = self._next_message_id()
        state.turn += 1
        state.speaker = self._turn_of = speaker
        state.turn_start_index = len(state.messages)
        state.handoff = None
        await self._pub.emit(TurnStarted, speaker=speaker, message_id=message_id, turn=state.turn)

        chunks: list[str] = []
        parts: list[Part] = []
        final: Reply | Pass | EndChat | None = None
        failure: BaseException | None = None
        interrupted = False
        cancelled_outside = False
        stream = participant.take_turn(self.view)
        self._in_turn = self._interruptible = True
        try:
            async for item in stream:
                if type(item) is str:
                    if item:
                        chunks.append(item)
                        await pub.emit(TextDelta, message_id=message_id, text=item)
                elif isinstance(item, (Reply, Pass, EndChat)):
                    final = item
                    break
                elif isinstance(item, ToolCallPart):
                    parts.append(item)
                    await pub.emit(
                        ToolCall,
                        message_id=message_id,
                        call_id=item.call_id,
                        name=item.name,
                        arguments=item.arguments,
                    )
                elif isinstance(item, ToolResultPart):
                    parts.append(item)
                    await pub.emit(
                        ToolResult,
                        message_id=message_id,
                        call_id=item.call_id,
                        name=item.name,
                        content=item.content,
                        is_error=item.is_error,
                    )
                elif isinstance(item, HandTo):
                    state.handoff = (item.target, item.note)
                    await pub.emit(Handoff, target=item.target, note=item.note)
                elif isinstance(item, AwaitingInput):
                    await self._pub.emit(
                        HumanInputRequested,
                        participant=speaker,
                        request="turn",
                        prompt=item.prompt,
                        timeout=item.timeout,
                    )
                else:
                    raise TypeError(
                        f"{speaker} yielded {type(item).__name__}; a turn yields str, Reply, "
                        "Pass, EndChat, HandTo, AwaitingInput or tool parts"
                    )
        except asyncio.CancelledError:
            cancel = self._take_cancel()
            if cancel is None:
                cancelled_outside = True
            interrupted = True
        except Exception as exc:
            failure = exc
        finally:
            self._in_turn = self._interruptible = False
            state.speaker = None
            state.last_speaker = speaker
        if final is not None or interrupted or failure is not None:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await aclose()

        if failure is not None:
            await self._pub.emit(
                ErrorEvent,
                error=f"{type(failure).__name__}: {failure}",
                detail="turn",
                participant=speaker,
                fatal=self.on_error == "end",
            )
            interrupted = True
            if self.on_error == "end" and self._end is None:
                self._end = (f"{speaker} failed: {type(failure).__name__}: {failure}", "error")

        reply = final if isinstance(final, Reply) else None
        content = (
            reply.content if reply is not None and reply.content is not None else "".join(chunks)
        )
        if reply is not None:
            parts.extend(p for p in reply.parts if p not in parts)
        if isinstance(final, Pass) or (not content and not parts):
            reason = (
                final.reason
                if isinstance(final, (Pass, EndChat))
                else ("interrupted" if interrupted else "no message")
            )
            if failure is not None:
                reason = "failed"
            elif cancelled_outside:
                reason = "cancelled"  # a resumed chat gives this turn again
            await self._pub.emit(TurnSkipped, speaker=speaker, message_id=message_id, reason=reason)
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
            message = self._message(
                speaker,
                content,
                "turn",
                message_id=message_id,
                parts=tuple(parts),
                interrupted=interrupted,
                usage=reply.usage if reply is not None else None,
            )
            await self._post(pub, message)
            self._skipped_in_a_row = 0
        if isinstance(final, EndChat) and self._end is None:
            self._end = (f"{speaker}: {final.reason}", "completed")
        self._turn_of = None
        if speaker in self._leaving:
            await self._drop(speaker, self._leaving.pop(speaker))
        if cancelled_outside:
            raise asyncio.CancelledError

    def _message(
        self,
        sender: str,
        content: str,
        kind: MessageKind,
        *,
        message_id: str | None = None,
        parts: tuple[Part, ...] = (),
        interrupted: bool = False,
        usage: Usage | None = None,
    ) -> Message:
        message = Message(
            id=message_id or self._next_message_id(),
            sender=sender,
            content=content,
            kind=kind,
            parts=parts,
            mentions=parse_mentions(content, self._participants) if "@" in content else (),
            interrupted=interrupted,
            usage=usage,
        )
        share_fields_set(message)
        return message

    async def _post(self, pub: Publisher, message: Message) -> Message:
        await pub.emit(MessagePosted, message=message)
        self._record(message)
        return message

    def _record(self, message: Message) -> None:
        """A message is on the bus: add it to the history and check termination."""
        state = self._state
        state.messages.append(message)
        if message.usage is not None:
            self._count_usage(message.sender, message.usage)
        if self.termination is not None and self._end is None and self._runner is not None:
            reason = self.termination.check(message, self.view)
            if reason is not None:
                self._end = (reason, "completed")

    def _count_usage(self, who: str, usage: Usage) -> None:
        state = self._state
        state.usage = state.usage + usage
        previous = state.usage_by.get(who)
        state.usage_by[who] = usage if previous is None else previous + usage

    async def _report_attempt(
        self,
        policy: str,
        attempt: int,
        answer: str,
        *,
        accepted: bool,
        problem: str = "",
        usage: Usage | None = None,
    ) -> None:
        await self._pub.emit(
            SelectorAttempt,
            policy=policy,
            attempt=attempt,
            answer=answer,
            accepted=accepted,
            problem=problem,
            usage=usage,
        )
        if usage is not None:
            self._count_usage(self._attempt_key(), usage)

    def _attempt_key(self) -> str:
        """Whom the policy's model calls are counted under: ``selector`` unless it says."""
        return getattr(self.policy, "usage_key", SELECTOR)

    async def _finish(self, error: str | None) -> ChatResult:
        reason, status = self._end or ("ended", "completed")
        state = self._state
        with contextlib.suppress(Exception):
            await self._pub.emit(
                ChatEnded,
                reason=reason,
                status=status,
                messages=len(state.messages),
                usage=state.usage,
                usage_by=dict(state.usage_by),
            )
        self.result = ChatResult(
            chat_id=self.chat_id,
            status=status,
            reason=reason,
            messages=tuple(state.messages),
            usage=state.usage,
            usage_by=dict(state.usage_by),
            turns=state.turn,
            error=error if error is not None else (reason if status == "error" else None),
        )
        return self.result

    def _next_message_id(self) -> str:
        self._message_counter += 1
        return f"m{self._message_counter}"

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

    # ------------------------------------------------------------------ control

    async def stop(self, reason: str = "stopped", *, by: str | None = None) -> None:
        """End the chat now; a turn in progress is cut short and its text kept."""
        if self._end is None:
            self._end = (f"{reason} by {by}" if by else reason, "stopped")
        self._cancel_runner("stop")

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

    async def interrupt(self, *, by: str | None = None) -> bool:
        """Cut the current speaker short; the chat goes on. Returns whether a turn was running."""
        if not self._in_turn:
            return False
        return self._cancel_runner("interrupt")

    async def pause(self, *, by: str | None = None) -> None:
        """Hold the chat before the next turn (the current one finishes). People may still post."""
        if self._paused:
            return
        self._paused = True
        self._unpaused.clear()
        await self._pub.emit(Paused, by=by)

    async def resume(self, *, by: str | None = None) -> None:
        if not self._paused:
            return
        self._paused = False
        self._unpaused.set()
        await self._pub.emit(Resumed, by=by)

    def steer(self, name: str, *, by: str | None = None) -> None:
        """Make ``name`` the next speaker, whatever the policy would pick."""
        if name not in self._participants:
            raise KeyError(f"no participant {name!r} in this chat")
        self._steer = (name, f"{by} asked for {name}" if by else f"steered for {name}")

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

    async def add(self, participant: Participant) -> None:
        """Add a participant; it is a candidate from the next selection on."""
        info = self._register(participant)
        if self._runner is not None:
            self._attach_channel(participant.name)
        await self._announce(ParticipantJoined, participant=info)

    async def remove(self, name: str, *, reason: str = "") -> None:
        """Remove a participant; if it is speaking, its turn is cut short first."""
        if name not in self._participants:
            raise KeyError(f"no participant {name!r} in this chat")
        if self._turn_of == name:
            # Its turn ends first (message or skip); it leaves when the turn is wound up.
            self._leaving[name] = reason
            self._cancel_runner("interrupt")
            return
        await self._drop(name, reason)

    async def _drop(self, name: str, reason: str) -> None:
        self._forget(name)
        await self._announce(ParticipantLeft, name=name, reason=reason)

    async def _announce(self, cls: type[EventBase], **fields: Any) -> None:
        """Publish a membership change; between runs it is published when the next run starts."""
        if not self._started:
            return  # chat_started will list who takes part
        if self._runner is None:
            self._between_runs.append((cls, fields))
        else:
            await self._pub.emit(cls, **fields)

    # ------------------------------------------------------------------ people

    def _forget(self, name: str) -> None:
        channel = self._state.channels.pop(name, None)
        if channel is not None:
            channel.attach(None)
        del self._participants[name]
        del self._publishers[name]
        del self._state.infos[name]
        self._candidates = tuple(self._participants)

    def _register(self, participant: Participant) -> Any:
        name = validate_name(participant.name)
        if name.lower() in (n.lower() for n in self._participants):
            raise ValueError(f"duplicate participant name {name!r} (names ignore case)")
        info = participant_info(participant)
        self._participants[name] = participant
        self._publishers[name] = self.bus.publisher(self.chat_id, name)
        self._state.infos[name] = info
        channel = getattr(participant, "channel", None)
        if isinstance(channel, InputChannel):
            self._state.channels[name] = channel
        self._candidates = tuple(self._participants)
        return info

    def _attach_channels(self) -> None:
        for name in self._state.channels:
            self._attach_channel(name)

    def _attach_channel(self, name: str) -> None:
        channel = self._state.channels.get(name)
        if channel is not None:
            channel.attach(lambda text, name=name: self._interjection(name, text))

    def _detach_channels(self) -> None:
        for channel in self._state.channels.values():
            channel.attach(None)

    def _interjection(self, name: str, text: str) -> None:
        """A person spoke out of turn: post it now, before the chat takes another step."""
        pub = self._publishers.get(name)
        if pub is None:
            return
        message = self._message(name, text, "interjection")
        pub.emit_nowait(MessagePosted, message=message)
        self._record(message)

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
        await self._pub.emit(
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
