"""Replay: stored events published again, same path as live, with timing and controls."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console

from groupchat.bus import EventBus
from groupchat.chat import GroupChat
from groupchat.events import (
    ChatEnded,
    ChatStarted,
    Event,
    HumanInputRequested,
    MessagePosted,
    dump_event,
)
from groupchat.termination import MaxMessages
from groupchat.testing import HumanParticipant, ScriptedAgent
from groupchat.transcripts import JsonlError, read_jsonl, validate_transcript
from groupchat.transcripts.replay import (
    DEFAULT_MAX_GAP,
    Replayer,
    ReplayError,
    SeekError,
    list_samples,
    read_events,
    sample_path,
)
from groupchat.tui.console import ConsoleRenderer
from groupchat.tui.replay import ReplayConsole, faster, run_replay_console, slower

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


# ---------------------------------------------------------------- helpers


class FakeClock:
    """A wall clock that moves only when the replayer sleeps; it records every delay asked."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self.now += delay


class GatedClock(FakeClock):
    """Like :class:`FakeClock`, but a sleep lasts until :meth:`release` (or a control call
    cancels it), so a test can act while the replayer waits."""

    def __init__(self) -> None:
        super().__init__()
        self._gate: asyncio.Future[None] | None = None
        self.asleep = asyncio.Event()

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self._gate = asyncio.get_running_loop().create_future()
        self.asleep.set()
        try:
            await self._gate
        finally:
            self.asleep.clear()
        self.now += delay

    def release(self) -> None:
        """End the current sleep as if its time had passed."""
        assert self._gate is not None and not self._gate.done(), "nothing is asleep"
        self._gate.set_result(None)
        self.asleep.clear()


async def live_chat(*, console: Console | None = None) -> list[Event]:
    """A real chat of three scripted agents and a person, rendered live if ``console``."""
    you = HumanParticipant("you")
    chat = GroupChat(
        [
            ScriptedAgent("alice", ["Hello **all**, @you first?", "Done here."], chunk="word"),
            ScriptedAgent("bob", ["Hi [bold]alice[/bold]\nsecond line", "Agreed."], chunk=4),
            you,
            ScriptedAgent("carol", ["Fine by me."]),
        ],
        termination=MaxMessages(6),
        metadata={"team": "replay test"},
    )
    renderer = ConsoleRenderer(console) if console is not None else None
    sub = chat.bus.subscribe(chat.chat_id, maxsize=1 << 20)
    runner = asyncio.create_task(chat.run("Plan the offsite"))
    events: list[Event] = []
    async for event in sub:
        events.append(event)
        if renderer is not None:
            renderer.render(event)
        if isinstance(event, HumanInputRequested):
            you.send("Friday works for me.")
    await runner
    return events


def retimed(events: Sequence[Event], gaps: Sequence[float]) -> list[Event]:
    """``events`` with times ``gaps[i]`` seconds after the previous one (cycling ``gaps``)."""
    out: list[Event] = []
    now = T0
    for index, event in enumerate(events):
        if index:
            now += timedelta(seconds=gaps[(index - 1) % len(gaps)])
        out.append(event.model_copy(update={"time": now}))
    return out


async def collect(bus: EventBus, chat_id: str, start: int = 0) -> list[Event]:
    return [event async for event in bus.subscribe(chat_id, start=start, maxsize=1 << 20)]


async def replay_all(events: Sequence[Event], **options: object) -> list[Event]:
    bus = EventBus()
    replayer = Replayer(events, bus, **options)  # type: ignore[arg-type]
    reader = asyncio.create_task(collect(bus, replayer.chat_id, replayer.position))
    await replayer.run()
    return await reader


def message_ends(events: Sequence[Event]) -> list[int]:
    """One past the seq of every posted message."""
    return [e.seq + 1 for e in events if isinstance(e, MessagePosted)]


def console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=100, color_system=None, highlight=False), buf


# ---------------------------------------------------------------- the same events


async def test_a_replay_publishes_exactly_the_stored_events() -> None:
    events = await live_chat()
    assert isinstance(events[0], ChatStarted) and isinstance(events[-1], ChatEnded)
    assert await replay_all(events, speed=0) == events


async def test_a_timed_replay_publishes_the_same_events_and_closes_the_chat() -> None:
    events = retimed(await live_chat(), [0.3, 0.0, 1.5])
    clock = FakeClock()
    bus = EventBus(retain=None)
    replayer = Replayer(events, bus, sleep=clock.sleep, clock=clock)
    reader = asyncio.create_task(collect(bus, replayer.chat_id))
    await replayer.run()
    assert await reader == events == bus.history(replayer.chat_id)
    assert bus.is_closed(replayer.chat_id)
    assert replayer.done and replayer.position == replayer.end == events[-1].seq + 1


async def test_close_false_leaves_the_chat_open() -> None:
    events = await live_chat()
    bus = EventBus()
    await Replayer(events, bus, speed=0, close=False).run()
    assert not bus.is_closed(events[0].chat_id)
    assert bus.next_seq(events[0].chat_id) == len(events)


async def test_a_replay_can_start_in_the_middle_of_the_log() -> None:
    events = await live_chat()
    assert await replay_all(events, speed=0, start=5) == events[5:]
    assert await replay_all(events[5:], speed=0) == events[5:]


# ---------------------------------------------------------------- timing


async def test_requested_delays_are_the_original_gaps_over_the_speed() -> None:
    gaps = [0.4, 0.0, 1.2, 0.05]
    events = retimed(await live_chat(), gaps)
    clock = FakeClock()
    await Replayer(events, EventBus(), speed=2, sleep=clock.sleep, clock=clock).run()
    expected = [g / 2 for g in (gaps * len(events))[: len(events) - 1] if g > 0]
    assert clock.delays == pytest.approx(expected)


async def test_max_gap_caps_long_idle_times_in_chat_time() -> None:
    events = retimed(await live_chat(), [0.5, 3600.0])
    clock = FakeClock()
    await Replayer(events, EventBus(), speed=2, max_gap=2.0, sleep=clock.sleep, clock=clock).run()
    assert clock.delays == pytest.approx(([0.25, 1.0] * len(events))[: len(events) - 1])
    clock = FakeClock()
    await Replayer(events, EventBus(), max_gap=None, sleep=clock.sleep, clock=clock).run()
    assert max(clock.delays) == pytest.approx(3600.0)
    assert DEFAULT_MAX_GAP == 2.0


async def test_speed_zero_requests_no_delay() -> None:
    events = retimed(await live_chat(), [5.0])
    clock = FakeClock()
    await Replayer(events, EventBus(), speed=0, sleep=clock.sleep, clock=clock).run()
    assert clock.delays == []


async def test_a_late_wake_up_is_made_up_on_the_next_event() -> None:
    events = retimed(await live_chat(), [1.0])
    clock = FakeClock()

    async def oversleep(delay: float) -> None:
        await clock.sleep(delay)
        clock.now += 0.25  # the event loop woke us late

    await Replayer(events, EventBus(), sleep=oversleep, clock=clock).run()
    assert clock.delays[:3] == pytest.approx([1.0, 0.75, 0.75])


# ---------------------------------------------------------------- controls


async def start(
    events: Sequence[Event], clock: FakeClock, **options: object
) -> tuple[Replayer, asyncio.Task[None]]:
    """A replayer running in a task, settled (waiting for its first delay, or paused)."""
    replayer = Replayer(events, EventBus(), sleep=clock.sleep, clock=clock, **options)  # type: ignore[arg-type]
    runner = asyncio.create_task(replayer.run())
    await replayer.settled()
    return replayer, runner


async def test_pause_holds_the_replay_and_resume_plays_the_rest_of_the_gap() -> None:
    events = retimed(await live_chat(), [1.0])
    clock = GatedClock()
    replayer, runner = await start(events, clock)
    assert replayer.position == 1 and clock.delays == [1.0]  # the first event is due at once
    clock.now += 0.25  # a quarter of the gap has passed
    replayer.pause()
    await replayer.settled()
    assert replayer.paused and replayer.position == 1
    clock.now += 100.0  # time spent paused does not count
    replayer.resume()
    await replayer.settled()
    assert not replayer.paused and clock.delays == pytest.approx([1.0, 0.75])
    clock.release()
    await clock.asleep.wait()  # for the event after
    assert replayer.position == 2 and clock.delays[-1] == pytest.approx(1.0)
    replayer.stop()
    await runner


async def test_step_publishes_through_the_next_message_then_stays_paused() -> None:
    events = retimed(await live_chat(), [1.0])
    clock = GatedClock()
    replayer, runner = await start(events, clock, paused=True)
    assert replayer.paused and replayer.position == 0
    ends = message_ends(events)
    for end in ends[:3]:
        replayer.step()
        await replayer.settled()
        assert replayer.position == end and replayer.paused
        assert isinstance(replayer.bus.history(replayer.chat_id)[-1], MessagePosted)
    assert clock.delays == []  # steps do not wait
    replayer.resume()
    await replayer.settled()
    assert clock.delays == [1.0]
    replayer.step()  # a step while playing pauses after the next message
    await replayer.settled()
    assert replayer.position == ends[3] and replayer.paused
    replayer.stop()
    await runner


async def test_seek_forward_publishes_at_once_and_keeps_playing() -> None:
    events = retimed(await live_chat(), [1.0, 2.0])
    clock = GatedClock()
    replayer, runner = await start(events, clock)
    reader = asyncio.create_task(collect(replayer.bus, replayer.chat_id))
    replayer.seek(8)
    await replayer.settled()
    assert replayer.position == 8 and not replayer.paused
    assert clock.delays == [1.0, 2.0]  # then the whole gap before event 8
    replayer.pause()
    replayer.seek(10)  # a paused replay stays paused
    await replayer.settled()
    assert replayer.position == 10 and replayer.paused
    replayer.seek(10_000)  # past the end: everything
    await replayer.settled()
    assert replayer.done and replayer.position == replayer.end
    assert await reader == events
    await runner


async def test_seek_backwards_is_refused_and_restart_goes_back() -> None:
    events = await live_chat()
    bus = EventBus()
    replayer = Replayer(events, bus, speed=0, paused=True)
    old_reader = asyncio.create_task(collect(bus, replayer.chat_id))
    runner = asyncio.create_task(replayer.run())
    replayer.seek(12)
    await replayer.settled()
    with pytest.raises(SeekError, match="only go forward"):
        replayer.seek(3)
    again = replayer.restart(3, history=False)
    await runner
    assert await old_reader == events[:12]  # the old log ended; its subscribers stop
    assert again.position == 3 and again.paused and again.bus is bus
    reader = asyncio.create_task(collect(bus, again.chat_id, start=3))
    again.resume()
    await again.run()
    assert await reader == events[3:]


async def test_restart_with_history_replays_everything_before_onto_a_fresh_bus() -> None:
    events = await live_chat()
    replayer = Replayer(events, EventBus(), speed=0, paused=True)
    fresh = EventBus()
    again = replayer.restart(6, fresh)
    reader = asyncio.create_task(collect(fresh, again.chat_id))
    runner = asyncio.create_task(again.run())
    await again.settled()
    assert again.position == 6 and again.paused
    again.resume()
    await runner
    assert await reader == events
    await replayer.run()  # the old one was stopped: it returns at once
    assert replayer.position == 0


async def test_set_speed_rescales_the_rest_of_the_wait() -> None:
    events = retimed(await live_chat(), [1.0])
    clock = GatedClock()
    replayer, runner = await start(events, clock)
    clock.now += 0.5
    replayer.set_speed(4)
    await replayer.settled()
    assert clock.delays == pytest.approx([1.0, 0.125]) and replayer.speed == 4
    replayer.set_speed(0)
    await replayer.settled()
    assert replayer.done and replayer.position == replayer.end
    with pytest.raises(ValueError, match="speed"):
        replayer.set_speed(-1)
    await runner


async def test_stop_ends_the_run_and_closes_the_chat() -> None:
    events = retimed(await live_chat(), [1.0])
    clock = GatedClock()
    replayer, runner = await start(events, clock)
    reader = asyncio.create_task(collect(replayer.bus, replayer.chat_id))
    replayer.stop()
    await runner
    assert replayer.done and replayer.position == 1
    assert await reader == events[:1]
    with pytest.raises(RuntimeError, match="already run"):
        await replayer.run()


async def test_events_that_are_not_one_chats_log_are_refused() -> None:
    events = await live_chat()
    with pytest.raises(ReplayError, match="no events"):
        Replayer([], EventBus())
    with pytest.raises(ReplayError, match="event 4 has seq 4, expected 3"):
        Replayer(events[:3] + events[4:], EventBus())
    other = events[5].model_copy(update={"chat_id": "other"})
    with pytest.raises(ReplayError, match="seq 5 belongs to chat 'other'"):
        Replayer([*events[:5], other, *events[6:]], EventBus())
    with pytest.raises(ValueError, match="speed"):
        Replayer(events, EventBus(), speed=-1)
    bus = EventBus()
    await Replayer(events[:4], bus, speed=0, close=False).run()
    with pytest.raises(ReplayError, match="already on this bus"):
        Replayer(events, bus)


# ---------------------------------------------------------------- rendering


async def test_a_replay_renders_like_the_live_chat() -> None:
    live_console, live_out = console()
    events = await live_chat(console=live_console)
    replay_console, replay_out = console()
    shown = await run_replay_console(events, speed=0, console=replay_console, interactive=False)
    assert shown is True
    assert replay_out.getvalue() == live_out.getvalue()
    assert "bob: Hi [bold]alice[/bold]\nsecond line" in replay_out.getvalue()


async def test_a_timed_replay_renders_like_the_live_chat_too() -> None:
    live_console, live_out = console()
    events = retimed(await live_chat(console=live_console), [0.2, 0.7])
    replay_console, replay_out = console()
    clock = FakeClock()
    replayer = Replayer(events, EventBus(), sleep=clock.sleep, clock=clock)
    assert await ReplayConsole(replayer, console=replay_console).run(interactive=False)
    assert replay_out.getvalue() == live_out.getvalue()
    assert sum(clock.delays) == pytest.approx(0.45 * (len(events) - 1), abs=0.5)


async def test_console_commands_control_the_replay() -> None:
    events = retimed(await live_chat(), [1.0])
    clock = GatedClock()
    out_console, out = console()
    replayer = Replayer(events, EventBus(), paused=True, sleep=clock.sleep, clock=clock)
    session = ReplayConsole(replayer, console=out_console)
    playing = asyncio.create_task(session.run(interactive=False))
    await replayer.settled()
    session.handle_line("n")
    await replayer.settled()
    assert replayer.position == message_ends(events)[0]
    session.handle_line("/step")
    await replayer.settled()
    assert replayer.position == message_ends(events)[1]
    session.handle_line("/speed 3")
    session.handle_key("+")
    assert replayer.speed == 4
    session.handle_line("/seek 12")
    await replayer.settled()
    assert replayer.position == 12 and replayer.paused
    session.handle_line("/seek x")
    session.handle_line("/rewind")
    session.handle_line("/seek")
    session.handle_line("/")
    assert "'x' is not an event number" in out.getvalue()
    assert "unknown command /rewind" in out.getvalue()
    assert "usage: /seek SEQ" in out.getvalue()
    assert "unknown command /;" in out.getvalue()
    assert "event 12/" in session.status() and "paused" in session.status()
    assert "fork --at 11 " in session.status()  # what is shown ends at seq 11
    session.handle_line("/help")
    assert "/seek SEQ" in out.getvalue() and "space" in out.getvalue()

    session.handle_line("/seek 4")  # backwards: a new replay from event 4
    again = session.replayer
    assert again is not replayer and again.position == 4 and again.paused
    assert "⏮ back to event 4" in out.getvalue()
    before = out.getvalue()
    session.handle_key(" ")  # resume
    session.handle_line("/speed 0")
    assert await playing is True
    assert again.done and again.position == again.end
    # From event 4 on, the replay renders what the live chat did after it.
    tail_console, tail = console()
    renderer = ConsoleRenderer(tail_console)
    for name in ("alice", "bob", "you", "carol"):
        renderer.color(name)
    for event in events[4:]:
        renderer.render(event)
    assert out.getvalue()[len(before) :] == tail.getvalue()


async def test_quit_stops_the_console_replay() -> None:
    events = retimed(await live_chat(), [1.0])
    clock = GatedClock()
    replayer = Replayer(events, EventBus(), sleep=clock.sleep, clock=clock)
    session = ReplayConsole(replayer, console=console()[0])
    playing = asyncio.create_task(session.run(interactive=False))
    await replayer.settled()
    assert session.handle_key("q") and not session.handle_key("x")
    assert await playing is False
    assert replayer.position == 1


async def test_keys_at_an_empty_terminal_prompt_control_the_replay() -> None:
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    events = retimed(await live_chat(), [1.0])
    clock = GatedClock()
    replayer = Replayer(events, EventBus(), paused=True, sleep=clock.sleep, clock=clock)
    session = ReplayConsole(replayer, console=console()[0])
    typed: asyncio.Queue[str] = asyncio.Queue()  # what the prompt handed to the session
    handle_key, handle_line = session.handle_key, session.handle_line

    def key_spy(key: str) -> bool:
        typed.put_nowait(key)
        return handle_key(key)

    def line_spy(line: str) -> None:
        typed.put_nowait(line)
        handle_line(line)

    session.handle_key = key_spy  # type: ignore[method-assign]
    session.handle_line = line_spy  # type: ignore[method-assign]
    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        playing = asyncio.create_task(session.run(interactive=True))
        await replayer.settled()
        keys.send_text("n")
        assert await typed.get() == "n"
        await replayer.settled()
        assert replayer.position == message_ends(events)[0]
        keys.send_text("/seek 20\r")  # at a prompt that is not empty, keys are text
        assert await typed.get() == "/seek 20"
        await replayer.settled()
        assert replayer.position == 20
        keys.send_text("+ ")
        assert [await typed.get(), await typed.get()] == ["+", " "]
        await replayer.settled()
        assert replayer.speed == 2 and not replayer.paused
        keys.send_text("q")
        assert await playing is False


def test_speed_keys_step_through_the_ladder() -> None:
    assert faster(1.0) == 2.0 and faster(16.0) == 0.0 and faster(0.0) == 0.0
    assert faster(3.0) == 4.0
    assert slower(1.0) == 0.5 and slower(0.25) == 0.25 and slower(0.0) == 16.0
    assert slower(3.0) == 2.0


# ---------------------------------------------------------------- reading transcripts


async def test_read_events_matches_the_line_by_line_reader(tmp_path: Path) -> None:
    events = await live_chat()
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(dump_event(e) + "\n" for e in events), encoding="utf-8")
    assert read_events(path) == events == read_jsonl(path)
    path.write_text("\n".join(dump_event(e) for e in events) + "\n\n\n", encoding="utf-8")
    assert read_events(path) == events  # blank lines: the careful reader takes over
    path.write_text("", encoding="utf-8")
    assert read_events(path) == []


async def test_read_events_takes_one_event_per_line(tmp_path: Path) -> None:
    events = await live_chat()
    lines = [dump_event(e) for e in events]
    lines[2:4] = [f"{lines[2]},{lines[3]}"]  # two events on one line is no JSONL
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(JsonlError, match="line 3"):
        read_events(path)


async def test_a_bad_line_is_named(tmp_path: Path) -> None:
    events = await live_chat()
    lines = [dump_event(e) for e in events]
    lines[6] = lines[6].replace('"seq":6', '"seq":"six"')
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(JsonlError, match=r"line 7: seq") as caught:
        read_events(path)
    assert caught.value.line == 7


async def test_read_events_reads_a_file_of_many_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file longer than one validation chunk reads the same; a bad line far in is named."""
    import groupchat.transcripts.replay as replay_module

    monkeypatch.setattr(replay_module, "_CHUNK_BYTES", 300)  # a few lines per chunk
    events = await live_chat()
    lines = [dump_event(e) for e in events]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > 5 * 300
    assert read_events(path) == events
    last = len(lines) - 1
    lines[last] = lines[last].replace('"chat_id"', '"chat"')
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(JsonlError, match=rf"line {last + 1}\b") as caught:
        read_events(path)
    assert caught.value.line == last + 1


# ---------------------------------------------------------------- samples


def test_the_samples_are_listed() -> None:
    assert list_samples() == ["code-review", "debate", "demo"]


def test_an_unknown_sample_names_the_samples() -> None:
    with pytest.raises(LookupError, match=r"'nope'; the samples are: code-review, debate, demo"):
        sample_path("nope")


@pytest.mark.parametrize("name", ["code-review", "debate", "demo"])
async def test_each_sample_is_a_valid_chat_that_replays(name: str) -> None:
    events = read_events(sample_path(name))
    validate_transcript(events, source=name)  # one chat id, seq 0..n-1, starts with chat_started
    assert [e.seq for e in events] == list(range(len(events)))
    assert {e.chat_id for e in events} == {f"sample-{name}"}
    assert isinstance(events[-1], ChatEnded) and events[-1].status == "completed"
    assert await replay_all(events, speed=0) == events
    clock = FakeClock()
    await Replayer(events, EventBus(), sleep=clock.sleep, clock=clock).run()
    assert 15 <= sum(clock.delays) <= 45  # at speed 1 it plays like a live chat


def _generator() -> ModuleType:
    path = ROOT / "transcripts" / "samples" / "generate.py"
    spec = importlib.util.spec_from_file_location("sample_generator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_generator_reproduces_the_samples_byte_for_byte() -> None:
    texts = await _generator().build_all()
    assert sorted(texts) == list_samples()
    for name, text in texts.items():
        assert sample_path(name).read_text(encoding="utf-8") == text, name


def test_the_samples_ship_as_package_data() -> None:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        package_data = tomllib.load(fh)["tool"]["setuptools"]["package-data"]
    assert "samples/*.jsonl" in package_data["groupchat.transcripts"]
    shipped = sorted(p.stem for p in (ROOT / "transcripts").glob("samples/*.jsonl"))
    assert shipped == list_samples()


async def test_read_events_takes_the_fast_path_for_a_good_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid file of many chunks is read in runs, never by the line-by-line fallback."""
    import groupchat.transcripts.jsonl as jsonl_module
    import groupchat.transcripts.replay as replay_module

    def no_fallback(path: object) -> list[object]:
        raise AssertionError("fell back to the line-by-line reader")

    monkeypatch.setattr(replay_module, "_CHUNK_BYTES", 300)
    monkeypatch.setattr(jsonl_module, "read_jsonl", no_fallback)
    events = await live_chat()
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(dump_event(e) for e in events) + "\n", encoding="utf-8")
    assert read_events(path) == events
