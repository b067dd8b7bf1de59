"""A person's review of the magentic manager's plan: what they are asked, how answers are read.

The person answers in a line: ``approve`` (or Enter), ``revise: what to change`` (any other
text is read as what to change), or ``reject`` with an optional reason. The choices' numbers
work too (``1`` approve, ``2`` revise, ``3`` reject), and so do ``ok``, ``yes`` or ``no`` on
their own ("no problem, but ..." is feedback, not a rejection).
"""

from __future__ import annotations

import re

from groupchat.events import ReviewDecision

__all__ = ["REVIEW_CHOICES", "REVIEW_PROMPT", "read_review"]

REVIEW_CHOICES = ("approve", "revise", "reject")
REVIEW_PROMPT = (
    "Review the plan above: approve (Enter), revise: what to change, or reject (and why)."
)

_LEADING: dict[str, ReviewDecision] = {
    **dict.fromkeys(("1", "approve", "approved"), "approve"),
    **dict.fromkeys(("2", "revise", "change", "changes", "edit"), "revise"),
    **dict.fromkeys(("3", "reject", "rejected"), "reject"),
}
"""Words that decide whatever follows them (the rest is the feedback)."""
_ALONE: dict[str, ReviewDecision] = {
    **dict.fromkeys(("ok", "okay", "yes", "y", "lgtm", "go", "fine", "good"), "approve"),
    **dict.fromkeys(("no", "n", "stop", "cancel"), "reject"),
}
"""Words that decide only as the whole answer ("no problem, but ..." is feedback)."""
_FIRST = re.compile(r"\s*([\w-]+)[\s:,.;!-]*(.*)", re.S)


def read_review(answer: str | None) -> tuple[ReviewDecision, str]:
    """``(decision, feedback)`` from a person's answer; ``None`` (no answer) lets the plan run."""
    if answer is None:
        return "no_answer", ""
    text = answer.strip()
    if not text:
        return "approve", ""
    match = _FIRST.match(text)
    if match is not None:
        word, rest = match.group(1).lower(), match.group(2).strip()
        decision = _LEADING.get(word) or (_ALONE.get(word) if not rest else None)
        if decision is not None:
            return decision, rest
    return "revise", text
