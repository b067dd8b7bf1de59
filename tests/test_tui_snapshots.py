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
    assert snap_compare(_demo_app(), terminal_size=SIZE, run_before=_your_turn)


def test_mention_completion(snap_compare: Any) -> None:
    assert snap_compare(_demo_app(), terminal_size=SIZE, run_before=_your_turn, press=["@", "c"])


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(_demo_app(), terminal_size=SIZE, run_before=_your_turn, press=["f1"])


def test_approval_dialog(snap_compare: Any) -> None:
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
