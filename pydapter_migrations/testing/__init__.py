"""The conformance kit: the tests every adapter must pass, and fixtures to run them; and
checks for a project's own migrations (:mod:`.checks`).

Subclass :class:`BaseMigrationSuite` (or :class:`BaseAsyncMigrationSuite`) in a test module
with your ``adapter``, the ``database`` ("sqlite", "postgresql" or "mariadb") and a
``write_revision`` function; the fixtures (``sqlite_url``, and ``postgresql_url`` and
``mariadb_url`` backed by throwaway servers) load automatically through pytest's plugin
entry point. To
switch off a test your adapter legitimately cannot run, subclass :class:`Requirements` and
set it as the suite's ``requirements``.
"""

import pytest

# The kit's assertions explain themselves in an adapter's test run, as its own would.
pytest.register_assert_rewrite("pydapter_migrations.testing.suite")

from .checks import (  # noqa: E402
    MigrationChecks,
    assert_models_match,
    assert_round_trip,
    assert_single_head,
)
from .requirements import Requirement, Requirements  # noqa: E402
from .suite import BaseAsyncMigrationSuite, BaseMigrationSuite, KitDatabase  # noqa: E402

__all__ = [
    "BaseAsyncMigrationSuite",
    "BaseMigrationSuite",
    "KitDatabase",
    "MigrationChecks",
    "Requirement",
    "Requirements",
    "assert_models_match",
    "assert_round_trip",
    "assert_single_head",
]
