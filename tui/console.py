"""The plain console: the chat rendered with rich, your input read with prompt-toolkit.

For terminals where a full-screen app does not fit, and for scripts. Everything agents and
people write is shown as plain text (``rich.text.Text`` after :func:`safe_text`), never parsed
as markup or passed through as terminal control sequences. With several people in the team,
the person at the console answers for whoever of them is asked; the prompt names who a line is
sent as (see :mod:`groupchat.tui.seats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from groupchat.bus import Subscription
from groupchat.chat import ChatResult, GroupChat
from groupchat.events import (
    ChatEnded,
    ChatStarted,
    ErrorEvent,
    Event,
    Handoff,
    HumanInputRequested,
    MessagePosted,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    PlanReview,
    ProgressLedger,
    Replan,
    Resumed,
    SeatClaimed,
    SeatReleased,
    SelectorAttempt,
    SpeakerSelected,
    TaskLedger,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnSkipped,
)
from groupchat.safe_text import one_line, safe_text
from groupchat.timeline import Timeline
from groupchat.tui.claims import Claims
from groupchat.tui.commands import COMMANDS, CommandError, help_text, parse_command, unescape
from groupchat.tui.completion import PromptCompleter
from groupchat.tui.control import ChatControl, ControlError
from groupchat.tui.headless import LineFeeder, costing, usage_and_cost
from groupchat.tui.seats import Seats, addressed

if TYPE_CHECKING:
    from groupchat.models.pricing import CostOf, PriceTable
    from groupchat.participant import Participant

__all__ = ["ConsoleRenderer", "ConsoleSession", "run_console"]

PALETTE = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "blue",
    "bright_red",
    "bright_cyan",
    "bright_green",
)


class ConsoleRenderer:
    """Turns chat events into console output, streaming each message as it is written.

    The chat is folded by the core's :class:`~groupchat.timeline.Timeline` (as the TUI and the
    export fold it): what is asked of whom, who writes which message. This class only words it.

    ``me`` is the person at the console; ``here`` says whether a participant is one they
    answer for (default: only ``me``). With ``cost_of`` the end of the chat also says what it
    cost.
    """

    def __init__(
        self,
        console: Console,
        *,
        me: str | None = None,
        here: Callable[[str], bool] | None = None,
        line_buffered: bool = False,
        cost_of: CostOf | None = None,
    ) -> None:
        self.console = console
        self.me = me
        self.here = here
        self.cost_of = cost_of
        self.timeline = Timeline()
        # Under an active prompt a partial line would be redrawn over; print whole lines then,
        # and show the line being written in the prompt's toolbar instead (see ``partial``).
        self.line_buffered = line_buffered
        self.partial = ""
        self._header_done = False
        self._colors: dict[str, str] = {}
        self._streaming: str | None = None

    @property
    def request(self) -> HumanInputRequested | None:
        """The request to a person that is open as far as the events shown say."""
        return self.timeline.request

    def writer(self) -> str:
        """Who writes the message being streamed now ("" when none is)."""
        entry = self.timeline.entries.get(self._streaming or "")
        return entry.sender if entry is not None else ""

    def color(self, name: str) -> str:
        if name not in self._colors:
            self._colors[name] = PALETTE[len(self._colors) % len(PALETTE)]
        return self._colors[name]

    def _name(self, name: str) -> Text:
        style = f"bold {self.color(name)}"
        label = f"{name} (you)" if name == self.me else name
        return Text(one_line(label), style=style)  # names from an imported chat are data too

    def _note(self, text: str, style: str = "dim") -> None:
        self._end_stream()
        self.console.print(Text(safe_text(text), style=style))

    def _end_stream(self, tail: Text | None = None) -> None:
        if self._streaming is None:
            return
        if self.line_buffered:
            self._print_line(self.partial, tail)
            self.partial = ""
        else:
            self.console.print(tail or Text())
        self._streaming = None

    def _print_line(self, text: str, tail: Text | None = None) -> None:
        line = Text()
        if not self._header_done:
            line = self._name(self.writer()).append(": ", style="default")
            self._header_done = True
        line.append(safe_text(text))
        if tail is not None:
            line.append_text(tail)
        self.console.print(line)

    def _delta(self, event: TextDelta) -> None:
        if self._streaming != event.message_id:
            self._end_stream()
            self._streaming = event.message_id
            self._header_done = False
            if not self.line_buffered:
                self.console.print(self._name(self.writer()).append(": ", style="default"), end="")
                self._header_done = True
        if not self.line_buffered:
            self.console.print(Text(safe_text(event.text)), end="")
            return
        self.partial += event.text
        while "\n" in self.partial:
            line, self.partial = self.partial.split("\n", 1)
            self._print_line(line)

    @property
    def asked(self) -> HumanInputRequested | None:
        """The open request to the person at the console (as any of the people here)."""
        request = self.request
        return request if request is not None and self.is_here(request.participant) else None

    def render(self, event: Event) -> None:
        self.timeline.apply(event)
        if isinstance(event, TextDelta):
            self._delta(event)
        elif isinstance(event, MessagePosted):
            self._message(event)
        elif isinstance(event, SpeakerSelected):
            self._note(f"→ {event.speaker} · {event.reason}")
        elif isinstance(event, HumanInputRequested):
            self._input_requested(event)
        elif isinstance(event, SelectorAttempt):
            if not event.accepted:
                problem = f": {event.problem}" if event.problem else ""
                self._note(
                    f"  {event.policy} attempt {event.attempt} answered "
                    f"{one_line(event.answer)[:60]!r}{problem}"
                )
        elif isinstance(event, Handoff):
            note = f" ({one_line(event.note)[:80]})" if event.note else ""
            self._note(f"  ↪ {event.sender} hands over to {event.target}{note}")
        elif isinstance(event, TurnSkipped):
            self._note(f"{event.speaker} passed ({event.reason})")
        elif isinstance(event, ToolCall):
            args = ", ".join(f"{k}={v!r}" for k, v in event.arguments.thaw().items())
            self._note(f"  ⚙ {event.sender} calls {event.name}({args})")
        elif isinstance(event, ToolResult):
            mark = "✗" if event.is_error else "✓"
            self._note(f"  {mark} {event.name}: {one_line(event.content)[:200]}")
        elif isinstance(event, ChatStarted):
            self._started(event)
        elif isinstance(event, ParticipantJoined):
            self._note(f"{event.participant.name} joined", "italic")
        elif isinstance(event, ParticipantLeft):
            reason = f" ({event.reason})" if event.reason else ""
            self._note(f"{event.name} left{reason}", "italic")
        elif isinstance(event, Paused):
            self._note(f"⏸ paused{f' by {event.by}' if event.by else ''}", "yellow")
        elif isinstance(event, Resumed):
            self._note(f"▶ resumed{f' by {event.by}' if event.by else ''}", "yellow")
        elif isinstance(event, ErrorEvent):
            who = f"{event.participant}: " if event.participant else ""
            self._note(f"error: {who}{event.error}", "bold red")
        elif isinstance(event, TaskLedger):
            self._ledger(event)
        elif isinstance(event, ProgressLedger):
            self._progress(event)
        elif isinstance(event, Replan):
            self._note(
                f"↻ replanning ({event.resets} of {event.max_resets}): {one_line(event.reason)}",
                "yellow",
            )
        elif isinstance(event, PlanReview):
            self._review(event)
        elif isinstance(event, SeatClaimed):
            self._note(f"{event.sender} answers from {one_line(event.holder)}", "italic")
        elif isinstance(event, SeatReleased):
            self._note(f"{event.sender} no longer answers from {one_line(event.holder)}", "italic")
        elif isinstance(event, ChatEnded):
            self._end_stream()
            usage, missing = usage_and_cost(event, self.cost_of)
            self.console.print(
                Rule(Text(f"chat ended ({event.status}): {one_line(event.reason)}{usage}"))
            )
            if missing:
                self._note(f"cost: {missing}")

    def _started(self, event: ChatStarted) -> None:
        team = event.metadata.get("team", "group chat")
        self.console.print(Rule(Text(one_line(f"{team} · policy: {event.policy}"))))
        for info in event.participants:
            line = self._name(info.name)
            line.append(f" — {safe_text(info.description)}", style="dim")
            self.console.print(line)
        if event.termination:
            self._note(f"ends on: {event.termination}")

    def _message(self, event: MessagePosted) -> None:
        message = event.message
        entry = self.timeline.entries.get(message.id)
        if entry is not None and entry.streamed and entry.message is message:
            if self._streaming == message.id:
                tail = Text()
                if message.interrupted:
                    tail.append(" [interrupted]", style="bold yellow")
                if message.usage is not None and message.usage.total_tokens:
                    tail.append(f"  ({message.usage.total_tokens} tokens)", style="dim")
                self._end_stream(tail)
            return
        self._end_stream()
        if message.kind == "task":
            self.console.print(Text("Task: ", style="bold").append(safe_text(message.content)))
            return
        if message.kind == "plan":
            return  # shown from its task_ledger event
        if message.kind == "answer":
            self.console.print(Rule(Text(f"final answer from {message.sender}")))
            self.console.print(Text(safe_text(message.content)))
            return
        line = self._name(message.sender)
        line.append(" (interjects): " if message.kind == "interjection" else ": ", style="default")
        line.append(safe_text(message.content))
        if message.interrupted:
            line.append(" [interrupted]", style="bold yellow")
        self.console.print(line)

    def _ledger(self, event: TaskLedger) -> None:
        self._end_stream()
        title = "plan" if event.revision == 0 else f"plan, revision {event.revision}"
        why = f" · {one_line(event.reason)[:120]}" if event.reason else ""
        self.console.print(Rule(Text(f"{title}{why}"), style="cyan"))
        for number, step in enumerate(event.plan, 1):
            self.console.print(Text(f"  {number}. {one_line(step)}"))
        facts = event.facts
        for label, items in (
            ("known", facts.given),
            ("to look up", facts.to_look_up),
            ("to derive", facts.to_derive),
            ("guesses", facts.guesses),
        ):
            if items:
                self._note(f"  {label}: " + "; ".join(one_line(i) for i in items))

    def _progress(self, event: ProgressLedger) -> None:
        if event.satisfied.answer:
            reason = f": {one_line(event.satisfied.reason)[:160]}" if event.satisfied.reason else ""
            self._note(f"  round {event.round} · the request is satisfied{reason}")
            return
        progress = "✓" if event.making_progress.answer else "✗"
        loop = " · in a loop" if event.in_loop.answer else ""
        self._note(
            f"  round {event.round} · progress {progress}{loop} · "
            f"stalls {event.stalls}/{event.max_stalls}"
        )

    def _review(self, event: PlanReview) -> None:
        feedback = f": {one_line(event.feedback)[:200]}" if event.feedback else ""
        text = {
            "approve": f"✓ {event.reviewer} approved the plan",
            "revise": f"✎ {event.reviewer} asked for changes{feedback}",
            "reject": f"✗ {event.reviewer} rejected the plan{feedback}",
            "no_answer": f"the plan runs without a review{feedback or ' (no answer)'}",
        }[event.decision]
        self._note(text, "yellow" if event.decision != "approve" else "green")

    def is_here(self, name: str) -> bool:
        return self.here(name) if self.here is not None else name == self.me

    def _input_requested(self, event: HumanInputRequested) -> None:
        who = event.participant
        if not self.is_here(who):
            self._note(f"waiting for {who}…")
            return
        if event.request == "select_speaker":
            choices = "  ".join(f"{i}. {c}" for i, c in enumerate(event.choices, 1))
            question = addressed(who, event.prompt.split("?")[0])
            self._note(f"» {question}? {choices}", "bold reverse")
        elif event.request == "approval":
            asked = "" if who.lower() == "you" else f"{who}, your approval: "
            self._note(f"» {asked}{one_line(event.prompt)[:300]}", "bold reverse")
        else:
            limit = f" ({event.timeout:g} s)" if event.timeout else ""
            self._note(
                f"» {addressed(who, 'your turn')}{limit}: type a reply, or Enter to pass",
                "bold reverse",
            )


class ConsoleSession:
    """One person at the console: renders the chat and turns their lines into input or commands.

    They answer for every human of the chat when asked ("hot seat"), or only for ``humans`` if
    given; ``human`` (default: the first of ``humans``) is who they are when they speak out of
    turn, until ``/as NAME``. With neither, they only watch. The people in ``claims`` answer
    from joined terminals (``groupchat join``) while claimed, and not from here.
    """

    def __init__(
        self,
        chat: GroupChat,
        *,
        human: Participant | None = None,
        humans: Sequence[Participant] | None = None,
        console: Console | None = None,
        prices: PriceTable | None = None,
        claims: Claims | None = None,
    ) -> None:
        self.chat = chat
        self.seats = Seats(chat, human, people=humans, claims=claims)
        self.console = console or Console(highlight=False)
        self.renderer = ConsoleRenderer(
            self.console, me=self.seats.me, here=self.seats.here, cost_of=costing(prices, chat)
        )
        self.control = ChatControl(chat, self.seats.me)
        self._prompt: Any = None
        self._shown: str | None = None  # whom the prompt last said a line is sent as
        self.seats.claims.listen(self._claimed)

    def _claimed(self, name: str, holder: str | None) -> None:
        """A joined terminal took ``name``'s seat, or gave it back."""
        if holder is not None:
            self.renderer._note(f"{name} answers from another terminal now", "italic")
        else:
            self.renderer._note(f"{name} is back: this terminal answers for them again", "italic")
        request = self.renderer.request
        if request is not None and request.participant == name:
            self.renderer._input_requested(request)  # who answers it has changed
        if self._prompt is not None:
            self._prompt.app.invalidate()

    @property
    def human(self) -> Participant | None:
        """The person seated at the console (``/as NAME`` changes who)."""
        return self.seats.seated

    def _toolbar(self) -> str:
        renderer = self.renderer
        if renderer._streaming is None:
            return ""
        speaker = renderer.writer()
        return one_line(f"{speaker} is writing: {renderer.partial[-100:]}")

    async def handle_line(self, line: str, *, sender: str | None = None) -> None:
        """A line the person typed: a slash command, or text for the chat.

        Text goes as ``sender`` (the name the prompt showed; default: :meth:`voice`).
        """
        try:
            command = parse_command(line)
        except CommandError as exc:
            self.console.print(Text(str(exc), style="red"))
            return
        me = self.seats.me
        if command is None:
            try:
                self.seats.post(unescape(line), sender or self.voice())
            except ControlError as exc:
                self.console.print(Text(str(exc), style="red"))
            return
        name, args = command.name, command.args
        if "console" not in COMMANDS[name].where:
            self.console.print(Text(f"/{name} is in the full-screen app only", style="dim"))
        elif name in ("kick", "invite"):
            await self._membership(name, args)
        elif name == "help":
            self.console.print(Text(help_text("console")))
        elif name == "pause":
            await self.chat.pause(by=me)
        elif name == "resume":
            await self.chat.resume(by=me)
        elif name == "interrupt":
            if not await self.chat.interrupt(by=me):
                self.console.print(Text("nobody is speaking", style="dim"))
        elif name == "next":
            try:
                self.chat.steer(args[0].lstrip("@"), by=me)
                self.console.print(Text(f"{args[0]} speaks next", style="dim"))
            except KeyError as exc:
                self.console.print(Text(str(exc.args[0]), style="red"))
        elif name == "skip":
            try:
                self.seats.skip(self._skippable())
            except ControlError as exc:
                self.console.print(Text(str(exc), style="dim"))
        elif name == "as":
            self._sit(args)
        elif name == "who":
            for pname, info in self.chat.view.participants.items():
                tag = " (human)" if info.human else ""
                self.console.print(self.renderer._name(pname).append(tag, style="dim"))
        elif name in ("stop", "quit"):
            await self.chat.stop("stopped", by=me)

    def _skippable(self) -> str | None:
        """Whose turn ``/skip`` passes: the person here who is asked for a turn, if any."""
        request = self.renderer.asked
        if request is not None:
            return request.participant if request.request == "turn" else None
        me = self.seats.me  # a turn the events shown do not tell of yet
        return me if me is not None and self.seats.waiting(me) else None

    def _sit(self, args: tuple[str, ...]) -> None:
        """``/as NAME``: speak as NAME from now on; ``/as`` alone says who you are."""
        try:
            said = self.seats.sit(args[0]) if args else self.seats.who()
        except ControlError as exc:
            self.console.print(Text(str(exc), style="red"))
            return
        self.renderer.me = self.control.me = self.seats.me
        self.console.print(Text(said, style="dim"))

    async def _membership(self, name: str, args: tuple[str, ...]) -> None:
        """``/kick NAME`` and ``/invite [NAME]``."""
        try:
            if name == "kick":
                said = await self.control.kick(args[0])
            elif args:
                said = await self.control.invite(args[0])
            else:
                said = "can come back: " + (", ".join(self.control.invitable()) or "nobody")
        except ControlError as exc:
            self.console.print(Text(str(exc), style="red"))
            return
        self.console.print(Text(said, style="dim"))

    async def _render(self, sub: Subscription) -> None:
        async for event in sub:
            self.renderer.render(event)
            if self._prompt is not None:
                self._prompt.app.invalidate()

    def voice(self) -> str | None:
        """Whom a line typed now is sent as: the person asked (as the events shown so far
        say), else the one seated."""
        request = self.renderer.asked
        return request.participant if request is not None else self.seats.me

    def _prompt_text(self) -> str:
        """Who a line is sent as, and what they are asked: ``bob, your turn › ``."""
        request = self.renderer.asked
        self._shown = self.voice()
        if request is not None:
            what = {"select_speaker": "who speaks next?", "approval": "approve?"}
            return f"{addressed(request.participant, what.get(request.request, 'your turn'))} › "
        me = self.seats.me
        return "› " if me is None or me.lower() == "you" else f"{me} › "

    async def _read_terminal(self, ready: asyncio.Event) -> None:
        from prompt_toolkit import PromptSession

        names = self.chat.view.participants
        session: PromptSession[str] = PromptSession(
            bottom_toolbar=self._toolbar,
            completer=PromptCompleter(
                lambda: list(names),
                lambda: {n: i.description for n, i in names.items()},
                values=lambda: {"PERSON": self.seats.names},
            ),
            complete_while_typing=True,
        )
        self._prompt = session
        while True:
            try:
                line = await session.prompt_async(self._prompt_text, pre_run=ready.set)
            except (EOFError, KeyboardInterrupt):
                await self.chat.stop("stopped", by=self.seats.me)
                return
            await self.handle_line(line, sender=self._shown)

    async def run(self, task: str | None, *, interactive: bool | None = None) -> ChatResult:
        """Run the chat here until it ends. ``interactive`` defaults to whether stdin and stdout
        are terminals; otherwise people's turns are read from stdin, one line each."""
        if interactive is None:
            interactive = sys.stdin.isatty() and sys.stdout.isatty()
        reader: asyncio.Task[None] | None = None
        patch: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if interactive:
            # Output goes through prompt-toolkit's stdout proxy, above the prompt; whole lines
            # only, so a redraw of the prompt never cuts a line in two.
            from prompt_toolkit.patch_stdout import patch_stdout

            patch = patch_stdout(raw=True)
            self.renderer.line_buffered = True
        elif channels := self.seats.channels():
            # Piped lines answer whoever of the people here is asked, in the order they are.
            feeder = LineFeeder(sys.stdin, channels, claims=self.seats.claims)
            reader = asyncio.create_task(feeder.run())
        with patch:
            if interactive:
                ready = asyncio.Event()
                reader = asyncio.create_task(self._read_terminal(ready))
                await ready.wait()  # draw the prompt before any output, or it may erase it
            # Subscribe before the chat starts so that its first events are shown too.
            # Durable: a display that falls behind slows the chat rather than skip anything.
            sub = self.chat.bus.subscribe(
                self.chat.chat_id, start=self.chat.bus.next_seq(self.chat.chat_id), maxsize=4096
            )
            renderer = asyncio.create_task(self._render(sub))
            try:
                result = await self.chat.run(task)
            finally:
                if reader is not None:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
                with contextlib.suppress(asyncio.CancelledError):
                    await renderer
        return result


async def run_console(
    chat: GroupChat,
    task: str | None,
    *,
    human: Participant | None = None,
    humans: Sequence[Participant] | None = None,
    console: Console | None = None,
    interactive: bool | None = None,
    prices: PriceTable | None = None,
    claims: Claims | None = None,
) -> ChatResult:
    """Run ``chat`` in the plain console with ``human`` as the person at the keyboard (who
    answers for ``humans`` too, by default every person in the chat except those in ``claims``;
    see :class:`ConsoleSession`); with ``prices`` its end says what it cost."""
    return await ConsoleSession(
        chat, human=human, humans=humans, console=console, prices=prices, claims=claims
    ).run(task, interactive=interactive)
