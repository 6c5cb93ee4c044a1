"""The yoyo-migrations backend: revisions are plain SQL files, keys ``yoyo`` and ``async_yoyo``.

The public methods (validation, locking, hooks, error mapping) come from
:class:`~pydapter_migrations.base.SyncMigrationAdapter`; this module fills in its private
steps. yoyo itself is imported only when a step needs it (see ``_engine``), so reading
this class's capabilities stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from pydapter_migrations.base import AsyncMigrationAdapter, MigrationPlan, SyncMigrationAdapter
from pydapter_migrations.errors import (
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationInitError,
    MigrationUpgradeError,
)
from pydapter_migrations.events import MigrationRun
from pydapter_migrations.revisions import HEAD, plan_linear
from pydapter_migrations.urls import DatabaseURL

from . import _files

__all__ = ["AsyncYoyoAdapter", "YoyoAdapter"]


class YoyoAdapter(SyncMigrationAdapter):
    """Raw-SQL migrations run by yoyo-migrations.

    ``<directory>/versions/<id>.sql`` holds a revision's upgrade statements and
    ``<id>.rollback.sql`` its downgrade. Ids are UTC timestamps, so they sort in creation
    order; ``-- depends:`` names the previous revision. Each revision and its record in
    yoyo's ``_yoyo_migration`` table commit in one transaction.
    """

    migration_key: ClassVar[str] = "yoyo"
    supports_autogenerate: ClassVar[bool] = False
    supports_sql: ClassVar[bool] = True

    @classmethod
    def _is_initialised(cls, directory: Path) -> bool:
        return _files.is_environment(directory)

    @classmethod
    def _init(
        cls,
        directory: Path,
        *,
        url: DatabaseURL | None,
        models_module: ModuleType | str | None,
        **kwargs: Any,
    ) -> None:
        _reject_options(kwargs, MigrationInitError)
        if models_module is not None:
            raise MigrationInitError(
                f"the {cls.migration_key} backend cannot autogenerate migrations, so it has "
                "no use for models_module; init without it and write the SQL by hand"
            )
        _files.write_config(directory)

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
        # The slug is not needed: the id is the file name, the message sits in its header.
        _reject_options(kwargs, MigrationCreationError)
        return _files.create_revision(directory, message)

    @classmethod
    def _plan(
        cls, directory: Path, url: DatabaseURL, operation: str, target: str, **kwargs: Any
    ) -> MigrationPlan:
        from . import _engine

        _reject_options(
            kwargs, MigrationUpgradeError if operation == "upgrade" else MigrationDowngradeError
        )
        with _engine.connect(url, _files.migration_table(directory)) as backend:
            applied = _engine.applied_ids(backend)
            transactional_ddl = backend.has_transactional_ddl
        if (
            operation == "upgrade"
            and target == HEAD
            and _files.revision_ids(_files.versions_dir(directory)) <= applied
        ):
            # Nothing pending (every deploy's case): no file needs reading.
            return MigrationPlan([], [])
        migrations = _engine.load(directory)
        # yoyo applies any pending revision, even one older than the applied ones (a file
        # merged from another branch); seen as a line, the applied ones come first.
        order = [m.id for m in migrations if m.id in applied]
        current = order[-1] if order else None
        order += [m.id for m in migrations if m.id not in applied]
        revisions = plan_linear(order, current, operation, target)
        direction = "apply" if operation == "upgrade" else "rollback"
        steps = _engine.plan_steps(
            migrations, revisions, direction, compensating=not transactional_ddl
        )
        return MigrationPlan(revisions, steps)

    @classmethod
    def _apply(
        cls,
        directory: Path,
        url: DatabaseURL,
        plan: MigrationPlan,
        run: MigrationRun,
        **kwargs: Any,
    ) -> None:
        from . import _engine

        if not plan.revisions:
            return
        with _engine.connect(url, _files.migration_table(directory)) as backend:
            _engine.run(backend, plan.state, run.revision_done)

    @classmethod
    def _render_sql(
        cls, directory: Path, url: DatabaseURL, operation: str, target: str, **kwargs: Any
    ) -> str:
        from . import _engine

        plan = cls._plan(directory, url, operation, target, **kwargs)
        parts = []
        for step in plan.state:
            verb = "upgrade to" if step.direction == "apply" else "revert"
            message = _files.escape_message(_engine.message_of(step.migration))
            parts.append(f"-- {verb} {step.migration.id}: {message}")
            sqls = _engine.statements(step.migration, step.direction)
            parts += [_terminated(sql) for sql in sqls]
            parts.append("")
        return "\n".join(parts)

    @classmethod
    def _current(cls, directory: Path, url: DatabaseURL, **kwargs: Any) -> str | None:
        from . import _engine

        _reject_options(kwargs, MigrationError)
        known = _files.revision_ids(_files.versions_dir(directory))
        with _engine.connect(url, _files.migration_table(directory)) as backend:
            return _engine.current_id(backend, known)

    @classmethod
    def _history(
        cls, directory: Path, url: DatabaseURL | None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        from . import _engine

        _reject_options(kwargs, MigrationError)
        migrations = _engine.load(directory)
        applied: set[str] | None = None
        if url is not None:
            with _engine.connect(url, _files.migration_table(directory)) as backend:
                applied = _engine.applied_ids(backend)
        history = []
        for migration in migrations:
            parents = sorted(parent.id for parent in migration.depends)
            history.append(
                {
                    "revision": migration.id,
                    "description": _engine.message_of(migration),
                    "down_revision": (parents[0] if len(parents) == 1 else tuple(parents) or None),
                    "applied": None if applied is None else migration.id in applied,
                }
            )
        return history


class AsyncYoyoAdapter(AsyncMigrationAdapter):
    """:class:`YoyoAdapter` as coroutines, run on a worker thread; takes
    ``sqlite+aiosqlite`` and ``postgresql+asyncpg`` URLs too."""

    migration_key: ClassVar[str] = "async_yoyo"
    sync_adapter = YoyoAdapter


def _terminated(sql: str) -> str:
    return sql if sql.startswith("--") or sql.rstrip().endswith(";") else f"{sql};"


def _reject_options(options: dict[str, Any], error_type: type[MigrationError]) -> None:
    # A misspelt keyword (``revison="x"``) must not silently run with the defaults.
    if options:
        names = ", ".join(sorted(options))
        raise error_type(f"the yoyo backend takes no option(s) named {names}")
