"""Applying and reverting revisions: round trips, every kind of target, a second upgrade
that does nothing, an unknown revision, history without a database, offline SQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ... import (
    MigrationDowngradeError,
    MigrationError,
    MigrationNotFoundError,
    MigrationUpgradeError,
)
from ..requirements import requires
from ._database import KitDatabase
from ._support import Recorder, SuiteBase, snapshot

__all__ = ["MigrationsSuite"]


class MigrationsSuite(SuiteBase):
    """Upgrades, downgrades, current revision and history."""

    def test_round_trip(self, directory: Path, url: str, db: KitDatabase) -> None:
        r1, r2 = self.chain(directory, url, 2)
        history = self.history(directory, url)
        assert [h["revision"] for h in history] == [r1, r2]
        assert [h["description"] for h in history] == ["revision 1", "revision 2"]
        assert [h["down_revision"] for h in history] == [None, r1]
        assert [h["applied"] for h in history] == [False, False]
        assert self.current(directory, url) is None

        self.upgrade(directory, url)
        assert self.current(directory, url) == r2
        assert db.kit_tables() == {"kit_log", "kit_t1", "kit_t2"}
        assert [h["applied"] for h in self.history(directory, url)] == [True, True]

        self.downgrade(directory, url, "base")
        assert self.current(directory, url) is None
        assert db.kit_tables() == set()
        assert [h["applied"] for h in self.history(directory, url)] == [False, False]

    def test_history_without_connection_string(self, directory: Path, url: str) -> None:
        revisions = self.chain(directory, url, 2)
        self.upgrade(directory, url)
        history = self.history(directory, None)
        assert [h["revision"] for h in history] == revisions
        assert [h["applied"] for h in history] == [None, None]

    def test_targets_head_base_id_and_relative(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        r1, r2, r3 = self.chain(directory, url, 3)
        self.upgrade(directory, url, r1)
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_log", "kit_t1"}
        self.upgrade(directory, url, "head")
        assert self.current(directory, url) == r3
        self.downgrade(directory, url, "-1")
        assert self.current(directory, url) == r2
        assert "kit_t3" not in db.kit_tables()
        self.downgrade(directory, url, r1)
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_log", "kit_t1"}
        self.downgrade(directory, url, "base")
        assert self.current(directory, url) is None
        self.upgrade(directory, url, r2)
        assert self.current(directory, url) == r2
        assert sorted(row[0] for row in db.query("SELECT n FROM kit_log")) == [1, 2]

    def test_a_relative_target_past_either_end_is_named(self, directory: Path, url: str) -> None:
        """``-N``/``+N`` beyond the first or last revision: the operation's own error,
        saying so, and nothing changed."""
        self.chain(directory, url, 2)
        cases = [("downgrade", "-1", "first")]
        for operation, target, end in cases:
            self._past_the_end(directory, url, operation, target, end)
        self.upgrade(directory, url)
        for operation, target, end in [("downgrade", "-5", "first"), ("upgrade", "+5", "last")]:
            self._past_the_end(directory, url, operation, target, end)

    def _past_the_end(
        self, directory: Path, url: str, operation: str, target: str, end: str
    ) -> None:
        before = self.current(directory, url)
        error_type = MigrationUpgradeError if operation == "upgrade" else MigrationDowngradeError
        with pytest.raises(error_type) as info:
            getattr(self, operation)(directory, url, target)
        message = str(info.value)
        assert f"relative target {target} goes past the {end} revision" in message, message
        assert self.current(directory, url) == before

    def test_second_upgrade_is_a_no_op(
        self, directory: Path, url: str, db: KitDatabase, recorder: Recorder
    ) -> None:
        revisions = self.chain(directory, url, 2)
        self.upgrade(directory, url)
        recorder.events.clear()
        self.upgrade(directory, url)
        assert self.current(directory, url) == revisions[-1]
        assert sorted(row[0] for row in db.query("SELECT n FROM kit_log")) == [1, 2]
        assert recorder.named("after_revision") == []
        [before] = recorder.named("before_migrate")
        assert before.pending == ()
        assert len(recorder.named("after_migrate")) == 1

    def test_unknown_revision_raises_not_found_and_changes_nothing(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        r1, _ = self.chain(directory, url, 2)
        self.upgrade(directory, url, r1)
        files = snapshot(directory)
        for call in (self.upgrade, self.downgrade):
            with pytest.raises(MigrationNotFoundError) as info:
                call(directory, url, "feedc0ffee99")
            assert info.value.revision == "feedc0ffee99"
            assert info.value.adapter == self.adapter.migration_key
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_log", "kit_t1"}
        assert snapshot(directory) == files

    @requires("sql_rendering")
    def test_offline_sql_touches_nothing(self, directory: Path, url: str, db: KitDatabase) -> None:
        self.chain(directory, url, 2)
        sql = self.upgrade(directory, url, sql=True)
        assert isinstance(sql, str)
        assert "kit_t1" in sql and "kit_t2" in sql
        assert self.current(directory, url) is None
        assert db.kit_tables() == set()

    def test_a_database_ahead_of_the_directory_is_named(
        self, tmp_path: Path, directory: Path, url: str
    ) -> None:
        r1, r2 = self.chain(directory, url, 2)
        self.upgrade(directory, url)
        assert self.call("verify", directory=str(directory), connection_string=url) == []
        # The same directory one revision behind: code older than the database.
        older = tmp_path / "older"
        shutil.copytree(directory, older)
        self.remove_revision(older, r2)
        for call in (self.upgrade, lambda d, u: self.downgrade(d, u, r1)):
            with pytest.raises(MigrationError) as info:
                call(older, url)
            assert r2 in str(info.value) and "does not contain" in str(info.value)
        problems = self.call("verify", directory=str(older), connection_string=url)
        assert [(p["problem"], p["revision"]) for p in problems] == [("missing_file", r2)]
        assert self.current(directory, url) == r2
        # Where the database is, even read with the older directory: r2, never r1 (the last
        # revision known there) nor "nothing applied".
        assert self.current(older, url) == r2

    def test_stamp_records_a_revision_without_running_it(
        self, directory: Path, url: str, db: KitDatabase, recorder: Recorder
    ) -> None:
        r1, r2 = self.chain(directory, url, 2)
        # A database built by other means: r1's schema is there, nothing is recorded.
        for statement in ("CREATE TABLE kit_log (n integer)", "CREATE TABLE kit_t1 (id integer)",
                          "INSERT INTO kit_log VALUES (1)"):  # fmt: skip
            db.query(statement)
        self.stamp(directory, url, r1)
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_log", "kit_t1"}  # nothing ran
        [before] = recorder.named("before_migrate")
        assert (before.operation, before.target) == ("stamp", r1)
        assert [e.revision for e in recorder.named("after_revision")] == [r1]
        assert len(recorder.named("after_migrate")) == 1
        self.upgrade(directory, url)  # only r2 runs
        assert sorted(row[0] for row in db.query("SELECT n FROM kit_log")) == [1, 2]
        files = snapshot(directory)
        with pytest.raises(MigrationNotFoundError):
            self.stamp(directory, url, "feedc0ffee99")
        assert self.current(directory, url) == r2 and snapshot(directory) == files
        self.stamp(directory, url, "base")
        assert self.current(directory, url) is None
        assert db.kit_tables() == {"kit_log", "kit_t1", "kit_t2"}  # nothing ran
        self.stamp(directory, url, "head")
        assert self.current(directory, url) == r2
        assert [h["applied"] for h in self.history(directory, url)] == [True, True]
