"""A chat's events as Markdown, for reading and code review.

Every message body sits in a code fence longer than any backtick run inside it and every other
piece of text is one escaped line, so nothing a participant writes can add headings, lists,
links or HTML to the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from groupchat.events import ChatEnded, EventBase
from groupchat.transcripts.digest import (
    Digest,
    Failure,
    Note,
    Said,
    Tool,
    digest,
)
from groupchat.transcripts.export_text import (
    ICONS,
    SUMMARY_LIMIT,
    arguments,
    clock,
    one_line,
    rows,
    stamp,
    tokens,
    visible,
)

__all__ = ["to_markdown"]


_MD_ESCAPE = re.compile(r"([\\`*_\[\]<>&~|#!])")
_BACKTICKS = re.compile(r"`+")


def _md(text: str, limit: int | None = None) -> str:
    """One line of text, escaped so Markdown shows it as written (never at a line's start)."""
    return _MD_ESCAPE.sub(r"\\\1", one_line(text, limit))


def _md_code(text: str, limit: int | None = None) -> str:
    """An inline code span that no backtick run inside ``text`` can close early."""
    one = one_line(text, limit)
    longest = max((len(run) for run in _BACKTICKS.findall(one)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if one.startswith("`") or one.endswith("`") or not one else ""
    return f"{ticks}{pad}{one}{pad}{ticks}"


def _fence(text: str) -> str:
    """A fenced block holding ``text`` as-is: its fence is longer than any backtick run in it."""
    body = visible(text)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    if not body.endswith("\n"):
        body += "\n"
    return f"{fence}text\n{body}{fence}"


def to_markdown(events: Iterable[EventBase]) -> str:
    """The chat as a Markdown document: title, participants, the conversation, a summary."""
    d = digest(events)
    out: list[str] = [f"# {_md(d.title)}", ""]
    if d.task:
        out += [f"**Task:** {_md(d.task, 300)}", ""]
    facts = []
    if d.chat_id is not None:
        facts.append(f"chat {_md_code(d.chat_id)}")
    if d.started is not None:
        facts.append(f"started {stamp(d.started)}")
    if d.policy:
        facts.append(f"policy {_md_code(d.policy)}")
    if d.termination:
        facts.append(f"ends on {_md_code(d.termination)}")
    if facts:
        out += [" · ".join(facts), ""]

    out += ["## Participants", ""]
    for person in d.people.values():
        kind = "human" if person.human else person.kind
        line = f"- **{_md(person.name)}** ({_md(kind)})"
        if person.description:
            line += f" — {_md(person.description)}"
        out.append(line)
    if not d.people:
        out.append("*nobody*")
    out += ["", "## Conversation", ""]
    for entry in d.entries:
        out += _md_entry(d, entry)
    if not d.entries:
        out += ["*no events*", ""]
    out += _md_summary(d)
    return "\n".join(out).rstrip("\n") + "\n"


def _md_entry(d: Digest, entry: object) -> list[str]:
    if isinstance(entry, Said):
        message = entry.message
        head = [_md(message.sender), clock(entry.time)]
        person = d.people.get(message.sender)
        if person is not None and person.human:
            head.append("human")
        if message.kind != "turn":
            head.append(message.kind)
        if message.interrupted:
            head.append("⚠ interrupted")
        if entry.unfinished:
            head.append("⚠ unfinished (never posted)")
        if message.usage is not None:
            head.append(f"{message.usage.total_tokens} tokens")
        return [f"### {' · '.join(head)}", "", _fence(message.content), ""]
    if isinstance(entry, Note):
        who = f"**{_md(entry.who)}** " if entry.who else ""
        return [f"*{ICONS.get(entry.kind, '·')} {who}{_md(entry.text)}*", ""]
    if isinstance(entry, Tool):
        line = f"- 🔧 **{_md(entry.sender)}** "
        if entry.arguments is not None:
            line += (
                f"called {_md_code(entry.name)} with {_md_code(arguments(entry), SUMMARY_LIMIT)}"
            )
        else:
            line += f"got a result of {_md_code(entry.name)}"
        if entry.result is not None:
            verdict = "error" if entry.is_error else "result"
            line += f" → {verdict} {_md_code(entry.result, SUMMARY_LIMIT)}"
        return [line, ""]
    if isinstance(entry, Failure):
        where = f" in {_md(entry.participant)}" if entry.participant else ""
        detail = f" ({_md(entry.detail)})" if entry.detail else ""
        fatal = "fatal error" if entry.fatal else "error"
        return [f"> **{fatal}**{where}{detail} at {clock(entry.time)}: {_md(entry.error)}", ""]
    if isinstance(entry, ChatEnded):
        return [
            f"### Chat ended · {clock(entry.time)}",
            "",
            f"**{entry.status}**: {_md(entry.reason)} — {entry.messages} messages, "
            f"tokens {tokens(entry.usage)} ({entry.usage.total_tokens} total)",
            "",
        ]
    return []


def _md_summary(d: Digest) -> list[str]:
    out = ["## Summary", ""]
    if d.end is not None:
        end = d.end
        out += [
            f"Ended **{end.status}**: {_md(end.reason)}. {end.messages} messages; tokens "
            f"{tokens(end.usage)} ({end.usage.total_tokens} total).",
            "",
        ]
    else:
        out += ["*The chat has not ended (or this is part of its log).*", ""]
    out += [
        "| speaker | messages | skipped turns | tool calls | input tokens | output tokens |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in rows(d):
        s = d.stats.get(name)
        if s is None:
            out.append(f"| {_md(name)} | 0 | 0 | 0 | 0 | 0 |")
            continue
        out.append(
            f"| {_md(name)} | {s.messages} | {s.skipped} | {s.tool_calls} "
            f"| {s.usage.input_tokens} | {s.usage.output_tokens} |"
        )
    out.append("")
    speakers = d.speakers
    if d.transitions:
        out += ["### Who spoke after whom", "", "Rows: who spoke; columns: who spoke next.", ""]
        out.append("| | " + " | ".join(_md(name) for name in speakers) + " |")
        out.append("|---|" + "---:|" * len(speakers))
        for before in speakers:
            cells = [str(d.transitions.get((before, after), 0)) for after in speakers]
            out.append(f"| **{_md(before)}** | " + " | ".join(cells) + " |")
        out.append("")
    return out
