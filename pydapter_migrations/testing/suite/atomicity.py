"""Each revision is all or nothing: a failing upgrade or downgrade leaves the last good
revision, a revision that ends its own transaction is stopped and named, and hooks report
a revision only once it is committed (a failing hook is blamed on the one it saw)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ... import MigrationDowngradeError, MigrationEvent, MigrationUpgradeError
from ._database import KitDatabase
from ._support import Recorder, SuiteBase

__all__ = ["AtomicitySuite"]


class AtomicitySuite(SuiteBase):
    """Failing revisions, and hooks after commit."""

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

    def test_a_revision_that_ends_its_transaction_is_stopped_and_named(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        good = self.new(directory, url, "good", ["CREATE TABLE kit_good (id integer)"],
                        ["DROP TABLE kit_good"])  # fmt: skip
        self.upgrade(directory, url)
        cases = [
            # ends its transaction, then fails: what ran before the COMMIT stays
            ["CREATE TABLE kit_a1 (id integer)", "COMMIT", "CREATE TABLE kit_a2 (id integer)",
             "INSERT INTO kit_no_such_table VALUES (1)"],
            # ends its transaction and goes on: never recorded as applied
            ["CREATE TABLE kit_b1 (id integer)", "COMMIT", "CREATE TABLE kit_b2 (id integer)"],
        ]  # fmt: skip
        for statements in cases:
            revision = self.new(directory, url, "commits by itself", statements, [])
            with pytest.raises(MigrationUpgradeError) as info:
                self.upgrade(directory, url)
            assert info.value.revision == revision
            assert revision in str(info.value) and "transaction" in str(info.value)
            assert self.current(directory, url) == good
            self.write_revision(directory, revision, [], [])
            self.upgrade(directory, url)  # repaired, it applies
            assert self.current(directory, url) == revision
            good = revision

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
