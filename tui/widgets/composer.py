"""The input: a multi-line editor with history, completion of commands and @mentions, and hints.

Enter sends (Ctrl+J, Shift+Enter or Alt+Enter start a new line); Up and Down on the first or
last line walk through what was sent before; Tab (or Enter on a suggestion) completes. While
suggestions show, Up and Down choose among them and Escape hides them, except on a line
recalled from the history: there Up and Down keep walking it (Tab still completes). Keys come
faster than the suggestions follow them, so Enter and Tab first bring them up to date: Enter
never takes a suggestion made for an older text. The border says whose turn it is and, for a
command being typed, its usage and help.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from groupchat.tui.commands import COMMANDS, Command
from groupchat.tui.completion import Suggestion, command_hint, suggest
from groupchat.tui.widgets.text import styled

__all__ = ["DEFAULT_HINT", "Composer", "ComposerBox"]

DEFAULT_HINT = "Enter send · Ctrl+J new line · ↑↓ history · Tab complete · @name mention · /help"

_NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})


class Composer(TextArea):
    """The editor itself; :class:`ComposerBox` around it does completion and history."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "scroll_conversation(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_conversation(1)", "Scroll down", show=False),
    ]

    def __init__(self, box: ComposerBox, *, blink: bool = True) -> None:
        super().__init__(id="composer", soft_wrap=True, tab_behavior="focus")
        self.box = box
        self.cursor_blink = blink

    async def _on_key(self, event: events.Key) -> None:
        if self.box.intercept_key(event.key):
            event.stop()
            event.prevent_default()
            return
        if event.key in _NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def update_suggestion(self) -> None:
        self.suggestion = self.box.inline_suggestion()

    def action_scroll_conversation(self, direction: int) -> None:
        conversation = self.screen.query_one("#conversation")
        if direction < 0:
            conversation.scroll_page_up(animate=False)
        else:
            conversation.scroll_page_down(animate=False)


class ComposerBox(Vertical):
    """Suggestions above the editor; posts :class:`Submitted` with each line sent."""

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Jump(Message):
        """Home or End pressed in the empty input: the conversation's first or latest."""

        def __init__(self, to: str) -> None:
            super().__init__()
            self.to = to

    def __init__(
        self,
        *,
        names: Callable[[], Sequence[str]] = list,
        values: Callable[[], Mapping[str, Iterable[str]]] = dict,
        commands: Mapping[str, Command] = COMMANDS,
        descriptions: Callable[[], Mapping[str, str]] = dict,
        hint: str = DEFAULT_HINT,
        blink: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.names = names
        self.values = values
        self.commands = commands
        self.descriptions = descriptions
        self.hint = hint
        self.history: list[str] = []
        self._history_at: int | None = None
        self._draft = ""
        self._recalled: str | None = None  # the history line in the editor, until it is edited
        self._suggestions: list[Suggestion] = []
        self._suggested_for: str | None = None  # the text before the cursor they were made for
        self._title = "message"
        self._blink = blink

    def compose(self) -> ComposeResult:
        yield OptionList(id="suggestions")
        yield Composer(self, blink=self._blink)

    def on_mount(self) -> None:
        options = self.query_one("#suggestions", OptionList)
        options.display = False
        options.can_focus = False  # a click picks a suggestion without leaving the editor
        self.set_title("message")
        self._update_hint()

    @property
    def editor(self) -> Composer:
        return self.query_one(Composer)

    @property
    def suggestions(self) -> list[Suggestion]:
        return list(self._suggestions)

    # ------------------------------------------------------------------ titles

    def set_title(self, title: str, *, turn: bool = False) -> None:
        """The editor's border title (our own text, never chat text) and turn highlight."""
        if title == self._title and turn == self.has_class("-turn") and self.editor.border_title:
            return
        self._title = title
        editor = self.editor
        editor.border_title = escape(title)
        editor.set_class(turn, "-turn")
        self.set_class(turn, "-turn")

    def _update_hint(self) -> None:
        hint = command_hint(self.editor.text, commands=self.commands) or self.hint
        self.editor.border_subtitle = Content(hint)  # shown as is: "/as [PERSON]" keeps "[PERSON]"

    # ------------------------------------------------------------------ completion

    def _before_cursor(self) -> str:
        editor = self.editor
        return editor.get_text_range((0, 0), editor.cursor_location)

    def _is_recalled(self) -> bool:
        """Whether the editor holds a line just recalled from the history, unedited."""
        return self._recalled is not None and self.editor.text == self._recalled

    def _refresh_suggestions(self) -> None:
        editor = self.editor
        at_end = editor.cursor_location == editor.document.end
        before = self._before_cursor()
        self._suggested_for = before
        found = (
            suggest(
                before,
                self.names(),
                values=self.values(),
                commands=self.commands,
                descriptions=self.descriptions(),
            )
            if editor.has_focus and at_end and not self._is_recalled()
            else []
        )
        self._suggestions = found
        options = self.query_one("#suggestions", OptionList)
        options.display = bool(found)
        if found:
            options.set_options(
                Option(Content.assemble(styled(s.label, "bold"), "  ", styled(s.help, "dim")))
                for s in found
            )
            options.highlighted = 0

    def inline_suggestion(self) -> str:
        """The rest of the first suggestion, shown greyed after the cursor (→ takes it)."""
        if not self._suggestions:
            return ""
        first = self._suggestions[0]
        typed = self._before_cursor()[len(self._before_cursor()) - first.replace :]
        return first.text[len(typed) :] if first.text.startswith(typed) else ""

    def _accept(self) -> bool:
        options = self.query_one("#suggestions", OptionList)
        if not self._suggestions or options.highlighted is None:
            return False
        chosen = self._suggestions[options.highlighted]
        editor = self.editor
        row, column = editor.cursor_location
        editor.replace(chosen.text, (row, column - chosen.replace), (row, column))
        return True

    def _catch_up(self) -> bool:
        """Bring the suggestions up to the text now typed (keys may have come faster than they
        followed). ``True`` if the highlighted one is still offered, and highlighted again."""
        if self._suggested_for == self._before_cursor():
            return True
        options = self.query_one("#suggestions", OptionList)
        was = options.highlighted
        chosen = self._suggestions[was] if self._suggestions and was is not None else None
        self._refresh_suggestions()
        texts = [s.text for s in self._suggestions]
        if chosen is None or chosen.text not in texts:
            return False
        options.highlighted = texts.index(chosen.text)
        return True

    def _would_change(self) -> bool:
        options = self.query_one("#suggestions", OptionList)
        if not self._suggestions or options.highlighted is None:
            return False
        chosen = self._suggestions[options.highlighted]
        typed = self._before_cursor()[-chosen.replace :] if chosen.replace else ""
        return _bare(chosen.text) != _bare(typed)

    def hide_suggestions(self) -> None:
        self._suggestions = []
        self._suggested_for = None
        self.query_one("#suggestions").display = False
        self.editor.suggestion = ""

    # ------------------------------------------------------------------ keys

    def intercept_key(self, key: str) -> bool:
        """Keys the box takes before the editor does; ``True`` if handled."""
        options = self.query_one("#suggestions", OptionList)
        recalled = self._is_recalled()
        if recalled and key == "tab":  # complete the recalled line after all
            self._recalled = None
            self._refresh_suggestions()
            return self._accept()
        showing = bool(self._suggestions) and options.display and not recalled
        if showing and key in ("up", "down", "tab"):
            self._catch_up()
            showing = bool(self._suggestions)
        if showing and key in ("up", "down"):
            if key == "up":
                options.action_cursor_up()
            else:
                options.action_cursor_down()
            return True
        if showing and key == "escape":
            self.hide_suggestions()
            return True
        if showing and key == "tab":
            return self._accept()
        if key == "enter":
            if showing and self._catch_up() and self._would_change():
                return self._accept()
            self.submit()
            return True
        editor = self.editor
        if key in ("home", "end") and not editor.text:
            self.post_message(self.Jump("start" if key == "home" else "end"))
            return True
        if key == "up" and editor.cursor_location[0] == 0 and self.history:
            self._walk(-1)
            return True
        last_line = editor.cursor_location[0] == editor.document.line_count - 1
        if key == "down" and self._history_at is not None and last_line:
            self._walk(1)
            return True
        return False

    def _walk(self, step: int) -> None:
        if self._history_at is None:
            if step > 0:
                return
            self._draft = self.editor.text
            self._history_at = len(self.history)
        position = self._history_at + step
        if position < 0:
            return
        editor = self.editor
        if position >= len(self.history):
            self._history_at = None
            self._recalled = None
            editor.load_text(self._draft)
        else:
            self._history_at = position
            self._recalled = self.history[position]
            editor.load_text(self._recalled)
        editor.move_cursor(editor.document.end)
        self.hide_suggestions()

    def submit(self) -> None:
        """Send what is typed (a blank line too: on your turn it passes)."""
        editor = self.editor
        text = editor.text
        if text.strip() and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._history_at = None
        self._recalled = None
        self._draft = ""
        editor.load_text("")
        self.hide_suggestions()
        self.post_message(self.Submitted(text))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._refresh_suggestions()
        self.editor.update_suggestion()
        self._update_hint()

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        event.stop()
        self._refresh_suggestions()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._accept()
        self.editor.focus()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if event.widget is self.editor:
            self.hide_suggestions()


def _bare(word: str) -> str:
    """A word as completion compares it: no ``@``, any case, no trailing space."""
    return word.strip().lstrip("@").lower()
