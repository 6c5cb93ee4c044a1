"""ruff and mypy --strict over the core and both plugins, as part of the test suite."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "pydapter_migrations",
    "plugins/alembic/pydapter_migrations_alembic",
    "plugins/yoyo/pydapter_migrations_yoyo",
]
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
