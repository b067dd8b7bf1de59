"""The magentic manager: a task ledger and a plan, a progress ledger each round, stall detection
and replanning, a final answer, and an optional human review of the plan.

Names load on first use, so a team spec can refer to this package without loading the manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from groupchat._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "MagenticManager": "groupchat.magentic.manager",
    "OutputMode": "groupchat.magentic.manager",
    "ManagerState": "groupchat.magentic.state",
    "PlanReviewMode": "groupchat.magentic.state",
    "ScriptedLedgerModel": "groupchat.magentic.scripted",
    "plan_json": "groupchat.magentic.scripted",
    "progress_json": "groupchat.magentic.scripted",
    "read_review": "groupchat.magentic.review",
}

__all__ = [
    "MagenticManager",
    "ManagerState",
    "OutputMode",
    "PlanReviewMode",
    "ScriptedLedgerModel",
    "plan_json",
    "progress_json",
    "read_review",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())


if TYPE_CHECKING:
    from groupchat.magentic.manager import MagenticManager, OutputMode
    from groupchat.magentic.review import read_review
    from groupchat.magentic.scripted import ScriptedLedgerModel, plan_json, progress_json
    from groupchat.magentic.state import ManagerState, PlanReviewMode
