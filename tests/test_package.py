"""The install and the public surface: every package ships, exports match, imports stay light."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import groupchat

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict[str, object]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def test_every_package_folder_is_in_the_wheel_package_list() -> None:
    tool = _pyproject()["tool"]
    assert isinstance(tool, dict)
    setuptools = tool["setuptools"]
    packages: list[str] = setuptools["packages"]
    package_dir: dict[str, str] = setuptools["package-dir"]
    shipped = {ROOT / package_dir.get(p, p.replace(".", "/")) for p in packages}
    # Map subpackages that are not top-level folders (groupchat.x.y -> <folder of groupchat.x>/y).
    for pkg in packages:
        parts = pkg.split(".")
        for i in range(len(parts) - 1, 0, -1):
            parent = ".".join(parts[:i])
            if parent in package_dir and pkg not in package_dir:
                shipped.add(ROOT / package_dir[parent] / "/".join(parts[i:]))
                break
    folders = {
        init.parent
        for top in ("groupchat", "agents", "tui", "transcripts")
        for init in (ROOT / top).rglob("__init__.py")
    }
    missing = sorted(str(f.relative_to(ROOT)) for f in folders - shipped)
    assert not missing, f"package folders not in [tool.setuptools] packages: {missing}"
    assert package_dir["groupchat.agents"] == "agents"
    assert package_dir["groupchat.tui"] == "tui"
    assert package_dir["groupchat.transcripts"] == "transcripts"


def test_installing_adds_no_top_level_agents_or_tui_module() -> None:
    packages = _pyproject()["tool"]["setuptools"]["packages"]  # type: ignore[index]
    assert all(p == "groupchat" or p.startswith("groupchat.") for p in packages)


def test_all_lists_exactly_the_exported_names() -> None:
    for name in groupchat.__all__:
        assert getattr(groupchat, name) is not None, name
    assert sorted(groupchat.__all__) == groupchat.__all__
    assert len(set(groupchat.__all__)) == len(groupchat.__all__)
    assert set(dir(groupchat)) == set(groupchat.__all__)


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    try:
        groupchat.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_exports_resolve_to_the_defining_objects() -> None:
    from groupchat.agents import ScriptedAgent
    from groupchat.chat import GroupChat

    assert groupchat.GroupChat is GroupChat
    assert groupchat.ScriptedAgent is ScriptedAgent


def _imported_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_import_groupchat_loads_no_front_end_or_model_sdk() -> None:
    heavy = {"textual", "prompt_toolkit", "rich", "openai", "aiosqlite", "yaml"}
    for code in (
        "import groupchat",
        "import groupchat; groupchat.GroupChat; groupchat.ScriptedAgent; groupchat.TeamSpec",
    ):
        loaded = {name.split(".")[0] for name in _imported_after(code)}
        assert not heavy & loaded, f"{code!r} imported {sorted(heavy & loaded)}"


def test_testing_module_ships_the_doubles() -> None:
    from groupchat import testing

    assert {"ScriptedAgent", "HumanParticipant", "ChatProbe"} <= set(testing.__all__)


def test_all_is_the_lazy_export_table() -> None:
    assert set(groupchat.__all__) == {*groupchat._EXPORTS, "__version__"}
