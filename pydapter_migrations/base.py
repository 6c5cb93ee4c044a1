"""Base classes for adapters.

:class:`SyncMigrationAdapter` implements the six public classmethods once for every
backend: it validates input, parses the URL, holds the database lock, fires the hooks and
maps errors. A backend fills in the small private steps below (``_init``, ``_create``,
``_plan``, ``_apply``, ``_current``, ``_history``, ...). :class:`AsyncMigrationAdapter`
turns any sync adapter into its async twin, running it off the event loop.

An adapter that overrides the public classmethods directly is still a valid adapter; it
just does its own locking, hooks and error mapping.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from .bridge import run_sync
from .errors import (
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationInitError,
    MigrationUpgradeError,
    wrap_errors,
)
from .events import MigrationEvent, MigrationRun
from .locking import DEFAULT_LOCK_TIMEOUT, database_lock
from .registry import default_registry
from .revisions import slugify
from .urls import DatabaseURL

__all__ = [
    "AsyncMigrationAdapter",
    "BaseMigrationAdapter",
    "MigrationPlan",
    "SyncMigrationAdapter",
]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class MigrationPlan:
    """What an upgrade or downgrade will do: ``revisions`` in the order they will run.

    ``state`` is the backend's own (a loaded script directory, a migration list...), handed
    back to its ``_apply`` so nothing is loaded twice.
    """

    revisions: Sequence[str]
    state: Any = None


class BaseMigrationAdapter(ABC):
    """What every adapter declares: its key and what it supports."""

    migration_key: ClassVar[str]
    #: ``create_migration(autogenerate=True)`` compares models with the database.
    supports_autogenerate: ClassVar[bool] = False
    #: ``upgrade(..., sql=True)`` / ``downgrade(..., sql=True)`` return SQL instead of running.
    supports_sql: ClassVar[bool] = False
    #: The public classmethods are coroutines.
    is_async: ClassVar[bool] = False
    #: Database families (URL schemes before ``+``) the backend runs on.
    supported_databases: ClassVar[frozenset[str]] = frozenset({"sqlite", "postgresql"})

    @classmethod
    def capabilities(cls) -> frozenset[str]:
        """Names of the optional features this adapter has: ``autogenerate``, ``sql``, ``async``."""
        flags = {
            "autogenerate": cls.supports_autogenerate,
            "sql": cls.supports_sql,
            "async": cls.is_async,
        }
        return frozenset(name for name, on in flags.items() if on)


class SyncMigrationAdapter(BaseMigrationAdapter):
    """Base class of synchronous adapters; see the module docstring for the steps."""

    # -- the public API ----------------------------------------------------

    @classmethod
    def init_migrations(
        cls,
        directory: PathLike,
        *,
        connection_string: str | None = None,
        models_module: ModuleType | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the migration environment in ``directory`` (missing or empty)."""
        with cls._guard(MigrationInitError, "init_migrations", connection_string) as url:
            path = Path(directory)
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise MigrationInitError(
                    f"{path} already exists and is not an empty directory; "
                    "pick another directory or remove it first"
                )
            created = not path.exists()
            path.mkdir(parents=True, exist_ok=True)
            try:
                cls._init(path, url=url, models_module=models_module, **kwargs)
            except BaseException:
                _undo_init(path, created)
                raise

    @classmethod
    def create_migration(
        cls,
        message: str,
        autogenerate: bool | None = None,
        *,
        directory: PathLike,
        connection_string: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Write a new revision and return its id."""
        with cls._guard(MigrationCreationError, "create_migration", connection_string) as url:
            if not isinstance(message, str) or not message.strip():
                raise MigrationCreationError("a migration needs a non-empty message")
            if autogenerate and not cls.supports_autogenerate:
                raise MigrationCreationError(
                    f"the {cls.migration_key} backend cannot autogenerate migrations; "
                    "create one without autogenerate and write it by hand"
                )
            path = cls._initialised_directory(directory, MigrationCreationError)
            return cls._create(
                path,
                message.strip(),
                autogenerate=autogenerate,
                slug=slugify(message),
                url=url,
                **kwargs,
            )

    @classmethod
    def upgrade(
        cls,
        revision: str = "head",
        *,
        directory: PathLike,
        connection_string: str,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        sql: bool = False,
        **kwargs: Any,
    ) -> str | None:
        """Apply revisions up to ``revision``; with ``sql=True`` return the SQL instead."""
        return cls._migrate(
            "upgrade", revision, directory, connection_string, lock_timeout, sql, kwargs
        )

    @classmethod
    def downgrade(
        cls,
        revision: str,
        *,
        directory: PathLike,
        connection_string: str,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        sql: bool = False,
        **kwargs: Any,
    ) -> str | None:
        """Revert revisions down to ``revision``; with ``sql=True`` return the SQL instead."""
        return cls._migrate(
            "downgrade", revision, directory, connection_string, lock_timeout, sql, kwargs
        )

    @classmethod
    def get_current_revision(
        cls, *, directory: PathLike, connection_string: str, **kwargs: Any
    ) -> str | None:
        """The revision the database is at, or ``None`` when nothing is applied."""
        with cls._guard(MigrationError, "get_current_revision", connection_string) as url:
            path = cls._initialised_directory(directory, MigrationError)
            return cls._current(path, cls._require_url(url, MigrationError), **kwargs)

    @classmethod
    def get_migration_history(
        cls, *, directory: PathLike, connection_string: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Every revision, oldest first: ``revision``, ``description``, ``down_revision``,
        ``applied`` (``None`` without a connection string)."""
        with cls._guard(MigrationError, "get_migration_history", connection_string) as url:
            path = cls._initialised_directory(directory, MigrationError)
            return cls._history(path, url, **kwargs)

    # -- the steps a backend implements ------------------------------------

    @classmethod
    def _is_initialised(cls, directory: Path) -> bool:
        """Whether ``directory`` holds this backend's migration environment."""
        raise TypeError(f"{cls.__name__} does not implement _is_initialised")

    @classmethod
    def _init(
        cls,
        directory: Path,
        *,
        url: DatabaseURL | None,
        models_module: ModuleType | str | None,
        **kwargs: Any,
    ) -> None:
        """Lay out the environment in the existing, empty ``directory``."""
        raise TypeError(f"{cls.__name__} does not implement _init")

    @classmethod
    def _create(
        cls,
        directory: Path,
        message: str,
        *,
        autogenerate: bool | None,
        slug: str,
        url: DatabaseURL | None,
        **kwargs: Any,
    ) -> str:
        """Write a revision file (``slug`` is the file-name-safe message); return its id."""
        raise TypeError(f"{cls.__name__} does not implement _create")

    @classmethod
    def _plan(
        cls, directory: Path, url: DatabaseURL, operation: str, target: str, **kwargs: Any
    ) -> MigrationPlan:
        """Resolve ``target`` (raising :class:`MigrationNotFoundError` for an unknown one)
        into the revisions to apply or revert. Called with the lock held."""
        raise TypeError(f"{cls.__name__} does not implement _plan")

    @classmethod
    def _apply(
        cls,
        directory: Path,
        url: DatabaseURL,
        plan: MigrationPlan,
        run: MigrationRun,
        **kwargs: Any,
    ) -> None:
        """Run ``plan``, one transaction per revision, calling ``run.revision_done(id)``
        after each commit."""
        raise TypeError(f"{cls.__name__} does not implement _apply")

    @classmethod
    def _render_sql(
        cls, directory: Path, url: DatabaseURL, operation: str, target: str, **kwargs: Any
    ) -> str:
        """The SQL an upgrade or downgrade would run (``supports_sql`` adapters)."""
        raise TypeError(f"{cls.__name__} does not implement _render_sql")

    @classmethod
    def _current(cls, directory: Path, url: DatabaseURL, **kwargs: Any) -> str | None:
        """The applied head revision, read from the database."""
        raise TypeError(f"{cls.__name__} does not implement _current")

    @classmethod
    def _history(
        cls, directory: Path, url: DatabaseURL | None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """The revision list, oldest first (see :meth:`get_migration_history`)."""
        raise TypeError(f"{cls.__name__} does not implement _history")

    # -- shared machinery --------------------------------------------------

    @classmethod
    @contextmanager
    def _guard(
        cls, error_type: type[MigrationError], action: str, connection_string: str | None
    ) -> Iterator[DatabaseURL | None]:
        """Parse the URL and map every failure inside to ``error_type``, password masked."""
        secrets: tuple[str, ...] = ()
        with wrap_errors(error_type, adapter=cls.migration_key, action=action, secrets=secrets):
            url = None
            if connection_string is not None:
                url = DatabaseURL.parse(connection_string)
                secrets = url.secrets()
        with wrap_errors(error_type, adapter=cls.migration_key, action=action, secrets=secrets):
            if url is not None and url.backend not in cls.supported_databases:
                raise error_type(
                    f"the {cls.migration_key} backend does not support {url.backend} "
                    f"databases (supported: {', '.join(sorted(cls.supported_databases))})"
                )
            yield url

    @classmethod
    def _require_url(cls, url: DatabaseURL | None, error_type: type[MigrationError]) -> DatabaseURL:
        if url is None:
            raise error_type("this call needs a connection_string")
        return url

    @classmethod
    def _initialised_directory(cls, directory: PathLike, error_type: type[MigrationError]) -> Path:
        if directory is None or str(directory) == "":
            raise error_type("a migration directory is required")
        path = Path(directory)
        if not path.is_dir():
            raise error_type(
                f"migration directory {path} does not exist; run init_migrations first"
            )
        if not cls._is_initialised(path):
            raise error_type(
                f"{path} is not a migration directory of the {cls.migration_key} backend; "
                "run init_migrations first"
            )
        return path

    @classmethod
    def _migrate(
        cls,
        operation: str,
        target: str,
        directory: PathLike,
        connection_string: str,
        lock_timeout: float,
        sql: bool,
        kwargs: dict[str, Any],
    ) -> str | None:
        error_type = MigrationUpgradeError if operation == "upgrade" else MigrationDowngradeError
        with cls._guard(error_type, operation, connection_string) as maybe_url:
            url = cls._require_url(maybe_url, error_type)
            if not isinstance(target, str) or not target.strip():
                raise error_type(f"{operation} needs a target revision (head, base, an id, -1)")
            target = target.strip()
            path = cls._initialised_directory(directory, error_type)
            if sql:
                if not cls.supports_sql:
                    raise error_type(f"the {cls.migration_key} backend cannot render SQL")
                return cls._render_sql(path, url, operation, target, **kwargs)
            run = MigrationRun(
                default_registry().hooks,
                MigrationEvent(cls.migration_key, operation, str(path), target),
            )
            try:
                with database_lock(url, timeout=lock_timeout, adapter=cls.migration_key):
                    plan = cls._plan(path, url, operation, target, **kwargs)
                    run.begin(plan.revisions)
                    cls._apply(path, url, plan, run, **kwargs)
            except Exception as exc:
                failed = run.failed_revision
                action = f"{operation} of revision {failed}" if failed else operation
                error = _as_migration_error(exc, error_type, cls.migration_key, action, url)
                if error.revision is None:
                    error.revision = failed
                run.fail(error)
                if error is exc:
                    raise
                raise error from exc
            run.finish()
            return None


def _as_migration_error(
    exc: Exception,
    error_type: type[MigrationError],
    adapter: str,
    action: str,
    url: DatabaseURL,
) -> MigrationError:
    """``exc`` as the :class:`MigrationError` that :func:`wrap_errors` would raise."""
    try:
        with wrap_errors(error_type, adapter=adapter, action=action, secrets=url.secrets()):
            raise exc
    except MigrationError as wrapped:
        return wrapped


def _undo_init(path: Path, created: bool) -> None:
    """Put ``path`` back as it was before a failed init: absent, or empty."""
    if created:
        shutil.rmtree(path, ignore_errors=True)
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


class AsyncMigrationAdapter(BaseMigrationAdapter):
    """Base class of async adapters.

    Setting ``sync_adapter`` to a :class:`SyncMigrationAdapter` makes every method a
    coroutine that runs the sync implementation on a worker thread, under this class's
    ``migration_key``; the caller's event loop stays free meanwhile.
    """

    is_async: ClassVar[bool] = True
    sync_adapter: ClassVar[type[SyncMigrationAdapter]]
    _twin: ClassVar[type[SyncMigrationAdapter]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        sync = cls.__dict__.get("sync_adapter")
        if sync is None:
            return
        for flag in ("supports_autogenerate", "supports_sql", "supported_databases"):
            if flag not in cls.__dict__:
                setattr(cls, flag, getattr(sync, flag))
        # A sync subclass carrying this class's key, so errors and events name it.
        cls._twin = type(
            f"_{cls.__name__}Worker",
            (sync,),
            {"migration_key": cls.migration_key, "__module__": cls.__module__},
        )

    @classmethod
    async def init_migrations(
        cls,
        directory: PathLike,
        *,
        connection_string: str | None = None,
        models_module: ModuleType | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Async :meth:`SyncMigrationAdapter.init_migrations`."""
        await run_sync(
            cls._twin.init_migrations,
            directory,
            connection_string=connection_string,
            models_module=models_module,
            **kwargs,
        )

    @classmethod
    async def create_migration(
        cls,
        message: str,
        autogenerate: bool | None = None,
        *,
        directory: PathLike,
        connection_string: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Async :meth:`SyncMigrationAdapter.create_migration`."""
        return await run_sync(
            cls._twin.create_migration,
            message,
            autogenerate,
            directory=directory,
            connection_string=connection_string,
            **kwargs,
        )

    @classmethod
    async def upgrade(
        cls,
        revision: str = "head",
        *,
        directory: PathLike,
        connection_string: str,
        **kwargs: Any,
    ) -> str | None:
        """Async :meth:`SyncMigrationAdapter.upgrade`."""
        return await run_sync(
            cls._twin.upgrade,
            revision,
            directory=directory,
            connection_string=connection_string,
            **kwargs,
        )

    @classmethod
    async def downgrade(
        cls,
        revision: str,
        *,
        directory: PathLike,
        connection_string: str,
        **kwargs: Any,
    ) -> str | None:
        """Async :meth:`SyncMigrationAdapter.downgrade`."""
        return await run_sync(
            cls._twin.downgrade,
            revision,
            directory=directory,
            connection_string=connection_string,
            **kwargs,
        )

    @classmethod
    async def get_current_revision(
        cls, *, directory: PathLike, connection_string: str, **kwargs: Any
    ) -> str | None:
        """Async :meth:`SyncMigrationAdapter.get_current_revision`."""
        return await run_sync(
            cls._twin.get_current_revision,
            directory=directory,
            connection_string=connection_string,
            **kwargs,
        )

    @classmethod
    async def get_migration_history(
        cls, *, directory: PathLike, connection_string: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Async :meth:`SyncMigrationAdapter.get_migration_history`."""
        return await run_sync(
            cls._twin.get_migration_history,
            directory=directory,
            connection_string=connection_string,
            **kwargs,
        )
