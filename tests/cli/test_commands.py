"""The command line end to end, over the reference SQLite adapter (``-b ref``).

Every test runs the installed ``pydapter-migrate`` in a subprocess; the backend-specific
runs over Alembic and yoyo are in ``test_backends.py``.
"""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testing import Run, base_environ


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    # Bookkeeping: the backend's version table and the core's history table.
    return {name for (name,) in rows} - {"ref_version", "pydapter_migrations_history"}


def _write(directory: Path, revision: str, up: str, down: str) -> None:
    with (directory / "versions" / f"{revision}.up.sql").open("a") as f:
        f.write(up + "\n")
    with (directory / "versions" / f"{revision}.down.sql").open("a") as f:
        f.write(down + "\n")


@pytest.fixture
def project(run: Run, tmp_path: Path) -> tuple[list[str], list[str]]:
    """A ref migration directory with two revisions (tables a, then b); returns (args, ids)."""
    args = ["-b", "ref", "--url", f"sqlite:///{tmp_path / 'app.db'}"]
    assert run(*args, "init").returncode == 0
    ids = []
    for table in ("a", "b"):
        result = run(*args, "new", f"create {table}")
        assert result.returncode == 0, result
        ids.append(result.stdout.splitlines()[-1])
        _write(
            tmp_path / "migrations",
            ids[-1],
            f"CREATE TABLE {table} (id INTEGER)",
            f"DROP TABLE {table}",
        )
    return args, ids


def test_help_lists_every_command_and_python_m_is_the_same_program(run: Run) -> None:
    result = run("--help")
    assert result.returncode == 0, result
    for command in (
        "backends",
        "init",
        "new",
        "upgrade",
        "downgrade",
        "current",
        "history",
        "status",
    ):
        assert f"  {command} " in result.stdout
    assert result.stdout.startswith("Usage: pydapter-migrate ")
    as_module = run("--help", module=True)
    assert as_module.returncode == 0
    assert as_module.stdout == result.stdout
    upgrade_help = run("upgrade", "--help").stdout
    for option in ("--sql", "--lock-timeout", "--url", "--backend", "--env", "--directory"):
        assert option in upgrade_help


def test_version(run: Run) -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("pydapter-migrate, version ")


def test_backends_lists_adapters_and_failures(run: Run, ref_site: Path, broken_site: Path) -> None:
    result = run("backends", "--json", sites=[ref_site, broken_site])
    assert result.returncode == 0, result
    rows = {row["key"]: row for row in json.loads(result.stdout)}
    assert rows["ref"] == {
        "kind": "adapter",
        "key": "ref",
        "distribution": "cli-ref",
        "version": "1.2.3",
        "async": False,
        "capabilities": [],
        "databases": ["sqlite"],
        "error": None,
    }
    assert rows["async_ref"]["async"] is True
    assert rows["async_ref"]["capabilities"] == ["async"]
    broken = rows["broken"]
    assert broken["distribution"] == "cli-broken"
    assert broken["version"] == "0.0.1"
    assert "cli_ref_missing_dependency" in broken["error"]
    assert "cli-broken" in broken["error"]
    plugin = rows["typo_hooks"]
    assert plugin["kind"] == "plugin"
    assert "after_revisoin" in plugin["error"]
    for row in rows.values():
        assert set(row) >= {"key", "distribution", "version", "async", "capabilities", "error"}

    text = run("backends", sites=[ref_site, broken_site])
    assert text.returncode == 0, text
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["KEY", "DISTRIBUTION", "MODE", "CAPABILITIES"]
    assert any(line.split()[:4] == ["ref", "cli-ref", "1.2.3", "sync"] for line in lines)
    assert any(
        line.split()[:5] == ["async_ref", "cli-ref", "1.2.3", "async", "async"] for line in lines
    )
    assert any(line.startswith("broken ") and "error: " in line for line in lines)
    assert any(
        line.startswith("hook plugin typo_hooks from cli-broken failed to load") for line in lines
    )
    assert text.stderr == ""


def test_backends_with_nothing_extra_installed(run: Run) -> None:
    from pydapter_migrations import available_adapters

    result = run("backends", "--json", sites=[])
    assert result.returncode == 0, result
    keys = [row["key"] for row in json.loads(result.stdout)]
    assert keys == sorted(keys)
    shipped = {"alembic", "async_alembic", "yoyo", "async_yoyo"}
    assert shipped & set(available_adapters()) <= set(keys)
    assert "ref" not in keys  # the reference distribution is not on this run's path


def test_round_trip(run: Run, project: tuple[list[str], list[str]], tmp_path: Path) -> None:
    args, (first, second) = project
    db = tmp_path / "app.db"

    status = run(*args, "status")
    assert status.returncode == 0, status
    assert "current:   (nothing applied)" in status.stdout
    assert f"head:      {second}" in status.stdout
    assert "2 revisions pending" in status.stdout

    upgraded = run(*args, "upgrade")
    assert upgraded.returncode == 0, upgraded
    lines = upgraded.stdout.splitlines()
    assert lines[0].startswith(f"applied {first} (") and lines[0].endswith("s)")
    assert lines[1].startswith(f"applied {second} (")
    assert lines[2].startswith("upgrade to head: 2 revisions applied in ")
    assert _tables(db) == {"a", "b"}

    again = run(*args, "upgrade")
    assert again.stdout.strip() == "upgrade to head: nothing to do, the database is already there"

    assert run(*args, "current").stdout.strip() == second
    status = run(*args, "status").stdout
    assert "up to date" in status
    assert "applied (current, head)" in status

    down = run(*args, "downgrade", "-1")
    assert down.returncode == 0, down
    assert down.stdout.splitlines()[0].startswith(f"reverted {second} (")
    assert _tables(db) == {"a"}
    assert run(*args, "current").stdout.strip() == first

    assert run(*args, "upgrade", second).returncode == 0
    assert run(*args, "downgrade", first).returncode == 0
    assert _tables(db) == {"a"}
    base = run(*args, "downgrade", "base")
    assert base.returncode == 0, base
    assert _tables(db) == set()
    assert run(*args, "current").stdout.strip() == "(nothing applied)"


def test_json_outputs(run: Run, project: tuple[list[str], list[str]], tmp_path: Path) -> None:
    args, (first, second) = project
    assert json.loads(run(*args, "current", "--json").stdout) == {"revision": None}
    history = json.loads(run(*args, "history", "--json").stdout)
    assert history == [
        {"revision": first, "description": "create a", "down_revision": None, "applied": False},
        {"revision": second, "description": "create b", "down_revision": first, "applied": False},
    ]
    assert run(*args, "upgrade", first).returncode == 0
    status = json.loads(run(*args, "status", "--json").stdout)
    assert status["current"] == first
    assert status["head"] == second
    assert status["pending"] == [second]
    assert status["applied"] == [first]
    assert status["up_to_date"] is False
    assert json.loads(run(*args, "current", "--json").stdout) == {"revision": first}
    # without a URL, history still lists the files, applied unknown
    offline = run("-b", "ref", "history", "--json")
    assert [entry["applied"] for entry in json.loads(offline.stdout)] == [None, None]


def test_new_prints_the_id_alone_on_the_last_line(run: Run, tmp_path: Path) -> None:
    assert run("-b", "ref", "init").returncode == 0
    result = run("-b", "ref", "new", 'Add: users & émoji / "quotes"')
    assert result.returncode == 0, result
    revision = result.stdout.splitlines()[-1]
    assert revision == result.stdout.strip()
    assert (tmp_path / "migrations" / "versions" / f"{revision}.up.sql").is_file()


def test_history_table(run: Run, project: tuple[list[str], list[str]]) -> None:
    args, (first, second) = project
    run(*args, "upgrade", first)
    result = run(*args, "history")
    assert result.returncode == 0, result
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["revision", "parent", "description", "applied"]
    assert [first, "-", "create", "a", "yes"] in rows
    assert [second, first, "create", "b", "no"] in rows


def test_async_adapter_runs_through_asyncio(run: Run, tmp_path: Path) -> None:
    args = ["-b", "async_ref", "--url", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"]
    assert run(*args, "init").returncode == 0
    revision = run(*args, "new", "create t").stdout.strip()
    _write(tmp_path / "migrations", revision, "CREATE TABLE t (id INTEGER)", "DROP TABLE t")
    result = run(*args, "upgrade")
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[0].startswith(f"applied {revision} (")
    assert _tables(tmp_path / "app.db") == {"t"}
    assert json.loads(run(*args, "current", "--json").stdout) == {"revision": revision}


def test_progress_bar_on_a_terminal(
    project: tuple[list[str], list[str]], tmp_path: Path, ref_site: Path
) -> None:
    args, _ = project
    executable = Path(sys.executable).parent / "pydapter-migrate"
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [str(executable), *args, "upgrade"],
        cwd=tmp_path,
        env=base_environ(PYTHONPATH=str(ref_site)),
        stdout=secondary,
        stderr=subprocess.PIPE,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:  # EIO once the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(primary)
    screen = b"".join(chunks).decode()
    assert proc.returncode == 0, screen
    assert "Upgrade to head" in screen
    assert "2/2" in screen
    assert "applied " not in screen.replace("revisions applied", "")  # no plain lines
    assert "upgrade to head: 2 revisions applied" in screen
    assert _tables(tmp_path / "app.db") == {"a", "b"}
