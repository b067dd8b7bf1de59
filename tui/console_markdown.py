"""Message text as Markdown for the text front-ends (``show``, ``--plain``), rendered by rich.

Agent text is data: it is made safe first (:func:`~groupchat.safe_text.safe_text`: no control
sequences reach the terminal) and is never read as Rich markup: ``[bold]`` stays text. Links
are shown, not made clickable. Rich writes styles only to a terminal, so output piped to a
file or to ``head`` stays plain text.

A message that is one plain paragraph (the most common) keeps the one-line form
``name: text``, its inline Markdown (bold, italics, code, links) styled in place; a message
with blocks (lists, headings, tables, code, several paragraphs) goes under its speaker's name
as rendered Markdown.
"""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.text import Text

from groupchat.safe_text import safe_text

__all__ = ["inline_text", "markdown_lines", "print_markdown"]

_INLINE_STYLES = {"strong": "bold", "em": "italic", "s": "strike", "link": "underline"}


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("strikethrough").enable("table")


def inline_text(text: str) -> Text | None:
    """``text`` as styled :class:`~rich.text.Text` if it is one plain paragraph of inline
    Markdown; ``None`` if it has blocks (then :func:`markdown_lines` renders it)."""
    safe = safe_text(text)
    tokens = _parser().parse(safe)
    if not tokens:
        return Text("")
    if [t.type for t in tokens] != ["paragraph_open", "inline", "paragraph_close"]:
        return None
    out = Text()
    styles: list[str] = []
    links: list[str] = []
    for child in tokens[1].children or ():
        _inline(child, out, styles, links)
    return out


def _inline(token: Token, out: Text, styles: list[str], links: list[str]) -> None:
    """Append ``token`` to ``out``; ``styles`` and ``links`` are those open around it."""
    kind = token.type
    name = kind.rsplit("_", 1)[0]
    if kind.endswith("_open") and name in _INLINE_STYLES:
        styles.append(_INLINE_STYLES[name])
        if name == "link":
            href = token.attrs.get("href") if token.attrs else None
            links.append(href if isinstance(href, str) else "")
    elif kind.endswith("_close") and name in _INLINE_STYLES:
        if styles:
            styles.pop()
        if name == "link" and links:
            href = links.pop()
            if href and not out.plain.endswith(href):
                out.append(f" ({href})", style="dim")
    elif kind == "code_inline":
        out.append(token.content, style="bold cyan")
    elif kind in ("softbreak", "hardbreak"):
        out.append("\n")
    else:  # text, html_inline, an image's words: their own characters, never markup
        out.append(token.content, style=" ".join(styles))


def markdown_lines(text: str) -> RenderableType:
    """``text`` (made safe) rendered as Markdown blocks: lists, headings, tables, code."""
    return Group(Markdown(safe_text(text), hyperlinks=False, code_theme="ansi_dark"))


def print_markdown(console: Console, text: str) -> None:
    """Print ``text`` as Markdown blocks; to a file or a pipe (no styles), as lines of plain
    text without the padding rich adds to fill the width."""
    blocks = markdown_lines(text)
    if console.is_terminal:
        console.print(blocks)
        return
    for line in console.render_lines(blocks, pad=False):
        console.print(Text("".join(segment.text for segment in line).rstrip()), soft_wrap=True)
