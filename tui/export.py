"""``/export [FORMAT] [FILE]``: the chat the app has shown, saved as Markdown, HTML or JSONL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from groupchat.events import Event

__all__ = ["FORMATS", "ExportError", "export_events", "read_export_args"]

FORMATS = {"md": "md", "markdown": "md", "html": "html", "jsonl": "jsonl", "json": "jsonl"}


class ExportError(ValueError):
    """Arguments that name no format, or a file that cannot be written."""


def read_export_args(args: Sequence[str], chat_id: str) -> tuple[str, Path]:
    """The format and file of ``/export`` arguments: either may be left out, a file's suffix
    names its format, and the default is ``groupchat-<chat id>.md`` in the current folder."""
    fmt: str | None = None
    file: str | None = None
    for arg in args:
        if fmt is None and file is None and arg.lower() in FORMATS:
            fmt = FORMATS[arg.lower()]
        elif file is None:
            file = arg
        else:
            raise ExportError("usage: /export [FORMAT] [FILE]")
    if file is not None and fmt is None:
        fmt = FORMATS.get(Path(file).suffix.lstrip(".").lower())
        if fmt is None:
            raise ExportError(f"which format for {file}? give one: /export md|html|jsonl FILE")
    fmt = fmt or "md"
    path = Path(file) if file is not None else Path(f"groupchat-{chat_id or 'chat'}.{fmt}")
    return fmt, path.expanduser()


def export_events(events: Sequence[Event], fmt: str, path: Path) -> Path:
    """Write ``events`` to ``path`` as ``fmt``; returns the absolute path written."""
    from groupchat.transcripts.export import to_html, to_markdown
    from groupchat.transcripts.jsonl import to_jsonl

    render = {"md": to_markdown, "html": to_html, "jsonl": to_jsonl}[fmt]
    text = render(list(events))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path.resolve()
