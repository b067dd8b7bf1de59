"""Export a chat's events as Markdown (for reading and code review) or one self-contained HTML page.

Both are pure functions of the events. Text from events is data: in Markdown every message body
sits in a code fence longer than any backtick run inside it and every other piece of text is
one escaped line, so nothing a participant writes can add headings, lists, links or HTML to the
document; in HTML everything passes through ``html.escape``. In both, control characters (NUL,
ESC, ...) are shown as visible symbols instead of being written out.
"""

from __future__ import annotations

from groupchat.transcripts.export_html import PALETTE, to_html
from groupchat.transcripts.export_markdown import to_markdown
from groupchat.transcripts.export_text import visible

__all__ = ["PALETTE", "to_html", "to_markdown", "visible"]
