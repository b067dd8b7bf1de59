"""Participants: scripted agents for tests and demos, and people."""

from __future__ import annotations

from groupchat.agents.human import HumanParticipant, TimeoutAction
from groupchat.agents.scripted import ScriptedAgent, ScriptFn

__all__ = ["HumanParticipant", "ScriptFn", "ScriptedAgent", "TimeoutAction"]
