"""Everything a backend author imports: the one public module for writing an adapter.

A backend subclasses :class:`SyncMigrationAdapter` (generic in what its plans carry),
fills in its steps (abstract classmethods: a class that misses one fails when it is
created, and in mypy) and, for an async twin, subclasses :class:`AsyncMigrationAdapter`
with ``sync_adapter`` set. During a run it migrates on ``run.session`` (the connection that
holds the database lock), calling ``run.before_commit(revision)`` just before each
revision's commit and ``run.revision_done(revision)`` after it.

Both shipped plugins import from this module only; ``docs/writing-adapters.md`` walks
through it.
"""

from __future__ import annotations

from .base import AsyncMigrationAdapter, BaseMigrationAdapter, SyncMigrationAdapter
from .bridge import run_async
from .connections import Session, application_name, connect, connect_async
from .errors import (
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationInitError,
    MigrationLockError,
    MigrationNotFoundError,
    MigrationUpgradeError,
    MissingParentError,
)
from .events import MigrationEvent, Operation
from .ledger import default_table as history_table
from .revisions import (
    BASE,
    HEAD,
    ahead_of_directory,
    find_transaction_control,
    plan_linear,
    relative_steps,
    resolve_linear,
    slugify,
)
from .runner import (
    MigrationPlan,
    MigrationRun,
    RevisionEndedTransactionError,
    error_type_of,
    once_per_run,
)
from .urls import DatabaseURL, InvalidURLError

__all__ = [
    "BASE",
    "HEAD",
    "AsyncMigrationAdapter",
    "BaseMigrationAdapter",
    "DatabaseURL",
    "InvalidURLError",
    "MigrationCreationError",
    "MigrationDowngradeError",
    "MigrationError",
    "MigrationEvent",
    "MigrationInitError",
    "MigrationLockError",
    "MigrationNotFoundError",
    "MigrationPlan",
    "MigrationRun",
    "MigrationUpgradeError",
    "MissingParentError",
    "Operation",
    "RevisionEndedTransactionError",
    "Session",
    "SyncMigrationAdapter",
    "ahead_of_directory",
    "application_name",
    "connect",
    "connect_async",
    "error_type_of",
    "find_transaction_control",
    "history_table",
    "once_per_run",
    "plan_linear",
    "relative_steps",
    "resolve_linear",
    "run_async",
    "slugify",
]
