"""The offline demo team: three scripted agents and you, planning a hackathon.

It needs no model and no network, and shows the mechanics: streamed Markdown, @mention routing
with a round-robin fallback (each choice with its reason), your turn when someone asks you, and
your interjections reaching the next speaker.
"""

from __future__ import annotations

from collections.abc import Callable

from groupchat.agents import HumanParticipant, ScriptedAgent
from groupchat.chat import GroupChat
from groupchat.participant import ChatView, Participant
from groupchat.policies import MentionPolicy, RoundRobinPolicy
from groupchat.termination import MaxMessages, TextMention

__all__ = ["DEMO_TASK", "build_demo"]

DEMO_TASK = "Plan a one-day offline hackathon for about 40 people."


def _latest_from(view: ChatView, name: str) -> str | None:
    """The newest thing ``name`` said since the previous turn of the speaker asking."""
    for message in reversed(view.messages):
        if message.sender == view.speaker:
            return None
        if message.sender == name and message.content.strip():
            return message.content.strip()
    return None


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _noted(human: str, said: str) -> str:
    """``Thanks, ada, noted: “…”.``, with one full stop when what was said has one already."""
    quoted = _excerpt(said)
    end = "" if quoted.endswith((".", "!", "?", "…")) else "."
    return f"Thanks, {human}, noted: “{quoted}”{end}"


def _turn_of(view: ChatView) -> int:
    """Which of its own turns the speaker is taking (1, 2, ...), from the history, so a resumed
    demo goes on where it stopped."""
    return 1 + sum(1 for m in view.messages if m.sender == view.speaker and m.kind == "turn")


def _planner(human: str) -> Callable[[ChatView], str | None]:
    def speak(view: ChatView) -> str | None:
        turn = _turn_of(view)
        said = _latest_from(view, human)
        if turn == 1:
            return (
                "Welcome! I'll sketch the day, **@researcher** checks the facts and "
                "**@critic** pokes holes. You can type at any time; we'll ask for your view."
            )
        if turn == 2:
            heard = _noted(human, said) if said else f"No strong views from {human}? Fine."
            return f"{heard} Proposal: 10:00–19:00, demos kept short. @critic, any risks left?"
        return (
            "Final plan:\n\n"
            "| time  | block                 |\n"
            "|-------|-----------------------|\n"
            "| 10:00 | kickoff, teams        |\n"
            "| 10:45 | build (lunch at 13:00)|\n"
            "| 17:30 | demos and judging     |\n\n"
            "Thanks, everyone. DONE"
        )

    return speak


def _critic(human: str) -> Callable[[ChatView], str | None]:
    def speak(view: ChatView) -> str | None:
        turn = _turn_of(view)
        said = _latest_from(view, human)
        if turn == 1:
            return (
                "Nine hours is tight for newcomers. "
                f"@{human}, what do you think: trade judging time for build time?"
            )
        if said:
            return (
                f"Good call from {human} (“{_excerpt(said, 50)}”). "
                "Remaining risks: Wi-Fi and food; both are cheap if booked early. "
                "Over to you, @planner."
            )
        return (
            "Remaining risks: Wi-Fi and food; both are cheap if booked early. "
            "Over to you, @planner."
        )

    return speak


RESEARCH = (
    "Typical one-day hackathons run about nine hours in three blocks:\n\n"
    "1. kickoff and team forming\n"
    "2. build time, with food on site\n"
    "3. demos and judging\n\n"
    "Plan on roughly `2 m²` per person and one power outlet each."
)


def build_demo(
    *,
    delay: float = 0.03,
    human_name: str = "you",
    timeout: float | None = None,
    chat_id: str | None = None,
) -> tuple[GroupChat, HumanParticipant]:
    """The demo chat and its human participant (who speaks through ``human.channel``)."""
    human = HumanParticipant(
        human_name,
        "The person at the keyboard; decides what the team cannot.",
        timeout=timeout,
    )
    team: list[Participant] = [
        ScriptedAgent(
            "planner",
            _planner(human_name),
            description="Sketches the plan and wraps up.",
            chunk="word",
            delay=delay,
        ),
        ScriptedAgent(
            "researcher",
            [RESEARCH, "Nothing to add; the numbers above still hold."],
            description="Brings facts and numbers.",
            when_done="cycle",
            chunk="word",
            delay=delay,
        ),
        ScriptedAgent(
            "critic",
            _critic(human_name),
            description="Looks for risks and asks the human.",
            chunk="word",
            delay=delay,
        ),
        human,
    ]
    chat = GroupChat(
        team,
        policy=MentionPolicy(fallback=RoundRobinPolicy()),
        termination=TextMention("DONE", sources=["planner"]) | MaxMessages(16),
        metadata={"team": "demo: hackathon planning"},
        chat_id=chat_id,
    )
    return chat, human
