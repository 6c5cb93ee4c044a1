"""What a failed revision leaves on MariaDB, and what the dirty state says of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydapter_migrations_alembic import AlembicAdapter
from pydapter_migrations_alembic.testing import write_revision

from pydapter_migrations import MigrationUpgradeError
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

pytestmark = pytest.mark.mariadb


def test_after_its_first_ddl_a_revision_commits_its_data_too_and_is_told_so(
    tmp_path: Path, mariadb_url: str
) -> None:
    folder = tmp_path / "migrations"
    AlembicAdapter.init_migrations(folder)
    revision = AlembicAdapter.create_migration("runs", directory=folder)
    up = ["CREATE TABLE runs (id integer)", "INSERT INTO runs VALUES (1)",
          "INSERT INTO no_such_table VALUES (1)"]  # fmt: skip
    write_revision(folder, revision, up, ["DROP TABLE runs"])
    kw = {"directory": folder, "connection_string": mariadb_url}
    with pytest.raises(MigrationUpgradeError):
        AlembicAdapter.upgrade(**kw)
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    assert db.query("SELECT id FROM runs") == [(1,)]  # the row after the DDL stayed
    with pytest.raises(MigrationUpgradeError) as refused:
        AlembicAdapter.upgrade(**kw)
    # So the message names the data too: undoing the DDL alone and repairing as not
    # applied would insert that row twice.
    assert "data changes included" in str(refused.value)
    assert "schema and the data" in str(refused.value)
