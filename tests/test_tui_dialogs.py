"""The dialogs as a person meets them: where the keys go when one opens, and that every one of
them fits a small terminal (what does not fit scrolls into view)."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList, Static
from tui_support import fixed_clock, until

from groupchat import GroupChat, HumanParticipant, RoundRobinPolicy, ScriptedAgent
from groupchat.agents import LLMAgent, tool
from groupchat.app.demo import build_demo
from groupchat.app.magentic_demo import MAGENTIC_DEMO_TASK, build_magentic_demo
from groupchat.testing import ScriptedModel, reply, tool_call
from groupchat.tui.live import LiveChatApp
from groupchat.tui.screens import ApprovalScreen, ChooseScreen, HelpScreen

SMALL = (60, 20)


def _magentic_app() -> tuple[LiveChatApp, GroupChat]:
    chat, you = build_magentic_demo(delay=0)
    app = LiveChatApp(chat, MAGENTIC_DEMO_TASK, human=you, clock=fixed_clock, animate=False)
    return app, chat


def _tool_app() -> LiveChatApp:
    @tool(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}"

    model = ScriptedModel([reply("Cleaning up.", tool_call("delete", path="/tmp/x")), "Done."])
    you = HumanParticipant("you")
    agent = LLMAgent("ops", model, tools=[delete], approval_timeout=None)
    chat = GroupChat([agent, you], max_turns=1)
    return LiveChatApp(chat, "Free some disk", human=you, clock=fixed_clock, animate=False)


def _demo_app() -> LiveChatApp:
    chat, you = build_demo(delay=0)
    return LiveChatApp(chat, "Plan a hackathon", human=you, clock=fixed_clock, animate=False)


def _review_open(app: LiveChatApp) -> bool:
    return isinstance(app.screen, ApprovalScreen) and bool(app.screen.query("#approve"))


async def test_the_plan_review_takes_typed_text_and_enter_revises() -> None:
    app, _ = _magentic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: _review_open(app), "the plan review")
        box = app.screen.query_one("#revision", Input)
        await until(pilot, lambda: box.has_focus, "the revise box to take the keys")
        await pilot.press(*"start with the date", "enter")
        await until(
            pilot,
            lambda: app.model.plan is not None and app.model.plan.revision == 1,
            "a revised plan",
        )
        notes = [e.text for e in app.model.entries if getattr(e, "kind", "") == "plan"]
        assert any("asked for changes: start with the date" in n for n in notes)
        await app.action_quit()


async def test_enter_in_the_empty_box_approves_the_plan() -> None:
    app, _ = _magentic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: _review_open(app), "the plan review")
        await until(
            pilot, lambda: app.screen.query_one("#revision", Input).has_focus, "the box focused"
        )
        await pilot.press("enter")
        await until(
            pilot,
            lambda: app.model.plan is not None and app.model.plan.review == "approved",
            "the plan approved",
        )
        assert app.model.plan is not None and app.model.plan.revision == 0
        await app.action_quit()


async def _reachable(pilot: Pilot[object], widget: Widget) -> None:
    """``widget`` is on screen, not covered nor clipped, once scrolled into view."""
    widget.scroll_visible(animate=False, immediate=True)
    await pilot.pause()
    await pilot.pause()
    screen = pilot.app.screen
    region = widget.region
    assert region.area > 0, f"{widget!r} has no room"
    assert screen.region.contains_region(region), f"{widget!r} at {region} is off screen"
    for x, y in ((region.x, region.y), (region.right - 1, region.bottom - 1)):
        found, _ = screen.get_widget_at(x, y)
        assert found is widget or widget in found.ancestors, f"{widget!r} hidden at {x},{y}"


async def _fits(pilot: Pilot[object], *selectors: str) -> None:
    screen = pilot.app.screen
    for selector in selectors:
        for widget in screen.query(selector):
            await _reachable(pilot, widget)


async def test_the_plan_review_fits_a_small_terminal() -> None:
    app, _ = _magentic_app()
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: _review_open(app), "the plan review")
        assert app.screen.query(".dialog-plan")
        await _fits(pilot, "#revision", "Button", ".dialog-hint")
        await app.action_quit()


async def test_the_plan_review_fits_80_by_24_without_scrolling() -> None:
    app, _ = _magentic_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: _review_open(app), "the plan review")
        await pilot.pause()
        screen = app.screen
        for widget in (
            *screen.query(Button),
            screen.query_one(Input),
            *screen.query(".dialog-hint"),
        ):
            assert screen.region.contains_region(widget.region), widget
            found, _ = screen.get_widget_at(widget.region.x, widget.region.y)
            assert found is widget or widget in found.ancestors, widget
        await app.action_quit()


async def test_the_approval_dialog_fits_a_small_terminal() -> None:
    app = _tool_app()
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: _review_open(app), "the approval dialog")
        await _fits(pilot, "#revision", "Button", ".dialog-hint")
        await app.action_quit()


async def test_choosing_the_next_speaker_fits_a_small_terminal() -> None:
    you = HumanParticipant("you")
    team = [ScriptedAgent(f"agent{n}", ["hello"]) for n in range(14)]
    chat = GroupChat([*team, you], policy=RoundRobinPolicy(), max_turns=1)
    app = LiveChatApp(chat, "Many voices", human=you, clock=fixed_clock, animate=False)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: len(app.model.names()) == 15, "the team")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, ChooseScreen), "the choice")
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        await _fits(pilot, ".dialog-title", ".dialog-hint")
        await _reachable(pilot, options)
        options.scroll_end(animate=False, immediate=True)
        assert options.max_scroll_y == 0 or options.scroll_y == options.max_scroll_y
        await app.action_quit()


async def test_help_fits_a_small_terminal() -> None:
    app = _demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: app.model.my_request is not None, "your turn")
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.pause()
        await _fits(pilot, ".dialog-title", ".dialog-hint")
        text = app.screen.query(Static).last()
        assert text is not None
        await app.action_quit()
