"""Approvals in the TUI: a tool call or a plan that needs the person's yes opens a dialog."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from textual.widgets import Markdown
from tui_support import fixed_clock, until, until_shown

from groupchat import GroupChat, HumanParticipant, RoundRobinPolicy
from groupchat.agents import LLMAgent, tool
from groupchat.participant import ChatView, Reply, TurnItem
from groupchat.testing import ScriptedModel, reply, tool_call
from groupchat.tui.live import LiveChatApp
from groupchat.tui.model import MessageEntry
from groupchat.tui.screens import ApprovalScreen
from groupchat.tui.widgets.message import MessageView, ToolView

SIZE = (120, 40)


def _tool_team() -> tuple[GroupChat, HumanParticipant, list[str]]:
    deleted: list[str] = []

    @tool(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file."""
        deleted.append(path)
        return f"deleted {path}"

    model = ScriptedModel([reply("", tool_call("delete", path="/tmp/x")), "Done."])
    you = HumanParticipant("you")
    agent = LLMAgent("ops", model, tools=[delete], approval_timeout=30)
    return GroupChat([agent, you], max_turns=1), you, deleted


def _app(chat: GroupChat, you: HumanParticipant) -> LiveChatApp:
    return LiveChatApp(chat, "clean up", human=you, clock=fixed_clock, animate=False)


def _dialog_open(app: LiveChatApp) -> bool:
    """The approval dialog is on screen, ready for keys."""
    return isinstance(app.screen, ApprovalScreen) and bool(app.screen.query("#approve"))


def _revision(app: LiveChatApp) -> int | None:
    return app.model.plan.revision if app.model.plan is not None else None


def _asked(app: LiveChatApp) -> str | None:
    request = app.model.my_request
    return request.request if request is not None else None


def _tool_result(app: LiveChatApp) -> str | None:
    for entry in app.model.entries:
        if isinstance(entry, MessageEntry) and entry.tools:
            return entry.tools[0].result
    return None


@pytest.mark.parametrize(
    ("keys", "ran", "told"),
    [
        (("ctrl+y",), True, "deleted /tmp/x"),
        (("ctrl+r",), False, "not run: you declined"),
    ],
)
async def test_a_tool_call_that_needs_approval_opens_a_dialog(
    keys: tuple[str, ...], ran: bool, told: str
) -> None:
    chat, you, deleted = _tool_team()
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: _dialog_open(app), "the approval dialog")
        assert app.model.members["ops"].state == "waiting for you"
        await pilot.press(*keys)
        await until(pilot, lambda: app.result is not None, "the chat to end")
        await until_shown(pilot)
        assert deleted == (["/tmp/x"] if ran else [])
        assert _tool_result(app) == told


async def test_revising_sends_the_persons_text() -> None:
    chat, you, deleted = _tool_team()
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: _dialog_open(app), "the approval dialog")
        app.screen.query_one("#revision").focus()
        await pilot.press(*"only files older than a week", "enter")
        await until(pilot, lambda: app.result is not None, "the chat to end")
        assert deleted == []
        assert _tool_result(app) == "not run: you declined: only files older than a week"


async def test_the_tool_call_folds_open() -> None:
    chat, you, _ = _tool_team()
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: _dialog_open(app), "the approval dialog")
        await pilot.press("ctrl+y")
        await until(pilot, lambda: app.result is not None, "the chat to end")
        await until_shown(pilot)
        view = app.query_one(ToolView)
        header = str(view.query_one(".tool-header").render())
        assert "delete" in header and "/tmp/x" in header and "✓" in header
        body = view.query_one(".tool-body")
        assert not body.display or body.region.height == 0
        await pilot.click(view)
        await pilot.pause()
        assert view.has_class("-open") and body.region.height > 0
        assert "deleted /tmp/x" in str(body.render())
        message = next(v for v in app.query(MessageView) if v.entry.sender == "ops")
        assert message.entry.text == "Done." and view in message.query(ToolView)


class PlanningManager:
    """Stands in for a manager that asks the person to approve its plan before it runs."""

    kind = "manager"
    human = False
    description = "Plans the work and asks for approval."

    def __init__(self, approver: str) -> None:
        self.name = "lead"
        self.approver = approver
        self.answers: list[str | None] = []

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        plan = "1. collect the numbers\n2. draft the summary\n3. review it together"
        prompt = f"Approve this plan?\n\n{plan}"
        answer = await view.ask(self.approver, prompt, request="approval", choices=("yes", "no"))
        self.answers.append(answer)
        verdict = "approved" if answer == "yes" else f"revised: {answer}"
        yield Reply(f"Plan {verdict}.")


async def test_approving_a_plan() -> None:
    you = HumanParticipant("you")
    lead = PlanningManager("you")
    chat = GroupChat([lead, you], policy=RoundRobinPolicy(), max_turns=1)
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: _dialog_open(app), "the plan dialog")
        assert "draft the summary" in app.screen.query_one(Markdown).source
        await pilot.click("#approve")
        await until(pilot, lambda: bool(lead.answers), "the answer")
        assert lead.answers == ["yes"]
        await until(pilot, lambda: app.result is not None, "the chat to end")
        assert any(m.content == "Plan approved." for m in chat.messages)


async def test_a_dialog_closed_for_later_can_be_reopened() -> None:
    you = HumanParticipant("you")
    lead = PlanningManager("you")
    chat = GroupChat([lead, you], policy=RoundRobinPolicy(), max_turns=1)
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: _dialog_open(app), "the plan dialog")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ApprovalScreen), "the dialog closed")
        assert lead.answers == [] and you.channel.requested
        await pilot.press("ctrl+o")
        await until(pilot, lambda: _dialog_open(app), "the dialog again")
        app.screen.query_one("#revision").focus()
        await pilot.press(*"add a budget step", "enter")
        await until(pilot, lambda: bool(lead.answers), "the answer")
        assert lead.answers == ["add a budget step"]
        await app.action_quit()


async def test_the_magentic_manager_s_plan_is_reviewed_and_shown() -> None:
    from groupchat.app.magentic_demo import MAGENTIC_DEMO_TASK, build_magentic_demo
    from groupchat.tui.widgets.sidebar import Sidebar

    chat, you = build_magentic_demo(delay=0)
    app = LiveChatApp(chat, MAGENTIC_DEMO_TASK, human=you, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: _dialog_open(app), "the plan review")
        dialog = app.screen
        assert isinstance(dialog, ApprovalScreen) and dialog.title_text == "Review the plan"
        plan = app.model.plan
        assert plan is not None and plan.steps
        assert plan.steps[0] in dialog.query_one(".dialog-plan", Markdown).source
        assert "you decide the date and the place" in plan.steps  # not "you decides"
        dialog.query_one("#revision").focus()
        await pilot.press(*"start with the date", "enter")
        await until(
            pilot,
            lambda: app.model.plan is not None and app.model.plan.revision == 1,
            "a revised plan",
        )
        await until(pilot, lambda: _dialog_open(app), "the second review")
        await pilot.press("ctrl+y")
        await until(
            pilot,
            lambda: app.model.my_request is not None and app.model.my_request.request == "turn",
            "your turn",
        )
        await until_shown(pilot)
        panel = str(app.query_one(Sidebar).query_one(".plan").render())
        assert "Plan · revision 1 · approved" in panel and "round" in panel
        notes = [e.text for e in app.model.entries if getattr(e, "kind", "") == "plan"]
        assert any("asked for changes: start with the date" in n for n in notes)
        assert any(n.startswith(" approved the plan") for n in notes)
        await pilot.press(*"Saturday, the town hall", "enter")
        await until(pilot, lambda: app.result is not None, "the end")
        assert app.result is not None and app.result.status == "completed"
