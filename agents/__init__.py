"""Participants: LLM agents and their tools, scripted agents for tests and demos, and people."""

from __future__ import annotations

from groupchat.agents.human import HumanParticipant, TimeoutAction
from groupchat.agents.llm import LLMAgent
from groupchat.agents.scripted import ScriptedAgent, ScriptFn
from groupchat.agents.tools import Tool, tool

__all__ = [
    "HumanParticipant",
    "LLMAgent",
    "ScriptFn",
    "ScriptedAgent",
    "TimeoutAction",
    "Tool",
    "tool",
]
