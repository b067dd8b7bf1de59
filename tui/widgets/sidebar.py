"""The sidebar: every participant with its state, the next speaker and why, and the plan.

Selecting a participant (click, or Enter on it) asks for them to speak next; the app decides
what that means (a live chat steers, a replay ignores it).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from groupchat.tui.model import ChatScreenState, Member, Plan
from groupchat.tui.widgets.text import colour_of, plain, short, show, styled

__all__ = ["Sidebar"]

_STATE_STYLE = {
    "your turn": "bold reverse $accent",
    "waiting for you": "bold $text-warning",
    "speaking": "bold",
    "choosing": "bold $text-warning",
    "left": "dim strike",
}


class Sidebar(Vertical):
    """Who takes part and what they are doing; the next speaker is marked ▶."""

    class Picked(Message):
        """The person picked ``participant`` in the list."""

        def __init__(self, participant: str) -> None:
            super().__init__()
            self.participant = participant

    def __init__(self, model: ChatScreenState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._rows: list[tuple[str, str, bool, bool, int, bool, bool]] = []

    def compose(self) -> ComposeResult:
        yield Static(Content("Participants"), classes="sidebar-title")
        yield OptionList(id="members")
        yield Static(classes="next")
        yield Static(classes="plan")

    def sync(self) -> None:
        model = self.model
        rows = [
            (
                m.name,
                m.state,
                m.left,
                m.human,
                m.colour,
                m.name == model.next_speaker,
                m.name == model.me,
            )
            for m in model.members.values()
        ]
        if rows != self._rows:
            self._rows = rows
            members = self.query_one(OptionList)
            highlighted = members.highlighted
            members.set_options(Option(self._row(m), id=m.name) for m in model.members.values())
            if highlighted is not None and highlighted < len(rows):
                members.highlighted = highlighted
        show(self.query_one(".next", Static), self._next())
        plan = self.query_one(".plan", Static)
        plan.display = model.plan is not None
        if model.plan is not None:
            show(plan, _plan(model.plan))

    def _row(self, member: Member) -> Content:
        model = self.model
        colour = colour_of(member.colour)
        is_next = member.name == model.next_speaker
        mark = ("▶ ", f"bold {colour}") if is_next else ("● ", colour)
        parts: list[str | tuple[str, str]] = [mark, styled(member.name, f"bold {colour}")]
        if member.name == model.me:
            parts.append(("" if member.name.lower() == "you" else " (you)", colour))
        elif member.human:
            parts.append((" · person", "dim"))
        state = "next" if is_next and member.state == "waiting" else member.state
        parts.append("\n  ")
        parts.append((state, _STATE_STYLE.get(state, "dim")))
        return Content.assemble(*parts)

    def _next(self) -> Content:
        model = self.model
        if model.next_speaker is None:
            return Content("")
        member = model.members.get(model.next_speaker)
        colour = colour_of(member.colour) if member else ""
        return Content.assemble(
            ("next: ", "dim"),
            styled(model.next_speaker, f"bold {colour}".strip()),
            "\n",
            plain(short(model.next_reason, 200)),
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Picked(event.option.id))


def _plan(plan: Plan) -> Content:
    parts: list[str | tuple[str, str] | Content] = [("Plan", "bold")]
    if plan.revision:
        parts.append((f" · revision {plan.revision}", "dim"))
    if plan.review:
        parts.append((f" · {plan.review}", "dim"))
    for number, step in enumerate(plan.steps, 1):
        parts.append(f"\n{number}. ")
        parts.append(plain(short(step, 300)))
    if plan.round:
        parts.append((f"\n\nround {plan.round}", "bold"))
        if plan.max_stalls:
            parts.append((f" · stalls {plan.stalls}/{plan.max_stalls}", "dim"))
        if plan.next_speaker:
            parts.append("\n→ ")
            parts.append(plain(short(plan.next_speaker, 60)))
        if plan.instruction:
            parts.append(": ")
            parts.append(plain(short(plan.instruction, 300)))
    return Content.assemble(*parts)
