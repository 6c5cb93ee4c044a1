"""The hooks a plugin may implement, marked with :data:`pydapter_migrations.hookimpl`.

Hooks are called with keyword arguments only. They are synchronous (pluggy has no async
hooks); for the async adapters they run on the worker thread that runs the migration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .events import MigrationEvent

PROJECT_NAME = "pydapter_migrations"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_adapters() -> list[type]:  # type: ignore[empty-body]
    """Return adapter classes to register in-process, each with a ``migration_key``."""


@hookspec
def before_migrate(event: MigrationEvent) -> None:
    """An upgrade or downgrade holds the lock and is about to apply ``event.pending``."""


@hookspec
def after_revision(event: MigrationEvent) -> None:
    """``event.revision`` was applied or reverted and committed, in ``event.elapsed`` seconds."""


@hookspec
def after_migrate(event: MigrationEvent) -> None:
    """The run finished; ``event.elapsed`` is its whole duration."""


@hookspec
def on_migration_error(event: MigrationEvent, error: BaseException) -> None:
    """The run failed with ``error`` (a :class:`~pydapter_migrations.MigrationError`)."""
