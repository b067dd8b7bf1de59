"""Make agent and user text safe to put on a terminal: it is data, never control sequences."""

from __future__ import annotations

__all__ = ["one_line", "safe_text"]

_REPLACEMENT = "\ufffd"
_TABLE: dict[int, str] = {code: _REPLACEMENT for code in range(0x20) if code not in (0x09, 0x0A)}
_TABLE[0x1B] = "\u241b"  # ESC shown as a visible symbol
_TABLE[0x7F] = _REPLACEMENT
_TABLE.update({code: _REPLACEMENT for code in range(0x80, 0xA0)})
_TABLE.update({code: _REPLACEMENT for code in (0x202A, 0x202B, 0x202C, 0x202D, 0x202E)})
_TABLE.update({code: _REPLACEMENT for code in (0x2066, 0x2067, 0x2068, 0x2069)})
_TABLE[0x0D] = ""  # a bare carriage return would overwrite the line
_TABLE.update({code: "\n" for code in (0x2028, 0x2029)})  # line/paragraph separators: newlines
_TABLE.update({code: _REPLACEMENT for code in range(0xD800, 0xE000)})  # not text (undecodable)


def safe_text(text: str) -> str:
    """Replace control characters (ESC, C0/C1, bidi overrides, CR) with visible stand-ins.

    Newlines and tabs are kept (Unicode line separators become newlines); lone surrogates (bytes
    that were not UTF-8, read with ``surrogateescape``), which no terminal can be sent, become
    U+FFFD. Rich markup is not a concern here: callers wrap the result in
    ``rich.text.Text``, which never parses markup.
    """
    return text.translate(_TABLE)


def one_line(text: str) -> str:
    """``safe_text`` on a single line: newlines shown as ``⏎``."""
    return safe_text(text).replace("\n", " \u23ce ").replace("\t", " ")
