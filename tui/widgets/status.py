"""The title line (team and task) and the status line (state, turn, tokens, cost, activity)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from groupchat.models.pricing import ChatCost
from groupchat.tui.model import ChatScreenState
from groupchat.tui.widgets.text import plain, short, show, styled, tokens

__all__ = ["StatusBar", "TitleBar"]

_STATE = {
    "waiting": ("○ starting", "dim"),
    "running": ("● live", "bold $text-success"),
    "paused": ("⏸ paused", "bold $text-warning"),
    "ended": ("■ ended", "bold"),
    "lost": ("✕ disconnected", "bold $text-error"),
}


class TitleBar(Static):
    """``team — task`` in one line."""

    def __init__(
        self, model: ChatScreenState, *, label: str = "groupchat", id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.model = model
        self.label = label
        self._shown: tuple[str, str | None, str] | None = None

    def sync(self) -> None:
        model = self.model
        key = (model.team, model.task, self.label)
        if key == self._shown:
            return
        self._shown = key
        parts: list[str | tuple[str, str] | Content] = [(self.label, "bold")]
        if model.team:
            parts += [" · ", styled(short(model.team, 60), "bold")]
        if model.task:
            parts += [("  — ", "dim"), plain(short(model.task, 200))]
        self.update(Content.assemble(*parts))


class StatusBar(Horizontal):
    """Left: chat state, turn, messages, tokens and cost. Right: what is happening now."""

    def __init__(self, model: ChatScreenState, *, live: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.live = live
        self.cost: ChatCost | None = None
        """What the chat has cost so far, when prices are known."""
        self.activity: Content = Content("")
        self.below = 0
        """Messages that arrived below while the reader is scrolled up."""

    def compose(self) -> ComposeResult:
        yield Static(classes="status-left")
        yield Static(classes="status-right")

    def sync(self) -> None:
        model = self.model
        label, style = _STATE.get(model.state, (model.state, ""))
        if model.state == "running" and not self.live:
            label = "● running"
        if model.state == "ended" and model.end_status:
            label = f"■ ended ({model.end_status})"
        parts: list[str | tuple[str, str]] = [(label, style)]
        if model.me is not None and len(model.here) > 1:  # several people at this terminal
            parts += ["  you: ", styled(model.me, "bold $accent")]
        if model.turn:
            parts.append(f"  turn {model.turn}")
        parts.append(f"  {model.messages:,} message" + ("" if model.messages == 1 else "s"))
        parts.append(f"  {tokens(model.usage.total_tokens)}")
        if self.cost is not None:  # "≥ $0.0123 (partial)" when some tokens have no price
            parts.append(f"  {self.cost.short()}")
        if self.below:
            new = "new message" if self.below == 1 else "new messages"
            parts += ["  ", (f"↓ {self.below} {new} (End)", "bold $text-warning")]
        show(self.query_one(".status-left", Static), Content.assemble(*parts))
        show(self.query_one(".status-right", Static), self.activity or self._activity())

    def _activity(self) -> Content:
        model = self.model
        if model.state in ("ended", "lost"):
            return plain(short(model.end_reason, 80))
        if model.writing is not None:
            return Content.assemble(styled(model.writing, "bold"), " is writing…")
        if model.speaker is not None:
            member = model.members.get(model.speaker)
            if model.is_here(model.speaker):
                return Content.assemble(("your turn", "bold $accent"))
            if member is not None and member.human:
                return Content.assemble("waiting for ", styled(model.speaker, "bold"))
            return Content.assemble(styled(model.speaker, "bold"), " is thinking…")
        return Content("")
