"""What a failed revision leaves on MariaDB, and what the dirty state says of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydapter_migrations_alembic import AlembicAdapter
from pydapter_migrations_alembic.testing import write_revision
from pydapter_migrations_yoyo import YoyoAdapter
from pydapter_migrations_yoyo.testing import write_revision as write_yoyo_revision

from pydapter_migrations import MigrationUpgradeError
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

pytestmark = pytest.mark.mariadb

BACKENDS = {"alembic": (AlembicAdapter, write_revision), "yoyo": (YoyoAdapter, write_yoyo_revision)}


@pytest.mark.parametrize("backend", ["alembic", "yoyo"])
def test_a_failed_revision_keeps_what_its_ddl_committed_and_no_more_and_is_told_so(
    tmp_path: Path, mariadb_url: str, backend: str
) -> None:
    adapter, write = BACKENDS[backend]
    folder = tmp_path / "migrations"
    adapter.init_migrations(folder)
    revision = adapter.create_migration("runs", directory=folder)
    up = ["CREATE TABLE runs (id integer)", "INSERT INTO runs VALUES (1)",
          "CREATE TABLE more_runs (id integer)", "INSERT INTO runs VALUES (2)",
          "INSERT INTO no_such_table VALUES (1)"]  # fmt: skip
    write(folder, revision, up, [])
    kw = {"directory": folder, "connection_string": mariadb_url}
    with pytest.raises(MigrationUpgradeError):
        adapter.upgrade(**kw)
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    # The second CREATE TABLE committed the first row; the row after it, still in the
    # revision's transaction, went with the failure (as under raw Alembic and raw yoyo).
    assert db.query("SELECT id FROM runs") == [(1,)]
    with pytest.raises(MigrationUpgradeError) as refused:
        adapter.upgrade(**kw)
    # So the message names the data too: undoing the DDL alone and repairing as not
    # applied would insert that row twice.
    assert "data changes included" in str(refused.value)
    assert "schema and the data" in str(refused.value)


def test_the_history_table_is_transactional_whatever_the_default_engine(
    tmp_path: Path, mariadb_url: str
) -> None:
    folder = tmp_path / "migrations"
    AlembicAdapter.init_migrations(folder)
    revision = AlembicAdapter.create_migration("runs", directory=folder)
    write_revision(folder, revision, ["CREATE TABLE runs (id integer)"], ["DROP TABLE runs"])
    myisam = mariadb_url + "?init_command=SET%20default_storage_engine%3DMyISAM"
    AlembicAdapter.upgrade(directory=folder, connection_string=myisam)
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    engines = dict(
        db.query(
            "SELECT table_name, engine FROM information_schema.tables"
            " WHERE table_schema = DATABASE()"
        )
    )
    assert engines["runs"] == "MyISAM"  # the URL's setting reached the session
    assert engines["pydapter_migrations_history"] == "InnoDB"
