"""The no-op upgrade (every deploy's case) reads no revision file, as yoyo itself does,
and still applies a revision added since."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter, _engine
from yoyo_helpers import tables, write_revision


def _revision(directory: Path, table: str) -> str:
    rev = YoyoAdapter.create_migration(f"create {table}", directory=directory)
    write_revision(directory, rev, [f"CREATE TABLE {table} (id integer)"], [f"DROP TABLE {table}"])
    return rev


def test_upgrade_with_nothing_pending_loads_no_revision(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    _revision(directory, "a")
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)

    def refuse(directory: Path) -> None:
        raise AssertionError("a no-op upgrade loaded (and parsed) every revision")

    monkeypatch.setattr(_engine, "load", refuse)
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)


def test_a_revision_added_after_a_noop_upgrade_is_applied(tmp_path: Path, sqlite_url: str) -> None:
    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    _revision(directory, "a")
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    second = _revision(directory, "b")
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert {"a", "b"} <= tables(sqlite_url)
    current = YoyoAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
    assert current == second


def test_a_run_reads_the_applied_revisions_once_and_again_after_applying(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yoyo import internalmigrations

    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    first = _revision(directory, "a")
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    reads: list[int] = []
    real = internalmigrations.get_current_version

    def counted(backend: object) -> int:
        reads.append(1)
        return real(backend)

    monkeypatch.setattr(internalmigrations, "get_current_version", counted)
    # Nothing pending: the plan and the changed-file check share one read.
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert len(reads) == 1
    # One pending: the plan's read (shared by the changed-file check), yoyo's check of
    # its own tables before applying, and the check after applying, which reads what the
    # database now records.
    second = _revision(directory, "b")
    reads.clear()
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert len(reads) == 3
    assert (
        YoyoAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
        == second
    )
    YoyoAdapter.downgrade(first, directory=directory, connection_string=sqlite_url)
    assert "b" not in tables(sqlite_url)
