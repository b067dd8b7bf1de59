"""The ``magentic`` pattern: the magentic manager conducts a team of LLM agents.

Every round is one progress-ledger call (JSON read and validated, the ``selector_attempt`` and
``progress_ledger`` events, the ``instruction`` message) and one agent call, all on scripted
models that cost nothing; a plan before the first round and a final answer after the last are
part of the run too. The ledgers name the agents in turn and say the request is satisfied
after ``messages`` rounds, so the check is the round-robin order plus the manager's answer and
its tokens in the chat's totals.
"""

from __future__ import annotations

from bench.orchestration import Config, Scenario, _check_in_order, agent_names
from bench.selector import AGENT_WINDOW, scripted_llm_agents
from groupchat.chat import ChatResult, GroupChat
from groupchat.magentic import MagenticManager, ScriptedLedgerModel, plan_json, progress_json

__all__ = ["AGENT_WINDOW", "MANAGER_WINDOW", "build_magentic"]

MANAGER_WINDOW = 4
"""Messages the manager's prompts show: bounded, so the cost per message stays flat."""


def build_magentic(config: Config) -> Scenario:
    names = agent_names(config.agents)
    agents, scripts = scripted_llm_agents(config)
    ledger = ScriptedLedgerModel(
        [plan_json([f"{name} reports" for name in names], given=["the team is scripted"])],
        [
            progress_json(name, f"{name}, your report please.", reason="next in line")
            for name in names
        ],
        ["Every agent reported."],
        satisfied_after=config.messages,
    )
    manager = MagenticManager(ledger, window=MANAGER_WINDOW, max_rounds=config.messages + 1)
    chat = GroupChat(agents, policy=manager)

    def check(result: ChatResult) -> str | None:
        problem = _check_in_order(result, config, lambda j: names[j % len(names)], scripts)
        if problem is None and "manager" not in result.usage_by:
            problem = "the manager's tokens are missing from the chat's totals"
        if problem is None and result.messages[-1].kind != "answer":
            problem = "the chat did not end with the manager's final answer"
        return problem

    return Scenario(chat, check, task="Every agent reports once per round.")
