"""The replay controls: play state and speed, a scrubber over the whole chat, the position.

Clicking the scrubber (or Left/Right while it has focus) asks to seek; the app does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Click
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

__all__ = ["ReplayBar", "ReplayState", "Scrubber"]


@dataclass(frozen=True, slots=True)
class ReplayState:
    """Where a replay is: ``position`` is the next event to show, out of ``first``..``end``."""

    playing: bool
    done: bool
    speed: str
    first: int
    position: int
    end: int
    message: int
    messages: int

    @property
    def shown_seq(self) -> int | None:
        """The seq of the last event shown (what ``fork --at`` takes to share what is shown)."""
        return self.position - 1 if self.position > self.first else None

    @property
    def fraction(self) -> float:
        span = self.end - self.first
        return 1.0 if span <= 0 else (self.position - self.first) / span


class Scrubber(Widget, can_focus=True):
    """A bar over the whole replay; the filled part has been shown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "nudge(-1)", "Back", show=False),
        Binding("right", "nudge(1)", "Forward", show=False),
    ]

    class Seek(Message):
        """Go to ``fraction`` (0..1) of the replay."""

        def __init__(self, fraction: float) -> None:
            super().__init__()
            self.fraction = fraction

    class Nudge(Message):
        """Go one message back (-1) or forward (1)."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self) -> None:
        super().__init__(id="scrubber")
        self.fraction = 0.0

    def set_fraction(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        if fraction != self.fraction:
            self.fraction = fraction
            self.refresh()

    def render(self) -> Content:
        width = max(1, self.size.width)
        filled = round(self.fraction * (width - 1))
        return Content.assemble(
            ("━" * filled, "$accent"), ("●", "bold $accent"), ("─" * (width - 1 - filled), "dim")
        )

    def on_click(self, event: Click) -> None:
        width = max(2, self.size.width)
        self.post_message(self.Seek(min(1.0, max(0.0, event.x / (width - 1)))))

    def action_nudge(self, step: int) -> None:
        self.post_message(self.Nudge(step))


class ReplayBar(Horizontal):
    """``▶ 2×  ━━━━●────  message 12/40 · event 130/412 · fork --at 129``"""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state: ReplayState | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="replay-state")
        yield Scrubber()
        yield Static(classes="replay-position")

    def show(self, state: ReplayState) -> None:
        if state == self._state:
            return
        self._state = state
        if state.done:
            label = ("■ ended" if state.position >= state.end else "■ stopped", "bold")
        elif state.playing:
            label = ("▶ playing", "bold $text-success")
        else:
            label = ("⏸ paused", "bold $text-warning")
        self.query_one(".replay-state", Static).update(Content.assemble(label, f"  {state.speed}"))
        self.query_one(Scrubber).set_fraction(state.fraction)
        self.query_one(".replay-position", Static).update(
            Content(
                f"message {state.message:,}/{state.messages:,} · "
                f"event {state.position:,}/{state.end:,}{_fork_at(state)}"
            )
        )


def _fork_at(state: ReplayState) -> str:
    """Where to fork to share what is shown: the seq of the last event shown."""
    seq = state.shown_seq
    return "" if seq is None else f" · fork --at {seq}"
