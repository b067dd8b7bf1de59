"""A message's Markdown as HTML for the HTML export: rendered, and nothing in it taken as HTML.

Messages are written in Markdown (models answer in it), so the export shows them rendered:
emphasis, lists, code, tables. The text stays data: raw HTML in it is escaped (markdown-it's
``html`` option is off), control characters are made visible first, images are not rendered
(a page that loads nothing from anywhere), and only ``http``, ``https`` and ``mailto`` links
become links.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

from groupchat.transcripts.export_text import visible

__all__ = ["markdown_html"]

_LINKABLE = ("http://", "https://", "mailto:")


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable(["image"])
    md.validateLink = lambda url: url.strip().lower().startswith(_LINKABLE)  # type: ignore[method-assign]
    return md


_MARKDOWN = _renderer()


def markdown_html(text: str) -> str:
    """``text`` (Markdown) as a fragment of safe HTML."""
    html: str = _MARKDOWN.render(visible(text))
    return html
