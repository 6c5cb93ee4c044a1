"""The core's conformance kit, sync and async, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest
from pydapter_migrations_yoyo import AsyncYoyoAdapter, YoyoAdapter
from yoyo_helpers import write_revision

from pydapter_migrations.testing import BaseAsyncMigrationSuite, BaseMigrationSuite


class TestYoyoSQLite(BaseMigrationSuite):
    adapter = YoyoAdapter
    database = "sqlite"
    write_revision = staticmethod(write_revision)


class TestYoyoPostgreSQL(BaseMigrationSuite):
    adapter = YoyoAdapter
    database = "postgresql"
    write_revision = staticmethod(write_revision)


class TestAsyncYoyoSQLite(BaseAsyncMigrationSuite):
    adapter = AsyncYoyoAdapter
    database = "sqlite"
    write_revision = staticmethod(write_revision)


class TestAsyncYoyoPostgreSQL(BaseAsyncMigrationSuite):
    adapter = AsyncYoyoAdapter
    database = "postgresql"
    write_revision = staticmethod(write_revision)


@pytest.mark.mariadb
class TestYoyoMariaDB(BaseMigrationSuite):
    adapter = YoyoAdapter
    database = "mariadb"
    write_revision = staticmethod(write_revision)


@pytest.mark.mariadb
class TestAsyncYoyoMariaDB(BaseAsyncMigrationSuite):
    adapter = AsyncYoyoAdapter
    database = "mariadb"
    write_revision = staticmethod(write_revision)
