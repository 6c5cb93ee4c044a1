"""ruff and mypy --strict over the core and both plugins, as part of the test suite."""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every backend distribution's package: the shipped plugins and the example backend.
BACKENDS = sorted(
    path
    for pattern in ("plugins/*/pydapter_migrations_*", "tests/*/pydapter_migrations_*")
    for path in ROOT.glob(pattern)
    if (path / "__init__.py").exists()
)
PACKAGES = ["pydapter_migrations", *(str(p.relative_to(ROOT)) for p in BACKENDS)]
SOURCES = ["pydapter_migrations", "plugins", "tests", "bench", "examples"]


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{module} is not installed (pip install -e '.[dev]')")
        pytest.skip(f"{module} is not installed (pip install -e '.[dev]')")


def _run(*command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint() -> None:
    _require("ruff")
    _run("ruff", "check", *[s for s in SOURCES if (ROOT / s).exists()])


def test_ruff_format() -> None:
    _require("ruff")
    _run("ruff", "format", "--check", *[s for s in SOURCES if (ROOT / s).exists()])


def test_mypy_strict() -> None:
    _require("mypy")
    _run("mypy", "--strict", *[p for p in PACKAGES if (ROOT / p).exists()])


_DRIVER_CONNECT = re.compile(
    r"(?<!`)\b(?:sqlite3|psycopg2?|pg8000(?:\.dbapi)?|pymysql|MySQLdb|asyncpg|aiosqlite|aiomysql|asyncmy)"
    r"\.connect\b"
)


def test_one_module_opens_every_database_connection() -> None:
    """Only pydapter_migrations/connections.py calls a driver's connect: every connection
    gets the same session settings and the same care for the password."""
    home = ROOT / "pydapter_migrations" / "connections.py"
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path != home
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _DRIVER_CONNECT.search(line)
    ]
    assert offenders == []
    assert _DRIVER_CONNECT.search(home.read_text())


def _imports(path: Path) -> list[tuple[str, int]]:
    """The modules ``path`` imports (absolute, or relative resolved to its package), with
    their line numbers; imports under ``if TYPE_CHECKING:`` count too."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(_package_root(path)).with_suffix("").parts[:-1])
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _package_root(path: Path) -> Path:
    while (path.parent / "__init__.py").exists():
        path = path.parent
    return path.parent


def test_plugins_import_only_the_backend_interface_of_the_core() -> None:
    """A backend is written against ``pydapter_migrations.backend`` alone, the interface
    the project keeps stable for third parties."""
    offenders = []
    for plugin in BACKENDS:
        for path in plugin.rglob("*.py"):
            for module, line in _imports(path):
                head = module.split(".")
                if (
                    head[0] == "pydapter_migrations"
                    and module not in ("pydapter_migrations.backend",)
                    and not module.startswith("pydapter_migrations.backend.")
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{line} {module}")
    assert offenders == []


def test_the_core_has_no_import_cycles() -> None:
    core = ROOT / "pydapter_migrations"
    graph: dict[str, set[str]] = {}
    for path in core.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = set()
        for module, _ in _imports(path):
            # "from .x import name" names either a module or an attribute: keep modules.
            while module and module not in graph and f"{module}.__init__" not in graph:
                if (ROOT / Path(*module.split("."))).with_suffix(".py").exists() or (
                    ROOT / Path(*module.split(".")) / "__init__.py"
                ).exists():
                    break
                module = module.rpartition(".")[0]
            if module.startswith("pydapter_migrations") and module != name:
                graph[name].add(module)
    cycles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start and len(path) > 1 and not _is_package_of(path):
                    cycles.append(" -> ".join([*path, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    assert cycles == []


def _is_package_of(path: tuple[str, ...]) -> bool:
    # A package importing its own submodules, which import names from the package's
    # siblings, is how a package is built, not a cycle between modules.
    return any(b.startswith(a + ".") or a.startswith(b + ".") for a, b in itertools.pairwise(path))


def test_engine_private_names_are_used_only_in_each_plugins_compat_module() -> None:
    """A private attribute (``x._name``) read or set outside ``_compat.py`` must be one the
    plugin defines itself: an engine's private names live in ``_compat`` alone."""
    import ast

    offenders = []
    for plugin in BACKENDS:
        sources = {
            path: ast.parse(path.read_text(encoding="utf-8")) for path in plugin.rglob("*.py")
        }
        own: set[str] = set()
        for tree in sources.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    own.add(node.name)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    own.add(node.id)
                elif (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in ("self", "cls")
                ):
                    own.add(node.attr)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    own.add(node.target.id)
                elif isinstance(node, ast.alias):
                    own.add((node.asname or node.name).split(".")[-1])
        for path, tree in sources.items():
            if path.name == "_compat.py":
                continue
            for node in ast.walk(tree):
                name = None
                if isinstance(node, ast.Attribute):
                    name = node.attr
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "setattr", "hasattr")
                    and len(node.args) > 1
                    and isinstance(node.args[1], ast.Constant)
                ):
                    name = str(node.args[1].value)
                if name and name.startswith("_") and not name.startswith("__") and name not in own:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert offenders == []


def test_mypy_reports_a_backend_that_misses_a_step(tmp_path: Path) -> None:
    """The steps are abstract: wherever a backend is used as an adapter type, mypy reports
    a backend that misses one, before anything runs."""
    _require("mypy")
    module = tmp_path / "incomplete_backend.py"
    module.write_text(
        "from pathlib import Path\n"
        "from typing import Any\n"
        "from pydapter_migrations.backend import MigrationPlan, MigrationRun,"
        " SyncMigrationAdapter\n\n\n"
        "class Incomplete(SyncMigrationAdapter[None]):\n"
        "    @classmethod\n"
        "    def _plan(cls, run: MigrationRun) -> MigrationPlan[None]:\n"
        "        return MigrationPlan([], None)\n\n\n"
        "BACKEND: type[SyncMigrationAdapter[Any]] = Incomplete\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(module)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        # An editable install's import hook is invisible to mypy: point it at the checkout.
        env={**os.environ, "MYPYPATH": str(ROOT)},
    )
    assert result.returncode == 1, result.stdout
    assert "Can only assign concrete classes" in result.stdout, result.stdout
    assert result.stdout.count("error:") == 1, result.stdout
