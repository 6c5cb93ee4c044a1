"""The conformance suite. An adapter package runs it by subclassing::

    from pydapter_migrations.testing import BaseMigrationSuite

    class TestMyAdapterOnSQLite(BaseMigrationSuite):
        adapter = MyAdapter
        database = "sqlite"            # or "postgresql"

        @staticmethod
        def write_revision(directory, revision, upgrade, downgrade):
            ...  # make `revision` run the SQL statements `upgrade` / `downgrade`

:class:`BaseAsyncMigrationSuite` is the same for async adapters, plus the async-only tests.
The tests live in one module per topic (:mod:`.contract`, :mod:`.migrations`,
:mod:`.atomicity`, :mod:`.inputs`, :mod:`.locking`, :mod:`.async_`); a test that needs a
capability declares it, and the suite's ``requirements`` class
(:class:`~pydapter_migrations.testing.requirements.Requirements`) decides whether it runs.
None of these modules is named ``test_*``, so pytest collects only an adapter's subclasses.
"""

from __future__ import annotations

from ..requirements import Requirements
from ._database import KitDatabase
from .async_ import AsyncSuite
from .atomicity import AtomicitySuite
from .contract import ContractSuite
from .inputs import InputsSuite
from .integrity import IntegritySuite
from .locking import LockingSuite
from .migrations import MigrationsSuite

__all__ = ["BaseAsyncMigrationSuite", "BaseMigrationSuite", "KitDatabase", "Requirements"]


# pytest runs inherited tests base class first (reverse MRO), so the topics are listed last
# to first: the contract's tests run first, the async-only ones last.
class _SharedSuite(
    LockingSuite, InputsSuite, AtomicitySuite, IntegritySuite, MigrationsSuite, ContractSuite
):
    """The tests every adapter runs, sync or async."""


class BaseMigrationSuite(_SharedSuite):
    """Conformance tests for a synchronous adapter (``adapter.is_async`` false)."""

    expects_async = False


class BaseAsyncMigrationSuite(AsyncSuite, _SharedSuite):
    """Conformance tests for an async adapter: the same tests, each call awaited, and the
    tests of sharing an event loop."""

    expects_async = True
