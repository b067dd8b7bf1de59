"""Behaviour of the speaker-selection policies, alone on a chat's view and inside running chats."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import pairwise

import pytest

from groupchat import (
    CandidateFilter,
    ChatResult,
    ChatStarted,
    ChatView,
    ErrorEvent,
    FunctionPolicy,
    GroupChat,
    HumanInputRequested,
    HumanParticipant,
    ManualPolicy,
    MentionPolicy,
    MessagePosted,
    ParticipantJoined,
    ParticipantLeft,
    RandomPolicy,
    RoundRobinPolicy,
    ScriptedAgent,
    Selection,
    SelectionError,
    SelectionPolicy,
    SpeakerSelected,
    TransitionGraphPolicy,
    TurnSkipped,
    TurnStarted,
    exclude_last_speaker,
)
from groupchat.events import Event
from groupchat.policies import SelectFn
from groupchat.testing import ChatProbe

# ---------------------------------------------------------------------------------------- helpers

NAMES = ("a", "b", "c")


def agent(name: str, *lines: str) -> ScriptedAgent:
    """An agent that repeats its lines for ever (by default: '<name> speaks')."""
    return ScriptedAgent(name, list(lines) or [f"{name} speaks"], when_done="cycle")


def trio() -> list[ScriptedAgent]:
    return [agent(name) for name in NAMES]


class Puppet:
    """A scripted agent whose every turn waits until the test hands it the line to say."""

    def __init__(self, name: str) -> None:
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.agent = ScriptedAgent(name, self._next_line)

    async def _next_line(self, view: ChatView) -> str:
        return await self.lines.get()

    def say(self, line: str) -> None:
        self.lines.put_nowait(line)


def selections(chat: GroupChat) -> list[SpeakerSelected]:
    return [e for e in chat.events() if isinstance(e, SpeakerSelected)]


def speakers(chat: GroupChat) -> list[str]:
    return [e.speaker for e in selections(chat)]


def errors(chat: GroupChat) -> list[ErrorEvent]:
    return [e for e in chat.events() if isinstance(e, ErrorEvent)]


def requests(chat: GroupChat) -> list[HumanInputRequested]:
    return [e for e in chat.events() if isinstance(e, HumanInputRequested)]


def turn_messages(chat: GroupChat) -> list[tuple[str, str]]:
    return [(m.sender, m.content) for m in chat.messages if m.kind == "turn"]


def is_interjection(event: Event) -> bool:
    return isinstance(event, MessagePosted) and event.message.kind == "interjection"


async def finish(task: asyncio.Task[ChatResult]) -> ChatResult:
    return await asyncio.wait_for(task, 5)


def start(chat: GroupChat, task: str | None = "task") -> asyncio.Task[ChatResult]:
    return asyncio.create_task(chat.run(task))


async def run_to_end(chat: GroupChat, task: str | None = "task") -> ChatResult:
    return await asyncio.wait_for(chat.run(task), 5)


# ---------------------------------------------------------------------------------- round robin


async def test_round_robin_goes_in_join_order_and_wraps() -> None:
    chat = GroupChat(trio(), policy=RoundRobinPolicy(), max_turns=7)
    result = await run_to_end(chat)

    assert result.status == "max_turns"
    events = selections(chat)
    assert [e.speaker for e in events] == ["a", "b", "c", "a", "b", "c", "a"]
    assert [e.turn for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert {e.policy for e in events} == {"round_robin"}
    assert {e.candidates for e in events} == {NAMES}
    assert [e.reason for e in events[:4]] == [
        "round robin: a opens",
        "round robin: b follows a",
        "round robin: c follows b",
        "round robin: a follows c",
    ]
    assert [sender for sender, _ in turn_messages(chat)] == ["a", "b", "c", "a", "b", "c", "a"]


async def test_round_robin_is_the_default_policy() -> None:
    chat = GroupChat(trio(), max_turns=4)
    await run_to_end(chat)

    assert speakers(chat) == ["a", "b", "c", "a"]
    started = next(e for e in chat.events() if isinstance(e, ChatStarted))
    assert started.policy == "round_robin"


async def test_round_robin_on_a_fresh_view_opens_with_the_first_candidate() -> None:
    chat = GroupChat(trio())
    policy = RoundRobinPolicy()

    first = await policy.select(chat.view, ("b", "c"))

    assert first == Selection("b", "round robin: b opens")


async def test_round_robin_with_no_candidates_raises_selection_error() -> None:
    chat = GroupChat(trio())
    with pytest.raises(SelectionError):
        await RoundRobinPolicy().select(chat.view, ())


async def test_round_robin_includes_a_participant_added_mid_chat() -> None:
    a = Puppet("a")
    chat = GroupChat([a.agent, agent("b")], max_turns=6)
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="a")
    await chat.add(agent("c"))
    joined = await probe.wait_for(ParticipantJoined)
    a.say("first")
    await probe.wait_for(TurnStarted, speaker="a", turn=4)
    a.say("second")
    await finish(run)

    assert joined.participant.name == "c"
    assert speakers(chat) == ["a", "b", "c", "a", "b", "c"]
    events = selections(chat)
    assert events[0].candidates == ("a", "b")
    assert events[1].candidates == ("a", "b", "c")
    assert events[2].reason == "round robin: c follows b"


async def test_round_robin_skips_a_participant_removed_mid_chat() -> None:
    a = Puppet("a")
    chat = GroupChat([a.agent, agent("b"), agent("c")], max_turns=4)
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="a")
    await chat.remove("b", reason="left early")
    left = await probe.wait_for(ParticipantLeft)
    a.say("first")
    await probe.wait_for(TurnStarted, speaker="a", turn=3)
    a.say("second")
    await finish(run)

    assert (left.name, left.reason) == ("b", "left early")
    assert speakers(chat) == ["a", "c", "a", "c"]
    assert selections(chat)[1].candidates == ("a", "c")
    assert selections(chat)[1].reason == "round robin: c follows a"


async def test_round_robin_continues_with_the_next_in_order_after_the_speaker_is_removed() -> None:
    b = Puppet("b")
    chat = GroupChat([agent("a"), b.agent, agent("c")], max_turns=4)
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="b")
    await chat.remove("b")  # cuts b's turn short
    await finish(run)

    skipped = [e for e in chat.events() if isinstance(e, TurnSkipped)]
    assert [(e.speaker, e.reason) for e in skipped] == [("b", "interrupted")]
    # a, b, then whoever followed b in the join order: c, and then a again.
    assert speakers(chat) == ["a", "b", "c", "a"]


async def test_round_robin_picks_up_after_a_steered_speaker() -> None:
    a = Puppet("a")
    chat = GroupChat([a.agent, agent("b"), agent("c")], max_turns=4)
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="a")
    chat.steer("c", by="you")
    a.say("over to someone")
    await probe.wait_for(TurnStarted, speaker="a", turn=3)
    a.say("again")
    await finish(run)

    events = selections(chat)
    assert [e.speaker for e in events] == ["a", "c", "a", "b"]
    assert (events[1].policy, events[1].reason) == ("steer", "you asked for c")
    assert (events[2].policy, events[2].reason) == ("round_robin", "round robin: a follows c")
    assert events[3].reason == "round robin: b follows a"


async def test_steer_before_the_run_decides_the_opening_speaker() -> None:
    chat = GroupChat(trio(), max_turns=3)
    chat.steer("b")
    await run_to_end(chat)

    events = selections(chat)
    assert [e.speaker for e in events] == ["b", "c", "a"]
    assert (events[0].policy, events[0].reason) == ("steer", "steered for b")


# ----------------------------------------------------------------------------------------- random


async def random_run(seed: int | None, turns: int = 20, *, allow_repeat: bool = True) -> list[str]:
    chat = GroupChat(trio(), policy=RandomPolicy(seed, allow_repeat=allow_repeat), max_turns=turns)
    await run_to_end(chat)
    return speakers(chat)


async def test_random_with_the_same_seed_repeats_the_same_sequence() -> None:
    first = await random_run(7)
    second = await random_run(7)

    assert first == second
    assert len(first) == 20
    assert set(first) == set(NAMES)  # it really varies


async def test_random_with_different_seeds_gives_different_sequences() -> None:
    sequences = {tuple(await random_run(seed)) for seed in (1, 2, 3)}

    assert len(sequences) == 3


async def test_random_reports_its_name_candidates_and_pool() -> None:
    chat = GroupChat(trio(), policy=RandomPolicy(3), max_turns=5)
    await run_to_end(chat)

    for event in selections(chat):
        assert event.policy == "random"
        assert event.candidates == NAMES
        assert event.speaker in NAMES
        assert event.reason == "random pick among a, b, c"


async def test_random_without_repeats_never_picks_the_last_speaker_twice() -> None:
    chat = GroupChat(trio(), policy=RandomPolicy(11, allow_repeat=False), max_turns=40)
    await run_to_end(chat)

    events = selections(chat)
    names = [e.speaker for e in events]
    assert len(names) == 40
    assert all(x != y for x, y in pairwise(names))
    assert set(names) == set(NAMES)
    for previous, event in zip(names, events[1:], strict=False):
        rest = ", ".join(n for n in NAMES if n != previous)
        assert event.reason == f"random pick among {rest}"


async def test_random_with_repeats_allowed_does_repeat_sometimes() -> None:
    names = await random_run(11, turns=40)

    assert any(x == y for x, y in pairwise(names))


async def test_random_without_repeats_still_picks_a_sole_candidate() -> None:
    chat = GroupChat([agent("solo")], policy=RandomPolicy(1, allow_repeat=False), max_turns=3)
    await run_to_end(chat)

    assert speakers(chat) == ["solo", "solo", "solo"]


async def test_random_without_repeats_on_a_view_excludes_the_last_speaker() -> None:
    chat = GroupChat(trio(), max_turns=1)
    await run_to_end(chat)
    assert chat.view.last_speaker == "a"
    picks = {
        (await RandomPolicy(seed, allow_repeat=False).select(chat.view, NAMES)).speaker
        for seed in range(50)
    }

    assert picks == {"b", "c"}


async def test_seeded_random_draws_depend_only_on_seed_and_turn() -> None:
    chat = GroupChat(trio(), max_turns=1)
    await run_to_end(chat)
    policy = RandomPolicy(5)
    first = (await policy.select(chat.view, NAMES)).speaker
    # Asking again on the same turn (as a resumed chat would) gives the same answer.
    assert {(await policy.select(chat.view, NAMES)).speaker for _ in range(10)} == {first}
    assert (await RandomPolicy(5).select(chat.view, NAMES)).speaker == first


# ----------------------------------------------------------------------------------------- manual


def manual_chat(
    policy: SelectionPolicy | None = None, *, max_turns: int = 1
) -> tuple[GroupChat, HumanParticipant]:
    human = HumanParticipant("you")
    chat = GroupChat(
        [agent("alice"), agent("bob"), human],
        policy=policy if policy is not None else ManualPolicy(),
        max_turns=max_turns,
    )
    return chat, human


async def test_manual_asks_the_human_and_follows_their_choice() -> None:
    chat, human = manual_chat()
    probe = ChatProbe.of(chat)
    run = start(chat)

    request = await probe.wait_for(HumanInputRequested, request="select_speaker")
    assert human.channel.requested
    human.send("bob")
    result = await finish(run)

    assert request.participant == "you"
    assert request.choices == ("alice", "bob", "you")
    assert request.prompt == "Who speaks next? 1. alice, 2. bob, 3. you"
    assert request.timeout is None
    event = selections(chat)[0]
    assert (event.speaker, event.reason, event.policy) == ("bob", "chosen by you", "manual")
    assert event.candidates == ("alice", "bob", "you")
    assert turn_messages(chat) == [("bob", "bob speaks")]
    assert result.status == "max_turns"
    # the answer was a choice, not something the person said in the chat
    assert [m.kind for m in chat.messages] == ["task", "turn"]


@pytest.mark.parametrize("answer", ["bob", "2", "@bob", "BOB", "  @Bob. ", "Bob!", " 2 "], ids=repr)
async def test_manual_accepts_name_number_at_sign_and_any_case(answer: str) -> None:
    chat, human = manual_chat()
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(HumanInputRequested, request="select_speaker")
    human.send(answer)
    await finish(run)

    assert speakers(chat) == ["bob"]
    assert selections(chat)[0].reason == "chosen by you"
    assert len(requests(chat)) == 1


async def test_manual_reasks_with_a_correction_after_a_wrong_answer() -> None:
    chat, human = manual_chat()
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(HumanInputRequested, request="select_speaker")
    human.send("zed")
    retry = await probe.wait_for(HumanInputRequested, request="select_speaker")
    human.send("alice")
    await finish(run)

    assert retry.prompt == (
        "'zed' is not one of the candidates. Who speaks next? 1. alice, 2. bob, 3. you"
    )
    assert retry.choices == ("alice", "bob", "you")
    assert len(requests(chat)) == 2
    event = selections(chat)[0]
    assert (event.speaker, event.reason, event.policy) == ("alice", "chosen by you", "manual")
    assert [m.kind for m in chat.messages] == ["task", "turn"]


async def test_manual_falls_back_after_max_attempts_of_wrong_answers() -> None:
    chat, human = manual_chat(ManualPolicy(max_attempts=3))
    probe = ChatProbe.of(chat)
    run = start(chat)

    for wrong in ("0", "4", "nobody"):  # out of range numbers count as wrong too
        await probe.wait_for(HumanInputRequested, request="select_speaker")
        human.send(wrong)
    await finish(run)

    asked = requests(chat)
    assert len(asked) == 3
    assert asked[1].prompt.startswith("'0' is not one of the candidates.")
    assert asked[2].prompt.startswith("'4' is not one of the candidates.")
    event = selections(chat)[0]
    assert event.speaker == "alice"
    assert event.policy == "round_robin"
    assert event.reason == "you gave no valid name ('nobody'); round robin: alice opens"


async def test_manual_falls_back_when_the_human_does_not_answer_in_time() -> None:
    chat, _human = manual_chat(ManualPolicy(timeout=0.01))
    result = await run_to_end(chat)

    asked = requests(chat)
    assert len(asked) == 1
    assert asked[0].timeout == 0.01
    event = selections(chat)[0]
    assert (event.speaker, event.policy) == ("alice", "round_robin")
    assert event.reason == "you did not answer; round robin: alice opens"
    assert result.status == "max_turns"


async def test_manual_falls_back_when_the_human_leaves() -> None:
    chat, human = manual_chat()
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(HumanInputRequested, request="select_speaker")
    human.channel.close()
    await finish(run)

    assert len(requests(chat)) == 1
    event = selections(chat)[0]
    assert (event.speaker, event.policy) == ("alice", "round_robin")
    assert event.reason == "you did not answer; round robin: alice opens"


async def test_manual_uses_the_given_fallback_policy() -> None:
    def pick_bob(view: ChatView, candidates: Sequence[str]) -> str:
        return "bob"

    chat, human = manual_chat(ManualPolicy(fallback=FunctionPolicy(pick_bob)))
    human.channel.close()  # gone before the chat starts
    await run_to_end(chat)

    event = selections(chat)[0]
    assert (event.speaker, event.policy) == ("bob", "pick_bob")
    assert event.reason == "you did not answer; chosen by pick_bob"


async def test_manual_asks_the_named_human_when_there_are_several() -> None:
    first, boss = HumanParticipant("first"), HumanParticipant("boss")
    chat = GroupChat([agent("alice"), first, boss], policy=ManualPolicy("boss"), max_turns=1)
    probe = ChatProbe.of(chat)
    run = start(chat)

    request = await probe.wait_for(HumanInputRequested, request="select_speaker")
    assert not first.channel.requested
    boss.send("alice")
    await finish(run)

    assert request.participant == "boss"
    assert selections(chat)[0].reason == "chosen by boss"


async def test_manual_without_a_human_ends_the_chat_with_an_error() -> None:
    chat = GroupChat(trio(), policy=ManualPolicy(), max_turns=3)
    result = await run_to_end(chat)

    assert result.status == "error"
    assert "no human" in result.reason
    assert selections(chat) == []
    assert turn_messages(chat) == []
    fatal = errors(chat)
    assert len(fatal) == 1
    assert fatal[0].fatal
    assert fatal[0].detail == "selection"
    assert "no human" in fatal[0].error


async def test_manual_naming_a_human_who_is_not_in_the_chat_is_rejected_at_start() -> None:
    chat = GroupChat(trio(), policy=ManualPolicy("ghost"), max_turns=3)
    result = await run_to_end(chat)

    assert result.status == "error"
    assert "'ghost'" in result.reason
    assert selections(chat) == []


def test_manual_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        ManualPolicy(max_attempts=0)


# ---------------------------------------------------------------------------------------- mention


def mention_chat(
    first: ScriptedAgent, *others: ScriptedAgent | HumanParticipant, max_turns: int = 2
) -> GroupChat:
    return GroupChat([first, *others], policy=MentionPolicy(), max_turns=max_turns)


async def test_mention_follows_an_at_mention_in_the_last_message() -> None:
    chat = mention_chat(agent("alice", "@carol, your turn"), agent("bob"), agent("carol"))
    await run_to_end(chat)

    events = selections(chat)
    assert [e.speaker for e in events] == ["alice", "carol"]
    assert events[1].reason == "@carol was mentioned by alice"
    assert events[1].policy == "mention"
    assert events[1].candidates == ("alice", "bob", "carol")


async def test_mention_matches_names_case_insensitively() -> None:
    chat = mention_chat(agent("alice", "over to @CAROL"), agent("bob"), agent("carol"))
    await run_to_end(chat)

    assert speakers(chat) == ["alice", "carol"]


async def test_mention_in_the_task_picks_the_opening_speaker() -> None:
    chat = mention_chat(agent("alice"), agent("bob"), agent("carol"), max_turns=1)
    await run_to_end(chat, "@bob please start")

    event = selections(chat)[0]
    assert (event.speaker, event.reason) == ("bob", "@bob was mentioned by manager")


async def test_mention_follows_a_human_interjection_during_the_turn() -> None:
    alice = Puppet("alice")
    human = HumanParticipant("you")
    chat = mention_chat(alice.agent, agent("bob"), agent("carol"), human)
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="alice")
    human.send("@carol can you take this?")
    await probe.wait_for(is_interjection)
    alice.say("I am done here")
    await finish(run)

    events = selections(chat)
    assert [e.speaker for e in events] == ["alice", "carol"]
    assert (events[1].reason, events[1].policy) == ("@carol was mentioned by you", "mention")


async def test_mention_prefers_the_newest_message() -> None:
    alice = Puppet("alice")
    human = HumanParticipant("you")
    chat = mention_chat(alice.agent, agent("bob"), agent("carol"), human)
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="alice")
    human.send("@carol can you take this?")
    await probe.wait_for(is_interjection)
    alice.say("no, @bob should")  # posted after the interjection
    await finish(run)

    assert speakers(chat) == ["alice", "bob"]
    assert selections(chat)[1].reason == "@bob was mentioned by alice"


async def test_mention_ignores_self_mentions_and_falls_back() -> None:
    chat = mention_chat(agent("alice", "@alice will go on"), agent("bob"), agent("carol"))
    await run_to_end(chat)

    event = selections(chat)[1]
    assert event.speaker == "bob"
    assert event.reason == "no @mention; round robin: bob follows alice"
    assert event.policy == "round_robin"


async def test_mention_ignores_unknown_names_and_falls_back() -> None:
    chat = mention_chat(agent("alice", "ask @zed or email@carol"), agent("bob"), agent("carol"))
    await run_to_end(chat)

    event = selections(chat)[1]
    assert event.speaker == "bob"
    assert event.reason.startswith("no @mention; ")


async def test_mention_without_any_mention_uses_the_given_fallback() -> None:
    policy = MentionPolicy(fallback=RandomPolicy(4))
    chat = GroupChat([agent("alice"), agent("bob")], policy=policy, max_turns=3)
    await run_to_end(chat)

    for event in selections(chat):
        assert event.policy == "random"
        assert event.reason == "no @mention; random pick among alice, bob"


async def test_mention_only_counts_messages_since_the_last_turn_began() -> None:
    chat = mention_chat(
        agent("alice", "@carol go"),
        agent("bob"),
        agent("carol", "done, no mention here"),
        max_turns=3,
    )
    await run_to_end(chat)

    events = selections(chat)
    assert [e.speaker for e in events] == ["alice", "carol", "alice"]
    assert events[2].reason == "no @mention; round robin: alice follows carol"


async def test_mention_select_on_a_view_after_a_run() -> None:
    chat = mention_chat(
        agent("alice", "@bob and @carol, look"), agent("bob"), agent("carol"), max_turns=1
    )
    await run_to_end(chat)
    policy = MentionPolicy()

    first = await policy.select(chat.view, ("alice", "bob", "carol"))
    without_bob = await policy.select(chat.view, ("alice", "carol"))

    assert first == Selection("bob", "@bob was mentioned by alice")
    assert without_bob == Selection("carol", "@carol was mentioned by alice")


# ------------------------------------------------------------------------------- transition graph


def pick_first(view: ChatView, candidates: Sequence[str]) -> str:
    return candidates[0]


def pick_last(view: ChatView, candidates: Sequence[str]) -> str:
    return candidates[-1]


async def test_graph_allowed_mode_follows_the_edges_from_the_start_node() -> None:
    graph = TransitionGraphPolicy({"a": ["b"], "b": ["c"], "c": ["a"]}, start="b")
    chat = GroupChat(trio(), policy=graph, max_turns=5)
    await run_to_end(chat)

    events = selections(chat)
    assert [e.speaker for e in events] == ["b", "c", "a", "b", "c"]
    assert {e.policy for e in events} == {"graph"}
    assert events[0].reason == "graph start -> b; round robin: b opens"
    assert events[1].reason == "graph b -> c; round robin: c follows b"


async def test_graph_allowed_mode_lets_then_choose_among_the_allowed() -> None:
    offered: list[tuple[str, ...]] = []

    def last_offered(view: ChatView, candidates: Sequence[str]) -> str:
        offered.append(tuple(candidates))
        return candidates[-1]

    graph = TransitionGraphPolicy(
        {"a": ["b", "c"], "b": ["a"], "c": ["a", "b"]},
        start=["a", "b"],
        then=FunctionPolicy(last_offered),
    )
    chat = GroupChat(trio(), policy=graph, max_turns=5)
    await run_to_end(chat)

    assert offered == [("a", "b"), ("a",), ("b", "c"), ("a", "b"), ("a",)]
    assert speakers(chat) == ["b", "a", "c", "b", "a"]
    assert selections(chat)[2].reason == "graph a -> b, c; chosen by last_offered"


async def test_graph_without_start_lets_anyone_open() -> None:
    graph = TransitionGraphPolicy({"a": ["b"]}, then=FunctionPolicy(pick_last))
    chat = GroupChat(trio(), policy=graph, max_turns=1)
    await run_to_end(chat)

    event = selections(chat)[0]
    assert event.speaker == "c"
    assert event.reason == "graph start -> a, b, c; chosen by pick_last"


async def test_graph_disallowed_mode_keeps_everyone_but_the_blocked() -> None:
    offered: list[tuple[str, ...]] = []

    def last_offered(view: ChatView, candidates: Sequence[str]) -> str:
        offered.append(tuple(candidates))
        return candidates[-1]

    graph = TransitionGraphPolicy(
        {"a": ["b"], "b": ["b", "c"], "c": ["c"]},
        mode="disallowed",
        then=FunctionPolicy(last_offered),
    )
    chat = GroupChat(trio(), policy=graph, max_turns=5)
    await run_to_end(chat)

    assert offered == [("a", "b", "c"), ("a", "b"), ("a",), ("a", "c"), ("a", "b")]
    assert speakers(chat) == ["c", "b", "a", "c", "b"]
    assert selections(chat)[3].reason == "graph a -> a, c; chosen by last_offered"


async def test_graph_disallowed_mode_allows_everyone_after_a_speaker_without_edges() -> None:
    graph = TransitionGraphPolicy({"a": ["b"]}, mode="disallowed", then=RandomPolicy(2))
    chat = GroupChat(trio(), policy=graph, max_turns=60)
    await run_to_end(chat)

    names = speakers(chat)
    pairs = set(pairwise(names))
    assert ("a", "b") not in pairs
    assert {("b", "b"), ("c", "c"), ("a", "c")} <= pairs


async def test_graph_validation_names_every_unknown_participant() -> None:
    graph = TransitionGraphPolicy({"a": ["zed"], "yan": ["a"]}, start="xu")
    chat = GroupChat(trio(), policy=graph, max_turns=3)
    result = await run_to_end(chat)

    assert result.status == "error"
    assert "unknown participants: xu, yan, zed" in result.reason
    assert "participants: a, b, c" in result.reason
    assert result.error is not None and "xu, yan, zed" in result.error
    assert selections(chat) == []
    assert turn_messages(chat) == []
    assert [e.fatal for e in errors(chat)] == [True]


def test_graph_validate_accepts_known_names_and_rejects_dead_ends() -> None:
    TransitionGraphPolicy({"a": ["b"], "b": ["a"]}, start="a").validate(["a", "b"])
    with pytest.raises(ValueError, match="a has no allowed next speaker"):
        TransitionGraphPolicy({"a": []}).validate(["a", "b"])
    # an empty list of blocked speakers is fine
    TransitionGraphPolicy({"a": []}, mode="disallowed").validate(["a", "b"])
    with pytest.raises(ValueError, match="mode"):
        TransitionGraphPolicy({}, mode="sideways")  # type: ignore[arg-type]


async def test_graph_dead_end_at_runtime_ends_the_chat_with_an_error() -> None:
    graph = TransitionGraphPolicy({"a": ["b"]}, start="a")
    chat = GroupChat(trio(), policy=graph, max_turns=5)
    result = await run_to_end(chat)

    assert speakers(chat) == ["a", "b"]
    assert turn_messages(chat) == [("a", "a speaks"), ("b", "b speaks")]
    assert result.status == "error"
    assert result.reason == "transition graph allows no one after b"
    fatal = errors(chat)
    assert len(fatal) == 1
    assert (fatal[0].error, fatal[0].detail, fatal[0].fatal) == (
        "transition graph allows no one after b",
        "selection",
        True,
    )


async def test_graph_dead_end_after_a_steered_speaker_outside_the_graph() -> None:
    graph = TransitionGraphPolicy({"a": ["b"]}, start="a")
    chat = GroupChat(trio(), policy=graph, max_turns=2)
    chat.steer("c")
    await chat.run("go")  # c opens by steer, then the graph has nobody after c
    assert speakers(chat) == ["c"]
    assert chat.result is not None
    assert chat.result.reason == "transition graph allows no one after c"


async def test_graph_select_on_a_view_raises_at_a_dead_end() -> None:
    chat = GroupChat(trio(), max_turns=3)  # round robin: a, b, c
    await run_to_end(chat)
    assert chat.view.last_speaker == "c"
    graph = TransitionGraphPolicy({"c": ["a", "b"], "a": ["b"]}, then=FunctionPolicy(pick_last))

    assert graph.allowed(None, NAMES) == ["a", "b", "c"]
    assert graph.allowed("a", NAMES) == ["b"]
    assert graph.allowed("b", NAMES) == []
    chosen = await graph.select(chat.view, NAMES)
    assert chosen == Selection("b", "graph c -> a, b; chosen by pick_last")
    with pytest.raises(SelectionError, match="allows no one after c"):
        await graph.select(chat.view, ("c",))


# --------------------------------------------------------------------------------------- function


async def test_function_returning_a_name() -> None:
    def pick_last_name(view: ChatView, candidates: Sequence[str]) -> str:
        return candidates[-1]

    chat = GroupChat(trio(), policy=FunctionPolicy(pick_last_name), max_turns=2)
    await run_to_end(chat)

    events = selections(chat)
    assert [e.speaker for e in events] == ["c", "c"]
    assert {e.reason for e in events} == {"chosen by pick_last_name"}
    assert {e.policy for e in events} == {"pick_last_name"}


async def test_function_returning_a_name_and_reason() -> None:
    def by_turn(view: ChatView, candidates: Sequence[str]) -> tuple[str, str]:
        name = candidates[view.turn % len(candidates)]
        return name, f"turn {view.turn} goes to {name}"

    chat = GroupChat(trio(), policy=FunctionPolicy(by_turn, name="by_turn"), max_turns=4)
    await run_to_end(chat)

    events = selections(chat)
    assert [e.speaker for e in events] == ["a", "b", "c", "a"]
    assert [e.reason for e in events] == [
        "turn 0 goes to a",
        "turn 1 goes to b",
        "turn 2 goes to c",
        "turn 3 goes to a",
    ]
    assert {e.policy for e in events} == {"by_turn"}


async def test_function_returning_a_selection_keeps_its_reason_and_policy() -> None:
    def delegate(view: ChatView, candidates: Sequence[str]) -> Selection:
        return Selection("b", "b knows best", "expert_router")

    chat = GroupChat(trio(), policy=FunctionPolicy(delegate), max_turns=1)
    await run_to_end(chat)

    event = selections(chat)[0]
    assert (event.speaker, event.reason, event.policy) == ("b", "b knows best", "expert_router")


async def test_function_may_be_async_and_sees_the_view() -> None:
    seen: list[tuple[int, str | None, tuple[str, ...]]] = []

    async def async_pick(view: ChatView, candidates: Sequence[str]) -> str:
        await asyncio.sleep(0)
        seen.append((view.turn, view.last_speaker, tuple(candidates)))
        return "a" if view.last_speaker != "a" else "b"

    chat = GroupChat(trio(), policy=FunctionPolicy(async_pick), max_turns=3)
    await run_to_end(chat)

    assert speakers(chat) == ["a", "b", "a"]
    assert seen == [(0, None, NAMES), (1, "a", NAMES), (2, "b", NAMES)]
    assert {e.policy for e in selections(chat)} == {"async_pick"}


async def test_function_lambda_gets_a_name() -> None:
    policy = FunctionPolicy(lambda view, candidates: candidates[0], name="first")
    chat = GroupChat(trio(), policy=policy, max_turns=1)
    await run_to_end(chat)

    assert selections(chat)[0].policy == "first"
    assert selections(chat)[0].reason == "chosen by first"


@pytest.mark.parametrize("make", ["sync", "async"])
async def test_function_choosing_an_unknown_name_ends_the_chat_with_an_error(make: str) -> None:
    def pick_zed(view: ChatView, candidates: Sequence[str]) -> str:
        return "zed"

    async def pick_zed_async(view: ChatView, candidates: Sequence[str]) -> str:
        return "zed"

    fn: SelectFn = pick_zed if make == "sync" else pick_zed_async
    chat = GroupChat(trio(), policy=FunctionPolicy(fn, name="picker"), max_turns=3)
    result = await run_to_end(chat)

    assert result.status == "error"
    assert result.reason == "selection function picker chose 'zed', not one of: a, b, c"
    assert selections(chat) == []
    assert [(e.detail, e.fatal) for e in errors(chat)] == [("selection", True)]


async def test_function_returning_a_non_candidate_participant_is_an_error() -> None:
    def pick_c(view: ChatView, candidates: Sequence[str]) -> str:
        return "c"

    policy = CandidateFilter(FunctionPolicy(pick_c), lambda view, cands: ["a", "b"], name="ab")
    chat = GroupChat(trio(), policy=policy, max_turns=1)
    result = await run_to_end(chat)

    assert result.status == "error"
    assert "'c'" in result.reason
    assert selections(chat) == []


async def test_function_returning_something_else_is_an_error() -> None:
    def confused(view: ChatView, candidates: Sequence[str]) -> int:
        return 42

    chat = GroupChat(trio(), policy=FunctionPolicy(confused), max_turns=1)  # type: ignore[arg-type]
    result = await run_to_end(chat)

    assert result.status == "error"
    assert "returned int" in result.reason
    assert "confused" in result.reason


async def test_function_select_on_a_view() -> None:
    chat = GroupChat(trio())
    policy = FunctionPolicy(pick_last)

    assert await policy.select(chat.view, ("a", "b")) == Selection("b", "chosen by pick_last")
    with pytest.raises(SelectionError, match="to_c chose 'c', not one of: a, b"):
        await FunctionPolicy(lambda view, cands: "c", name="to_c").select(chat.view, ("a", "b"))


# ------------------------------------------------------------------- candidate filter / wrappers


async def test_candidate_filter_narrows_what_the_policy_sees() -> None:
    offered: list[tuple[str, ...]] = []

    def record(view: ChatView, candidates: Sequence[str]) -> str:
        offered.append(tuple(candidates))
        return candidates[0]

    def no_a(view: ChatView, candidates: Sequence[str]) -> list[str]:
        return [c for c in candidates if c != "a"] + ["zed"]  # unknown names are dropped

    chat = GroupChat(trio(), policy=CandidateFilter(FunctionPolicy(record), no_a), max_turns=2)
    await run_to_end(chat)

    assert offered == [("b", "c"), ("b", "c")]
    assert speakers(chat) == ["b", "b"]
    started = next(e for e in chat.events() if isinstance(e, ChatStarted))
    assert started.policy == "record (filtered by no_a)"
    assert {e.policy for e in selections(chat)} == {"record"}


async def test_candidate_filter_that_leaves_nobody_ends_the_chat_with_an_error() -> None:
    def nobody(view: ChatView, candidates: Sequence[str]) -> list[str]:
        return []

    chat = GroupChat(trio(), policy=CandidateFilter(RoundRobinPolicy(), nobody), max_turns=2)
    result = await run_to_end(chat)

    assert result.status == "error"
    assert result.reason == "candidate filter nobody left no candidates"
    assert selections(chat) == []


async def test_candidate_filter_validates_the_wrapped_policy() -> None:
    graph = TransitionGraphPolicy({"a": ["ghost"]})
    chat = GroupChat(trio(), policy=exclude_last_speaker(graph), max_turns=2)
    result = await run_to_end(chat)

    assert result.status == "error"
    assert "ghost" in result.reason


def test_exclude_last_speaker_describes_itself() -> None:
    policy = exclude_last_speaker(RandomPolicy(1))
    assert policy.name == "random"
    assert policy.describe() == "random (filtered by exclude_last_speaker)"


async def test_exclude_last_speaker_around_round_robin_still_goes_round() -> None:
    chat = GroupChat(trio(), policy=exclude_last_speaker(RoundRobinPolicy()), max_turns=6)
    await run_to_end(chat)

    # Round robin never repeats a speaker anyway, so the wrapper must change nothing.
    assert speakers(chat) == ["a", "b", "c", "a", "b", "c"]


async def test_exclude_last_speaker_around_round_robin_never_repeats() -> None:
    chat = GroupChat(trio(), policy=exclude_last_speaker(RoundRobinPolicy()), max_turns=6)
    await run_to_end(chat)

    names = speakers(chat)
    assert names[0] == "a"
    assert all(x != y for x, y in pairwise(names))


async def test_exclude_last_speaker_around_random_never_repeats() -> None:
    chat = GroupChat(trio(), policy=exclude_last_speaker(RandomPolicy(11)), max_turns=40)
    await run_to_end(chat)

    events = selections(chat)
    names = [e.speaker for e in events]
    assert all(x != y for x, y in pairwise(names))
    assert set(names) == set(NAMES)
    for previous, event in zip(names, events[1:], strict=False):
        assert event.policy == "random"
        assert event.reason == "random pick among " + ", ".join(n for n in NAMES if n != previous)


async def test_exclude_last_speaker_lets_a_sole_participant_speak_again() -> None:
    chat = GroupChat([agent("solo")], policy=exclude_last_speaker(RoundRobinPolicy()), max_turns=3)
    await run_to_end(chat)

    assert speakers(chat) == ["solo", "solo", "solo"]


async def test_exclude_last_speaker_around_manual_offers_and_accepts_only_the_others() -> None:
    chat, human = manual_chat(exclude_last_speaker(ManualPolicy()), max_turns=2)
    probe = ChatProbe.of(chat)
    run = start(chat)

    first = await probe.wait_for(HumanInputRequested, request="select_speaker")
    human.send("alice")
    second = await probe.wait_for(HumanInputRequested, request="select_speaker")
    human.send("alice")  # the last speaker is not a candidate now
    retry = await probe.wait_for(HumanInputRequested, request="select_speaker")
    human.send("1")  # numbers refer to the offered list: bob
    await finish(run)

    assert first.choices == ("alice", "bob", "you")
    assert second.choices == ("bob", "you")
    assert second.prompt == "Who speaks next? 1. bob, 2. you"
    assert retry.prompt.startswith("'alice' is not one of the candidates.")
    assert speakers(chat) == ["alice", "bob"]
    assert [e.reason for e in selections(chat)] == ["chosen by you", "chosen by you"]


async def test_exclude_last_speaker_around_mention_ignores_a_mention_of_the_last_speaker() -> None:
    alice = Puppet("alice")
    human = HumanParticipant("you")
    policy = exclude_last_speaker(MentionPolicy(fallback=FunctionPolicy(pick_first)))
    chat = GroupChat([alice.agent, agent("bob"), human], policy=policy, max_turns=2)
    probe = ChatProbe.of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="alice")
    human.send("@alice keep going")
    await probe.wait_for(is_interjection)
    alice.say("that was my part")
    await finish(run)

    event = selections(chat)[1]
    assert (event.speaker, event.policy) == ("bob", "pick_first")
    assert event.reason == "no @mention; chosen by pick_first"


async def test_candidate_filter_around_mention_ignores_filtered_out_names() -> None:
    def no_carol(view: ChatView, candidates: Sequence[str]) -> list[str]:
        return [c for c in candidates if c != "carol"]

    policy = CandidateFilter(MentionPolicy(), no_carol)
    chat = GroupChat(
        [agent("alice", "@carol please"), agent("bob"), agent("carol")], policy=policy, max_turns=2
    )
    await run_to_end(chat)

    event = selections(chat)[1]
    assert event.speaker == "bob"
    assert event.reason == "no @mention; round robin: bob follows alice"


async def test_exclude_last_speaker_around_graph_removes_self_loops() -> None:
    graph = TransitionGraphPolicy({"a": ["a", "b"], "b": ["a"]}, then=FunctionPolicy(pick_last))
    chat = GroupChat([agent("a"), agent("b")], policy=exclude_last_speaker(graph), max_turns=4)
    chat.steer("a")
    await run_to_end(chat)

    events = selections(chat)
    assert [e.speaker for e in events] == ["a", "b", "a", "b"]
    assert events[1].reason == "graph a -> b; chosen by pick_last"
    assert events[1].policy == "graph"


async def test_unwrapped_graph_allows_the_self_loop() -> None:
    graph = TransitionGraphPolicy({"a": ["a", "b"], "b": ["a"]}, then=FunctionPolicy(pick_first))
    chat = GroupChat([agent("a"), agent("b")], policy=graph, max_turns=3)
    await run_to_end(chat)

    assert speakers(chat) == ["a", "a", "a"]


async def test_exclude_last_speaker_around_function_hides_the_last_speaker() -> None:
    offered: list[tuple[str, ...]] = []

    def record(view: ChatView, candidates: Sequence[str]) -> str:
        offered.append(tuple(candidates))
        return candidates[0]

    chat = GroupChat(trio(), policy=exclude_last_speaker(FunctionPolicy(record)), max_turns=4)
    await run_to_end(chat)

    assert offered == [NAMES, ("b", "c"), ("a", "c"), ("b", "c")]
    assert speakers(chat) == ["a", "b", "a", "b"]
