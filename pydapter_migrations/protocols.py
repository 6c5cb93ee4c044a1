"""The interface every adapter class offers, sync and async.

Adapters are used through the class itself (classmethods), so it is the class that
satisfies these protocols: ``isinstance(AlembicAdapter, MigrationProtocol)`` is true.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar, Protocol, runtime_checkable

__all__ = ["AsyncMigrationProtocol", "MigrationProtocol"]


@runtime_checkable
class MigrationProtocol(Protocol):
    """Synchronous migration operations."""

    migration_key: ClassVar[str]

    def init_migrations(
        self,
        directory: str,
        *,
        connection_string: str | None = None,
        models_module: ModuleType | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the migration environment in ``directory``."""

    def create_migration(
        self,
        message: str,
        autogenerate: bool | None = None,
        *,
        directory: str,
        connection_string: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Write a new revision; return its id."""

    def upgrade(
        self, revision: str = "head", *, directory: str, connection_string: str, **kwargs: Any
    ) -> str | None:
        """Apply revisions up to ``revision``."""

    def downgrade(
        self, revision: str, *, directory: str, connection_string: str, **kwargs: Any
    ) -> str | None:
        """Revert revisions down to ``revision``."""

    def stamp(
        self, revision: str, *, directory: str, connection_string: str, **kwargs: Any
    ) -> None:
        """Record the database as being at ``revision`` without running anything."""

    def get_current_revision(
        self, *, directory: str, connection_string: str, **kwargs: Any
    ) -> str | None:
        """The revision the database is at, or ``None``."""

    def get_migration_history(
        self, *, directory: str, connection_string: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """All revisions, oldest first."""

    def verify(
        self, *, directory: str, connection_string: str, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """The problems between the directory and the database; empty when all is well."""


@runtime_checkable
class AsyncMigrationProtocol(Protocol):
    """Asynchronous migration operations: the same methods, as coroutines."""

    migration_key: ClassVar[str]

    async def init_migrations(
        self,
        directory: str,
        *,
        connection_string: str | None = None,
        models_module: ModuleType | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the migration environment in ``directory``."""

    async def create_migration(
        self,
        message: str,
        autogenerate: bool | None = None,
        *,
        directory: str,
        connection_string: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Write a new revision; return its id."""

    async def upgrade(
        self, revision: str = "head", *, directory: str, connection_string: str, **kwargs: Any
    ) -> str | None:
        """Apply revisions up to ``revision``."""

    async def downgrade(
        self, revision: str, *, directory: str, connection_string: str, **kwargs: Any
    ) -> str | None:
        """Revert revisions down to ``revision``."""

    async def stamp(
        self, revision: str, *, directory: str, connection_string: str, **kwargs: Any
    ) -> None:
        """Record the database as being at ``revision`` without running anything."""

    async def get_current_revision(
        self, *, directory: str, connection_string: str, **kwargs: Any
    ) -> str | None:
        """The revision the database is at, or ``None``."""

    async def get_migration_history(
        self, *, directory: str, connection_string: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """All revisions, oldest first."""

    async def verify(
        self, *, directory: str, connection_string: str, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """The problems between the directory and the database; empty when all is well."""
