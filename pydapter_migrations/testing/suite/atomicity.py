"""Each revision is all or nothing where the database allows: a failing upgrade or
downgrade leaves the last good revision, a revision that ends its own transaction is
stopped and named, and hooks report a revision only once it is committed (a failing hook
is blamed on the one it saw).

Where DDL commits itself (MySQL, MariaDB: the ``implicit_ddl_commit`` requirement) a
revision of DML alone is still all or nothing; one with DDL may leave part of itself
committed, and the run says so. The tests needing ``dirty_state`` check what the core then
records (issue 15, point 3): later runs refuse until the revision is repaired.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ... import MigrationDowngradeError, MigrationError, MigrationEvent, MigrationUpgradeError
from ..requirements import requires
from ._database import KitDatabase
from ._support import Recorder, SuiteBase

__all__ = ["AtomicitySuite"]


class AtomicitySuite(SuiteBase):
    """Failing revisions, and hooks after commit."""

    @requires("transactional_ddl")
    def test_failing_revision_leaves_the_previous_one(
        self, directory: Path, url: str, db: KitDatabase, recorder: Recorder
    ) -> None:
        self.init(directory, url)
        r1 = self.new(directory, url, "good", ["CREATE TABLE kit_good (id integer)"],
                      ["DROP TABLE kit_good"])  # fmt: skip
        r2 = self.new(
            directory, url, "breaks halfway",
            ["CREATE TABLE kit_half (id integer)", "INSERT INTO kit_no_such_table VALUES (1)"],
            ["DROP TABLE kit_half"],
        )  # fmt: skip
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        assert info.value.revision == r2
        assert r2 in str(info.value)
        assert info.value.adapter == self.adapter.migration_key
        assert info.value.__cause__ is not None
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_good"}
        assert [e.revision for e in recorder.named("after_revision")] == [r1]
        assert recorder.errors == [info.value]

    @requires("transactional_ddl")
    def test_failing_downgrade_leaves_the_revision_applied(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        r1 = self.new(directory, url, "one", ["CREATE TABLE kit_one (id integer)"],
                      ["DROP TABLE kit_one"])  # fmt: skip
        r2 = self.new(directory, url, "two", ["CREATE TABLE kit_two (id integer)"],
                      ["DROP TABLE kit_two", "DROP TABLE kit_no_such_table"])  # fmt: skip
        self.upgrade(directory, url)
        with pytest.raises(MigrationDowngradeError) as info:
            self.downgrade(directory, url, "base")
        assert info.value.revision == r2
        assert self.current(directory, url) == r2
        assert db.kit_tables() == {"kit_one", "kit_two"}
        self.write_revision(directory, r2, ["CREATE TABLE kit_two (id integer)"],
                            ["DROP TABLE kit_two"])  # fmt: skip
        self.downgrade(directory, url, r1)
        assert self.current(directory, url) == r1

    def test_failing_dml_revision_leaves_nothing_of_itself(
        self, directory: Path, url: str, db: KitDatabase, recorder: Recorder
    ) -> None:
        # On every database, DDL committing itself or not: a revision of DML alone is one
        # transaction, rolled back whole, and nothing blocks the next run.
        self.init(directory, url)
        r1 = self.new(directory, url, "table", ["CREATE TABLE kit_rows (n integer)"],
                      ["DROP TABLE kit_rows"])  # fmt: skip
        r2 = self.new(directory, url, "rows, then a typo",
                      ["INSERT INTO kit_rows VALUES (1)", "INSERT INTO kit_rows VALUES (2)",
                       "INSERT INTO kit_no_such_table VALUES (3)"],
                      ["DELETE FROM kit_rows"])  # fmt: skip
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        assert info.value.revision == r2 and r2 in str(info.value)
        assert self.current(directory, url) == r1
        assert db.query("SELECT count(*) FROM kit_rows") == [(0,)]
        assert [e.revision for e in recorder.named("after_revision")] == [r1]
        self.write_revision(directory, r2, ["INSERT INTO kit_rows VALUES (1)"],
                            ["DELETE FROM kit_rows"])  # fmt: skip
        self.upgrade(directory, url)  # fixed, it applies: nothing was left to repair
        assert self.current(directory, url) == r2
        assert db.query("SELECT n FROM kit_rows") == [(1,)]

    @requires("implicit_ddl_commit")
    def test_failing_ddl_revision_is_named_and_not_recorded(
        self, directory: Path, url: str, db: KitDatabase, recorder: Recorder
    ) -> None:
        # MySQL commits the CREATE TABLE as it runs: no rollback can take it back. The run
        # names the revision and does not record it as applied; what it committed may stay
        # (a backend may undo what it can, as yoyo runs the rollback steps). What the core
        # then records is checked by the dirty_state tests.
        self.init(directory, url)
        r1 = self.new(directory, url, "good", ["CREATE TABLE kit_good (id integer)"],
                      ["DROP TABLE kit_good"])  # fmt: skip
        r2 = self.new(
            directory, url, "breaks halfway",
            ["CREATE TABLE kit_half (id integer)", "INSERT INTO kit_no_such_table VALUES (1)"],
            ["DROP TABLE kit_half"],
        )  # fmt: skip
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        assert info.value.revision == r2 and r2 in str(info.value)
        assert info.value.adapter == self.adapter.migration_key
        assert info.value.__cause__ is not None
        assert self.current(directory, url) == r1
        assert "kit_good" in db.kit_tables() <= {"kit_good", "kit_half"}
        assert [e.revision for e in recorder.named("after_revision")] == [r1]
        assert recorder.errors == [info.value]

    @requires("implicit_ddl_commit")
    def test_failing_ddl_downgrade_leaves_the_revision_recorded(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        self.new(directory, url, "one", ["CREATE TABLE kit_one (id integer)"],
                 ["DROP TABLE kit_one"])  # fmt: skip
        r2 = self.new(directory, url, "two", ["CREATE TABLE kit_two (id integer)"],
                      ["DROP TABLE kit_two", "DROP TABLE kit_no_such_table"])  # fmt: skip
        self.upgrade(directory, url)
        with pytest.raises(MigrationDowngradeError) as info:
            self.downgrade(directory, url, "base")
        assert info.value.revision == r2 and r2 in str(info.value)
        assert self.current(directory, url) == r2
        assert "kit_one" in db.kit_tables() <= {"kit_one", "kit_two"}

    @requires("implicit_ddl_commit", "dirty_state")
    def test_a_half_applied_revision_blocks_later_runs_until_repaired(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        r1 = self.new(directory, url, "good", ["CREATE TABLE kit_good (id integer)"],
                      ["DROP TABLE kit_good"])  # fmt: skip
        # Its rollback undoes nothing, so no backend can take the CREATE TABLE back.
        r2 = self.new(
            directory, url, "breaks halfway",
            ["CREATE TABLE kit_half (id integer)", "INSERT INTO kit_no_such_table VALUES (1)"],
            ["SELECT 1"],
        )  # fmt: skip
        with pytest.raises(MigrationUpgradeError):
            self.upgrade(directory, url)
        assert db.kit_tables() == {"kit_good", "kit_half"}
        self.write_revision(directory, r2, ["CREATE TABLE kit_half (id integer)"],
                            ["DROP TABLE kit_half"])  # fmt: skip
        # Every later run refuses, naming the revision, when and where it started, and
        # what to do; nothing runs.
        for call in (self.upgrade, lambda d, u: self.downgrade(d, u, "base")):
            with pytest.raises(MigrationError) as refused:
                call(directory, url)
            message = str(refused.value)
            assert refused.value.revision == r2 and r2 in message
            assert "repair" in message and "started" in message
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_good", "kit_half"}
        problems = self.call("verify", directory=str(directory), connection_string=url)
        assert [(p["problem"], p["revision"]) for p in problems] == [("dirty", r2)]
        assert r2 in self.status_text(directory, url)
        # What the revision did is really there: the user says so, and the run goes on.
        self.repair(directory, url, applied=True)
        assert self.current(directory, url) == r2
        assert self.call("verify", directory=str(directory), connection_string=url) == []
        # Repaired as applied, its file is watched as an applied revision's.
        self.write_revision(directory, r2, ["CREATE TABLE kit_half (id integer, x integer)"],
                            ["DROP TABLE kit_half"])  # fmt: skip
        problems = self.call("verify", directory=str(directory), connection_string=url)
        assert [(p["problem"], p["revision"]) for p in problems] == [("changed", r2)]
        self.write_revision(directory, r2, ["CREATE TABLE kit_half (id integer)"],
                            ["DROP TABLE kit_half"])  # fmt: skip
        self.downgrade(directory, url, r1)
        assert db.kit_tables() == {"kit_good"}

    @requires("implicit_ddl_commit", "dirty_state")
    def test_a_revision_undone_by_hand_is_repaired_as_not_applied(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        r1 = self.new(directory, url, "good", ["CREATE TABLE kit_good (id integer)"],
                      ["DROP TABLE kit_good"])  # fmt: skip
        r2 = self.new(
            directory, url, "breaks halfway",
            ["CREATE TABLE kit_half (id integer)", "INSERT INTO kit_no_such_table VALUES (1)"],
            ["SELECT 1"],
        )  # fmt: skip
        with pytest.raises(MigrationUpgradeError):
            self.upgrade(directory, url)
        db.query("DROP TABLE kit_half")  # the user puts the schema back by hand
        self.repair(directory, url, applied=False)
        assert self.current(directory, url) == r1
        self.write_revision(directory, r2, ["CREATE TABLE kit_half (id integer)"],
                            ["DROP TABLE kit_half"])  # fmt: skip
        self.upgrade(directory, url)
        assert self.current(directory, url) == r2
        assert db.kit_tables() == {"kit_good", "kit_half"}

    def test_hooks_fire_once_per_revision_after_commit(
        self, directory: Path, url: str, db: KitDatabase, recorder: Recorder
    ) -> None:
        revisions = self.chain(directory, url, 3)
        committed: list[bool] = []
        # Seen from another connection, the revision's table must already exist.
        recorder.check = lambda event: committed.append(
            event.operation != "upgrade" or f"kit_t{event.index}" in db.tables()
        )
        self.upgrade(directory, url)
        key = self.adapter.migration_key
        [before] = recorder.named("before_migrate")
        assert (before.migration_key, before.operation, before.target) == (key, "upgrade", "head")
        assert before.pending == tuple(revisions)
        assert Path(before.directory) == directory
        after = recorder.named("after_revision")
        assert [e.revision for e in after] == revisions
        assert [e.index for e in after] == [1, 2, 3]
        assert all(e.elapsed is not None and e.elapsed >= 0 for e in after)
        assert committed == [True, True, True]
        assert len(recorder.named("after_migrate")) == 1

        recorder.events.clear()
        self.downgrade(directory, url, "base")
        assert [e.revision for e in recorder.named("after_revision")] == revisions[::-1]
        assert {e.operation for _, e in recorder.events} == {"downgrade"}
        assert recorder.named("on_migration_error") == []

    @requires("transactional_ddl")
    def test_a_revision_that_ends_its_transaction_is_stopped_and_named(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        good = self._good_revision(directory, url)
        cases = {
            # ends its transaction, then fails: what ran before the COMMIT stays
            "kit_a1": ["CREATE TABLE kit_a1 (id integer)", "COMMIT",
                       "CREATE TABLE kit_a2 (id integer)",
                       "INSERT INTO kit_no_such_table VALUES (1)"],
            # ends its transaction and goes on: never recorded as applied
            "kit_b1": ["CREATE TABLE kit_b1 (id integer)", "COMMIT",
                       "CREATE TABLE kit_b2 (id integer)"],
        }  # fmt: skip
        for table, statements in cases.items():
            good = self._stopped_then_repaired(directory, url, db, good, statements, table)

    @requires("implicit_ddl_commit")
    def test_a_rollback_in_a_revision_is_stopped_and_named(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        # MySQL: a ROLLBACK in a revision undoes what ran before it (its started row too),
        # and a later DDL statement commits what ran after: never reported as applied,
        # whether the revision goes on to succeed or to fail.
        good = self._good_revision(directory, url)
        undone = ["INSERT INTO kit_good VALUES (1)", "ROLLBACK", "INSERT INTO kit_good VALUES (2)"]
        cases = {
            "kit_r1": [*undone, "CREATE TABLE kit_r1 (id integer)"],
            "kit_r2": [*undone, "CREATE TABLE kit_r2 (id integer)",
                       "INSERT INTO kit_no_such_table VALUES (1)"],
        }  # fmt: skip

        def rolled_back(error: MigrationUpgradeError) -> None:
            assert "ROLLBACK" in str(error)
            assert db.query("SELECT id FROM kit_good") == [(2,)]
            db.query("DELETE FROM kit_good")  # the user undoes it by hand

        for table, statements in cases.items():
            good = self._stopped_then_repaired(
                directory, url, db, good, statements, table, when_committed=rolled_back
            )
            assert db.query("SELECT id FROM kit_good") == []

    def _good_revision(self, directory: Path, url: str) -> str:
        self.init(directory, url)
        good = self.new(directory, url, "good", ["CREATE TABLE kit_good (id integer)"],
                        ["DROP TABLE kit_good"])  # fmt: skip
        self.upgrade(directory, url)
        return good

    def _stopped_then_repaired(
        self,
        directory: Path,
        url: str,
        db: KitDatabase,
        good: str,
        statements: list[str],
        table: str,
        when_committed: Callable[[MigrationUpgradeError], None] = lambda error: None,
    ) -> str:
        """A revision of ``statements`` that ends its own transaction: the run fails naming
        it, records nothing as applied, and, where part of it committed (``table`` exists),
        every run refuses until it is repaired. Rewritten, it then applies; returns it."""
        revision = self.new(directory, url, "ends its transaction", statements, [])
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        assert info.value.revision == revision
        assert revision in str(info.value) and "transaction" in str(info.value)
        assert self.current(directory, url) == good
        problems = self.call("verify", directory=str(directory), connection_string=url)
        dirty = [p["revision"] for p in problems if p["problem"] == "dirty"]
        if table in db.tables():
            # Part of it committed: the database is dirty until someone says what is true,
            # and every run refuses until then.
            assert dirty == [revision]
            with pytest.raises(MigrationUpgradeError, match="repair") as again:
                self.upgrade(directory, url)
            assert again.value.revision == revision
            when_committed(info.value)
            self.write_revision(directory, revision, [], [])
            self.repair(directory, url, applied=False)  # what it left is undone by hand
            assert self.current(directory, url) == good
        else:  # refused before anything of it ran (a SQL backend): nothing to repair
            assert dirty == []
            self.write_revision(directory, revision, [], [])
        self.upgrade(directory, url)  # rewritten, it applies
        assert self.current(directory, url) == revision
        return revision

    def test_a_failing_hook_is_blamed_on_the_revision_it_saw(
        self, directory: Path, url: str, recorder: Recorder
    ) -> None:
        r1, r2 = self.chain(directory, url, 2)

        def refuse(event: MigrationEvent) -> None:
            if event.revision == r1:
                raise RuntimeError("the hook says no")

        recorder.check = refuse
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        message = str(info.value)
        assert "after_revision" in message and "the hook says no" in message
        assert r1 in message and info.value.revision != r2  # r2 never ran
        assert self.current(directory, url) == r1
