"""URL translation, yoyo's process-wide state, stdout, and what importing the adapter costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter, _engine
from yoyo.connections import parse_uri
from yoyo.migrations import Migration
from yoyo_helpers import query, write_revision

from pydapter_migrations import MigrationUpgradeError
from pydapter_migrations.urls import DatabaseURL

PASSWORD = "p%w@rd/:?#"
ENCODED = "p%25w%40rd%2F%3A%3F%23"


@pytest.mark.parametrize(
    ("url", "scheme", "database"),
    [
        ("sqlite:///relative/app.db", "sqlite", "relative/app.db"),
        ("sqlite:////abs/app.db", "sqlite", "/abs/app.db"),
        ("sqlite+aiosqlite:////abs/app.db", "sqlite", "/abs/app.db"),
        (f"postgresql://bob:{ENCODED}@db.example:6543/main", "postgresql+psycopg", "main"),
        (f"postgresql+psycopg://bob:{ENCODED}@db.example:6543/main", "postgresql+psycopg", "main"),
        (f"postgresql+asyncpg://bob:{ENCODED}@db.example:6543/main", "postgresql+psycopg", "main"),
        (f"postgres://bob:{ENCODED}@db.example:6543/main", "postgresql+psycopg", "main"),
    ],
)
def test_urls_translate_to_yoyo(url: str, scheme: str, database: str) -> None:
    uri = _engine.yoyo_uri(DatabaseURL.parse(url))
    assert uri.scheme == scheme
    assert uri.database == database
    if scheme == "postgresql+psycopg":
        # psycopg 3 (yoyo's "postgresql" scheme means psycopg2), the password decoded once.
        assert (uri.username, uri.password, uri.hostname, uri.port) == (
            "bob", PASSWORD, "db.example", 6543,
        )  # fmt: skip
        assert "-c client_connection_check_interval=1000" in uri.args["options"]
        # Its text form is what the yoyo command line would take, and parses back the same.
        assert parse_uri(str(uri)) == uri


def test_in_memory_sqlite_is_refused(tmp_path: Path) -> None:
    directory, _ = _directory(tmp_path, "memory", ["CREATE TABLE t (id integer)"])
    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(MigrationUpgradeError, match="in-memory"):
            YoyoAdapter.upgrade(directory=directory, connection_string=url)


def test_url_query_options_are_kept() -> None:
    url = DatabaseURL.parse("postgresql://u@h/db?sslmode=disable&options=-c%20search_path%3Dapp")
    uri = _engine.yoyo_uri(url)
    assert uri.args["sslmode"] == "disable"
    assert uri.args["options"] == "-c search_path=app -c client_connection_check_interval=1000"


def _directory(tmp_path: Path, name: str, statements: list[str]) -> tuple[Path, str]:
    directory = tmp_path / name
    YoyoAdapter.init_migrations(directory)
    revision = YoyoAdapter.create_migration(name, directory=directory)
    write_revision(directory, revision, statements, [])
    return directory, revision


def test_yoyo_registry_is_left_as_found_and_depends_resolve_per_directory(
    tmp_path: Path, sqlite_url: str
) -> None:
    registry = Migration._Migration__all_migrations
    before = dict(registry)
    first, r1 = _directory(tmp_path, "first", ["CREATE TABLE a (id integer)"])
    YoyoAdapter.upgrade(directory=first, connection_string=sqlite_url)
    # A second directory in the same process, with a revision of the same id and other SQL.
    second = tmp_path / "second"
    YoyoAdapter.init_migrations(second)
    for suffix in (".sql", ".rollback.sql"):
        (second / "versions" / f"{r1}{suffix}").write_text("")
    write_revision(second, r1, ["CREATE TABLE b (id integer)"], [])
    other_db = sqlite_url.replace("test.db", "other.db")
    YoyoAdapter.upgrade(directory=second, connection_string=other_db)
    assert query(other_db, "SELECT name FROM sqlite_master WHERE name IN ('a', 'b')") == [("b",)]
    assert [h["revision"] for h in YoyoAdapter.get_migration_history(directory=first)] == [r1]

    # A dependency only the first directory has must not resolve from yoyo's global registry.
    orphan = YoyoAdapter.create_migration("orphan", directory=second)
    path = second / "versions" / f"{orphan}.sql"
    path.write_text(
        path.read_text().replace(f"-- depends: {r1}", "-- depends: 20000101_000000_000000")
    )
    (first / "versions" / f"{r1}.sql").rename(first / "versions" / "20000101_000000_000000.sql")
    YoyoAdapter.get_migration_history(directory=first)
    with pytest.raises(MigrationUpgradeError, match="dependencies"):
        YoyoAdapter.upgrade(directory=second, connection_string=other_db)
    assert registry == before


def test_rows_returned_by_statements_do_not_reach_stdout(
    tmp_path: Path, sqlite_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    directory, revision = _directory(
        tmp_path, "selects", ["CREATE TABLE t (id integer)", "SELECT 42 AS answer"]
    )
    capfd.readouterr()
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    out, err = capfd.readouterr()
    assert out == ""
    assert "answer" not in err
    assert (
        YoyoAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
        == revision
    )


def test_importing_the_adapter_does_not_import_yoyo() -> None:
    code = (
        "import json, sys\n"
        "from pydapter_migrations import get_adapter\n"
        "cls = get_adapter('yoyo'); acls = get_adapter('async_yoyo')\n"
        "print(json.dumps([sorted(cls.capabilities()), sorted(acls.capabilities()),"
        " acls.migration_key, 'yoyo' in sys.modules, 'sqlparse' in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert json.loads(out) == [["sql"], ["async", "sql"], "async_yoyo", False, False]
