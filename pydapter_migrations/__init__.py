"""pydapter-migrations: one interface for database schema migrations, backends by key.

>>> from pydapter_migrations import get_adapter
>>> Adapter = get_adapter("alembic")            # doctest: +SKIP
>>> Adapter.upgrade(directory="migrations", connection_string="sqlite:///app.db")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        MissingParentError,
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
    "MissingParentError",
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


# Public names and the module defining each. They are imported on first use, so that
# `import pydapter_migrations` (and `pydapter-migrate --help`) stays cheap.
_EXPORTS = {
    **dict.fromkeys(
        ["AsyncMigrationAdapter", "BaseMigrationAdapter", "SyncMigrationAdapter"], "base"
    ),
    **dict.fromkeys([name for name in __all__ if name.endswith("Error")], "errors"),
    "MigrationEvent": "events",
    "hookimpl": "hookspecs",
    "AsyncMigrationProtocol": "protocols",
    "MigrationProtocol": "protocols",
    **dict.fromkeys(
        ["available_adapters", "get_adapter", "register_adapter", "register_plugin",
         "unregister_plugin"],
        "registry",
    ),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name not in _SHIPPED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    key, distribution = _SHIPPED[name]
    from .errors import AdapterNotFoundError
    from .registry import get_adapter

    try:
        return get_adapter(key)
    except AdapterNotFoundError:
        raise ImportError(
            f"{name} needs the {distribution} distribution: pip install {distribution}",
            name=__name__,
        ) from None


def __dir__() -> list[str]:
    return sorted([*__all__, *_SHIPPED])
