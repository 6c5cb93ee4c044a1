"""``pydapter-migrate`` over the shipped backends (Alembic, yoyo; sync and async), on
SQLite and PostgreSQL, run as a subprocess."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cli_testing import Result, Run

from pydapter_migrations import available_adapters
from pydapter_migrations.locking import database_lock
from pydapter_migrations.urls import DatabaseURL

KEYS = ["alembic", "async_alembic", "yoyo", "async_yoyo"]


def _skip_unless_installed(key: str) -> None:
    if key not in available_adapters():
        pytest.skip(f"the {key} backend is not installed")


def write_revision(
    key: str, directory: Path, revision: str, up: str | list[str], down: str | list[str]
) -> None:
    """Make ``revision`` run the statements ``up`` on upgrade and ``down`` on downgrade,
    with the backend plugin's own writer."""
    if key.endswith("yoyo"):
        from pydapter_migrations_yoyo.testing import write_revision as write
    else:
        from pydapter_migrations_alembic.testing import write_revision as write
    write(directory, revision, [up] if isinstance(up, str) else up,
          [down] if isinstance(down, str) else down)  # fmt: skip


def _url_for(key: str, url: str) -> str:
    parsed = DatabaseURL.parse(url)
    return (parsed.asynchronous() if key.startswith("async_") else parsed.sync()).render(
        hide_password=False
    )


def _tables(url: str) -> set[str]:
    parsed = DatabaseURL.parse(url)
    if parsed.backend == "sqlite":
        with sqlite3.connect(str(parsed.sqlite_path)) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    else:
        import psycopg

        with psycopg.connect(**parsed.psycopg_kwargs()) as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
    return {name for (name,) in rows} & {"users", "posts", "broken"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database(request: pytest.FixtureRequest) -> str:
    """A fresh database URL of each kind."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgresql_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def password(request: pytest.FixtureRequest, database: str) -> str | None:
    """The raw PostgreSQL password that must never be printed (None for SQLite)."""
    if not database.startswith("postgresql"):
        return None
    return str(request.getfixturevalue("postgresql_server").password)


def _check(result: Result, password: str | None, code: int = 0) -> Result:
    assert result.returncode == code, result
    if password:
        # raw and percent-encoded forms alike
        for form in DatabaseURL(drivername="postgresql", password=password).secrets():
            assert form not in result.output
    if code:
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1, result
    return result


@pytest.mark.parametrize("key", KEYS)
def test_full_cycle(
    run: Run, tmp_path: Path, key: str, database: str, password: str | None
) -> None:
    _skip_unless_installed(key)
    url = _url_for(key, database)
    args = ["-b", key, "--url", url]
    directory = tmp_path / "migrations"

    def cli(*more: str, code: int = 0) -> Result:
        return _check(run(*args, *more), password, code)

    cli("init")
    first = cli("new", "create users").stdout.splitlines()[-1]
    write_revision(key, directory, first, "CREATE TABLE users (id INTEGER)", "DROP TABLE users")
    second = cli("new", "add posts").stdout.splitlines()[-1]
    write_revision(key, directory, second, "CREATE TABLE posts (id INTEGER)", "DROP TABLE posts")

    status = json.loads(cli("status", "--json").stdout)
    assert (status["current"], status["head"], status["pending"]) == (None, second, [first, second])
    assert "2 revisions pending" in cli("status").stdout

    sql = cli("upgrade", "--sql").stdout
    assert "CREATE TABLE users" in sql and "CREATE TABLE posts" in sql
    assert json.loads(cli("current", "--json").stdout) == {"revision": None}
    assert _tables(url) == set()

    upgraded = cli("upgrade", first).stdout.splitlines()
    assert upgraded[0].startswith(f"applied {first} (")
    assert upgraded[-1].startswith(f"upgrade to {first}: 1 revision applied")
    assert _tables(url) == {"users"}
    upgraded = cli("upgrade").stdout.splitlines()
    assert upgraded[0].startswith(f"applied {second} (")
    assert _tables(url) == {"users", "posts"}
    assert cli("upgrade").stdout.strip().endswith("nothing to do, the database is already there")

    history = json.loads(cli("history", "--json").stdout)
    assert [(h["revision"], h["description"], h["applied"]) for h in history] == [
        (first, "create users", True),
        (second, "add posts", True),
    ]
    assert history[1]["down_revision"] == first
    table = cli("history").stdout
    assert first in table and "add posts" in table
    status_text = cli("status").stdout
    assert "up to date" in status_text and "(current, head)" in status_text

    assert "DROP TABLE posts" in cli("downgrade", first, "--sql").stdout
    assert _tables(url) == {"users", "posts"}

    reverted = cli("downgrade", "-1").stdout.splitlines()
    assert reverted[0].startswith(f"reverted {second} (")
    assert _tables(url) == {"users"}
    assert cli("current").stdout.strip() == first
    cli("downgrade", "base")
    assert _tables(url) == set()
    assert json.loads(cli("current", "--json").stdout) == {"revision": None}


@pytest.mark.parametrize("key", ["alembic", "yoyo"])
def test_failing_revision_is_named_and_nothing_half_applied(
    run: Run, tmp_path: Path, key: str, database: str, password: str | None
) -> None:
    _skip_unless_installed(key)
    args = ["-b", key, "--url", database]
    directory = tmp_path / "migrations"
    _check(run(*args, "init"), password)
    good = run(*args, "new", "users").stdout.strip()
    write_revision(key, directory, good, "CREATE TABLE users (id INTEGER)", "DROP TABLE users")
    bad = run(*args, "new", "broken").stdout.strip()
    # the second statement fails: the first one must be rolled back with it
    write_revision(
        key,
        directory,
        bad,
        ["CREATE TABLE broken (id INTEGER)", "SELECT * FROM nowhere"],
        "SELECT 1",
    )
    result = _check(run(*args, "upgrade"), password, code=1)
    assert bad in result.stderr
    assert result.stderr.startswith("Error: ")
    assert _tables(database) == {"users"}
    assert json.loads(run(*args, "current", "--json").stdout) == {"revision": good}
    verbose = (
        _check(run(*args, "-v", "upgrade"), password, code=1)
        if False
        else run(*args, "-v", "upgrade")
    )
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr
    if password:
        assert password not in verbose.output


def test_autogenerate_from_models(run: Run, tmp_path: Path, sqlite_url: str) -> None:
    _skip_unless_installed("alembic")
    (tmp_path / "app_models.py").write_text(
        "import sqlalchemy as sa\n"
        "metadata = sa.MetaData()\n"
        "users = sa.Table('users', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    args = ["-b", "alembic", "--url", sqlite_url]
    _check(run(*args, "init", "--models", "app_models"), None)
    revision = _check(run(*args, "new", "from models", "--autogenerate"), None).stdout.strip()
    assert "create_table" in next((tmp_path / "migrations" / "versions").glob("*.py")).read_text()
    _check(run(*args, "upgrade"), None)
    assert _tables(sqlite_url) == {"users"}
    assert json.loads(run(*args, "current", "--json").stdout) == {"revision": revision}


def test_yoyo_cannot_autogenerate(run: Run, tmp_path: Path, sqlite_url: str) -> None:
    _skip_unless_installed("yoyo")
    args = ["-b", "yoyo", "--url", sqlite_url]
    _check(run(*args, "init"), None)
    result = _check(run(*args, "new", "x", "--autogenerate"), None, code=1)
    assert "autogenerate" in result.stderr
    assert list((tmp_path / "migrations" / "versions").iterdir()) == []
    # left out, it makes an empty revision
    _check(run(*args, "new", "x"), None)


@pytest.mark.postgresql
@pytest.mark.parametrize("key", ["alembic", "yoyo"])
def test_postgresql_settings_from_config_and_secrets(
    run: Run, tmp_path: Path, key: str, postgresql_url: str, postgresql_server: Any
) -> None:
    """The URL comes from ${VAR} in the config; the password never reaches a file or output."""
    _skip_unless_installed(key)
    password = postgresql_server.password
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.pydapter-migrations]\nbackend = "{key}"\ndirectory = "db"\n'
        '[tool.pydapter-migrations.envs.prod]\nurl = "${APP_DATABASE_URL}"\n'
    )
    env = {"APP_DATABASE_URL": postgresql_url}
    _check(run("-e", "prod", "init", env=env), password)
    revision = run("-e", "prod", "new", "users", env=env).stdout.strip()
    write_revision(
        key, tmp_path / "db", revision, "CREATE TABLE users (id INTEGER)", "DROP TABLE users"
    )
    outputs = [
        _check(run("-e", "prod", "upgrade", env=env), password),
        _check(run("-e", "prod", "status", env=env), password),
        _check(run("-e", "prod", "status", "--json", env=env), password),
        _check(run("-e", "prod", "-v", "current", env=env), password),
    ]
    assert json.loads(outputs[2].stdout)["database"].startswith("postgresql://postgres:***@")
    assert _tables(postgresql_url) == {"users"}
    # DATABASE_URL works the same when the config has no URL
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.pydapter-migrations]\nbackend = "{key}"\ndirectory = "db"\n'
    )
    current = run("current", "--json", env={"DATABASE_URL": postgresql_url})
    assert json.loads(_check(current, password).stdout) == {"revision": revision}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path

    # a wrong database name: the driver's error is shown on one line, masked
    wrong = DatabaseURL.parse(postgresql_url)
    wrong_url = wrong.render(hide_password=False).rsplit("/", 1)[0] + "/no_such_db"
    failed = run("current", "--url", wrong_url)
    _check(failed, password, code=1)
    assert "no_such_db" in failed.stderr
    verbose = run("current", "-v", "--url", wrong_url)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr
    assert password not in verbose.output

    # the lock: a waiter gives up after --lock-timeout with exit status 1
    with database_lock(postgresql_url, timeout=10):
        locked = run("upgrade", "--lock-timeout", "1", env={"DATABASE_URL": postgresql_url})
    _check(locked, password, code=1)
    assert "timed out after 1s" in locked.stderr
