"""A run splits (with sqlparse) only the SQL it executes: the pending revisions' upgrade
files on upgrade, the reverted revisions' rollback files on downgrade. yoyo itself splits
both files of every revision in the directory, whatever it runs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlparse
import yoyo.migrations
from pydapter_migrations_yoyo import YoyoAdapter, _compat, _engine
from yoyo_helpers import tables, write_revision

from pydapter_migrations.errors import MigrationUpgradeError


def _revision(directory: Path, table: str, *, header: str = "") -> str:
    rev = YoyoAdapter.create_migration(f"create {table}", directory=directory)
    write_revision(directory, rev, [f"CREATE TABLE {table} (id integer)"], [f"DROP TABLE {table}"])
    if header:
        path = directory / "versions" / f"{rev}.sql"
        path.write_text(header + path.read_text(encoding="utf-8"), encoding="utf-8")
    return rev


@pytest.fixture
def split_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text yoyo hands to sqlparse.split, recorded as the run goes."""
    seen: list[str] = []
    real = sqlparse.split

    def split(sql: str, *args: object, **kwargs: object) -> list[str]:
        seen.append(sql)
        return real(sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlparse, "split", split)
    return seen


def _files(directory: Path, revisions: list[str], suffix: str) -> list[str]:
    return [
        (directory / "versions" / f"{rev}{suffix}").read_text(encoding="utf-8") for rev in revisions
    ]


def test_each_direction_splits_only_the_files_it_runs(
    tmp_path: Path, sqlite_url: str, split_texts: list[str]
) -> None:
    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    r1, r2, r3 = (_revision(directory, name) for name in ("a", "b", "c"))
    kw = {"directory": directory, "connection_string": sqlite_url}

    YoyoAdapter.upgrade(r1, **kw)
    assert split_texts == _files(directory, [r1], ".sql")
    split_texts.clear()
    YoyoAdapter.upgrade(**kw)
    assert split_texts == _files(directory, [r2, r3], ".sql")
    assert tables(sqlite_url) >= {"a", "b", "c"}

    split_texts.clear()
    YoyoAdapter.downgrade(r1, **kw)
    assert split_texts == _files(directory, [r3, r2], ".rollback.sql")
    split_texts.clear()
    YoyoAdapter.downgrade("base", **kw)
    assert split_texts == _files(directory, [r1], ".rollback.sql")
    assert not {"a", "b", "c"} & tables(sqlite_url)


def test_sql_rendering_shows_the_direction_it_renders(
    tmp_path: Path, sqlite_url: str, split_texts: list[str]
) -> None:
    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    _revision(directory, "a")
    kw = {"directory": directory, "connection_string": sqlite_url}
    up = YoyoAdapter.upgrade(sql=True, **kw)
    assert up is not None and "CREATE TABLE a" in up and "DROP TABLE a" not in up
    YoyoAdapter.upgrade(**kw)
    down = YoyoAdapter.downgrade("base", sql=True, **kw)
    assert down is not None and "DROP TABLE a" in down and "CREATE TABLE a" not in down


def test_non_transactional_revision_keeps_both_files_for_yoyo_to_undo_steps(
    tmp_path: Path, sqlite_url: str, split_texts: list[str]
) -> None:
    """yoyo undoes the steps of a failed ``-- transactional: false`` revision one by one,
    with the other direction's statements, so both files are split for it."""
    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    plain = _revision(directory, "a")
    outside = _revision(directory, "b", header="-- transactional: false\n")
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert split_texts == [
        *_files(directory, [plain], ".sql"),
        *_files(directory, [outside], ".sql"),
        *_files(directory, [outside], ".rollback.sql"),
    ]


def test_yoyo_reader_is_untouched_outside_a_load_and_in_other_threads(
    tmp_path: Path, sqlite_url: str
) -> None:
    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    rev = _revision(directory, "a")
    rollback_path = str(directory / "versions" / f"{rev}.rollback.sql")
    original = yoyo.migrations.read_sql_migration

    seen_elsewhere: list[list[str]] = []
    with _compat.loading((), _engine._header_only):
        assert _engine._header_only(rollback_path) == ({}, "", [])
        other = threading.Thread(
            target=lambda: seen_elsewhere.append(
                yoyo.migrations.read_sql_migration(rollback_path)[2]
            )
        )
        other.start()
        other.join()
    assert seen_elsewhere == [["DROP TABLE a;"]]
    assert yoyo.migrations.read_sql_migration is original

    (directory / "versions" / f"{rev}.sql").write_text("CREATE TABLE broken (;\n")
    with pytest.raises(MigrationUpgradeError, match=r"syntax error"):
        YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert yoyo.migrations.read_sql_migration is original


def test_loads_in_many_threads_leave_yoyo_as_they_found_it(tmp_path: Path) -> None:
    """yoyo's reader and id registry are process-wide: loads that overlapped once left one
    thread's header-only reader installed for good, which a later thread with the same id
    then used (its SQL files read as empty)."""
    from yoyo.migrations import Migration

    directories = []
    for name in ("one", "two"):
        directory = tmp_path / name
        YoyoAdapter.init_migrations(directory)
        _revision(directory, "a")
        directories.append(directory)
    original = yoyo.migrations.read_sql_migration
    registry = dict(getattr(Migration, _compat._REGISTRY_ATTRIBUTE))
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def load(directory: Path) -> None:
        try:
            start.wait()
            for _ in range(25):
                assert len(YoyoAdapter.get_migration_history(directory=directory)) == 1
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=load, args=(directories[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert yoyo.migrations.read_sql_migration is original
    assert dict(getattr(Migration, _compat._REGISTRY_ATTRIBUTE)) == registry
