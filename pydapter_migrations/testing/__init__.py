"""The conformance kit: the tests every adapter must pass, and fixtures to run them.

Subclass :class:`BaseMigrationSuite` (or :class:`BaseAsyncMigrationSuite`) in a test module
with your ``adapter``, the ``database`` ("sqlite" or "postgresql") and a
``write_revision`` function; the fixtures (``sqlite_url``, ``postgresql_url`` backed by a
throwaway PostgreSQL server) load automatically through pytest's plugin entry point. To
switch off a test your adapter legitimately cannot run, subclass :class:`Requirements` and
set it as the suite's ``requirements``.
"""

from .requirements import Requirement, Requirements
from .suite import BaseAsyncMigrationSuite, BaseMigrationSuite, KitDatabase

__all__ = [
    "BaseAsyncMigrationSuite",
    "BaseMigrationSuite",
    "KitDatabase",
    "Requirement",
    "Requirements",
]
