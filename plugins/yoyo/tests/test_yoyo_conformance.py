"""The core's conformance kit, sync and async, on SQLite and PostgreSQL."""

from __future__ import annotations

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
