"""pydapter-migrations: one interface for database schema migrations, backends by key.

>>> from pydapter_migrations import get_adapter
>>> Adapter = get_adapter("alembic")            # doctest: +SKIP
>>> Adapter.upgrade(directory="migrations", connection_string="sqlite:///app.db")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .base import AsyncMigrationAdapter, BaseMigrationAdapter, SyncMigrationAdapter
from .errors import (
    AdapterConflictError,
    AdapterLoadError,
    AdapterNotFoundError,
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationInitError,
    MigrationLockError,
    MigrationNotFoundError,
    MigrationUpgradeError,
)
from .events import MigrationEvent
from .hookspecs import hookimpl
from .protocols import AsyncMigrationProtocol, MigrationProtocol
from .registry import (
    available_adapters,
    get_adapter,
    register_adapter,
    register_plugin,
    unregister_plugin,
)

__version__ = "0.1.0"

__all__ = [
    "AdapterConflictError",
    "AdapterLoadError",
    "AdapterNotFoundError",
    "AsyncMigrationAdapter",
    "AsyncMigrationProtocol",
    "BaseMigrationAdapter",
    "MigrationCreationError",
    "MigrationDowngradeError",
    "MigrationError",
    "MigrationEvent",
    "MigrationInitError",
    "MigrationLockError",
    "MigrationNotFoundError",
    "MigrationProtocol",
    "MigrationUpgradeError",
    "SyncMigrationAdapter",
    "available_adapters",
    "get_adapter",
    "hookimpl",
    "register_adapter",
    "register_plugin",
    "unregister_plugin",
]

# The shipped backends' classes, importable from here when their distribution is installed.
_SHIPPED = {
    "AlembicAdapter": ("alembic", "pydapter-migrations-alembic"),
    "AsyncAlembicAdapter": ("async_alembic", "pydapter-migrations-alembic"),
    "YoyoAdapter": ("yoyo", "pydapter-migrations-yoyo"),
    "AsyncYoyoAdapter": ("async_yoyo", "pydapter-migrations-yoyo"),
}


def __getattr__(name: str) -> Any:
    if name not in _SHIPPED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    key, distribution = _SHIPPED[name]
    try:
        return get_adapter(key)
    except AdapterNotFoundError:
        raise ImportError(
            f"{name} needs the {distribution} distribution: pip install {distribution}",
            name=__name__,
        ) from None


def __dir__() -> list[str]:
    return sorted([*__all__, *_SHIPPED])
