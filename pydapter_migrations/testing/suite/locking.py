"""One migration run at a time per database: a waiter times out with a lock error,
concurrent processes apply each revision once, a killed process leaves no lock (nor,
where DDL is transactional, anything to clear by hand), and a run that lost its lock
commits nothing more."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import ClassVar

import pytest

from ... import MigrationError, MigrationLockError
from ...locking import database_lock
from ...urls import DatabaseURL
from ..requirements import requires
from ._database import KitDatabase
from ._support import SuiteBase, wait_for

__all__ = ["LockingSuite"]


class LockingSuite(SuiteBase):
    """The migration lock, across processes."""

    #: Seconds a lock waiter is given in the lock-timeout test.
    lock_wait: ClassVar[float] = 1.0

    def test_lock_waiter_times_out_with_lock_error(
        self, tmp_path: Path, directory: Path, url: str
    ) -> None:
        revisions = self.chain(directory, url, 2)
        hold = tmp_path / "hold"
        hold.mkdir()
        holder = self.worker(
            "upgrade", "head", directory=str(directory), connection_string=url, hold=hold
        )
        try:
            wait_for(lambda: (hold / "held").exists() or holder.poll() is not None, 60)
            assert holder.poll() is None, holder.communicate()[1]
            started = time.monotonic()
            with pytest.raises(MigrationLockError) as info:
                self.upgrade(directory, url, lock_timeout=self.lock_wait)
            waited = time.monotonic() - started
            assert self.lock_wait * 0.9 <= waited < self.lock_wait + 10
            assert info.value.adapter == self.adapter.migration_key
        finally:
            (hold / "release").touch()
            _, err = holder.communicate(timeout=120)
        assert holder.returncode == 0, err
        assert self.current(directory, url) == revisions[-1]

    def test_concurrent_processes_apply_each_revision_once(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        revisions = self.chain(directory, url, 3)
        workers = [
            self.worker("upgrade", "head", directory=str(directory), connection_string=url)
            for _ in range(6)
        ]
        results = [(w.wait(timeout=180), w.communicate()[1]) for w in workers]
        assert [code for code, _ in results] == [0] * 6, results
        assert sorted(row[0] for row in db.query("SELECT n FROM kit_log")) == [1, 2, 3]
        assert self.current(directory, url) == revisions[-1]

    def _kill_mid_revision(self, directory: Path, url: str, db: KitDatabase, slow: str) -> None:
        """Upgrade in a process of its own, and kill it (SIGKILL) while ``slow`` runs."""
        victim = self.worker("upgrade", "head", directory=str(directory), connection_string=url)

        def lock_is_held() -> bool:
            try:
                with database_lock(url, timeout=0):
                    return False
            except MigrationLockError:
                return True

        wait_for(lambda: lock_is_held() or victim.poll() is not None, 60)
        wait_for(lambda: db.is_running(slow) or victim.poll() is not None, 60)
        assert victim.poll() is None, victim.communicate()[1]
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)

    @requires("transactional_ddl")
    def test_killed_process_leaves_no_lock(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        slow = db.slow_statement(60)
        revision = self.new(directory, url, "slow",
                            ["CREATE TABLE kit_slow (id integer)", slow],
                            ["DROP TABLE kit_slow"])  # fmt: skip
        self._kill_mid_revision(directory, url, db, slow)

        self.write_revision(directory, revision, ["CREATE TABLE kit_slow (id integer)"],
                            ["DROP TABLE kit_slow"])  # fmt: skip
        started = time.monotonic()
        self.upgrade(directory, url, lock_timeout=15)
        assert time.monotonic() - started < 15
        assert self.current(directory, url) == revision
        assert "kit_slow" in db.kit_tables()

    @requires("implicit_ddl_commit")
    def test_killed_process_leaves_no_lock_where_ddl_commits_itself(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        # The lock dies with the session, within seconds even mid-statement; a revision
        # of DML alone dies whole with it, so the next run applies it once.
        [first] = self.chain(directory, url, 1)
        slow = db.slow_statement(60)
        revision = self.new(directory, url, "slow",
                            ["INSERT INTO kit_log VALUES (2)", slow],
                            ["DELETE FROM kit_log WHERE n = 2"])  # fmt: skip
        self.upgrade(directory, url, first)
        self._kill_mid_revision(directory, url, db, slow)

        self.write_revision(directory, revision, ["INSERT INTO kit_log VALUES (2)"],
                            ["DELETE FROM kit_log WHERE n = 2"])  # fmt: skip
        started = time.monotonic()
        self.upgrade(directory, url, lock_timeout=15)
        assert time.monotonic() - started < 15
        assert self.current(directory, url) == revision
        assert sorted(row[0] for row in db.query("SELECT n FROM kit_log")) == [1, 2]

    @requires("implicit_ddl_commit", "dirty_state")
    def test_a_killed_ddl_revision_is_left_to_repair(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        # Killed after its CREATE TABLE committed itself: no lock is left, but the
        # revision's 'started' record is, and the next run refuses until it is repaired.
        self.init(directory, url)
        slow = db.slow_statement(60)
        revision = self.new(directory, url, "slow",
                            ["CREATE TABLE kit_slow (id integer)", slow],
                            ["DROP TABLE kit_slow"])  # fmt: skip
        self._kill_mid_revision(directory, url, db, slow)
        self.write_revision(directory, revision, ["CREATE TABLE kit_slow (id integer)"],
                            ["DROP TABLE kit_slow"])  # fmt: skip
        started = time.monotonic()
        with pytest.raises(MigrationError) as refused:
            self.upgrade(directory, url, lock_timeout=15)
        assert time.monotonic() - started < 15
        assert not isinstance(refused.value, MigrationLockError)
        assert refused.value.revision == revision and "repair" in str(refused.value)
        assert self.current(directory, url) is None
        assert db.kit_tables() == {"kit_slow"}
        self.repair(directory, url, applied=True)
        assert self.current(directory, url) == revision
        self.upgrade(directory, url)  # nothing left to do, nothing refused

    @requires("lock_can_be_lost")
    def test_a_run_that_lost_its_lock_commits_nothing_more(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        slow = db.slow_statement(3)
        first = self.new(directory, url, "runs", ["CREATE TABLE kit_runs (n integer)"],
                         ["DROP TABLE kit_runs"])  # fmt: skip
        counted = self.new(directory, url, "counts once",
                           ["INSERT INTO kit_runs VALUES (1)", slow],
                           ["DELETE FROM kit_runs"])  # fmt: skip
        self.upgrade(directory, url, first)
        loser = self.worker("upgrade", "head", directory=str(directory), connection_string=url)
        wait_for(lambda: db.is_running(slow) or loser.poll() is not None, 60)
        assert loser.poll() is None, loser.communicate()[1]
        # The lock's session dies (pg_terminate_backend, idle_session_timeout, a network
        # cut) while the run is inside a revision; a second deployer starts at once.
        assert db.kill_lock_holders() == 1
        winner = self.worker("upgrade", "head", directory=str(directory), connection_string=url)
        _, lost = loser.communicate(timeout=120)
        _, won = winner.communicate(timeout=120)
        assert winner.returncode == 0, won
        assert loser.returncode == 3 and "MigrationLockError" in lost, lost
        assert "Traceback" not in lost, lost  # told once, as the run's error
        assert db.query("SELECT count(*) FROM kit_runs") == [(1,)]
        assert self.current(directory, url) == counted

    @requires("sqlite_file")
    def test_a_killed_writer_leaves_nothing_to_clear_by_hand(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        # Killed in the middle of a revision that wrote more than SQLite's page cache
        # holds, a writer leaves a hot journal; a read-only connection cannot roll it back.
        self.init(directory, url)
        filler = (
            "INSERT INTO kit_big SELECT randomblob(4000) FROM (WITH RECURSIVE c(x) AS "
            "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x FROM c)"
        )
        revision = self.new(directory, url, "big",
                            ["CREATE TABLE kit_big (b blob)", filler, db.slow_statement(60)],
                            ["DROP TABLE kit_big"])  # fmt: skip
        path = DatabaseURL.parse(url).sqlite_path
        assert path is not None
        journals = [path.with_name(path.name + suffix) for suffix in ("-journal", "-wal")]
        victim = self.worker("upgrade", "head", directory=str(directory), connection_string=url)

        def spilled() -> bool:  # the uncommitted pages reached the database file
            return any(j.exists() for j in journals) and path.stat().st_size > 10_000_000

        wait_for(lambda: spilled() or victim.poll() is not None, 60)
        assert victim.poll() is None, victim.communicate()[1]
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert any(j.exists() for j in journals), "the kill left no journal to recover"

        assert self.current(directory, url) is None
        assert [h["applied"] for h in self.history(directory, url)] == [False]
        self.write_revision(directory, revision, ["CREATE TABLE kit_big (b blob)"],
                            ["DROP TABLE kit_big"])  # fmt: skip
        self.upgrade(directory, url)
        assert self.current(directory, url) == revision
        assert db.query("SELECT count(*) FROM kit_big") == [(0,)]
