"""The ``selector`` pattern: every turn one LLM-selector call and one LLM-agent call.

Both go to scripted models that cost nothing, so what is measured is the framework around a
model call: building the selector's prompt from a bounded window, the request, streaming the
answer, reading it, the ``selector_attempt`` event, the agent's request from its window, its
streamed reply and the token usage. The selector names the agents in turn, so the check is the
round-robin order.
"""

from __future__ import annotations

from bench.orchestration import Config, Scenario, _check_in_order, agent_names, script_for
from groupchat.agents import LLMAgent
from groupchat.chat import ChatResult, GroupChat
from groupchat.models import ScriptedModel
from groupchat.selector import LLMSelectorPolicy
from groupchat.termination import MaxMessages

__all__ = ["AGENT_WINDOW", "SELECTOR_WINDOW", "build_selector"]

SELECTOR_WINDOW = 4
"""Messages the selector's prompt shows: bounded, so the cost per message stays flat."""
AGENT_WINDOW = 4
"""Messages each agent's request holds."""


def scripted_llm_agents(config: Config) -> tuple[list[LLMAgent], dict[str, list[str]]]:
    """LLM agents on scripted models (their lines cycle), and each one's lines."""
    scripts: dict[str, list[str]] = {}
    agents = []
    for name in agent_names(config.agents):
        lines, chunk = script_for(name, config.deltas)
        scripts[name] = lines
        model = ScriptedModel(
            lines, name=f"scripted:{name}", chunk=chunk, when_done="cycle", keep_requests=False
        )
        agents.append(LLMAgent(name, model, window=AGENT_WINDOW))
    return agents, scripts


def build_selector(config: Config) -> Scenario:
    names = agent_names(config.agents)
    agents, scripts = scripted_llm_agents(config)
    selector = ScriptedModel(
        names, name="scripted:selector", chunk="all", when_done="cycle", keep_requests=False
    )
    chat = GroupChat(
        agents,
        policy=LLMSelectorPolicy(selector, window=SELECTOR_WINDOW),
        termination=MaxMessages(config.messages),
    )

    def check(result: ChatResult) -> str | None:
        problem = _check_in_order(result, config, lambda j: names[j % len(names)], scripts)
        if problem is None and "selector" not in result.usage_by:
            problem = "the selector's tokens are missing from the chat's totals"
        return problem

    return Scenario(chat, check)
