"""The core's conformance kit on the example backend, sync and async, SQLite, PostgreSQL
and MariaDB."""

from __future__ import annotations

import pytest
from pydapter_migrations_plainsql import AsyncPlainSQLAdapter, PlainSQLAdapter, write_revision

from pydapter_migrations.testing import BaseAsyncMigrationSuite, BaseMigrationSuite


class TestPlainSQLSQLite(BaseMigrationSuite):
    adapter = PlainSQLAdapter
    database = "sqlite"
    write_revision = staticmethod(write_revision)


@pytest.mark.postgresql
class TestPlainSQLPostgreSQL(BaseMigrationSuite):
    adapter = PlainSQLAdapter
    database = "postgresql"
    write_revision = staticmethod(write_revision)


class TestAsyncPlainSQLSQLite(BaseAsyncMigrationSuite):
    adapter = AsyncPlainSQLAdapter
    database = "sqlite"
    write_revision = staticmethod(write_revision)


@pytest.mark.mariadb
class TestPlainSQLMariaDB(BaseMigrationSuite):
    adapter = PlainSQLAdapter
    database = "mariadb"
    write_revision = staticmethod(write_revision)


@pytest.mark.mariadb
class TestAsyncPlainSQLMariaDB(BaseAsyncMigrationSuite):
    adapter = AsyncPlainSQLAdapter
    database = "mariadb"
    write_revision = staticmethod(write_revision)
