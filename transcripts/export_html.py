"""A chat's events as one self-contained HTML page (inline CSS, a strict content policy, no
script). Messages show their Markdown rendered (:mod:`.markdown_html`: raw HTML in them is
escaped, no image is loaded, only web and mail links are links); everything else from the
events passes through ``html.escape``."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable

from groupchat.events import MANAGER, ChatEnded, EventBase
from groupchat.transcripts.digest import (
    Digest,
    Failure,
    Note,
    Person,
    Said,
    Tool,
    digest,
)
from groupchat.transcripts.export_text import (
    ICONS,
    SUMMARY_LIMIT,
    clock,
    one_line,
    rows,
    stamp,
    tokens,
    total_usage,
    visible,
)
from groupchat.transcripts.markdown_html import markdown_html

__all__ = ["PALETTE", "to_html"]


PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
)
"""Speaker colours, given out in order of appearance (and again from the start after ten)."""

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem;
       color: #1d1d1f; background: #fbfbfd; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta, .note, .time { color: #666; font-size: .85rem; }
.task { font-size: 1.05rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.who { font-weight: 600; color: var(--c, #555); }
.people li { margin: .2rem 0; }
.msg { border-left: 4px solid var(--c, #999); background: #fff; margin: .6rem 0;
       padding: .4rem .8rem; border-radius: 0 6px 6px 0; box-shadow: 0 1px 2px #0001; }
.msg header { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0 0; font: inherit; }
.text.md { white-space: normal; }
.text.md > :first-child { margin-top: 0; } .text.md > :last-child { margin-bottom: 0; }
.text.md p, .text.md ul, .text.md ol, .text.md pre, .text.md table { margin: .4rem 0; }
.text.md pre { white-space: pre-wrap; background: #f3f3f6; padding: .4rem .6rem; }
.text.md code { background: #f3f3f6; padding: 0 .2rem; }
.text.md blockquote { margin: .4rem 0; padding-left: .8rem; border-left: 3px solid #ddd; }
.msg.task { background: #f3f3f6; }
.msg.interrupted { border-left-style: dashed; }
.badge { font-size: .75rem; padding: 0 .4rem; border-radius: 9px; background: #eee; color: #333; }
.badge.human { background: #e6f4ea; color: #1e6b34; }
.badge.warn { background: #fdecea; color: #a3261c; }
.note { margin: .25rem 0 .25rem 1rem; font-style: italic; overflow-wrap: anywhere; }
details.tool { margin: .3rem 0 .3rem 1rem; font-size: .9rem; }
details.tool summary { cursor: pointer; overflow-wrap: anywhere; }
details.tool pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f3f3f6;
                   padding: .4rem; margin: .3rem 0; }
details.tool.error summary { color: #a3261c; }
.error { border-left: 4px solid #a3261c; background: #fdecea; padding: .4rem .8rem;
         overflow-wrap: anywhere; }
.end { border: 1px solid #ccc; border-radius: 6px; padding: .4rem .8rem; margin: 1rem 0;
       background: #fff; overflow-wrap: anywhere; }
.end.bad { border-color: #a3261c; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .2rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.zero { color: #bbb; }
caption { caption-side: top; text-align: left; color: #666; font-size: .85rem; }
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _h(text: str) -> str:
    """Event text made safe for HTML: control characters visible, then fully escaped."""
    return html.escape(visible(text), quote=True)


def _h_line(text: str, limit: int | None = None) -> str:
    return html.escape(one_line(text, limit), quote=True)


def _colour(d: Digest, name: str | None) -> str:
    """The ``style`` attribute giving ``name`` its speaker colour (from a fixed palette only)."""
    person = d.people.get(name) if name is not None else None
    if person is None:
        return ' style="--c:#555"'
    return f' style="--c:{PALETTE[person.colour % len(PALETTE)]}"'


def _who(d: Digest, name: str) -> str:
    return f'<span class="who"{_colour(d, name)}>{_h_line(name)}</span>'


def to_html(events: Iterable[EventBase]) -> str:
    """The chat as one self-contained HTML page: inline CSS, no scripts, no external resources."""
    d = digest(events)
    title = d.title + (f" — {one_line(d.task, 80)}" if d.task else "")
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h_line(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_h_line(d.title)}</h1>",
    ]
    if d.task:
        out.append(f'<p class="task">{_h(d.task)}</p>')
    facts = []
    if d.chat_id is not None:
        facts.append(f"chat <code>{_h_line(d.chat_id)}</code>")
    if d.started is not None:
        facts.append(f"started {stamp(d.started)}")
    if d.policy:
        facts.append(f"policy <code>{_h_line(d.policy)}</code>")
    if d.termination:
        facts.append(f"ends on <code>{_h_line(d.termination)}</code>")
    if facts:
        out.append(f'<p class="meta">{" · ".join(facts)}</p>')
    out += ["</header>", "<section>", "<h2>Participants</h2>", '<ul class="people">']
    for person in d.people.values():
        out.append(_html_person(d, person))
    out += ["</ul>", "</section>", "<main>", "<h2>Conversation</h2>"]
    for entry in d.entries:
        out.append(_html_entry(d, entry))
    if not d.entries:
        out.append('<p class="note">No events.</p>')
    out += ["</main>", *_html_summary(d), "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_person(d: Digest, person: Person) -> str:
    badge = (
        '<span class="badge human">human</span>'
        if person.human
        else f'<span class="badge">{_h_line(person.kind)}</span>'
    )
    description = f" — {_h_line(person.description)}" if person.description else ""
    return f"<li>{_who(d, person.name)} {badge}{description}</li>"


def _html_entry(d: Digest, entry: object) -> str:
    if isinstance(entry, Said):
        return _html_message(d, entry)
    if isinstance(entry, Note):
        who = f"{_who(d, entry.who)} " if entry.who else ""
        icon = html.escape(ICONS.get(entry.kind, "·"))
        return f'<p class="note">{icon} {who}{_h_line(entry.text)}</p>'
    if isinstance(entry, Tool):
        return _html_tool(d, entry)
    if isinstance(entry, Failure):
        where = f" in {_who(d, entry.participant)}" if entry.participant else ""
        detail = f" ({_h_line(entry.detail)})" if entry.detail else ""
        fatal = "Fatal error" if entry.fatal else "Error"
        return (
            f'<div class="error"><strong>{fatal}</strong>{where}{detail} '
            f'<span class="time">{clock(entry.time)}</span><div class="text">{_h(entry.error)}'
            "</div></div>"
        )
    if isinstance(entry, ChatEnded):
        bad = " bad" if entry.status in ("error", "cancelled") else ""
        return (
            f'<section class="end{bad}"><strong>Chat ended: {_h_line(entry.status)}</strong> '
            f'<span class="time">{clock(entry.time)}</span><div>{_h_line(entry.reason)}</div>'
            f'<div class="meta">{entry.messages} messages · tokens {tokens(entry.usage)} '
            f"({entry.usage.total_tokens} total)</div></section>"
        )
    return ""


def _html_message(d: Digest, said: Said) -> str:
    message = said.message
    classes = ["msg"]
    badges: list[str] = []
    person = d.people.get(message.sender)
    if person is not None and person.human:
        badges.append('<span class="badge human">human</span>')
    if message.kind == "task":
        classes.append("task")
        badges.append('<span class="badge">task</span>')
    elif message.kind == "interjection":
        badges.append('<span class="badge">interjection</span>')
    if message.interrupted:
        classes.append("interrupted")
        badges.append('<span class="badge warn">interrupted</span>')
    if said.unfinished:
        classes.append("interrupted")
        badges.append('<span class="badge warn">unfinished (never posted)</span>')
    if message.usage is not None:
        usage = message.usage
        badges.append(f'<span class="badge">{usage.total_tokens} tokens ({tokens(usage)})</span>')
    colour = _colour(d, message.sender) if message.sender != MANAGER else ' style="--c:#999"'
    return (
        f'<article class="{" ".join(classes)}"{colour}><header>'
        f'<span class="who">{_h_line(message.sender)}</span> '
        f'<span class="time">{clock(said.time)}</span> {" ".join(badges)}</header>'
        f'<div class="text md">{markdown_html(message.content)}</div></article>'
    )


def _html_tool(d: Digest, tool: Tool) -> str:
    classes = "tool error" if tool.is_error else "tool"
    what = "called" if tool.arguments is not None else "got a result of"
    outcome = ""
    if tool.result is not None:
        verdict = "error" if tool.is_error else "result"
        outcome = f" → {verdict}: {_h_line(tool.result, SUMMARY_LIMIT)}"
    body = []
    if tool.arguments is not None:
        pretty = json.dumps(tool.arguments, ensure_ascii=False, sort_keys=True, indent=2)
        body.append(f"<div>arguments</div><pre>{_h(pretty)}</pre>")
    if tool.result is not None:
        body.append(
            f"<div>{'error' if tool.is_error else 'result'}</div><pre>{_h(tool.result)}</pre>"
        )
    return (
        f'<details class="{classes}"><summary>🔧 {_who(d, tool.sender)} {what} '
        f"<code>{_h_line(tool.name)}</code>{outcome} "
        f'<span class="time">{clock(tool.time)} · call {_h_line(tool.call_id)}</span></summary>'
        f"{''.join(body)}</details>"
    )


def _html_summary(d: Digest) -> list[str]:
    out = ["<section>", "<h2>Summary</h2>"]
    if d.end is not None:
        end = d.end
        out.append(
            f"<p>Ended <strong>{_h_line(end.status)}</strong>: {_h_line(end.reason)}. "
            f"{end.messages} messages; tokens {tokens(end.usage)} "
            f"({end.usage.total_tokens} total).</p>"
        )
    else:
        out.append('<p class="note">The chat has not ended (or this is part of its log).</p>')
    out += [
        '<table class="speakers">',
        "<caption>Messages and token usage per speaker</caption>",
        "<tr><th>speaker</th><th>messages</th><th>skipped turns</th><th>tool calls</th>"
        "<th>input tokens</th><th>output tokens</th><th>total tokens</th></tr>",
    ]
    for name in rows(d):
        s = d.stats.get(name)
        if s is None:
            cells = [0, 0, 0, 0, 0, 0]
        else:
            usage = s.usage
            cells = [
                s.messages,
                s.skipped,
                s.tool_calls,
                usage.input_tokens,
                usage.output_tokens,
                usage.total_tokens,
            ]
        out.append(
            f"<tr><th>{_who(d, name)}</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    total = total_usage(d)
    out += [
        f"<tr><th>total</th><td>{sum(s.messages for s in d.stats.values())}</td>"
        f"<td>{sum(s.skipped for s in d.stats.values())}</td>"
        f"<td>{sum(s.tool_calls for s in d.stats.values())}</td>"
        f"<td>{total.input_tokens}</td><td>{total.output_tokens}</td>"
        f"<td>{total.total_tokens}</td></tr>",
        "</table>",
    ]
    out += _html_matrix(d)
    out.append("</section>")
    return out


def _html_matrix(d: Digest) -> list[str]:
    speakers = d.speakers
    if not d.transitions:
        return ['<p class="note">Nobody spoke after anyone yet.</p>']
    out = [
        '<table class="transitions">',
        "<caption>Who spoke after whom: rows are who spoke, columns who spoke next</caption>",
        "<tr><th>after ↓ · next →</th>" + "".join(f"<th>{_who(d, n)}</th>" for n in speakers),
    ]
    out[-1] += "</tr>"
    for before in speakers:
        cells = []
        for after in speakers:
            count = d.transitions.get((before, after), 0)
            cells.append(f'<td class="zero">{count}</td>' if count == 0 else f"<td>{count}</td>")
        out.append(f"<tr><th>{_who(d, before)}</th>{''.join(cells)}</tr>")
    out.append("</table>")
    return out
