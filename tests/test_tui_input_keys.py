"""The input's keys where completion, history and interrupting meet: a recalled line walks the
history, Esc closes the suggestions before it interrupts anyone, and a burst of keys never
accepts a suggestion made for an older text."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from tui_support import GatedAgent, fixed_clock, noticed, until

from groupchat import GroupChat, HumanParticipant, MaxMessages, RoundRobinPolicy
from groupchat.tui.live import LiveChatApp
from groupchat.tui.model import MessageEntry
from groupchat.tui.widgets.composer import ComposerBox

SIZE = (120, 40)


def _held() -> tuple[LiveChatApp, GatedAgent]:
    """A chat whose writer speaks until the test lets it finish."""
    you = HumanParticipant("you")
    writer = GatedAgent("writer", ["A long ", "answer"], [" at last."])
    chat = GroupChat([writer, you], policy=RoundRobinPolicy(), termination=MaxMessages(2))
    app = LiveChatApp(chat, "Talk", human=you, clock=fixed_clock, animate=False)
    return app, writer


def _interrupted(app: LiveChatApp) -> bool:
    return any(isinstance(e, MessageEntry) and e.interrupted for e in app.model.entries)


def _popup(box: ComposerBox) -> bool:
    return bool(box.suggestions) and bool(box.query_one("#suggestions").display)


async def test_a_recalled_command_keeps_walking_the_history() -> None:
    app, writer = _held()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer to be mid-message")
        box = app.query_one(ComposerBox)
        box.editor.focus()
        box.history = ["first note", "/theme", "last note"]
        await pilot.press("up")
        await until(pilot, lambda: box.editor.text == "last note", "the last line")
        await pilot.press("up")
        await until(pilot, lambda: box.editor.text == "/theme", "the bare command")
        await pilot.pause()
        assert not _popup(box)
        await pilot.press("up")
        await until(pilot, lambda: box.editor.text == "first note", "the line before it")
        await pilot.press("down")
        await until(pilot, lambda: box.editor.text == "/theme", "the command again")
        await pilot.pause()
        await pilot.press("down")
        await until(pilot, lambda: box.editor.text == "last note", "down past the command")
        await pilot.press("down")
        await until(pilot, lambda: box.editor.text == "", "back to the draft")
        writer.open()
        await app.action_quit()


async def test_tab_on_a_recalled_command_still_completes() -> None:
    app, writer = _held()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer to be mid-message")
        box = app.query_one(ComposerBox)
        box.editor.focus()
        box.history = ["/the"]
        await pilot.press("up")
        await until(pilot, lambda: box.editor.text == "/the", "the recalled line")
        await pilot.press("tab")
        await until(pilot, lambda: box.editor.text == "/theme ", "the completed command")
        writer.open()
        await app.action_quit()


async def test_escape_closes_the_suggestions_and_interrupts_only_when_pressed_twice() -> None:
    app, writer = _held()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer to be mid-message")
        box = app.query_one(ComposerBox)
        box.editor.focus()
        await pilot.press("/", "t")
        await until(pilot, lambda: _popup(box), "the suggestions")
        await pilot.press("escape")
        await until(pilot, lambda: not _popup(box), "the suggestions closed")
        await pilot.pause()
        assert not _interrupted(app) and writer.waiting.is_set()
        assert not noticed(app, "Esc again")  # that Esc only closed the suggestions
        await pilot.press("escape")
        await until(pilot, lambda: noticed(app, "Esc again"), "the warning")
        assert not _interrupted(app)
        await pilot.press("escape")
        await until(pilot, lambda: _interrupted(app), "the interruption")
        await app.action_quit()


async def test_a_second_escape_after_a_while_only_warns_again() -> None:
    app, writer = _held()
    now = [100.0]
    app.clock_s = lambda: now[0]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer to be mid-message")
        await pilot.press("escape")
        await until(pilot, lambda: noticed(app, "Esc again"), "the warning")
        now[0] += 10
        await pilot.press("escape")
        await pilot.pause()
        assert not _interrupted(app)
        now[0] += 0.5
        await pilot.press("escape")
        await until(pilot, lambda: _interrupted(app), "the interruption")
        await app.action_quit()


def _burst(box: ComposerBox, keys: str | list[str]) -> None:
    """Queue every key at once, as a fast typist or a paste does: none waits for the last."""
    for key in keys:
        character = key if len(key) == 1 else None
        name = {" ": "space", "/": "slash"}.get(key, key)
        box.editor.post_message(events.Key(name, character))


@pytest.mark.parametrize(
    ("typed", "rest"), [("/export", " html"), ("/export h", "tml"), ("/the", "me nord")]
)
async def test_a_burst_of_keys_sends_what_was_typed(
    typed: str, rest: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suggestions showing were made for ``typed``; ``rest`` and Enter come in one go."""
    monkeypatch.chdir(tmp_path)
    app, writer = _held()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer to be mid-message")
        box = app.query_one(ComposerBox)
        box.editor.focus()
        await pilot.press(*typed)
        await until(pilot, lambda: _popup(box), "the suggestions for what was typed")
        _burst(box, [*rest, "enter"])
        await until(pilot, lambda: bool(box.history), "the line sent")
        assert box.history == [typed + rest]
        assert box.editor.text == ""
        writer.open()
        await app.action_quit()


async def test_a_burst_still_completes_what_matches_the_text() -> None:
    app, writer = _held()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer to be mid-message")
        box = app.query_one(ComposerBox)
        box.editor.focus()
        await pilot.press(*"/ex")
        await until(pilot, lambda: _popup(box), "the suggestions for /ex")
        _burst(box, [*"po", "tab"])
        await until(pilot, lambda: box.editor.text == "/export ", "the completed command")
        writer.open()
        await app.action_quit()


async def test_theme_alone_lists_the_themes_marking_the_current_one() -> None:
    app, held = _held()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, held.waiting.is_set, "the first speaker")
        app.theme = "nord"
        app.set_theme([])
        await until(pilot, lambda: noticed(app, "nord (current)"), "the list")
        assert noticed(app, "textual-dark,") or noticed(app, "textual-dark")
        held.open()
        await app.action_quit()


async def test_the_input_history_and_the_theme_are_kept_between_runs(tmp_path: Path) -> None:
    import stat

    from groupchat.tui.prefs import load_prefs

    kept = tmp_path / "groupchat" / "tui.json"
    app, held = _held()
    app.prefs_file = kept
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, held.waiting.is_set, "the first speaker")
        box = app.query_one(ComposerBox)
        box.editor.insert("/theme nord")
        await pilot.press("enter")
        await until(pilot, lambda: app.theme == "nord", "the theme")
        box.editor.insert("a note to remember")
        await pilot.press("enter")
        held.open()
        await app.action_quit()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert load_prefs(kept).history == ["/theme nord", "a note to remember"]

    again, held = _held()
    again.prefs_file = kept
    async with again.run_test(size=(120, 40)) as pilot:
        await until(pilot, held.waiting.is_set, "the first speaker")
        assert again.theme == "nord"
        box = again.query_one(ComposerBox)
        assert box.history == ["/theme nord", "a note to remember"]
        box.editor.focus()
        await pilot.press("up")
        await until(pilot, lambda: box.editor.text == "a note to remember", "the recalled line")
        held.open()
        await again.action_quit()


def test_an_unreadable_prefs_file_is_started_over(tmp_path: Path) -> None:
    from groupchat.tui.prefs import Prefs, load_prefs, save_prefs

    kept = tmp_path / "tui.json"
    kept.write_text("{not json")
    assert load_prefs(kept) == Prefs()
    save_prefs(kept, Prefs(theme="nord"), typed=["x"] * 600)
    loaded = load_prefs(kept)
    assert loaded.theme == "nord" and len(loaded.history) == 500
