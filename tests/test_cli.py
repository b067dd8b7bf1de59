"""End-to-end behaviour of the ``groupchat`` command, run as a separate process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from groupchat import __version__
from groupchat.app.cli import main
from groupchat.events import ChatEnded, ChatStarted, MessagePosted, dump_event, parse_event

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TIMEOUT = 60  # a safety net for a hung process, never a wait

# ----------------------------------------------------------------------------------------- helpers


def groupchat(
    *args: str | Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m groupchat ARGS`` in the repo root with ``stdin`` as its input."""
    return subprocess.run(
        [sys.executable, "-m", "groupchat", *(str(a) for a in args)],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )


def with_pythonpath(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(path), env.get("PYTHONPATH")) if p)
    return env


def senders(stdout: str) -> list[str]:
    return [line.split(":", 1)[0] for line in stdout.splitlines()]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SMALL = """\
name: small
task: the spec's own task
participants:
  - kind: scripted
    name: alice
    script: ["alice one", "alice two"]
    when_done: cycle
  - kind: scripted
    name: bob
    script: ["bob one"]
    when_done: cycle
termination:
  max_messages: 6
"""

UNBOUNDED = """\
participants:
  - kind: scripted
    name: alice
    script: ["alice speaks"]
    when_done: cycle
  - kind: scripted
    name: bob
    script: ["bob speaks"]
    when_done: cycle
"""

WITH_HUMAN = """\
task: say something
participants:
  - kind: scripted
    name: alice
    script: ["your turn, @dana"]
  - kind: human
    name: dana
  - kind: scripted
    name: bob
    script: ["thanks"]
termination:
  max_messages: 3
"""

PICKS_A_STRANGER = """\
participants:
  - kind: scripted
    name: alice
    script: ["hi"]
policy:
  kind: function
  function: stranger_picker:pick
"""


@pytest.fixture
def small_spec(tmp_path: Path) -> Path:
    return write(tmp_path, "small.yaml", SMALL)


# -------------------------------------------------------------------------------------------- demo


def test_demo_headless_with_empty_input_runs_to_the_end() -> None:
    proc = groupchat("demo", "--headless", "--delay", "0")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "task: Plan a one-day offline hackathon for about 40 people."
    said = senders(proc.stdout)
    assert said[1] == "planner"
    assert {"planner", "researcher", "critic"} <= set(said)
    assert "you" not in said  # the person passes at the end of the input
    assert said[-1] == "planner" and lines[-1].endswith("DONE")
    assert proc.stderr == "chat ended (completed): planner said 'DONE'\n"


def test_demo_takes_the_persons_turn_from_stdin() -> None:
    proc = groupchat("demo", "--headless", "--delay", "0", stdin="my idea @critic\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    index = lines.index("you: my idea @critic")
    assert lines[index - 1].startswith("critic: ")  # the critic asked for the person's view
    assert lines[index + 1].startswith("critic: ")  # the @mention hands the floor back
    assert "my idea @critic" in lines[index + 1]
    assert senders(proc.stdout).count("you") == 1


def test_demo_prints_one_line_per_message_even_for_multiline_text() -> None:
    proc = groupchat("demo", "--headless", "--delay", "0")
    jsonl = groupchat("demo", "--jsonl", "--delay", "0")
    posted = [
        e for e in map(parse_event, jsonl.stdout.splitlines()) if isinstance(e, MessagePosted)
    ]
    assert any("\n" in e.message.content for e in posted)
    assert len(proc.stdout.splitlines()) == len(posted)


def test_demo_jsonl_prints_every_event_as_canonical_json() -> None:
    proc = groupchat("demo", "--jsonl", "--delay", "0", stdin="my idea @critic\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    events = [parse_event(line) for line in lines]
    assert [dump_event(e) for e in events] == lines
    assert [e.seq for e in events] == list(range(len(events)))
    assert len({e.chat_id for e in events}) == 1
    assert isinstance(events[0], ChatStarted)
    assert isinstance(events[-1], ChatEnded)
    assert events[-1].status == "completed"
    assert sum(isinstance(e, ChatEnded) for e in events) == 1
    mine = [e for e in events if isinstance(e, MessagePosted) and e.message.sender == "you"]
    assert [(e.sender, e.message.content) for e in mine] == [("you", "my idea @critic")]


@pytest.mark.parametrize("delay", ["-1", "soon", "nan", "inf"])
def test_demo_rejects_a_bad_delay(delay: str) -> None:
    proc = groupchat("demo", "--headless", "--delay", delay)
    assert proc.returncode == 2
    assert "--delay" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("speed", ["-1", "fast", "nan", "inf"])
def test_replay_rejects_a_bad_speed(speed: str) -> None:
    proc = groupchat("replay", "--sample", "demo", "--plain", "--speed", speed)
    assert proc.returncode == 2
    assert "--speed" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


# --------------------------------------------------------------------------------------------- run


def test_run_a_spec_headless(small_spec: Path) -> None:
    proc = groupchat("run", small_spec, "--headless")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "task: the spec's own task",
        "alice: alice one",
        "bob: bob one",
        "alice: alice two",
        "bob: bob one",
        "alice: alice one",
        "bob: bob one",
    ]
    assert proc.stderr == "chat ended (completed): reached 6 messages\n"


def test_task_option_overrides_the_spec(small_spec: Path) -> None:
    proc = groupchat("run", small_spec, "--headless", "--task", "a task of my own")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "task: a task of my own"
    assert "the spec's own task" not in proc.stdout


def test_max_messages_ends_earlier_than_the_spec(small_spec: Path) -> None:
    proc = groupchat("run", small_spec, "--headless", "--max-messages", "3")
    assert proc.returncode == 0, proc.stderr
    assert senders(proc.stdout) == ["task", "alice", "bob", "alice"]
    assert proc.stderr == "chat ended (completed): reached 3 messages\n"


def test_max_messages_ends_a_spec_without_termination(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "endless.toml",
        '[[participants]]\nkind = "scripted"\nname = "alice"\n'
        'script = ["alice speaks"]\nwhen_done = "cycle"\n',
    )
    proc = groupchat("run", spec, "--headless", "--max-messages", "2", "--task", "go")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["task: go", "alice: alice speaks", "alice: alice speaks"]


def test_spec_limit_still_applies_with_a_larger_max_messages(small_spec: Path) -> None:
    proc = groupchat("run", small_spec, "--headless", "--max-messages", "50")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 7


def test_run_jsonl(small_spec: Path) -> None:
    proc = groupchat("run", small_spec, "--jsonl", "--max-messages", "2")
    assert proc.returncode == 0, proc.stderr
    events = [parse_event(line) for line in proc.stdout.splitlines()]
    assert [e.seq for e in events] == list(range(len(events)))
    started, ended = events[0], events[-1]
    assert isinstance(started, ChatStarted) and started.task == "the spec's own task"
    assert started.metadata == {"team": "small"}
    assert [p.name for p in started.participants] == ["alice", "bob"]
    assert isinstance(ended, ChatEnded) and ended.reason == "reached 2 messages"
    assert ended.messages == 3  # the task and two turns


def test_a_person_in_a_spec_answers_on_stdin(tmp_path: Path) -> None:
    spec = write(tmp_path, "people.yaml", WITH_HUMAN)
    proc = groupchat("run", spec, "--headless", stdin="hello from dana\nnever read\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "task: say something",
        "alice: your turn, @dana",
        "dana: hello from dana",
        "bob: thanks",
    ]


def test_a_person_passes_when_the_input_ends(tmp_path: Path) -> None:
    spec = write(tmp_path, "people.yaml", WITH_HUMAN)
    proc = groupchat("run", spec, "--headless", "--max-messages", "2")
    assert proc.returncode == 0, proc.stderr
    assert senders(proc.stdout) == ["task", "alice", "bob"]


TWO_PEOPLE = """\
task: plan a picnic
participants:
  - {kind: scripted, name: host, script: ["Who brings what?"], when_done: cycle}
  - {kind: human, name: alice}
  - {kind: human, name: bob}
policy: {kind: manual, human: bob}
max_turns: 2
"""


def test_headless_lines_answer_each_person_in_the_order_they_are_asked(tmp_path: Path) -> None:
    spec = write(tmp_path, "picnic.yaml", TWO_PEOPLE)
    # bob picks (one line), the one picked speaks (one line); twice.
    lines = "alice\nbread from alice\nbob\ncheese from bob\n"
    proc = groupchat("run", spec, "--headless", "--as", "alice", stdin=lines)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "task: plan a picnic",
        "alice: bread from alice",
        "bob: cheese from bob",
    ]


def test_the_plain_console_answers_every_person_and_seats_the_one_named(
    tmp_path: Path,
) -> None:
    spec = write(tmp_path, "picnic.yaml", TWO_PEOPLE)
    lines = "host\nbob\ncheese\n"
    proc = groupchat("run", spec, "--plain", "--as", "Bob", stdin=lines)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "» bob, who speaks next? 1. host  2. alice  3. bob" in out
    assert "host: Who brings what?" in out
    assert "bob (you): cheese" in out
    assert "alice (you)" not in out


@pytest.mark.parametrize(
    ("team", "name", "error"),
    [
        (TWO_PEOPLE, "carol", "--as carol: not a human participant of this team (alice, bob)"),
        (TWO_PEOPLE, "host", "--as host: not a human participant of this team (alice, bob)"),
        (SMALL, "alice", "--as alice: this team has no human participant"),
    ],
)
def test_as_names_one_of_the_team_s_people(
    tmp_path: Path, team: str, name: str, error: str
) -> None:
    spec = write(tmp_path, "team.yaml", team)
    proc = groupchat("run", spec, "--plain", "--as", name)
    assert proc.returncode == 2
    assert proc.stderr == f"groupchat: error: {error}\n"
    assert proc.stdout == ""


@pytest.mark.parametrize("name", ["debate.yaml", "brainstorm.yaml"])
def test_example_runs_headless_to_the_end(name: str) -> None:
    proc = groupchat("run", EXAMPLES / name, "--headless")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("task: ")
    assert proc.stderr.startswith("chat ended (completed): ")


def test_debate_example_ends_when_the_moderator_closes() -> None:
    proc = groupchat("run", "examples/debate.yaml", "--headless")
    assert proc.returncode == 0, proc.stderr
    rounds = ["moderator", "pro", "con"] * 2
    assert senders(proc.stdout) == ["task", *rounds, "moderator"]
    assert proc.stderr == "chat ended (completed): moderator said 'DEBATE OVER'\n"


def test_brainstorm_example_lets_the_person_pick_the_speaker() -> None:
    proc = groupchat("run", "examples/brainstorm.yaml", "--headless", stdin="skeptic\n")
    assert proc.returncode == 0, proc.stderr
    assert senders(proc.stdout)[:2] == ["task", "skeptic"]


def test_code_review_example_ends_when_the_approver_approves() -> None:
    proc = groupchat("run", "examples/code_review.toml", "--headless", stdin="APPROVED\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "approver: APPROVED"
    assert proc.stderr == "chat ended (completed): approver said 'APPROVED'\n"


# -------------------------------------------------------------------------------------- exit codes


def test_runtime_failure_exits_1(tmp_path: Path) -> None:
    write(tmp_path, "stranger_picker.py", "def pick(view, candidates):\n    return 'nobody'\n")
    spec = write(tmp_path, "team.yaml", PICKS_A_STRANGER)
    proc = groupchat("run", spec, "--headless", "--task", "go", env=with_pythonpath(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == ["task: go"]
    assert proc.stderr.startswith("chat ended (error): ")
    assert "'nobody'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_runtime_failure_in_jsonl_exits_1_with_an_error_event(tmp_path: Path) -> None:
    write(tmp_path, "stranger_picker.py", "def pick(view, candidates):\n    return 'nobody'\n")
    spec = write(tmp_path, "team.yaml", PICKS_A_STRANGER)
    proc = groupchat("run", spec, "--jsonl", env=with_pythonpath(tmp_path))
    assert proc.returncode == 1
    events = [parse_event(line) for line in proc.stdout.splitlines()]
    ended = events[-1]
    assert isinstance(ended, ChatEnded) and ended.status == "error"
    assert any(e.type == "error" for e in events)


def test_unimportable_policy_function_is_a_usage_error(tmp_path: Path) -> None:
    spec = write(tmp_path, "team.yaml", PICKS_A_STRANGER)  # stranger_picker is not on the path
    proc = groupchat("run", spec, "--headless")
    assert proc.returncode == 2
    assert str(spec) in proc.stderr
    assert "policy.function" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_invalid_spec_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    spec = write(tmp_path, "team.yaml", SMALL.replace("max_messages: 6", "max_messages: 0"))
    proc = groupchat("run", spec, "--headless")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"groupchat: error: {spec}: termination.max_messages (line 13)")
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_unparsable_spec_exits_2(tmp_path: Path) -> None:
    spec = write(tmp_path, "team.toml", "participants = [\n")
    proc = groupchat("run", spec, "--headless")
    assert proc.returncode == 2
    assert str(spec) in proc.stderr and "invalid TOML" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_spec_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    proc = groupchat("run", missing, "--headless")
    assert proc.returncode == 2
    assert proc.stderr == f"groupchat: error: {missing}: no such file\n"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((), id="no-command"),
        pytest.param(("chat",), id="unknown-command"),
        pytest.param(("run",), id="run-without-spec"),
        pytest.param(("run", "examples/debate.yaml", "--max-messages", "0"), id="max-messages-0"),
        pytest.param(("run", "examples/debate.yaml", "--max-messages", "x"), id="max-messages-x"),
        pytest.param(("check", "examples/debate.yaml", "--bogus"), id="unknown-option"),
    ],
)
def test_bad_usage_exits_2_with_usage(args: tuple[str, ...]) -> None:
    proc = groupchat(*args)
    assert proc.returncode == 2
    assert "usage: groupchat" in proc.stderr
    assert "error:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_version() -> None:
    proc = groupchat("--version")
    assert proc.returncode == 0
    assert proc.stdout == f"groupchat {__version__}\n"


# ------------------------------------------------------------------------------------------- check


def test_check_shows_what_a_spec_builds(small_spec: Path) -> None:
    proc = groupchat("check", small_spec)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{small_spec}: ok"
    fields = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    assert fields == {
        "team": "small",
        "participants": "alice (scripted), bob (scripted)",
        "policy": "round_robin",
        "termination": "max_messages(6)",
        "task": "the spec's own task",
    }


def test_check_an_example_with_a_wrapped_policy_and_a_person() -> None:
    proc = groupchat("check", "examples/brainstorm.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "you (human)" in proc.stdout
    assert "manual (filtered by exclude_last_speaker)" in proc.stdout
    assert "max_messages(12)" in proc.stdout


def test_check_without_conditions_says_none(tmp_path: Path) -> None:
    spec = write(tmp_path, "loose.yaml", UNBOUNDED)
    proc = groupchat("check", spec)
    assert proc.returncode == 0, proc.stderr
    assert any(line.split() == ["termination:", "none"] for line in proc.stdout.splitlines())
    assert "task:" not in proc.stdout


def test_check_warns_of_what_keeps_a_team_from_running_here(tmp_path: Path) -> None:
    """A valid team whose models need a key nobody set, and an SDK that is not installed:
    ``check`` still exits 0 but says both (naming the variable, never a key)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = groupchat("check", "examples/llm_team.yaml", env=env)
    assert proc.returncode == 0, proc.stderr
    warnings = [line.strip() for line in proc.stdout.splitlines() if "warning:" in line]
    assert warnings == [
        "warning:      no API key: set OPENAI_API_KEY (for ideas, critic, selector)"
    ]
    # Without the openai package (a module that refuses to import stands in its place).
    blocker = tmp_path / "openai.py"
    blocker.write_text("raise ImportError('not installed here')\n")
    env["PYTHONPATH"] = str(tmp_path)
    env["OPENAI_API_KEY"] = "sk-test-never-shown"
    proc = groupchat("check", "examples/llm_team.yaml", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (
        "warning:      the OpenAI-compatible model client needs the openai package" in proc.stdout
    )
    assert "no API key" not in proc.stdout and "sk-test" not in proc.stdout + proc.stderr


def test_check_a_bad_spec_exits_2(tmp_path: Path) -> None:
    spec = write(tmp_path, "team.yaml", SMALL.replace("name: bob", "name: alice"))
    proc = groupchat("check", spec)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"groupchat: error: {spec}: participants (line 3)")
    assert "duplicate participant name 'alice'" in proc.stderr
    assert proc.stdout == ""


def test_main_in_process_returns_the_exit_code(
    small_spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(small_spec)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{small_spec}: ok\n")
    assert err == ""

    bad = write(tmp_path, "bad.yaml", "participants: []\n")
    assert main(["check", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"groupchat: error: {bad}: participants")

    assert main(["check", str(tmp_path / "absent.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_main_in_process_exits_2_on_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- install


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "groupchat"
    assert script.is_file()
    assert os.access(script, os.X_OK)
    proc = subprocess.run(
        [str(script), "--version"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout == f"groupchat {__version__}\n"


# ---------------------------------------------------------------------------------------- pipes


def test_closed_stdout_ends_quietly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "groupchat", "run", "examples/brainstorm.yaml", "--headless"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        # The task line comes first; then the chat waits for the person to pick a speaker.
        assert proc.stdout.readline().startswith("task: ")
        proc.stdout.close()  # the reader goes away, as `| head -1` does
        _, err = proc.communicate(input="builder\n", timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err


def test_a_second_ctrl_c_does_not_cut_the_wind_down_short() -> None:
    """Ctrl+C cancels the command, which then records the chat's end; Ctrl+C pressed again
    meanwhile must not raise into the event loop half-way through that (which left the store's
    thread waiting for ever and the process hanging at exit)."""
    from groupchat.app.running import run_async as _run_async

    wound_down: list[bool] = []

    async def command() -> int:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            os.kill(os.getpid(), signal.SIGINT)  # pressed again while the chat winds down
            await asyncio.sleep(0)
            wound_down.append(True)
            raise
        return 0

    assert _run_async(command()) == 130
    assert wound_down == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args", [("check", str(EXAMPLES / "debate.yaml")), ("replay", "--sample", "demo", "--plain")]
)
def test_output_that_cannot_be_written_is_one_line(args: tuple[str, ...]) -> None:
    """Standard output on a full disk: one line saying so and status 1, not a traceback."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "groupchat", *args],
            cwd=REPO,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    assert proc.returncode == 1
    assert proc.stderr == "groupchat: error: cannot write the output: No space left on device\n"
