"""The history table, checksums, verify and the dirty state, through both shipped backends
on real databases (the conformance kit checks the same for any backend; these go further:
comment-only edits, adoption of an existing database, a killed run, the CLI)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydapter_migrations_alembic import AlembicAdapter
from pydapter_migrations_yoyo import YoyoAdapter
from yoyo_folders import yoyo_folder

from pydapter_migrations import MigrationUpgradeError
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

HISTORY = "pydapter_migrations_history"
CLI = [sys.executable, "-m", "pydapter_migrations"]


def _rows(url: str, columns: str = "revision, outcome") -> list[tuple[object, ...]]:
    return KitDatabase(DatabaseURL.parse(url)).query(
        f"SELECT {columns} FROM {HISTORY} ORDER BY started_at, run_id, seq"
    )


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_a_comment_or_layout_edit_is_not_a_change(tmp_path: Path, url: str) -> None:
    folder = yoyo_folder(tmp_path, 2)
    kw = {"directory": folder, "connection_string": url}
    YoyoAdapter.upgrade("0001", **kw)
    (folder / "0001.sql").write_text(
        "-- revision 1, now explained at length\n\n/* a block comment */\n"
        "CREATE   TABLE t1\n  (id integer);   -- trailing\n"
    )
    assert YoyoAdapter.verify(**kw) == []
    [cosmetic] = YoyoAdapter.verify(**kw, strict=True)
    assert cosmetic["problem"] == "reformatted" and cosmetic["revision"] == "0001"
    YoyoAdapter.upgrade(**kw)  # not refused
    # A change inside a quoted string is a real one, even if it looks like a comment.
    (folder / "0002.sql").write_text(
        "-- revision 2\n-- depends: 0001\nCREATE TABLE t2 (id integer DEFAULT '-- x');\n"
    )
    [changed] = YoyoAdapter.verify(**kw)
    assert (changed["problem"], changed["revision"]) == ("changed", "0002")
    assert changed["file"].startswith(str(folder / "0002.sql"))
    result = _cli(url, "-b", "yoyo", "-d", str(folder), "verify", "--json")
    assert result.returncode == 1 and json.loads(result.stdout)[0]["revision"] == "0002"


def test_an_alembic_docstring_or_comment_edit_is_not_a_change(tmp_path: Path, url: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration("users", directory=directory)
    kw = {"directory": directory, "connection_string": url}
    AlembicAdapter.upgrade(**kw)
    script = next((directory / "versions").glob(f"{revision}_*.py"))
    script.write_text(script.read_text().replace('"""users', '"""users, explained') + "# note\n")
    assert AlembicAdapter.verify(**kw) == []
    script.write_text(script.read_text().replace("    pass", "    op.execute('SELECT 1')", 1))
    assert [p["problem"] for p in AlembicAdapter.verify(**kw)] == ["changed"]
    with pytest.raises(MigrationUpgradeError, match="--allow-changed"):
        AlembicAdapter.upgrade(**kw)
    # The CLI accepts it by name, and records who did.
    result = _cli(url, "-d", str(directory), "upgrade", "--allow-changed", revision)
    assert result.returncode == 0, result.stderr
    assert ("accepted",) in [row[1:] for row in _rows(url)]


def test_a_database_migrated_before_the_table_existed_is_adopted(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = yoyo_folder(tmp_path, 3)
    db = tmp_path / "test.db"
    yoyo = Path(sys.executable).parent / "yoyo"
    subprocess.run(
        [str(yoyo), "apply", "--batch", "--database", f"sqlite:///{db}", str(folder), "-r", "0002"],
        check=True,
        capture_output=True,
    )
    kw = {"directory": folder, "connection_string": sqlite_url}
    with caplog.at_level(logging.WARNING, logger="pydapter_migrations"):
        YoyoAdapter.upgrade(**kw)
    assert "history starts now" in caplog.text
    assert _rows(sqlite_url) == [("0001", "adopted"), ("0002", "adopted"), ("0003", "applied")]
    history = YoyoAdapter.get_migration_history(**kw)
    assert all(entry["applied_at"] for entry in history)
    # From now on, an edit of an adopted revision is caught too.
    (folder / "0001.sql").write_text("CREATE TABLE t1 (id bigint);\n")
    assert [p["revision"] for p in YoyoAdapter.verify(**kw)] == ["0001"]


def test_stamps_keep_the_table_in_step(tmp_path: Path, sqlite_url: str) -> None:
    folder = yoyo_folder(tmp_path, 3)
    kw = {"directory": folder, "connection_string": sqlite_url}
    YoyoAdapter.stamp("head", **kw)
    YoyoAdapter.stamp("0001", **kw)
    assert _rows(sqlite_url) == [
        ("0003", "stamped"),  # the target, in the stamp's transaction
        ("0001", "stamped"),  # what it recorded with it
        ("0002", "stamped"),
        ("0001", "stamped"),
        ("0002", "unstamped"),  # what a stamp to 0001 left unrecorded
        ("0003", "unstamped"),
    ]


def test_an_alembic_stamp_records_its_target_with_its_checksum(
    tmp_path: Path, sqlite_url: str
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    first, second, third = (
        AlembicAdapter.create_migration(f"step {n}", directory=directory) for n in (1, 2, 3)
    )
    kw = {"directory": directory, "connection_string": sqlite_url}
    AlembicAdapter.upgrade(first, **kw)
    AlembicAdapter.stamp(third, **kw)
    AlembicAdapter.stamp(first, **kw)
    rows = _rows(sqlite_url)
    assert rows[:3] == [
        (first, "applied"),
        (third, "stamped"),  # the target
        (second, "stamped"),  # what it recorded with it
    ]
    # What a stamp to the first left unrecorded (in id order).
    assert sorted(rows[3:]) == sorted([(second, "unstamped"), (third, "unstamped")])
    AlembicAdapter.stamp(second, **kw)
    # Stamped, its file is watched as an applied one's: an edit is found.
    script = next((directory / "versions").glob(f"{second}_*.py"))
    script.write_text(script.read_text().replace("    pass", "    op.execute('SELECT 1')", 1))
    [changed] = AlembicAdapter.verify(**kw)
    assert (changed["problem"], changed["revision"]) == ("changed", second)


def test_verify_finds_a_missing_parent_and_several_heads(tmp_path: Path, sqlite_url: str) -> None:
    folder = yoyo_folder(tmp_path, 2)
    (folder / "0003.sql").write_text("-- depends: 0001\nCREATE TABLE t3 (id integer);\n")
    kw = {"directory": folder, "connection_string": sqlite_url}
    assert YoyoAdapter.verify(**kw) == []  # yoyo revisions need not form a line
    (folder / "0003.sql").write_text("-- depends: 0009\nCREATE TABLE t3 (id integer);\n")
    [missing] = YoyoAdapter.verify(**kw)
    assert (missing["problem"], missing["revision"], missing["parent"]) == (
        "missing_parent",
        "0003",
        "0009",
    )
    with pytest.raises(MigrationUpgradeError, match="0009"):
        YoyoAdapter.upgrade(**kw)
    directory = tmp_path / "alembic"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration("orphan", directory=directory)
    script = next((directory / "versions").glob(f"{revision}_*.py"))
    text = script.read_text()
    script.write_text(text.replace("down_revision: str | Sequence[str] | None = None",
                                   "down_revision = 'deadbeef0000'"))  # fmt: skip
    assert script.read_text() != text
    problems = AlembicAdapter.verify(directory=directory, connection_string=sqlite_url)
    assert [(p["problem"], p["parent"]) for p in problems] == [("missing_parent", "deadbeef0000")]
    # Alembic expects one head: a second branch is reported until merged.
    script.write_text(text)
    other = AlembicAdapter.create_migration("branch", directory=directory)
    branch = next((directory / "versions").glob(f"{other}_*.py"))
    branch.write_text(branch.read_text().replace(f"= {revision!r}", "= None", 1))
    [heads] = AlembicAdapter.verify(directory=directory, connection_string=sqlite_url)
    assert heads["problem"] == "multiple_heads" and revision in heads["heads"]


@pytest.mark.postgresql
def test_a_killed_run_leaves_a_dirty_revision_until_repaired(
    tmp_path: Path, postgresql_url: str
) -> None:
    """A revision outside a transaction (CREATE INDEX CONCURRENTLY's kind) killed half-way:
    its started row committed before it ran, so every later run refuses until repaired."""
    folder = yoyo_folder(tmp_path, 1)
    (folder / "0002.sql").write_text(
        "-- transactional: false\n-- depends: 0001\n"
        "CREATE TABLE half (id integer);\nSELECT pg_sleep(60);\nCREATE TABLE other (id integer);\n"
    )
    (folder / "0002.rollback.sql").write_text("DROP TABLE other;\nDROP TABLE half;\n")
    env = {**os.environ, "DATABASE_URL": postgresql_url}
    run = subprocess.Popen(
        [*CLI, "-b", "yoyo", "-d", str(folder), "upgrade"], env=env, stderr=subprocess.PIPE
    )
    db = KitDatabase(DatabaseURL.parse(postgresql_url))
    deadline = time.monotonic() + 60
    while "half" not in db.tables():
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.1)
    run.send_signal(signal.SIGKILL)
    run.wait()

    kw = {"directory": folder, "connection_string": postgresql_url}
    with pytest.raises(MigrationUpgradeError) as info:
        YoyoAdapter.upgrade(**kw, lock_timeout=30)
    assert info.value.revision == "0002"
    assert "never finished" in str(info.value) and "repair" in str(info.value)
    status = _cli(postgresql_url, "-b", "yoyo", "-d", str(folder), "status", "--json")
    assert status.returncode == 1
    assert [p["problem"] for p in json.loads(status.stdout)["problems"]] == ["dirty"]

    usage = _cli(postgresql_url, "-b", "yoyo", "-d", str(folder), "repair")
    assert usage.returncode == 2 and "either --applied or --not-applied" in usage.stderr
    both = ("repair", "--applied", "--not-applied")
    contradiction = _cli(postgresql_url, "-b", "yoyo", "-d", str(folder), *both)
    assert contradiction.returncode == 2 and "either --applied or" in contradiction.stderr
    assert ("0002", "repaired") not in _rows(postgresql_url)  # neither changed anything
    db.query("DROP TABLE half")  # the user undoes what ran, then says so
    done = _cli(postgresql_url, "-b", "yoyo", "-d", str(folder), "repair", "--not-applied")
    assert done.returncode == 0, done.stderr
    assert ("0002", "repaired") in _rows(postgresql_url)
    again = _cli(postgresql_url, "-b", "yoyo", "-d", str(folder), "repair", "--applied")
    assert again.returncode == 1 and "nothing to repair" in again.stderr
    YoyoAdapter.upgrade(**kw)  # the database is clean again: the revision runs whole
    assert {"half", "other"} <= db.tables()


@pytest.mark.postgresql
def test_a_killed_transactional_revision_leaves_nothing_to_repair(
    tmp_path: Path, postgresql_url: str
) -> None:
    folder = yoyo_folder(tmp_path, 1)
    (folder / "0002.sql").write_text(
        "-- depends: 0001\nCREATE TABLE half (id integer);\nSELECT pg_sleep(60);\n"
    )
    (folder / "0002.rollback.sql").write_text("DROP TABLE half;\n")
    env = {**os.environ, "DATABASE_URL": postgresql_url}
    run = subprocess.Popen([*CLI, "-b", "yoyo", "-d", str(folder), "upgrade"], env=env)
    db = KitDatabase(DatabaseURL.parse(postgresql_url))
    deadline = time.monotonic() + 60
    while not db.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'"):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.1)
    run.send_signal(signal.SIGKILL)
    run.wait()
    (folder / "0002.sql").write_text("-- depends: 0001\nCREATE TABLE half (id integer);\n")
    kw = {"directory": folder, "connection_string": postgresql_url}
    YoyoAdapter.upgrade(**kw, lock_timeout=30)  # rolled back whole: nothing dirty
    assert YoyoAdapter.get_current_revision(**kw) == "0002"
    assert [row for row in _rows(postgresql_url) if row[1] in ("started", "incomplete")] == []
