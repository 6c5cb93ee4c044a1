"""The core's conformance kit, run on both adapters and every database: SQLite,
PostgreSQL and MariaDB (the async adapter through mysql+aiomysql there)."""

from __future__ import annotations

import pytest
from alembic_helpers import write_revision
from pydapter_migrations_alembic import AlembicAdapter, AsyncAlembicAdapter

from pydapter_migrations.testing import BaseAsyncMigrationSuite, BaseMigrationSuite


class TestAlembicSQLite(BaseMigrationSuite):
    adapter = AlembicAdapter
    database = "sqlite"
    write_revision = staticmethod(write_revision)


@pytest.mark.postgresql
class TestAlembicPostgreSQL(BaseMigrationSuite):
    adapter = AlembicAdapter
    database = "postgresql"
    write_revision = staticmethod(write_revision)


class TestAsyncAlembicSQLite(BaseAsyncMigrationSuite):
    adapter = AsyncAlembicAdapter
    database = "sqlite"
    write_revision = staticmethod(write_revision)


@pytest.mark.postgresql
class TestAsyncAlembicPostgreSQL(BaseAsyncMigrationSuite):
    adapter = AsyncAlembicAdapter
    database = "postgresql"
    write_revision = staticmethod(write_revision)


@pytest.mark.mariadb
class TestAlembicMariaDB(BaseMigrationSuite):
    adapter = AlembicAdapter
    database = "mariadb"
    write_revision = staticmethod(write_revision)


@pytest.mark.mariadb
class TestAsyncAlembicMariaDB(BaseAsyncMigrationSuite):
    adapter = AsyncAlembicAdapter
    database = "mariadb"
    write_revision = staticmethod(write_revision)
