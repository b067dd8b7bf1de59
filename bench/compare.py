"""This build against a git revision, measured alternately in one run.

    python -m bench.compare REV [--pattern round_robin] [--messages 10000] [--rounds 5]
                                [--deltas N] [--subscriber]

checks ``REV`` out into a temporary directory (``git archive``, nothing in the working tree is
touched), lays its packages out as they install (the ``package-dir`` mapping of its
``pyproject.toml``, as symbolic links) and runs ``bench.orchestration`` of each tree in its own
process, alternately: this build, then ``REV``, ``--rounds`` times. Alternating spreads the
noise of a shared machine over both sides; each side's figure is the median of its rounds.

Prints one JSON line::

    {"pattern": "round_robin", "revision": "ebb5f23", "rounds": 5, "this": {"us_per_msg": ...},
     "base": {"us_per_msg": ...}, "ratio": {"us_per_msg": 0.98, ...}}

``ratio`` is this build's median over the revision's: below 1 is faster, above 1 a regression.
Both sides must run with the same interpreter and installed dependencies (those of this
environment), so a revision whose dependencies differ cannot be compared this way.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["FIGURES", "compare", "install_tree", "main", "side_process"]

FIGURES = ("us_per_msg", "us_per_delta", "peak_rss_mb")
"""The figures of ``bench.orchestration`` that are compared (when the run reports them)."""

_ROOT = Path(__file__).resolve().parent.parent


def install_tree(source: Path, target: Path) -> Path:
    """Lay ``source``'s packages out under ``target`` as an install would; return the path
    to put first on ``PYTHONPATH``. Each mapped package directory becomes a symbolic link at
    its dotted place (``agents/`` as ``groupchat/agents``), so the tree imports exactly what
    an installed copy of ``source`` would."""
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = project.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    site = target / "site"
    site.mkdir(parents=True)
    top = sorted((name for name in mapping if "." not in name), key=len)
    for name in top:
        (site / name).symlink_to((source / mapping[name]).resolve(), target_is_directory=True)
    for name, folder in sorted(mapping.items()):
        if "." not in name:
            continue
        parent, _, leaf = name.rpartition(".")
        parent_dir = site.joinpath(*parent.split("."))
        if parent_dir.is_symlink():
            # The mapped child lives beside the parent's own files: give the parent a real
            # directory of links so the child can be added without touching the source.
            real = parent_dir.resolve()
            parent_dir.unlink()
            parent_dir.mkdir()
            for entry in real.iterdir():
                (parent_dir / entry.name).symlink_to(entry)
        link = parent_dir / leaf
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to((source / folder).resolve(), target_is_directory=True)
    (site / "bench").symlink_to((source / "bench").resolve(), target_is_directory=True)
    return site


def _checkout(revision: str, target: Path) -> Path:
    """``revision``'s files under ``target/src`` (from ``git archive``)."""
    archive = subprocess.run(
        ["git", "-C", str(_ROOT), "archive", "--format=tar", revision],
        check=True,
        capture_output=True,
    ).stdout
    source = target / "src"
    source.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    return source


def side_process(site: Path, argv: Sequence[str]) -> dict[str, Any]:
    """How a side's process is started (``subprocess.run`` keywords) so it imports from
    ``site`` alone: ``-P`` and a ``cwd`` of ``site`` keep the source tree off ``sys.path``, where
    a module the tree lacks (a package mapped elsewhere, as ``agents/`` is) would be found
    through this environment's editable install, that is in the working tree."""
    env = {"PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    return {"args": [sys.executable, "-P", *argv], "cwd": site, "env": env}


def _run(site: Path, cwd: Path, args: Sequence[str]) -> dict[str, Any]:
    """One ``bench.orchestration`` run in a process of its own, importing from ``site``
    (``cwd`` names the side in errors)."""
    done = subprocess.run(
        **side_process(site, ["-m", "bench.orchestration", *args]),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"bench.orchestration from {cwd} failed (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def compare(revision: str, args: Sequence[str], rounds: int) -> dict[str, object]:
    """Measure this tree and ``revision`` alternately ``rounds`` times; see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="groupchat-compare-") as tmp:
        work = Path(tmp)
        base_source = _checkout(revision, work / "base")
        sides = {
            "this": (install_tree(_ROOT, work / "this"), _ROOT),
            "base": (install_tree(base_source, work / "base"), base_source),
        }
        runs: dict[str, list[dict[str, Any]]] = {"this": [], "base": []}
        for _ in range(rounds):
            for side, (site, cwd) in sides.items():
                runs[side].append(_run(site, cwd, args))
    medians: dict[str, dict[str, float]] = {}
    for side, reports in runs.items():
        medians[side] = {
            figure: round(statistics.median(float(r[figure]) for r in reports), 3)
            for figure in FIGURES
            if all(figure in r for r in reports)
        }
    ratio = {
        figure: round(medians["this"][figure] / medians["base"][figure], 3)
        for figure in medians["this"]
        if figure in medians["base"] and medians["base"][figure] > 0
    }
    return {
        "revision": revision,
        "rounds": rounds,
        "args": list(args),
        "this": medians["this"],
        "base": medians["base"],
        "ratio": ratio,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description="This build's bench.orchestration figures beside a git revision's, "
        "measured alternately; prints one JSON line.",
    )
    parser.add_argument("revision", help="a git revision to compare with (e.g. main~3, a tag)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side (default: 5)")
    parser.add_argument("--pattern", default="round_robin", help="as bench.orchestration")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--deltas", type=int, default=1)
    parser.add_argument("--subscriber", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.rounds < 1:
        print("--rounds must be at least 1", file=sys.stderr)
        return 2
    bench_args = [
        f"--pattern={args.pattern}",
        f"--agents={args.agents}",
        f"--messages={args.messages}",
        f"--deltas={args.deltas}",
    ]
    if args.subscriber:
        bench_args.append("--subscriber")
    try:
        result = compare(args.revision, bench_args, args.rounds)
    except subprocess.CalledProcessError as exc:
        print(
            f"git cannot check out {args.revision!r}: {exc.stderr.decode().strip()}",
            file=sys.stderr,
        )
        return 2
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps({"pattern": args.pattern, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
