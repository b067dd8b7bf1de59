"""The conversation pane: a window of entry views over the model's full list of entries.

At most :attr:`Conversation.window` views, holding at most :attr:`Conversation.budget`
characters of text, are mounted. While the reader follows the end, new entries are mounted at
the bottom and the oldest views removed; scrolling to the top of the window mounts the batch
before it (and drops views at the far end), scrolling to its bottom mounts the batch after it,
keeping what the reader sees in place. The entries themselves all stay in the model, so any of
them comes back when scrolled to.

It follows new messages unless the reader has scrolled up (Textual's anchor); reaching the
bottom again, with every entry mounted, follows again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, TypeAlias

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll

from groupchat.tui.model import ChatScreenState, Entry, MessageEntry
from groupchat.tui.widgets.message import MAX_SHOWN, MessageView, NoteView
from groupchat.tui.widgets.text import Clock, colour_of, local_clock

__all__ = ["Conversation", "EntryView"]

EntryView: TypeAlias = MessageView | NoteView

WINDOW = 60
"""Entry views mounted at most: a few screens' worth."""

BATCH = 20
"""Entries mounted at once when the reader scrolls past an edge of the window."""

TEXT_BUDGET = 2 * MAX_SHOWN
"""Characters of text the mounted views hold at most (a longest message and then some), so
that a window of long messages mounts fewer of them: every rendered line costs the app memory
and the garbage collector time."""


def _weight(entry: Entry) -> int:
    if isinstance(entry, MessageEntry):
        return min(entry.length, MAX_SHOWN) + 80 * len(entry.tools) + 80
    return len(entry.text) + 80


class Conversation(VerticalScroll, can_focus=True):
    """The messages and notes of the chat, newest at the bottom."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "jump_start", "First message", show=False),
        Binding("end", "jump_end", "Latest", show=False),
    ]

    def __init__(
        self,
        model: ChatScreenState,
        *,
        clock: Clock = local_clock,
        window: int = WINDOW,
        batch_size: int = BATCH,
        budget: int = TEXT_BUDGET,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        if window < 2 * batch_size:
            raise ValueError("the window must hold at least two batches")
        self.model = model
        self.clock = clock
        self.window = window
        self.batch_size = batch_size
        self.budget = budget
        self._views: list[EntryView] = []
        self._lo = 0
        self._busy = False
        self._again = False
        self._edges_queued = False
        self._restoring = False
        self._jumps = 0  # a view put back after a jump would undo it
        self._heading = 0  # which way the reader last scrolled: -1 up, 1 down

    # ------------------------------------------------------------------ state

    @property
    def mounted_range(self) -> range:
        """The entries that have a view now."""
        return range(self._lo, self._lo + len(self._views))

    @property
    def views(self) -> list[EntryView]:
        return list(self._views)

    @property
    def following(self) -> bool:
        """New entries scroll into view (the reader has not scrolled up)."""
        return self.is_anchored and not self._anchor_released

    @property
    def unseen(self) -> int:
        """Messages after the last mounted entry (arrived while the reader looked elsewhere)."""
        entries = self.model.entries
        return sum(1 for e in entries[self._lo + len(self._views) :] if isinstance(e, MessageEntry))

    @property
    def settled(self) -> bool:
        """No window change is being mounted and every message view has all its text."""
        if self._busy:
            return False
        return all(view.settled for view in self._views if isinstance(view, MessageView))

    def view_of(self, index: int) -> EntryView | None:
        if index in self.mounted_range:
            return self._views[index - self._lo]
        return None

    def on_mount(self) -> None:
        self.anchor()

    # ------------------------------------------------------------------ building views

    def _view(self, entry: Entry) -> EntryView:
        model = self.model
        if isinstance(entry, MessageEntry):
            member = model.members.get(entry.sender)
            colour = colour_of(member.colour) if member is not None else "#888888"
            # With several people at this terminal, the names say who; all of them were typed here.
            me = model.me if len(model.here) <= 1 else None
            mine = model.is_here(entry.sender)
            return MessageView(entry, colour, me=me, mine=mine, clock=self.clock)
        member = model.members.get(entry.who) if entry.who is not None else None
        return NoteView(entry, colour_of(member.colour) if member else None, clock=self.clock)

    async def _mount_at_end(self, stop: int) -> None:
        start = self._lo + len(self._views)
        views = [self._view(e) for e in self.model.entries[start:stop]]
        if views:
            self._views.extend(views)
            await self.mount_all(views)

    async def _drop(self, views: list[EntryView]) -> None:
        if views:
            await self.remove_children(views)

    async def _rebuild(self, start: int) -> None:
        """Replace every view with a fresh window starting at entry ``start``."""
        old = self._views
        self._views = []
        self._lo = start
        await self._drop(old)
        await self._mount_at_end(self._fill_from(start))

    def _fill_from(self, start: int, count: int = 0, weight: int = 0) -> int:
        """Where a window that holds ``count`` views of ``weight`` and goes on from entry
        ``start`` ends, within the window's size and text budget (at least one entry more)."""
        entries = self.model.entries
        stop = start
        while stop < len(entries) and count < self.window:
            weight += _weight(entries[stop])
            if weight > self.budget and stop > start:
                break
            stop += 1
            count += 1
        return stop

    def _tail_start(self, total: int) -> int:
        """Where a window that ends with the last entry starts."""
        entries = self.model.entries
        start, weight = total, 0
        while start > 0 and total - start < self.window:
            weight += _weight(entries[start - 1])
            if weight > self.budget and start < total:
                break
            start -= 1
        return start

    def _excess(self, *, front: bool) -> int:
        """How many views to drop (from the top, or from the bottom) to fit the window."""
        views = self._views if front else self._views[::-1]
        drop = max(0, len(views) - self.window)
        weight = sum(_weight(v.entry) for v in views[drop:])
        while drop < len(views) - 1 and weight > self.budget:
            weight -= _weight(views[drop].entry)
            drop += 1
        return drop

    async def _trim_front(self) -> None:
        excess = self._excess(front=True)
        if excess > 0:
            dropped, self._views = self._views[:excess], self._views[excess:]
            self._lo += excess
            await self._drop(dropped)

    # ------------------------------------------------------------------ keeping up

    async def sync(self) -> None:
        """Catch up with the model: mount what should show, update views of changed entries."""
        if self._busy:
            self._again = True
            return
        self._busy = True
        try:
            while True:
                self._again = False
                await self._catch_up()
                if not self._again:
                    break
        finally:
            self._busy = False

    async def _catch_up(self) -> None:
        dirty = self.model.drain()
        total = len(self.model.entries)
        hi = self._lo + len(self._views)
        if self.following or not self._views:
            if total - hi > self.window:
                await self._rebuild(self._tail_start(total))
            else:
                if total > hi:
                    await self._mount_at_end(total)
                await self._trim_front()
        elif total > hi:
            weight = sum(_weight(v.entry) for v in self._views)
            stop = self._fill_from(hi, len(self._views), weight)
            if stop > hi and (weight < self.budget or not self._views):
                await self._mount_at_end(stop)
        lo, views = self._lo, self._views
        for index in dirty:
            if lo <= index < lo + len(views):
                views[index - lo].refresh_entry()

    async def reset(self) -> None:
        """Drop every view (the model was reset) and follow the end again."""
        old, self._views, self._lo = self._views, [], 0
        await self._drop(old)
        self.anchor()

    # ------------------------------------------------------------------ scrolling

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._restoring or round(old) == round(new):
            return
        self._heading = 1 if new > old else -1
        if not self._edges_queued:
            self._edges_queued = True
            self.call_after_refresh(self._at_edge)

    async def _at_edge(self) -> None:
        """Load the batch the reader is scrolling towards, once within a screen of that edge.

        Only the reader's own direction counts: putting the view back in place after a batch
        was mounted above moves the scroll offset down, and taking that for the reader
        scrolling down would load the batch after, then the one before, without end."""
        self._edges_queued = False
        if self._busy or not self._views:
            return
        total = len(self.model.entries)
        near = max(1, self.size.height)  # start loading a screen before the edge
        if self._heading < 0 and self.scroll_y <= near and self._lo > 0:
            await self._guarded(self._load_before)
        elif (
            self._heading > 0
            and self.scroll_y >= self.max_scroll_y - near
            and self._lo + len(self._views) < total
        ):
            await self._guarded(self._load_after)
        elif self.scroll_y >= self.max_scroll_y - 1 and not self.is_anchored:
            self.anchor()

    async def _guarded(self, change: Callable[[], Awaitable[None]]) -> None:
        self._busy = True
        try:
            await change()
        finally:
            self._busy = False
        if self._again:
            await self.sync()

    def _pin(self) -> Callable[[], None]:
        """Remember where the first visible view is on screen; the callable puts it back."""
        top = self.scroll_y
        pinned: EntryView | None = None
        for view in self._views:
            if view.virtual_region.bottom > top:
                pinned = view
                break
        if pinned is None:
            return lambda: None
        offset = pinned.virtual_region.y - top
        shown = pinned
        jumps = self._jumps

        def restore() -> None:
            if shown.is_attached and jumps == self._jumps and not self.following:
                self._restoring = True
                try:
                    self.scroll_to(y=shown.virtual_region.y - offset, animate=False, immediate=True)
                finally:
                    self._restoring = False

        return restore

    async def _load_before(self) -> None:
        """Mount the batch of entries before the window, drop views beyond it at the end."""
        start = max(0, self._lo - self.batch_size)
        views = [self._view(e) for e in self.model.entries[start : self._lo]]
        restore = self._pin()
        self.anchor(False)
        await self.mount_all(views, before=self._views[0])
        self._views[0:0] = views
        self._lo = start
        excess = self._excess(front=False)
        if excess > 0:
            dropped, self._views = self._views[-excess:], self._views[:-excess]
            await self._drop(dropped)
        self.call_after_refresh(restore)

    async def _load_after(self) -> None:
        """Mount the batch of entries after the window, drop views before it at the top."""
        total = len(self.model.entries)
        stop = min(total, self._lo + len(self._views) + self.batch_size)
        restore = self._pin()
        await self._mount_at_end(stop)
        await self._trim_front()
        self.call_after_refresh(restore)
        if stop == total:
            self.call_after_refresh(self._follow_if_at_end)

    def _follow_if_at_end(self) -> None:
        if self.scroll_y >= self.max_scroll_y - 1 and self._lo + len(self._views) == len(
            self.model.entries
        ):
            self.anchor()

    # Keys scroll at once: a smooth scroll that goes on while the window changes under it
    # would land in the wrong place.

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_scroll_up(self) -> None:
        self.scroll_up(animate=False)

    def action_scroll_down(self) -> None:
        self.scroll_down(animate=False)

    async def action_jump_start(self) -> None:
        """Show the first entries of the chat."""
        self._jumps += 1
        self.anchor(False)
        await self._guarded(lambda: self._rebuild(0))
        self.scroll_home(animate=False, immediate=True)

    async def action_jump_end(self) -> None:
        """Show the latest entries and follow new ones."""
        self._jumps += 1
        total = len(self.model.entries)
        if self._lo + len(self._views) < total:
            await self._guarded(lambda: self._rebuild(self._tail_start(total)))
        self.anchor()
