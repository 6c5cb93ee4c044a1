"""A process killed between a revision's statements and its record: the gap yoyo leaves.

yoyo's ``apply_one`` commits a migration's statements, then records it in a second
transaction; a crash in between makes the next run apply the migration again. The
adapter commits both together. Each test kills a real process at the moment the record
is about to be written (the statements have run), then runs the migration again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter
from yoyo_helpers import query, write_revision

KILLED = 17

# Runs in the victim process: os._exit() the moment the INSERT that records revision
# $KILL_AT is executed, i.e. after that revision's own statements ran. Caught at the
# driver's cursor, which both yoyo and the adapter write their records through.
_VICTIM = f"""
import os, sys
from yoyo.backends.base import DatabaseBackend

real_cursor = DatabaseBackend.cursor

class Cursor:
    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, sql, *params):
        values = params[0] if params else ()
        values = values.values() if isinstance(values, dict) else values
        if sql.lstrip().startswith("INSERT") and "_yoyo_migration" in sql and sys.argv[3] in values:
            os._exit({KILLED})
        return self._cursor.execute(sql, *params)

    def __getattr__(self, name):
        return getattr(self._cursor, name)

DatabaseBackend.cursor = lambda self: Cursor(real_cursor(self))
mode, directory, _, url = sys.argv[1:5]
if mode == "adapter":
    from pydapter_migrations_yoyo import YoyoAdapter
    YoyoAdapter.upgrade(directory=directory, connection_string=url)
else:  # yoyo's own API, as its documentation shows
    from yoyo import get_backend, read_migrations
    backend = get_backend(url)
    backend.apply_migrations(backend.to_apply(read_migrations(directory + "/versions")))
"""


def _revisions(directory: Path) -> tuple[str, str]:
    YoyoAdapter.init_migrations(directory)
    r1 = YoyoAdapter.create_migration("counter table", directory=directory)
    r2 = YoyoAdapter.create_migration("count once", directory=directory)
    write_revision(directory, r1, ["CREATE TABLE counter (n integer)"], ["DROP TABLE counter"])
    write_revision(directory, r2, ["INSERT INTO counter VALUES (1)"], ["DELETE FROM counter"])
    return r1, r2


def _kill_while_recording(mode: str, directory: Path, revision: str, url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _VICTIM, mode, str(directory), revision, url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == KILLED, proc.stderr


@pytest.mark.parametrize(
    "database",
    [
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        # DDL commits itself there, but this revision is DML: one transaction all the same.
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_killed_before_commit_applies_the_revision_exactly_once(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{database}_url")
    directory = tmp_path / "migrations"
    r1, r2 = _revisions(directory)

    _kill_while_recording("adapter", directory, r2, url)
    # The revision before it committed; the killed one left nothing behind.
    assert YoyoAdapter.get_current_revision(directory=directory, connection_string=url) == r1
    assert query(url, "SELECT count(*) FROM counter") == [(0,)]

    YoyoAdapter.upgrade(directory=directory, connection_string=url, lock_timeout=15)
    assert YoyoAdapter.get_current_revision(directory=directory, connection_string=url) == r2
    assert query(url, "SELECT count(*) FROM counter") == [(1,)]


def test_the_same_kill_makes_plain_yoyo_apply_twice(tmp_path: Path, sqlite_url: str) -> None:
    """The control: without the adapter, the same kill point duplicates the row, so the
    test above would catch a return to yoyo's two-transaction apply."""
    directory = tmp_path / "migrations"
    _, r2 = _revisions(directory)
    _kill_while_recording("yoyo", directory, r2, sqlite_url)
    assert query(sqlite_url, "SELECT count(*) FROM counter") == [(1,)]  # committed, unrecorded
    YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert query(sqlite_url, "SELECT count(*) FROM counter") == [(2,)]
