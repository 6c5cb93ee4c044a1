"""The conformance kit run against the core's reference adapter, sync and async."""

from __future__ import annotations

import pytest

from pydapter_migrations import register_adapter
from pydapter_migrations.testing import BaseAsyncMigrationSuite, BaseMigrationSuite
from pydapter_migrations.testing.reference import (
    AsyncReferenceAdapter,
    ReferenceAdapter,
    write_reference_revision,
)

register_adapter(ReferenceAdapter, replace=True)
register_adapter(AsyncReferenceAdapter, replace=True)


class TestReferenceSQLite(BaseMigrationSuite):
    adapter = ReferenceAdapter
    database = "sqlite"
    write_revision = staticmethod(write_reference_revision)


@pytest.mark.postgresql
class TestReferencePostgreSQL(BaseMigrationSuite):
    adapter = ReferenceAdapter
    database = "postgresql"
    write_revision = staticmethod(write_reference_revision)


class TestAsyncReferenceSQLite(BaseAsyncMigrationSuite):
    adapter = AsyncReferenceAdapter
    database = "sqlite"
    write_revision = staticmethod(write_reference_revision)


@pytest.mark.postgresql
class TestAsyncReferencePostgreSQL(BaseAsyncMigrationSuite):
    adapter = AsyncReferenceAdapter
    database = "postgresql"
    write_revision = staticmethod(write_reference_revision)
