"""What every backend gets from the core for free: the history table (who ran which
revision, when, with which checksum), ``verify``, and an upgrade that refuses a revision
changed since it ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from ... import MigrationUpgradeError
from ._database import KitDatabase
from ._support import SuiteBase

__all__ = ["IntegritySuite"]

_HISTORY = "pydapter_migrations_history"


class IntegritySuite(SuiteBase):
    """The history table, checksums and ``verify``."""

    def test_the_history_table_records_each_revision(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        r1, r2 = self.chain(directory, url, 2)
        assert _HISTORY not in db.tables()  # nothing ran yet: no table
        self.upgrade(directory, url)
        self.downgrade(directory, url, "-1")
        rows = db.query(
            f"SELECT revision, operation, outcome, checksum, finished_at, seconds, os_user"
            f" FROM {_HISTORY} ORDER BY started_at, run_id, seq"
        )
        assert [row[:3] for row in rows] == [
            (r1, "upgrade", "applied"),
            (r2, "upgrade", "applied"),
            (r2, "downgrade", "reverted"),
        ]
        for _, _, _, checksum, finished_at, seconds, os_user in rows:
            assert checksum and len(checksum) == 64, "history entries need a 'path'"
            assert finished_at and seconds is not None and seconds >= 0 and os_user
        [first, second] = self.history(directory, url)
        assert first["applied_at"] and "@" in first["applied_by"]
        assert "applied_at" not in second  # reverted
        assert self.call("verify", directory=str(directory), connection_string=url) == []

    def test_an_applied_revision_changed_is_refused_until_accepted(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        r1, r2 = self.chain(directory, url, 2)
        self.upgrade(directory, url, r1)
        self.write_revision(
            directory,
            r1,
            ["CREATE TABLE kit_log (n integer)", "CREATE TABLE kit_t1 (id integer, x integer)"],
            ["DROP TABLE kit_t1", "DROP TABLE kit_log"],
        )
        problems = self.call("verify", directory=str(directory), connection_string=url)
        assert [(p["problem"], p["revision"]) for p in problems] == [("changed", r1)]
        assert problems[0]["recorded_checksum"] != problems[0]["current_checksum"]
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        assert info.value.revision == r1 and "changed since it was applied" in str(info.value)
        assert self.current(directory, url) == r1 and "kit_t2" not in db.tables()
        self.upgrade(directory, url, allow_changed=[r1])  # accepted, and recorded so
        assert self.current(directory, url) == r2
        assert self.call("verify", directory=str(directory), connection_string=url) == []
        accepted = db.query(f"SELECT revision FROM {_HISTORY} WHERE outcome = 'accepted'")
        assert accepted == [(r1,)]

    def test_check_compares_the_database_with_its_revisions(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.chain(directory, url, 2)
        self.upgrade(directory, url)
        check = {"directory": str(directory), "connection_string": url}
        assert self.call("check", **check) == []
        db.query("CREATE TABLE kit_by_hand (id integer)")
        drift = self.call("check", **check)
        assert [(d["source"], d["kind"], d["table"]) for d in drift] == [
            ("revisions", "extra_table", "kit_by_hand")
        ]
