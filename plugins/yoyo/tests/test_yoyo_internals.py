"""The session yoyo runs on, yoyo's global state, stdout, and what importing the adapter costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter
from yoyo.migrations import Migration
from yoyo_helpers import query, write_revision

from pydapter_migrations import MigrationUpgradeError


@pytest.mark.postgresql
def test_revisions_run_on_the_session_holding_the_lock(tmp_path: Path, postgresql_url: str) -> None:
    # The session that runs the revision holds the advisory lock: a lost lock is a lost
    # transaction, so nothing can commit after it.
    directory, _ = _directory(
        tmp_path,
        "holder",
        [
            "CREATE TABLE seen (locks integer, search_path text, check_interval text)",
            # The migration lock's class, "pydm" (the run's mark, "pydr", is held too).
            "INSERT INTO seen SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            f" AND classid = {0x7079646D} AND granted AND pid = pg_backend_pid()),"
            " current_setting('search_path'),"
            " current_setting('client_connection_check_interval')",
        ],
    )
    url = postgresql_url + "?options=-c%20search_path%3Dpublic,app"
    YoyoAdapter.upgrade(directory=directory, connection_string=url)
    assert query(postgresql_url, "SELECT * FROM seen") == [(1, "public,app", "1s")]


def test_in_memory_sqlite_is_refused(tmp_path: Path) -> None:
    directory, _ = _directory(tmp_path, "memory", ["CREATE TABLE t (id integer)"])
    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(MigrationUpgradeError, match="in-memory"):
            YoyoAdapter.upgrade(directory=directory, connection_string=url)


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
    with pytest.raises(MigrationUpgradeError, match="depends on 20000101_000000_000000"):
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
