"""Hand-offs: transfer tools, who speaks after a hand-off, refusals, and the way back to people."""

from __future__ import annotations

import asyncio

import pytest

from groupchat.agents import HumanParticipant, LLMAgent, ScriptedAgent
from groupchat.chat import GroupChat
from groupchat.events import Handoff, HumanInputRequested, SpeakerSelected, ToolResult
from groupchat.handoff import HandoffPolicy
from groupchat.models import ScriptedModel, reply, tool_call
from groupchat.participant import HandTo, Reply
from groupchat.testing import ChatProbe


def selected(chat: GroupChat) -> list[tuple[str, str]]:
    return [(e.speaker, e.reason) for e in chat.events() if isinstance(e, SpeakerSelected)]


def tool_names(model: ScriptedModel, call: int = 0) -> list[str]:
    return [t.name for t in model.requests[call].tools]


async def test_each_agent_gets_transfer_tools_for_whom_it_may_hand_to() -> None:
    triage_model = ScriptedModel(["hello"])
    billing_model = ScriptedModel(["hi"])
    triage = LLMAgent("triage", triage_model, description="Sorts requests.")
    billing = LLMAgent("billing", billing_model, description="Handles invoices.")
    you = HumanParticipant("you")
    policy = HandoffPolicy({"triage": ["billing", "you"], "billing": ["triage"]}, start="triage")
    policy.attach([triage, billing, you])
    chat = GroupChat([triage, billing, you], policy=policy, max_turns=1)
    await chat.run("My invoice is wrong")
    assert tool_names(triage_model) == ["transfer_to_billing", "transfer_to_you"]
    spec = triage_model.requests[0].tools[0]
    assert spec.description.startswith("Hand the conversation to billing (Handles invoices.)")
    assert spec.parameters["properties"]["note"]["type"] == "string"
    assert billing.handoffs == ("triage",)


async def test_a_handoff_passes_the_floor_with_its_note() -> None:
    triage_model = ScriptedModel(
        [reply("Let me get billing.", tool_call("transfer_to_billing", note="invoice 42 is wrong"))]
    )
    billing_model = ScriptedModel(["I will fix invoice 42."])
    triage = LLMAgent("triage", triage_model)
    billing = LLMAgent("billing", billing_model)
    policy = HandoffPolicy({"triage": ["billing"]}, start="triage")
    policy.attach([triage, billing])
    chat = GroupChat([triage, billing], policy=policy, max_turns=2)
    await chat.run("My invoice is wrong")
    (handoff,) = [e for e in chat.events() if isinstance(e, Handoff)]
    assert (handoff.sender, handoff.target, handoff.note) == (
        "triage",
        "billing",
        "invoice 42 is wrong",
    )
    assert selected(chat) == [
        ("triage", "triage starts"),
        ("billing", "triage handed off to billing: invoice 42 is wrong"),
    ]
    assert triage_model.calls == 1  # the turn ends with the hand-off
    (result,) = [e for e in chat.events() if isinstance(e, ToolResult)]
    assert result.content == "handed the floor to billing with the note: invoice 42 is wrong"
    seen = [m.content for m in billing_model.requests[0].messages]
    assert any("invoice 42 is wrong" in (c or "") for c in seen)


async def test_a_handoff_to_someone_not_allowed_is_refused_and_the_agent_told() -> None:
    model = ScriptedModel(
        [reply("", tool_call("transfer_to_legal", note="x")), "Then I will answer myself."]
    )
    triage = LLMAgent("triage", model)
    policy = HandoffPolicy({"triage": ["billing"]}, start="triage")
    team = [triage, ScriptedAgent("billing", ["b"]), ScriptedAgent("legal", ["l"])]
    policy.attach(team)
    chat = GroupChat(team, policy=policy, max_turns=1)
    await chat.run("help")
    (result,) = [e for e in chat.events() if isinstance(e, ToolResult)]
    assert result.is_error
    assert result.content == (
        "refused: you may not hand the floor to legal; you may hand it to: billing"
    )
    assert not [e for e in chat.events() if isinstance(e, Handoff)]
    assert model.requests[1].messages[-1].content == result.content
    assert chat.messages[-1].content == "Then I will answer myself."


async def test_a_handoff_to_someone_who_left_is_refused() -> None:
    model = ScriptedModel([reply("", tool_call("transfer_to_billing")), "ok"])
    triage = LLMAgent("triage", model, handoffs=["billing"])
    chat = GroupChat([triage], policy=HandoffPolicy(), max_turns=1)
    await chat.run("help")
    assert tool_names(model) == []  # billing is not in the chat: no tool offered
    (result,) = [e for e in chat.events() if isinstance(e, ToolResult)]
    assert (result.is_error, result.content) == (True, "refused: billing is not in the chat")


async def test_after_an_agent_without_a_handoff_the_floor_goes_back_to_the_person() -> None:
    you = HumanParticipant("you")
    helper = ScriptedAgent("helper", ["How can I help?", "Done."])
    other = ScriptedAgent("other", ["never"])
    chat = GroupChat([helper, other, you], policy=HandoffPolicy(start="helper"), max_turns=3)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run())
    await probe.wait_for(HumanInputRequested, participant="you")
    you.send("Please rename my project")
    await run
    assert selected(chat) == [
        ("helper", "helper starts"),
        ("you", "helper did not hand off: you"),
        ("helper", "back to helper, whom you was talking to"),
    ]


async def test_a_person_can_hand_off_with_an_at_mention() -> None:
    you = HumanParticipant("you")
    team = [ScriptedAgent("helper", ["Hi."]), ScriptedAgent("expert", ["Expert here."]), you]
    chat = GroupChat(team, policy=HandoffPolicy(start="helper"), max_turns=3)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run())
    await probe.wait_for(HumanInputRequested, participant="you")
    you.send("I need @expert please")
    await run
    assert selected(chat)[2] == ("expert", "you asked for @expert")


async def test_a_disallowed_handoff_yielded_directly_falls_back_and_says_why() -> None:
    class Rogue(ScriptedAgent):
        async def take_turn(self, view):  # type: ignore[no-untyped-def]
            yield HandTo("legal", "sneaky")
            yield Reply("to legal!")

    team = [Rogue("triage", ["x"]), ScriptedAgent("billing", ["b"]), ScriptedAgent("legal", ["l"])]
    policy = HandoffPolicy({"triage": ["billing"]}, start="triage")
    chat = GroupChat(team, policy=policy, max_turns=2)
    await chat.run()
    speaker, reason = selected(chat)[1]
    assert reason.startswith("triage's hand-off to legal is not allowed; round robin")
    assert speaker == "billing"


def test_unknown_names_in_the_policy_are_caught_at_the_start() -> None:
    policy = HandoffPolicy({"triage": ["nobody"]}, start="ghost")
    with pytest.raises(ValueError, match="unknown participants: ghost, nobody"):
        policy.validate(["triage", "billing"])


def test_without_a_map_anyone_may_hand_to_anyone_else() -> None:
    a, b = LLMAgent("a", ScriptedModel(["x"])), LLMAgent("b", ScriptedModel(["x"]))
    HandoffPolicy().attach([a, b, HumanParticipant("you")])
    assert (a.handoffs, b.handoffs) == (("b", "you"), ("a", "you"))
