"""Type-check the project as it is installed, reporting errors at the real source paths.

The folders ``agents/``, ``tui/`` and ``transcripts/`` install as ``groupchat.agents`` and so on
(the ``package-dir`` mapping in pyproject.toml), a layout mypy cannot see in a checkout. This
script builds that layout in a temporary folder out of symlinks, runs mypy on it (and on the
extra folders below) there with the ``[tool.mypy]`` settings of pyproject.toml, and rewrites
the paths mypy prints back to the files in the checkout. Arguments are passed on to mypy.

    python tools/typecheck.py            # what CI runs
    python tools/typecheck.py --warn-unreachable   # try a stricter setting
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "groupchat"
# Checked beside the package: folders that import it but are not installed.
EXTRA = ("bench", "tools")
SKIP = {"__pycache__"}


def package_dirs() -> dict[str, Path]:
    """The ``package-dir`` mapping of pyproject.toml: dotted package name to its folder."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        setuptools = tomllib.load(file)["tool"]["setuptools"]
    mapping = setuptools.get("package-dir", {})
    return {name: ROOT / folder for name, folder in mapping.items()}


def link_package(name: str, source: Path, target: Path, mapping: dict[str, Path]) -> None:
    """Lay out package ``name`` (from ``source``) at ``target`` as the install would."""
    mapped = {
        other.rpartition(".")[2]: folder
        for other, folder in mapping.items()
        if other.rpartition(".")[0] == name
    }
    nested = any(other.startswith(f"{name}.") for other in mapping if other != name)
    if not nested:
        target.symlink_to(source, target_is_directory=True)
        return
    target.mkdir()
    for entry in sorted(source.iterdir()):
        if entry.name not in SKIP and entry.name not in mapped:
            target.joinpath(entry.name).symlink_to(entry)
    for child, folder in sorted(mapped.items()):
        link_package(f"{name}.{child}", folder, target / child, mapping)


def build_tree(tree: Path) -> None:
    """The installed layout of the package, plus the extra folders, under ``tree``."""
    mapping = package_dirs()
    link_package(PACKAGE, mapping.get(PACKAGE, ROOT / PACKAGE), tree / PACKAGE, mapping)
    for extra in EXTRA:
        tree.joinpath(extra).symlink_to(ROOT / extra, target_is_directory=True)


def real_paths(text: str, tree: Path) -> str:
    """Replace each path into the link tree by the checkout's file, relative to the root."""
    prefix = re.escape(str(tree) + os.sep)

    def real(match: re.Match[str]) -> str:
        linked = tree / match.group(1)
        if not linked.exists():
            return match.group(0)  # not a file of the tree: some other text
        path = Path(os.path.realpath(linked))
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else match.group(0)

    # mypy prints paths relative to its working folder (the tree), or absolute ones.
    return re.sub(rf"(?m)(?:^|(?<=[\s\"']))(?:{prefix})?([\w./-]+\.pyi?)(?=[:\"'\s]|$)", real, text)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="groupchat-typecheck-") as folder:
        tree = Path(folder)
        build_tree(tree)
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            PACKAGE,
            *EXTRA,
            *argv,
        ]
        done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
        sys.stdout.write(real_paths(done.stdout, tree))
        sys.stderr.write(real_paths(done.stderr, tree))
        return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
