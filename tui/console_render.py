"""The plain console's rendering: a chat's events printed with rich, as they arrive.

Everything agents and people write is shown as plain text (``rich.text.Text`` after
:func:`safe_text`), never parsed as markup or passed through as terminal control sequences; a
streamed message is printed as it streams and closed when it is posted. The state it shows
comes from the shared fold, :class:`~groupchat.timeline.Timeline`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

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
    TurnStarted,
)
from groupchat.safe_text import one_line, safe_text
from groupchat.timeline import MessageEntry, Note, Timeline
from groupchat.tui.console_markdown import inline_text, print_markdown
from groupchat.tui.headless import usage_and_cost
from groupchat.tui.seats import addressed
from groupchat.tui.turn_clock import TurnClock

if TYPE_CHECKING:
    from groupchat.models.pricing import CostOf

__all__ = ["PALETTE", "ConsoleRenderer"]

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


_ASKED = {
    "turn": "to speak",
    "select_speaker": "who speaks next",
    "approval": "for approval",
}
"""How a recorded chat reads a request to a person."""


class ConsoleRenderer:
    """Turns chat events into console output, streaming each message as it is written.

    The chat is folded by the core's :class:`~groupchat.timeline.Timeline` (as the TUI and the
    export fold it): what is asked of whom, who writes which message. This class only words it.

    ``me`` is the person at the console; ``here`` says whether a participant is one they
    answer for (default: only ``me``). With ``cost_of`` the end of the chat also says what it
    cost. ``recorded``: a chat read back, where a request to a person says who was asked.
    """

    def __init__(
        self,
        console: Console,
        *,
        me: str | None = None,
        here: Callable[[str], bool] | None = None,
        line_buffered: bool = False,
        cost_of: CostOf | None = None,
        recorded: bool = False,
        numbers: bool = False,
        stream: bool = True,
    ) -> None:
        self.console = console
        self.recorded = recorded
        self.stream = stream
        """Print text as it streams (raw: a live chat, a replay); ``False`` (``show``): print
        each message whole when posted, rendered as Markdown (see :mod:`.console_markdown`)."""
        self._held: dict[str, MessageEntry] = {}
        """Without streaming: the messages streamed but not posted yet."""
        self.numbers = numbers
        """Each message ends with its number and its event's seq (``show --seq``, to fork)."""
        self._posted = 0
        """A chat read back (``show``, a console replay): nobody waits for an answer."""
        self.me = me
        self.here = here
        self.cost_of = cost_of
        self.timeline = Timeline()
        self.turn_clock = TurnClock()
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
        # "you" needs no "(you)" after it
        label = f"{name} (you)" if name == self.me and name.lower() != "you" else name
        return Text(one_line(label), style=style)  # names from an imported chat are data too

    def _note(self, text: str, style: str = "dim") -> None:
        self._end_stream()
        self.console.print(Text(safe_text(text), style=style))

    def finish(self) -> None:
        """Print what streamed of messages never posted (without streaming: see ``stream``)."""
        for message_id in list(self._held):
            self._print_held(message_id)

    def _print_held(self, message_id: str) -> None:
        entry = self._held.pop(message_id, None)
        if entry is None or entry.message is not None:
            return
        tail = Text(" [interrupted]", style="bold yellow")
        self._print_message(
            self._name(entry.sender).append(": ", style="default"), entry.text, tail
        )

    def _print_message(self, head: Text, content: str, tail: Text) -> None:
        """``head`` and ``content`` as Markdown: one line when it is one paragraph, else its
        blocks under ``head`` (and ``tail``)."""
        inline = inline_text(content)
        if inline is not None:
            # Piped, a message stays one line (as it streamed): whole for grep; a pager wraps.
            line = head.append_text(inline).append_text(tail)
            self.console.print(line, soft_wrap=not self.console.is_terminal)
            return
        head.rstrip()
        self.console.print(head.append_text(tail))
        print_markdown(self.console, content)

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
        if not self.stream:
            entry = self.timeline.entries.get(event.message_id)
            if entry is not None:
                self._held[event.message_id] = entry
            return
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
        if self._held and isinstance(event, SpeakerSelected | TurnStarted | ChatEnded):
            self.finish()  # a turn that never ended (its chat was killed): what it had said
        item = self.timeline.apply(event)
        self.turn_clock.apply(event)
        if self._held and isinstance(event, TurnSkipped) and isinstance(item, Note):
            self._print_held(event.message_id)
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
            why = "" if event.reason == "passed" else f" ({event.reason})"
            self._note(f"{event.speaker} passed{why}")
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
            clock = self._clock_left(event, "stops")
            self._note(f"⏸ paused{f' by {event.by}' if event.by else ''}{clock}", "yellow")
        elif isinstance(event, Resumed):
            clock = self._clock_left(event, "goes on")
            self._note(f"▶ resumed{f' by {event.by}' if event.by else ''}{clock}", "yellow")
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

    def _number(self, event: MessagePosted) -> Text:
        """`` · #3 · seq 40`` after a message, when numbering (else nothing)."""
        self._posted += 1
        if not self.numbers:
            return Text()
        return Text(f"  #{self._posted} · seq {event.seq}", style="dim")

    def _message(self, event: MessagePosted) -> None:
        message = event.message
        number = self._number(event)
        self._held.pop(message.id, None)
        tail = Text()
        if message.interrupted:
            tail.append(" [interrupted]", style="bold yellow")
        if message.usage is not None and message.usage.total_tokens:
            tail.append(f"  ({message.usage.total_tokens} tokens)", style="dim")
        tail.append_text(number)
        entry = self.timeline.entries.get(message.id)
        if self.stream and entry is not None and entry.streamed and entry.message is message:
            if self._streaming == message.id:
                self._end_stream(tail)
            return
        self._end_stream()
        if message.kind == "task":
            self._print_message(Text("Task: ", style="bold"), message.content, number)
            return
        if message.kind == "plan":
            if self.numbers:
                self._note(f"(the plan, above){number.plain}")
            return  # shown from its task_ledger event
        if message.kind == "answer":
            self.console.print(Rule(Text(f"final answer from {message.sender}")))
            self._print_message(Text(), message.content, number)
            return
        head = self._name(message.sender)
        head.append(" (interjects): " if message.kind == "interjection" else ": ", style="default")
        self._print_message(head, message.content, tail)

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

    def _clock_left(self, event: Paused | Resumed, what: str) -> str:
        """A pause stops the clock of a timed turn asked here; say what it has left."""
        request = self.turn_clock.request
        left = self.turn_clock.left(event.time)
        if (
            self.recorded
            or request is None
            or left is None
            or not self.is_here(request.participant)
        ):
            return ""
        who = request.participant
        whose = "your turn" if who.lower() == "you" else f"{one_line(who)}'s turn"
        return f" · the clock of {whose} {what}: {left:.0f} s left"

    def is_here(self, name: str) -> bool:
        return self.here(name) if self.here is not None else name == self.me

    def _input_requested(self, event: HumanInputRequested) -> None:
        who = event.participant
        if self.recorded:
            what = _ASKED.get(event.request, "to speak")
            self._note(f"{who} {'were' if who.lower() == 'you' else 'was'} asked {what}")
            return
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
