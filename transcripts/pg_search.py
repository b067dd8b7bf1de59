"""Full-text search of the PostgreSQL store with the query syntax of the SQLite one.

The words of a message are cut and folded here, not by PostgreSQL's parser: a word is a run of
letters and digits (as SQLite's ``unicode61`` tokenizer cuts them), folded to lower case without
accents. A message's words go to the database as a ``tsvector`` literal
(:func:`index_words`) and what a person searches for becomes a ``tsquery`` literal
(:func:`search_query`) made the same way, so a search finds the same messages whatever the
database's locale, and nothing typed is read as query syntax. The snippet that marks the
matched words is cut here as well (:func:`snippet`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from groupchat.transcripts.records import SNIPPET_MARKS

__all__ = ["SearchTerms", "index_words", "search_query", "snippet"]

_WORD = re.compile(r"[^\W_]+")
_MAX_POSITION = 16_383
"""The last word position a ``tsvector`` keeps; later words share it."""
_MAX_WORDS = 100_000
"""Words of one message indexed at most (a ``tsvector`` holds at most 1 MiB)."""
_MAX_WORD_CHARS = 500
"""A longer word is not indexed (PostgreSQL refuses lexemes of 2 KiB; 500 characters of UTF-8
are at most 2,000 bytes)."""
_SNIPPET_WORDS = 12


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text`` in order."""
    if text.isascii():  # the usual case, and ten times faster
        return _WORD.findall(text.lower())
    return _WORD.findall(_fold(text))


def index_words(text: str) -> str:
    """The ``tsvector`` literal of ``text``'s words with their positions (the database merges
    a word's positions, and keeps at most 256 of them)."""
    return " ".join(
        f"'{word}':{min(at, _MAX_POSITION)}"
        for at, word in enumerate(words(text)[:_MAX_WORDS], 1)
        if len(word) <= _MAX_WORD_CHARS
    )


@dataclass(frozen=True)
class SearchTerms:
    """What a search asks for: the ``tsquery`` literal and the words a snippet marks."""

    query: str
    exact: frozenset[str]
    prefixes: tuple[str, ...]

    def matches(self, word: str) -> bool:
        return word in self.exact or word.startswith(self.prefixes)


def search_query(text: str) -> SearchTerms | None:
    """Every word of ``text`` must match (a trailing ``*``: a prefix); a word that folds to
    several (``zebra-free``) matches them as a phrase. ``None`` when ``text`` has no words."""
    parts: list[str] = []
    exact: set[str] = set()
    prefixes: list[str] = []
    for typed in text.split():
        prefix = typed.endswith("*") and len(typed) > 1
        found = words(typed[:-1] if prefix else typed)
        if not found:
            continue
        lexemes = [f"'{w}'" for w in found]
        if prefix:
            lexemes[-1] += ":*"
            prefixes.append(found[-1])
            exact.update(found[:-1])
        else:
            exact.update(found)
        parts.append(lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")")
    if not parts:
        return None
    return SearchTerms(" & ".join(parts), frozenset(exact), tuple(prefixes))


def snippet(text: str, terms: SearchTerms) -> str:
    """Up to a dozen words of ``text`` around its first match, each matched word between
    :data:`~groupchat.transcripts.records.SNIPPET_MARKS`, ``…`` where text is left out."""
    start_mark, end_mark = SNIPPET_MARKS
    spans = [(m.start(), m.end(), words(m.group())) for m in _WORD.finditer(text)]
    if not spans:
        return text
    hits = [i for i, (_, _, folded) in enumerate(spans) if any(map(terms.matches, folded))]
    marked = set(hits)
    first = max(0, (hits[0] if hits else 0) - 2)
    first = max(0, min(first, len(spans) - _SNIPPET_WORDS))
    last = min(len(spans), first + _SNIPPET_WORDS)
    out = ["…" if first > 0 else text[: spans[0][0]]]
    at = spans[first][0]
    for i in range(first, last):
        begin, end, _ = spans[i]
        out.append(text[at:begin])
        word = text[begin:end]
        out.append(f"{start_mark}{word}{end_mark}" if i in marked else word)
        at = end
    out.append(text[at:] if last == len(spans) else "…")
    return "".join(out)
