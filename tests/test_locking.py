"""The database lock across processes and threads, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from pydapter_migrations import MigrationLockError
from pydapter_migrations.connections import connect
from pydapter_migrations.locking import database_lock, lock_in_use, mysql_lock_name
from pydapter_migrations.testing.mariadb import MariaDBServer
from pydapter_migrations.testing.postgres import PostgresServer

HOLD = """
import sys, time
from pydapter_migrations.locking import database_lock
with database_lock(sys.argv[1], timeout=30):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture
def url(each_database_url: str) -> str:
    return each_database_url


def test_waiter_times_out_naming_the_holder_then_gets_it_when_the_holder_dies(url: str) -> None:
    holder = _holder(url)
    try:
        started = time.monotonic()
        with pytest.raises(MigrationLockError) as info, database_lock(url, timeout=0.5):
            pass
        assert 0.45 <= time.monotonic() - started < 5
        if url.startswith("mysql"):
            # The holder's connection, account, client address and port (its pid only
            # where performance_schema keeps connection attributes: not MariaDB's default).
            assert re.search(
                r"held by connection \d+ \(pydapter@127\.0\.0\.1:\d+, idle for \d+s\)",
                str(info.value),
            ), str(info.value)
        else:
            assert f"pid={holder.pid}" in str(info.value)
        assert "pw%" not in str(info.value)  # the test server's password
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    started = time.monotonic()
    with database_lock(url, timeout=10):
        assert time.monotonic() - started < 5


def test_threads_of_one_process_exclude_each_other(url: str) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    def worker() -> None:
        nonlocal inside, most
        with database_lock(url, timeout=30):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_released_on_exit_and_on_error(url: str) -> None:
    with pytest.raises(RuntimeError), database_lock(url, timeout=1):
        raise RuntimeError("inside")
    with database_lock(url, timeout=0):
        pass


def test_in_memory_sqlite_needs_no_lock_and_bad_timeouts_are_refused() -> None:
    with database_lock("sqlite://", timeout=0), database_lock("sqlite://", timeout=0):
        pass
    for bad in (-1, float("nan"), float("inf"), "5", None, True):
        with (
            pytest.raises(ValueError, match="lock_timeout"),
            database_lock("sqlite://", timeout=bad),
        ):  # type: ignore[arg-type]
            pass


def test_lock_file_sits_beside_the_database_not_on_it(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    with database_lock(sqlite_url, timeout=1):
        assert os.path.exists(path + ".migration-lock")
        assert not os.path.exists(path)


def test_the_lock_is_held_by_its_session_and_taken_on_a_given_one(
    postgresql_server: PostgresServer, postgresql_url: str
) -> None:
    with database_lock(postgresql_url, timeout=1) as lock:
        assert lock.session is not None
        # The very session that holds the advisory lock, and it is left usable.
        holds = lock.session.scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid()"
        )
        assert holds == 1
        assert lock.holds(lock.session.connection) and lock.alive()
    # On a session the caller opened, which stays open afterwards.
    with connect(postgresql_url) as session:
        with database_lock(postgresql_url, timeout=1, session=session) as lock:
            assert lock.session is session
        assert session.scalar("SELECT 1") == 1
    # SQLite's lock is a file: no connection, so no database file is created for it.
    with database_lock("sqlite://", timeout=0) as lock:
        assert lock.session is None


@pytest.mark.mariadb
def test_the_mysql_lock_is_held_by_its_session_and_fenced(
    mariadb_server: MariaDBServer, mariadb_url: str
) -> None:
    name = mysql_lock_name(mariadb_url)
    assert name.startswith("pydapter_migrations.") and len(name) <= 64
    with connect(mariadb_url) as session, connect(mariadb_url) as other:
        with database_lock(mariadb_url, timeout=1, session=session) as lock:
            # The very session that migrates holds the named lock.
            assert session.scalar("SELECT IS_USED_LOCK(?)", (name,)) == session.scalar(
                "SELECT CONNECTION_ID()"
            )
            assert lock.holds(session.connection) and lock.alive()
            lock.fence(session)  # free on the holding session
            lock.fence(other)  # another session of the run checks the holder
            # Its session killed (KILL, wait_timeout, a network cut): the lock is gone.
            other.execute(f"KILL CONNECTION {int(session.scalar('SELECT CONNECTION_ID()'))}")
            assert not lock.alive()
            # The server lets the lock go once the killed thread has ended, within moments;
            # until then no other run can take it either.
            deadline = time.monotonic() + 10
            while other.scalar("SELECT IS_USED_LOCK(?)", (name,)) is not None:
                assert time.monotonic() < deadline, "the killed session still holds the lock"
                time.sleep(0.02)
            with pytest.raises(MigrationLockError, match="lost the migration lock") as lost:
                lock.fence(other)
            assert lost.value.lost
            # Noticed on the lock's own session too, it does not claim that nothing of the
            # revision at work committed: its DDL did, as it ran.
            assert "may be committed" in str(lock.lost("its session ended"))
            with database_lock(mariadb_url, timeout=1):
                pass  # and another run takes it at once
        # Another database of the same server has a lock of its own.
        neighbour = mariadb_server.url(mariadb_server.create_database())
        assert mysql_lock_name(neighbour) != name
        with database_lock(mariadb_url, timeout=1), database_lock(neighbour, timeout=0):
            pass


def test_the_mysql_migrating_lock_goes_with_an_enlisted_connection_and_is_waited_for(
    mariadb_url: str,
) -> None:
    """A project's env.py may migrate on a connection of its own: enlisted, it takes the
    migrating lock. When the lock's session dies, that connection may still be running
    (MySQL commits its DDL as it goes): the next holder waits for it, naming it, and gets
    the lock once it is gone."""
    from pydapter_migrations.locking import _mysql_migrating_name

    migrating = _mysql_migrating_name(mariadb_url)
    assert len(migrating) <= 64 and migrating != mysql_lock_name(mariadb_url)
    with (
        connect(mariadb_url) as session,
        connect(mariadb_url) as own,
        connect(mariadb_url) as admin,
        database_lock(mariadb_url, timeout=1, session=session) as lock,
    ):
        who = lambda s: s.scalar("SELECT CONNECTION_ID()")  # noqa: E731
        assert admin.scalar("SELECT IS_USED_LOCK(?)", (migrating,)) == who(session)
        lock.enlist(own)
        assert admin.scalar("SELECT IS_USED_LOCK(?)", (migrating,)) == who(own)
        lock.enlist(own)  # again: still its
        with pytest.raises(MigrationLockError) as busy, database_lock(mariadb_url, timeout=0):
            pass  # a waiter names both: the idle holder and the connection at work
        assert f"its revisions run on connection {who(own)}" in str(busy.value)
        admin.execute(f"KILL CONNECTION {int(who(session))}")
        deadline = time.monotonic() + 10
        while admin.scalar("SELECT IS_USED_LOCK(?)", (mysql_lock_name(mariadb_url),)):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with (
            pytest.raises(MigrationLockError) as waited,
            database_lock(mariadb_url, timeout=0.5),
        ):
            pass
        message = str(waited.value)
        assert f"connection {who(own)}" in message and "still migrating" in message
        with pytest.raises(MigrationLockError, match="may be committed"):
            lock.fence(own)
        assert lock_in_use(mariadb_url, admin)  # status: in progress, not dead
        own.execute("SELECT RELEASE_LOCK(?)", (migrating,))  # its env.py closed it
        with database_lock(mariadb_url, timeout=1):
            pass


def test_a_symlinked_path_is_the_same_database(tmp_path: os.PathLike[str]) -> None:
    from pathlib import Path

    data, link = Path(tmp_path) / "data", Path(tmp_path) / "link"
    data.mkdir()
    link.mkdir()
    (link / "app.db").symlink_to(data / "app.db")  # dangling until the database exists
    real, linked = f"sqlite:///{data / 'app.db'}", f"sqlite:///{link / 'app.db'}"
    for first, second in ((real, linked), (linked, real)):
        with (
            database_lock(first, timeout=1),
            pytest.raises(MigrationLockError),
            database_lock(second, timeout=0.2),
        ):
            pass
    assert [p.name for p in data.iterdir()] == ["app.db.migration-lock"]
    assert [p.name for p in link.iterdir()] == ["app.db"]
