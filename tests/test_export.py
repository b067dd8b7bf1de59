"""Markdown and HTML exports: every event type shows, hostile text stays text, stats add up."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from transcript_chats import ALL_TYPES, Events, rich_chat, rich_events, tool_events

from groupchat.chat import GroupChat
from groupchat.events import (
    MANAGER,
    ChatEnded,
    ChatStarted,
    Event,
    EventBase,
    Handoff,
    HumanInputRequested,
    MessagePosted,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    SeatClaimed,
    SeatReleased,
    SelectorAttempt,
    SpeakerSelected,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import Message, Usage
from groupchat.participant import ChatView
from groupchat.policies import FunctionPolicy
from groupchat.testing import ChatProbe, HumanParticipant, ScriptedAgent
from groupchat.transcripts.digest import digest
from groupchat.transcripts.export import PALETTE, to_html, to_markdown, visible
from groupchat.transcripts.markdown_html import markdown_html

HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(document.cookie)>',
    "[bold]x[/bold] [link=file:///etc/passwd]click[/link]",
    "\x1b[31mred\x1b[0m \x1b]8;;evil\x07link\x1b]8;;\x07",
    "nul\x00byte and bell\x07",
    "x" * 100_000,
    "# Top heading\n## Second\n```\ncode\n```\n~~~\n<div>\n---\n| a | b |\n|---|---|",
    "````` five ticks\n````\n```",
    "[a link](javascript:alert(1)) ![img](//evil.example/x.png) <https://evil.example>",
    "&lt;b&gt; &amp; entities &#x3C;script&#x3E;",
    "\u202eevil bidi\u2066",
    "windows\r\nline\rends",
    "`code` and ``double``",
)


def markdown_tokens(text: str) -> list[Token]:
    """Parse like GitHub does (CommonMark with HTML on, plus tables), flattened."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    flat: list[Token] = []
    for token in tokens:
        flat.append(token)
        flat.extend(token.children or ())
    return flat


def headings(text: str) -> list[tuple[str, str]]:
    tokens = markdown_tokens(text)
    return [
        (tokens[i].tag, tokens[i + 1].content)
        for i, token in enumerate(tokens)
        if token.type == "heading_open"
    ]


def fences(text: str) -> list[str]:
    return [t.content for t in markdown_tokens(text) if t.type == "fence"]


def fenced(content: str) -> str:
    """What a fence holding ``content`` contains once parsed."""
    body = visible(content)
    return body if body.endswith("\n") else body + "\n"


class Page(HTMLParser):
    """Collects the tags, attributes and texts of an HTML page."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []  # the text of each <div class="text">
        self.table_rows: dict[str, list[list[str]]] = {}
        self._text_depth: int | None = None
        self._depth = 0
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in ("meta",):
            return
        self._depth += 1
        if tag == "div" and attributes.get("class") in TEXTS and self._text_depth is None:
            self._text_depth = self._depth
            self.texts.append("")
        if tag == "table":
            self._table = attributes.get("class") or ""
            self.table_rows[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.table_rows[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.table_rows[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None
        if self._text_depth == self._depth:
            self._text_depth = None
            self.texts[-1] = self.texts[-1].strip("\n")  # a rendered message: its text
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._text_depth is not None:
            self.texts[-1] += data
        if self._cell is not None:
            self._cell.append(data)


TEXTS = ("text", "text md")
"""The classes of the blocks of text a page holds: an error's, a message's (Markdown)."""

ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "p",
    "code",
    "section",
    "ul",
    "li",
    "span",
    "main",
    "article",
    "div",
    "details",
    "summary",
    "pre",
    "strong",
    "table",
    "caption",
    "tr",
    "th",
    "td",
    # a message's Markdown, rendered (transcripts/markdown_html.py)
    "a",
    "em",
    "s",
    "ol",
    "blockquote",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "br",
    "thead",
    "tbody",
}
ALLOWED_ATTRIBUTES = {
    "class",
    "style",
    "lang",
    "charset",
    "http-equiv",
    "content",
    "name",
    "href",
    "title",
}
STYLE = re.compile(r"--c:#[0-9a-f]{3,6}|text-align:(left|right|center)")
LINKABLE = re.compile(r"(?i)(https?://|mailto:)")


def md_block(text: str) -> str:
    """How the page holds a message of ``text``: its Markdown rendered by the exporter."""
    return f'<div class="text md">{markdown_html(text)}</div>'


def assert_safe_page(page: str) -> Page:
    """Only the exporter's own tags and attributes, no scripts, nothing fetched from anywhere."""
    parsed = Page(page)
    for tag, attributes in parsed.tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}>"
        assert set(attributes) <= ALLOWED_ATTRIBUTES, f"unexpected attributes on <{tag}>"
        href = attributes.get("href")
        if href is not None:
            assert tag == "a" and LINKABLE.match(href), f"a link to {href!r}"
        style = attributes.get("style")
        if style is not None:
            assert STYLE.fullmatch(style), style
    assert "<script" not in page.lower()
    assert "url(" not in page and "@import" not in page
    assert "\x00" not in page and "\x1b" not in page
    return parsed


def types_of(events: Sequence[EventBase]) -> set[str]:
    return {e.type for e in events}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def rich() -> list[Event]:
    return asyncio.run(rich_events())


# ---------------------------------------------------------------- every event type


def test_the_sample_chat_has_every_event_type(rich: list[Event]) -> None:
    assert types_of(rich) == ALL_TYPES
    assert sum(e.type == "chat_ended" for e in rich) == 2


def test_markdown_shows_every_event_type(rich: list[Event]) -> None:
    md = to_markdown(rich)
    assert md.startswith("# launch crew\n")
    assert "**Task:** Plan the launch" in md
    assert [h for h in headings(md) if h[0] == "h2"] == [
        ("h2", "Participants"),
        ("h2", "Conversation"),
        ("h2", "Summary"),
    ]
    # participants with descriptions; the human is marked
    assert "- **you** (human) — The person at the keyboard." in md
    assert "- **carol** (scripted) — Joins late." in md
    # messages: sender, HH:MM:SS, flags, body in a fence
    assert re.search(r"^### manager · \d\d:\d\d:\d\d · task$", md, re.M)
    assert re.search(r"^### alice · \d\d:\d\d:\d\d · 6 tokens$", md, re.M)
    assert re.search(r"^### you · \d\d:\d\d:\d\d · human · interjection$", md, re.M)
    assert re.search(r"^### gated · \d\d:\d\d:\d\d · ⚠ interrupted$", md, re.M)
    bodies = fences(md)
    for text in ("Hello team, this is the plan.\n", "half a thought \n", "Thanks all.\n"):
        assert text in bodies
    # selections with reasons, skips, joins, leaves, pauses, input requests
    assert "*→ **tooly** speaks next: next in the script: tooly \\[scripted\\_order\\]*" in md
    assert "*⤼ **passer** skipped the turn: nothing to add*" in md
    assert "*⤼ **broken** skipped the turn: failed*" in md
    assert "*+ **carol** joined (scripted): Joins late.*" in md
    assert "*− **carol** left: finished*" in md
    assert "*⏸ **you** paused the chat*" in md and "*▶ **you** resumed the chat*" in md
    assert "*⌨ **you** is asked for their turn: Your turn.*" in md
    # tool calls and results, summarised
    assert '- 🔧 **tooly** called `search` with `{"q": "launch"}` → result `3 hits`' in md
    assert "- 🔧 **tooly** called `deploy` with `{}` → error `denied`" in md
    # errors and both ends of the two runs
    assert "> **error** in failing (turn)" in md and "RuntimeError: boom" in md
    assert "**max\\_turns**" not in md  # statuses are not escaped twice
    assert "**max_turns**: reached 9 turns — 9 messages" in md
    assert "**completed**: alice: script finished — 11 messages, tokens 0 in / 8 out" in md
    assert md.count("### Chat ended · ") == 2
    assert "Ended **completed**: alice: script finished. 11 messages" in md


def test_text_deltas_are_folded_into_their_message(rich: list[Event]) -> None:
    md = to_markdown(rich)
    assert md.count("Hello team, this is the plan.") == 1
    assert "Hello " not in md.replace("Hello team", "")


def test_html_shows_every_event_type(rich: list[Event]) -> None:
    page = to_html(rich)
    parsed = assert_safe_page(page)
    assert "<h1>launch crew</h1>" in page
    assert '<p class="task">Plan the launch</p>' in page
    assert parsed.texts[:2] == ["Plan the launch", "Hello team, this is the plan."]
    assert "half a thought" in parsed.texts  # (rendered: no trailing space)
    # humans, interjections, interrupted messages are marked
    assert page.count('<span class="badge human">human</span>') == 1 + 3  # roster + 3 messages
    assert '<span class="badge">interjection</span>' in page
    assert page.count('<span class="badge warn">interrupted</span>') == 2  # gated, failing
    assert 'class="msg interrupted"' in page
    # selection reasons, skips, membership, pauses, requests
    assert "speaks next: next in the script: tooly [scripted_order]" in page
    assert "skipped the turn: nothing to add" in page
    assert "joined (scripted): Joins late." in page and "left: finished" in page
    assert "paused the chat" in page and "resumed the chat" in page
    assert "is asked for their turn: Your turn." in page
    # tools are collapsible, errors flagged
    assert page.count('<details class="tool">') == 1
    assert page.count('<details class="tool error">') == 1
    assert "<code>search</code> → result: 3 hits" in page
    assert "&quot;q&quot;: &quot;launch&quot;" in page
    # errors and ends
    assert page.count('<div class="error"><strong>Error</strong>') == 2
    assert page.count('<section class="end">') == 2
    assert "<strong>Chat ended: max_turns</strong>" in page
    assert "reached 9 turns" in page and "alice: script finished" in page


def test_html_is_one_self_contained_page(rich: list[Event]) -> None:
    page = to_html(rich)
    assert page.startswith("<!DOCTYPE html>\n<html")
    assert page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "src=" not in page and "href=" not in page
    assert page.count("<style>") == 1
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_speaker_colours_follow_participant_order(rich: list[Event]) -> None:
    page = to_html(rich)
    people = [
        "alice",
        "tooly",
        "you",
        "gated",
        "failing",
        "broken",
        "passer",
        "carol",
    ]
    for index, name in enumerate(people):
        colour = PALETTE[index % len(PALETTE)]
        assert f'<span class="who" style="--c:{colour}">{name}</span>' in page
    assert to_html(rich) == page  # stable


def test_hand_built_tool_events_in_both_exports() -> None:
    events = tool_events()
    md = to_markdown(events)
    assert '- 🔧 **tooly** called `search` with `{"q": "cats"}` → result `12 cats ⏎ more`' in md
    assert '- 🔧 **tooly** called `delete` with `{"all": true}` → error `refused`' in md
    # a part that was never published as an event is still shown
    assert '- 🔧 **tooly** called `summarise` with `{"n": 3}`' in md
    assert md.count("called `search`") == 1  # events and parts are not shown twice
    assert "> **error** in tooly (turn)" in md
    assert "| tooly | 1 | 0 | 3 | 7 | 5 |" in md

    page = to_html(events)
    assert_safe_page(page)
    assert page.count("<details") == 3
    assert "<pre>12 cats\nmore</pre>" in page
    assert "<pre>{\n  &quot;all&quot;: true\n}</pre>" in page
    assert '<details class="tool error">' in page
    assert "<code>summarise</code>" in page


def test_an_unfinished_turn_keeps_its_streamed_text() -> None:
    log = Events()
    log.add(ChatStarted, participants=(ParticipantInfo(name="al"),))
    log.add(TurnStarted, speaker="al", message_id="m1", turn=1)
    log.add(TextDelta, "al", message_id="m1", text="I was about ")
    log.add(TextDelta, "al", message_id="m1", text="to say")
    md = to_markdown(log.events)
    assert "⚠ unfinished (never posted)" in md
    assert "I was about to say\n" in fences(md)
    assert "*The chat has not ended (or this is part of its log).*" in md
    page = to_html(log.events)
    assert "unfinished (never posted)" in page
    assert "I was about to say" in Page(page).texts


def test_a_skipped_turn_drops_its_streamed_text() -> None:
    log = Events()
    log.add(ChatStarted, participants=(ParticipantInfo(name="al"),))
    log.add(TurnStarted, speaker="al", message_id="m1", turn=1)
    log.add(TextDelta, "al", message_id="m1", text="never mind")
    log.add(TurnSkipped, speaker="al", message_id="m1", reason="interrupted")
    md = to_markdown(log.events)
    assert "never mind" not in md and "unfinished" not in md
    assert "skipped the turn: interrupted" in md


def test_selector_attempts_and_handoffs() -> None:
    log = Events()
    log.add(ChatStarted, participants=(ParticipantInfo(name="al"), ParticipantInfo(name="bo")))
    log.add(
        SelectorAttempt,
        policy="llm",
        attempt=1,
        answer="<nobody>",
        accepted=False,
        problem="not a participant",
        usage=Usage(input_tokens=30, output_tokens=2),
    )
    log.add(
        SelectorAttempt,
        policy="llm",
        attempt=2,
        answer="al",
        accepted=True,
        usage=Usage(input_tokens=31, output_tokens=1),
    )
    log.add(Handoff, "al", target="bo", note="your *area*")
    md = to_markdown(log.events)
    assert "*? selector llm, attempt 1: '\\<nobody\\>' rejected: not a participant*" in md
    assert "*? selector llm, attempt 2: 'al' accepted*" in md
    assert "*↪ **al** hands over to bo: your \\*area\\**" in md
    assert "| selector | 0 | 0 | 0 | 61 | 3 |" in md
    page = to_html(log.events)
    assert_safe_page(page)
    assert "selector llm, attempt 1: &#x27;&lt;nobody&gt;&#x27; rejected: not a participant" in page
    assert "hands over to bo: your *area*" in page
    assert Page(page).table_rows["speakers"][-2:] == [
        ["selector", "0", "0", "0", "61", "3", "64"],
        ["total", "0", "0", "0", "61", "3", "64"],
    ]


class PlanUpdated(EventBase):
    """An event type newer than the exporter."""

    type: str = "plan_updated"
    plan: str


def test_an_unknown_event_type_still_shows() -> None:
    log = Events()
    log.add(ChatStarted)
    events: list[Any] = [
        *log.events,
        PlanUpdated(
            chat_id="hand-1", seq=1, time=log.events[0].time, sender="boss", plan="<b>1</b>"
        ),
    ]
    assert 'sent plan\\_updated {"plan": "\\<b\\>1\\</b\\>"}' in to_markdown(events)
    assert "sent plan_updated {&quot;plan&quot;: &quot;&lt;b&gt;1&lt;/b&gt;&quot;}" in to_html(
        events
    )


def test_a_seat_note_names_the_person_once() -> None:
    log = Events()
    log.add(ChatStarted)
    log.add(SeatClaimed, "bob", holder="joined terminal 2")
    log.add(SeatReleased, "bob", holder="joined terminal 2")
    md = to_markdown(log.events)
    assert "**bob** answers from joined terminal 2" in md
    assert "**bob** no longer answers from joined terminal 2" in md
    assert "bob bob" not in md and "bob** bob" not in md


def test_empty_and_partial_logs_export() -> None:
    assert to_markdown([]).startswith("# Group chat\n")
    assert_safe_page(to_html([]))
    events = tool_events()[3:]  # no chat_started: a slice of a log
    md = to_markdown(events)
    assert md.startswith("# Group chat\n") and "called `search`" in md
    assert Page(to_html(events)).texts == ["Here is what I found.", "ValueError: bad"]


# ---------------------------------------------------------------- hostile text


def hostile_events(text: str) -> list[Event]:
    """A hand-built log with ``text`` in every field that holds text."""
    log = Events()
    info = ParticipantInfo(name=text[:200], description=text, kind=text[:50])
    log.add(
        ChatStarted,
        task=text,
        participants=(info,),
        policy=text[:50],
        termination=text[:50],
        metadata={"team": text},
    )
    log.add(ParticipantJoined, participant=ParticipantInfo(name="other", description=text))
    log.add(
        SpeakerSelected,
        speaker=info.name,
        candidates=(info.name,),
        reason=text,
        policy=text[:20],
        turn=1,
    )
    log.add(TurnStarted, speaker=info.name, message_id="m1", turn=1)
    log.add(HumanInputRequested, participant=info.name, prompt=text, choices=(text[:20],))
    log.add(
        ToolCall, info.name, message_id="m1", call_id=text[:9], name=text, arguments={text: text}
    )
    log.add(ToolResult, info.name, message_id="m1", call_id=text[:9], name=text, content=text)
    message = Message(id="m1", sender=info.name, content=text, interrupted=True)
    log.add(MessagePosted, info.name, message=message)
    log.add(
        MessagePosted, MANAGER, message=Message(id="m2", sender=MANAGER, content=text, kind="task")
    )
    log.add(TurnSkipped, speaker="other", message_id="m3", reason=text)
    log.add(Paused, by=text[:30])
    log.add(ParticipantLeft, name="other", reason=text)
    log.add(ChatEnded, reason=text, status="error", messages=2, usage=Usage(output_tokens=3))
    return log.events


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_only_text_in_html(text: str) -> None:
    page = to_html(hostile_events(text))
    assert_safe_page(page)
    assert page.count(md_block(text)) == 2  # the task and the message, Markdown rendered
    assert "<img" not in page and "<div>\n" not in page


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_cannot_break_markdown(text: str) -> None:
    md = to_markdown(hostile_events(text))
    assert "\x00" not in md and "\x1b" not in md and "\r" not in md and "\u202e" not in md
    tokens = markdown_tokens(md)
    kinds = {t.type for t in tokens}
    assert not kinds & {"html_block", "html_inline", "link_open", "image", "hr"}
    # the only headings are the exporter's own; the message bodies are fences, verbatim
    assert [tag for tag, _ in headings(md)] == ["h1", "h2", "h2", "h3", "h3", "h3", "h2"]
    assert fences(md) == [fenced(text), fenced(text)]
    # every table still has its header and rows
    assert sum(t.type == "table_open" for t in tokens) == 1


async def test_hostile_text_from_a_real_chat() -> None:
    for text in HOSTILE:
        chat = await rich_chat(text, task=text)
        events = chat.events()
        md = to_markdown(events)
        assert fenced(text) in fences(md)
        assert [tag for tag, _ in headings(md)].count("h1") == 1
        assert not {t.type for t in markdown_tokens(md)} & {"html_block", "html_inline"}
        page = to_html(events)
        assert_safe_page(page)
        assert page.count(md_block(text)) == 2  # the task and alice's message


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_text_stays_text(text: str) -> None:
    events = hostile_events(text)
    md = to_markdown(events)
    assert fences(md) == [fenced(text), fenced(text)]
    assert [tag for tag, _ in headings(md)] == ["h1", "h2", "h2", "h3", "h3", "h3", "h2"]
    assert not {t.type for t in markdown_tokens(md)} & {"html_block", "html_inline", "link_open"}
    page = to_html(events)
    assert_safe_page(page)
    assert page.count(md_block(text)) == 2


def test_visible_shows_control_characters() -> None:
    assert visible("a\x00b\x1b[31mc\x07\x7f") == "a␀b␛[31mc␇␡"
    assert visible("tab\tnew\nline\r\nend\r") == "tab\tnew\nline\nend␍"
    assert visible("\u202eabc\x85") == "\ufffdabc\ufffd"


# ---------------------------------------------------------------- who spoke after whom


async def known_chat() -> list[Event]:
    """a, b, a, you, b speak in turn; you interject once after the first b."""
    order = ["a", "b", "a", "you", "b"]
    you = HumanParticipant("you")
    a = ScriptedAgent("a", ["one two", "three", "four"], report_usage=True)
    b = ScriptedAgent("b", ["five", "six seven eight"], report_usage=True)

    def pick(view: ChatView, candidates: Sequence[str]) -> str:
        if len(order) == 3:  # after the first b
            you.send("hello")
        return order.pop(0)

    chat = GroupChat([a, b, you], policy=FunctionPolicy(pick), max_turns=5)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("go"))
    await probe.wait_for(HumanInputRequested, participant="you")
    you.send("my turn")
    await asyncio.wait_for(run, 5)
    return chat.events()


async def test_transition_matrix_counts_who_spoke_after_whom() -> None:
    events = await known_chat()
    senders = [e.message.sender for e in events if isinstance(e, MessagePosted)]
    assert senders == [MANAGER, "a", "b", "you", "a", "you", "b"]
    d = digest(events)
    assert d.transitions == {
        ("a", "b"): 1,
        ("b", "you"): 1,
        ("you", "a"): 1,
        ("a", "you"): 1,
        ("you", "b"): 1,
    }

    page = to_html(events)
    rows = Page(page).table_rows["transitions"]
    assert rows[0] == ["after ↓ · next →", "a", "b", "you"]
    assert rows[1:] == [
        ["a", "0", "1", "1"],
        ["b", "0", "0", "1"],
        ["you", "1", "1", "0"],
    ]
    speakers = Page(page).table_rows["speakers"]
    assert speakers[1:] == [
        # speaker, messages, skipped, tool calls, input, output, total tokens
        ["a", "2", "0", "0", "0", "3", "3"],
        ["b", "2", "0", "0", "0", "4", "4"],
        ["you", "2", "0", "0", "0", "0", "0"],
        [MANAGER, "1", "0", "0", "0", "0", "0"],
        ["total", "7", "0", "0", "0", "7", "7"],
    ]

    md = to_markdown(events)
    assert "| **a** | 0 | 1 | 1 |\n| **b** | 0 | 0 | 1 |\n| **you** | 1 | 1 | 0 |" in md
    assert "| a | 2 | 0 | 0 | 0 | 3 |" in md


def test_a_chat_where_nobody_spoke_after_anyone() -> None:
    log = Events()
    log.add(ChatStarted, participants=(ParticipantInfo(name="al"),))
    log.add(ChatEnded, reason="stopped", status="stopped")
    assert "Nobody spoke after anyone yet." in to_html(log.events)
    assert "Who spoke after whom" not in to_markdown(log.events)


def test_participants_named_only_by_their_messages_are_listed() -> None:
    log = Events()
    log.add(ChatStarted)
    log.add(MessagePosted, "ghost", message=Message(id="m1", sender="ghost", content="boo"))
    md = to_markdown(log.events)
    assert "- **ghost** (agent)" in md
    assert html.escape("ghost") in to_html(log.events)


def test_html_renders_a_message_s_markdown_and_only_safe_links() -> None:
    text = (
        "**Bold**, *em*, `code` and ~~gone~~\n\n- one\n- two\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n\n"
        "[site](https://example.org) [bad](javascript:alert(1)) ![pic](https://example.org/x.png)"
    )
    page = to_html(hostile_events(text))
    assert_safe_page(page)
    assert "<strong>Bold</strong>" in page and "<em>em</em>" in page
    assert "<code>code</code>" in page and "<s>gone</s>" in page
    assert "<li>one</li>" in page and '<th style="text-align:right">a</th>' in page
    assert '<a href="https://example.org">site</a>' in page
    assert 'href="javascript' not in page and "[bad](javascript:alert(1))" in page
    assert "<img" not in page and "src=" not in page  # nothing loaded from anywhere
