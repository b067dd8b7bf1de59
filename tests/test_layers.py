"""The dependency table of DESIGN.md, enforced: every import of every module points the allowed way.

Each module of the package belongs to one part: ``app`` (``groupchat.app``, the composition root:
the command line, building a chat from a spec, the demo teams; ``python -m groupchat`` too),
``agents``, ``transcripts``,
``tui``, the two public faces (``groupchat`` itself, whose names load lazily, and
``groupchat.testing``, the doubles a test imports), or the ``core`` (everything else under
``groupchat/``). Imports inside functions count, and so do imports under ``if TYPE_CHECKING:``:
a type named from a part above is still a dependency on that part's shape, and the checker
that reads it needs that part installed.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "groupchat": ROOT / "groupchat",
    "groupchat.agents": ROOT / "agents",
    "groupchat.transcripts": ROOT / "transcripts",
    "groupchat.tui": ROOT / "tui",
}

ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "faces": frozenset({"core", "agents", "faces"}),
    "agents": frozenset({"core", "agents"}),
    "transcripts": frozenset({"core", "transcripts"}),
    "tui": frozenset({"core", "transcripts", "tui"}),
    "app": frozenset({"core", "faces", "agents", "transcripts", "tui", "app"}),
}
"""Which parts each part may import."""

FACES = frozenset({"groupchat", "groupchat.testing"})
ENTRY_POINTS = frozenset({"groupchat.__main__"})
"""``python -m groupchat``: it starts the application, so it is part of it."""

UPWARD_EXCEPTIONS = {
    ("groupchat.spec_team", "groupchat.app.build"): (
        "TeamSpec.build() is the one-call way to get a chat from a spec (the README's); it "
        "hands the spec to the builder inside the method, so the schema module stays free of it"
    ),
}
"""Function-level imports that point up on purpose, each with why."""

CORE_THIRD_PARTY = frozenset({"pydantic", "pydantic_core", "yaml"})
"""What the core may import besides the standard library and itself, anywhere."""
CORE_LAZY_THIRD_PARTY = frozenset({"openai", "httpx", "aiosqlite", "redis"})
"""What the core may import only inside a function: model SDKs (the ``openai`` extra),
aiosqlite, which the record/replay cache of model calls opens when a team has one, and the
Redis client (the ``redis`` extra), which only a chat on a bus loads, and OpenTelemetry (the
``otel`` extra), which only a traced chat loads."""
CORE_LAZY_THIRD_PARTY |= {"opentelemetry"}
TRACING_BACKEND = frozenset(
    {
        "groupchat.tracing.spans",
        "groupchat.tracing.metrics",
        "groupchat.tracing.subscriber",
        "groupchat.tracing.setup",
    }
)
"""The tracing modules that import OpenTelemetry at their top: themselves imported only
inside functions (see ``test_tracing_backend_is_imported_lazily``), when tracing is on."""


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module."""
    line: int
    target: str
    """The imported module (``from a import b`` names ``a.b`` when that is a module)."""
    lazy: bool
    """Inside a function."""
    type_only: bool
    """Under ``if TYPE_CHECKING:``."""


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder)
            if not all(
                (folder / Path(*rel.parts[:i]) / "__init__.py").exists()
                for i in range(len(rel.parts))
            ):
                continue  # a script next to package data, not a module of the package
            parts = [*package.split("."), *rel.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            found[name] = path
    return found


MODULES = _modules()


def part_of(module: str) -> str:
    if module in FACES:
        return "faces"
    if module in ENTRY_POINTS:
        return "app"
    for part in ("app", "agents", "transcripts", "tui"):
        if module == f"groupchat.{part}" or module.startswith(f"groupchat.{part}."):
            return part
    return "core"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def imports_in(module: str, source: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every import in ``source`` (the text of ``module``), wherever it is written."""
    tree = ast.parse(source)

    def walk(node: ast.AST, lazy: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, child.lineno, alias.name, lazy, type_only)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, child, is_package)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    target = sub if sub in MODULES else base
                    yield Import(module, child.lineno, target, lazy, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), lazy, True)
                for stmt in child.orelse:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), lazy, type_only)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, True, type_only)
            else:
                yield from walk(child, lazy, type_only)

    yield from walk(tree, False, False)


def imports_of(module: str) -> Iterator[Import]:
    path = MODULES[module]
    source = path.read_text(encoding="utf-8")
    return imports_in(module, source, is_package=path.name == "__init__.py")


ALL_IMPORTS = [imp for module in MODULES for imp in imports_of(module)]


def _where(imp: Import) -> str:
    how = " (type checking only)" if imp.type_only else " (in a function)" if imp.lazy else ""
    return f"{imp.module}, line {imp.line}: imports {imp.target}{how}"


def test_the_walk_sees_every_part() -> None:
    parts = {part_of(m) for m in MODULES}
    assert parts == set(ALLOWED)
    assert "groupchat.app.cli" in MODULES and "groupchat.tui.share.server" in MODULES
    assert any(imp.lazy for imp in ALL_IMPORTS) and any(imp.type_only for imp in ALL_IMPORTS)


def arrows_against_the_table(imports: Iterable[Import]) -> list[str]:
    """Each import of a part that its part may not import, said with where and what."""
    wrong = []
    for imp in imports:
        if imp.target != "groupchat" and not imp.target.startswith("groupchat."):
            continue
        source, target = part_of(imp.module), part_of(imp.target)
        if target in ALLOWED[source]:
            continue
        if imp.lazy and not imp.type_only and (imp.module, imp.target) in UPWARD_EXCEPTIONS:
            continue
        wrong.append(f"{_where(imp)}: {source} may not import {target}")
    return wrong


def test_every_arrow_points_the_allowed_way() -> None:
    wrong = arrows_against_the_table(ALL_IMPORTS)
    assert not wrong, "imports against the dependency table:\n" + "\n".join(wrong)


def test_the_core_needs_pydantic_and_the_standard_library_only() -> None:
    wrong = []
    for imp in ALL_IMPORTS:
        if part_of(imp.module) != "core":
            continue
        top = imp.target.partition(".")[0]
        if top == "groupchat" or top in sys.stdlib_module_names or top in CORE_THIRD_PARTY:
            continue
        if top in CORE_LAZY_THIRD_PARTY and (imp.lazy or imp.type_only):
            continue
        if top == "opentelemetry" and imp.module in TRACING_BACKEND:
            continue
        wrong.append(_where(imp))
    assert not wrong, "the core imports what it may not:\n" + "\n".join(wrong)


def test_the_exceptions_are_still_needed() -> None:
    used = {(imp.module, imp.target) for imp in ALL_IMPORTS}
    assert set(UPWARD_EXCEPTIONS) <= used, "an exception no import needs any more: drop it"


def _spec_module(module: str) -> bool:
    return part_of(module) == "core" and (
        module.rpartition(".")[2] == "spec" or module.rpartition(".")[2].startswith("spec_")
    )


def test_the_spec_modules_import_each_other_without_a_circle() -> None:
    specs = sorted(m for m in MODULES if _spec_module(m))
    assert {"groupchat.spec", "groupchat.magentic.spec"} <= set(specs)
    graph = {m: set[str]() for m in specs}
    for imp in ALL_IMPORTS:
        if imp.module in graph and imp.target in graph and imp.target != imp.module:
            graph[imp.module].add(imp.target)
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circle = " -> ".join([*path[path.index(module) :], module])
            raise AssertionError(f"the spec modules import each other in a circle: {circle}")
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in specs:
        visit(module, [])


def test_no_spec_module_rebuilds_another_modules_model() -> None:
    wrong = []
    for module in (m for m in MODULES if _spec_module(m)):
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "model_rebuild"
            ):
                owner = node.func.value
                if not (isinstance(owner, ast.Name) and owner.id in defined):
                    wrong.append(f"{module}, line {node.lineno}: {ast.unparse(node)}")
    assert not wrong, "model_rebuild of a model defined elsewhere:\n" + "\n".join(wrong)


def test_an_upward_import_is_named_with_its_module_line_and_target() -> None:
    """The checker sees imports in functions, under TYPE_CHECKING and relative ones too."""
    source = """\
from __future__ import annotations

from typing import TYPE_CHECKING

from groupchat.events import Event

if TYPE_CHECKING:
    from groupchat.agents import HumanParticipant


def show(event: Event) -> None:
    from ..tui.console import ConsoleRenderer
    import groupchat.transcripts.store
"""
    found = list(imports_in("groupchat.magentic.example", source))
    assert arrows_against_the_table(found) == [
        "groupchat.magentic.example, line 8: imports groupchat.agents (type checking only): "
        "core may not import agents",
        "groupchat.magentic.example, line 12: imports groupchat.tui.console (in a function): "
        "core may not import tui",
        "groupchat.magentic.example, line 13: imports groupchat.transcripts.store "
        "(in a function): core may not import transcripts",
    ]
    assert arrows_against_the_table(imports_in("groupchat.app.example", source)) == []


def test_an_exception_holds_only_inside_a_function() -> None:
    module, target = next(iter(UPWARD_EXCEPTIONS))
    at_top = imports_in(module, f"import {target}\n")
    assert arrows_against_the_table(at_top) == [
        f"{module}, line 1: imports {target}: core may not import app"
    ]


# ------------------------------------------------------------------ stores by their protocols

POSTGRES_BACKEND = frozenset(
    {
        "groupchat.transcripts.postgres",
        "groupchat.transcripts.pg_schema",
        "groupchat.transcripts.pg_writer",
        "groupchat.transcripts.pg_queries",
        "groupchat.transcripts.pg_search",
    }
)
"""The PostgreSQL backend's modules: the only ones that import asyncpg."""
STORE_BACKEND = (
    frozenset(
        {
            "groupchat.transcripts.sqlite",
            "groupchat.transcripts.writer",
            "groupchat.transcripts.queries",
            "groupchat.transcripts.batch",
        }
    )
    | POSTGRES_BACKEND
)
"""The backends' modules: only :mod:`groupchat.transcripts.factory` opens a store."""
BACKEND_NAMES = frozenset(
    {
        "SqliteStore",
        "SqliteWriter",
        "SqliteQueries",
        "BufferedWriter",
        "PostgresStore",
        "PostgresWriter",
        "PostgresQueries",
    }
)
STORE_USERS = frozenset({"app", "tui"})
"""The parts that use stores: they know them by the protocols of ``transcripts/protocols.py``."""


def backend_uses(module: str, source: str) -> list[str]:
    """Each import of a backend module and each mention of a backend class in ``source``."""
    found = [
        _where(imp)
        for imp in imports_in(module, source)
        if imp.target in STORE_BACKEND or imp.target.rpartition(".")[0] in STORE_BACKEND
    ]
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom | ast.Import):
            names = [alias.name.rpartition(".")[2] for alias in node.names]
        elif isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
            try:  # a string annotation, e.g. Callable[["SqliteStore | None"], ...]
                names = [n.id for n in ast.walk(ast.parse(node.value)) if isinstance(n, ast.Name)]
            except SyntaxError:
                names = []
        found += [
            f"{module}, line {node.lineno}: names {name}"  # type: ignore[attr-defined]
            for name in names
            if name in BACKEND_NAMES
        ]
    return found


def test_the_command_line_and_the_tui_know_stores_by_their_protocols() -> None:
    users = [m for m in MODULES if part_of(m) in STORE_USERS]
    assert "groupchat.app.session" in users and "groupchat.app.resume" in users
    wrong = [
        use
        for module in users
        for use in backend_uses(module, MODULES[module].read_text(encoding="utf-8"))
    ]
    assert not wrong, "store users that name the SQLite backend:\n" + "\n".join(wrong)


def test_the_factory_alone_names_the_backend_outside_it() -> None:
    names_it = {
        module
        for module in MODULES
        if module not in STORE_BACKEND
        and backend_uses(module, MODULES[module].read_text(encoding="utf-8"))
    }
    # the factory opens it; the package and store.py re-export it for code outside the CLI
    assert names_it == {
        "groupchat.transcripts.factory",
        "groupchat.transcripts.store",
        "groupchat.transcripts",
    }


def test_a_use_of_the_backend_is_named_with_its_module_and_line() -> None:
    source = """\
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from groupchat.transcripts.store import SqliteStore

Prepare = Callable[["SqliteStore | None"], None]


async def open_it(path: str) -> object:
    import groupchat.transcripts.sqlite
    from groupchat.transcripts import writer

    return await groupchat.transcripts.sqlite.SqliteStore.open(path)
"""
    assert backend_uses("groupchat.app.example", source) == [
        "groupchat.app.example, line 12: imports groupchat.transcripts.sqlite (in a function)",
        "groupchat.app.example, line 13: imports groupchat.transcripts.writer (in a function)",
        "groupchat.app.example, line 6: names SqliteStore",
        "groupchat.app.example, line 8: names SqliteStore",
        "groupchat.app.example, line 15: names SqliteStore",
    ]


def test_asyncpg_loads_only_with_a_postgresql_store() -> None:
    """The ``postgres`` extra stays optional: only the PostgreSQL backend imports asyncpg, and
    nothing outside it imports the backend except the factory, inside the function that opens
    a ``postgresql://`` URL."""
    wrong = [
        _where(imp)
        for imp in ALL_IMPORTS
        if imp.target.partition(".")[0] == "asyncpg" and imp.module not in POSTGRES_BACKEND
    ]
    wrong += [
        _where(imp)
        for imp in ALL_IMPORTS
        if imp.module not in POSTGRES_BACKEND
        and (imp.target in POSTGRES_BACKEND or imp.target.rpartition(".")[0] in POSTGRES_BACKEND)
        and not (imp.module == "groupchat.transcripts.factory" and imp.lazy)
    ]
    assert not wrong, "asyncpg or the PostgreSQL backend loaded eagerly:\n" + "\n".join(wrong)


def test_tracing_backend_is_imported_lazily() -> None:
    """Only tracing's own backend modules import each other at their top; everything else
    imports them inside a function, so a chat without tracing loads no OpenTelemetry."""
    wrong = [
        _where(imp)
        for imp in ALL_IMPORTS
        if imp.target in TRACING_BACKEND
        and imp.module not in TRACING_BACKEND
        and not (imp.lazy or imp.type_only)
    ]
    assert not wrong, "\n".join(wrong)
