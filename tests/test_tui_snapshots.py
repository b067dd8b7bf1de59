"""Snapshots of the TUI's main screens (clock pinned, no animation, no cursor blink).

Update them after an intended change of the look with ``pytest --snapshot-update``; the report
of a failed comparison (``snapshot_report.html``) shows both pictures.
"""

from __future__ import annotations

from typing import Any, cast

from textual.pilot import Pilot
from tui_support import fixed_clock, until, until_shown

from groupchat.agents import LLMAgent, tool
from groupchat.app.demo import build_demo
from groupchat.chat import GroupChat
from groupchat.testing import ScriptedModel, reply, tool_call
from groupchat.transcripts.replay import read_events, sample_path
from groupchat.tui.live import LiveChatApp
from groupchat.tui.replay_app import ReplayApp
from groupchat.tui.screens import ApprovalScreen

SIZE = (110, 36)


def _demo_app() -> LiveChatApp:
    chat, you = build_demo(delay=0)
    return LiveChatApp(chat, "Plan a hackathon", human=you, clock=fixed_clock, animate=False)


async def _your_turn(pilot: Pilot[Any]) -> None:
    app = cast(LiveChatApp, pilot.app)
    await until(pilot, lambda: app.model.my_request is not None, "your turn")
    await until_shown(pilot)


def test_live_chat_on_your_turn(snap_compare: Any) -> None:
    """The demo team, live, on your turn. The conversation shows the task "Plan a hackathon",
    then planner (opens by round robin), researcher (mentioned by planner, a numbered list) and
    critic, who asks "@you, what do you think"; the last line is "→ you · @you was mentioned by
    critic". The sidebar lists planner, researcher and critic waiting and you on "your turn";
    the input is highlighted and titled "your turn — Enter sends"; the status line says turn 4,
    4 messages and "⌛ your turn"."""
    assert snap_compare(_demo_app(), terminal_size=SIZE, run_before=_your_turn)


def test_mention_completion(snap_compare: Any) -> None:
    """On your turn in the demo, "@c" typed: the input holds "@critic" and a completion box
    just above it offers the one match, "@critic  Looks for risks and asks the human."; the
    conversation and the sidebar are as on your turn."""
    assert snap_compare(_demo_app(), terminal_size=SIZE, run_before=_your_turn, press=["@", "c"])


def test_help_screen(snap_compare: Any) -> None:
    """F1 on your turn in the demo: the "Keys and commands" dialog over the chat, the keys
    (Enter, Ctrl+J, Esc, F2, Ctrl+N, Ctrl+O, F1, Ctrl+P, F3, a click on a message, Ctrl+Q, ...)
    with what each does, then the commands (/help, /pause, /resume, /interrupt, /next NAME,
    /skip, /as), and at its foot "Esc or F1 closes"; the status line behind still says
    "⌛ your turn"."""
    assert snap_compare(_demo_app(), terminal_size=SIZE, run_before=_your_turn, press=["f1"])


def test_approval_dialog(snap_compare: Any) -> None:
    """ops asks to run a tool that needs approval: the "Approval needed" dialog says "ops wants
    to run delete({"path": "/tmp/cache"}). Allow it? yes/no", with a box to revise and the
    buttons Approve, Revise and Reject. Behind it ops's message "Cleaning up." shows the tool
    call "delete(path="/tmp/cache") … running" and the note that you were asked; the sidebar
    has ops "waiting for you"; the input is titled "approval asked" and the status line says
    "⌛ approval asked"."""

    @tool(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}"

    from groupchat.agents import HumanParticipant

    model = ScriptedModel([reply("Cleaning up.", tool_call("delete", path="/tmp/cache")), "Done."])
    you = HumanParticipant("you")
    agent = LLMAgent("ops", model, tools=[delete], approval_timeout=None)
    chat = GroupChat([agent, you], max_turns=1)
    app = LiveChatApp(chat, "Free some disk", human=you, clock=fixed_clock, animate=False)

    async def dialog_open(pilot: Pilot[Any]) -> None:
        await until(
            pilot,
            lambda: isinstance(app.screen, ApprovalScreen) and bool(app.screen.query("#approve")),
            "the dialog",
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=dialog_open)


def test_replay_paused_mid_chat(snap_compare: Any) -> None:
    """The code-review sample replayed, paused after three steps: the conversation ends with the
    task, author (opens) and security's reply about retrying non-idempotent POSTs; the sidebar
    lists author, security, performance and approver (a person), all waiting; the replay bar
    says "⏸ paused 1×" with its position at "message 3/6 · event 44/90 · fork --at 43", and the
    footer offers Play/Pause, Step, Back, Faster, Slower instead of the live keys."""
    events = read_events(sample_path("code-review"))
    app = ReplayApp(events, paused=True, clock=fixed_clock, animate=False)

    async def three_steps(pilot: Pilot[Any]) -> None:
        for step in range(1, 4):
            await pilot.press("n")

            def shown(step: int = step) -> bool:
                return app.state.message == step

            await until(pilot, shown, "the next message")
        await until(pilot, lambda: app.replayer.paused, "paused")
        await until_shown(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=three_steps)
