"""The yoyo-migrations backend: revisions are plain SQL files, keys ``yoyo`` and ``async_yoyo``.

The public methods (validation, locking, hooks, error mapping) come from the core's
:class:`~pydapter_migrations.backend.SyncMigrationAdapter`; this module fills in its
steps. yoyo itself is imported only when a step needs it (see ``_engine``), so reading
this class's capabilities stays cheap.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from pydapter_migrations.backend import (
    HEAD,
    AsyncMigrationAdapter,
    DatabaseURL,
    MigrationError,
    MigrationInitError,
    MigrationPlan,
    MigrationRun,
    Operation,
    Session,
    SyncMigrationAdapter,
    ahead_of_directory,
    error_type_of,
    plan_linear,
    resolve_linear,
)

from . import _files

if TYPE_CHECKING:
    from ._engine import Step

__all__ = ["AsyncYoyoAdapter", "YoyoAdapter"]


class YoyoAdapter(SyncMigrationAdapter["list[Step]"]):
    """Raw-SQL migrations run by yoyo-migrations.

    ``<directory>/versions/<id>.sql`` holds a revision's upgrade statements and
    ``<id>.rollback.sql`` its downgrade. Ids are UTC timestamps, so they sort in creation
    order; ``-- depends:`` names the previous revision. Each revision and its record in
    yoyo's ``_yoyo_migration`` table commit in one transaction. A plain yoyo folder (flat
    ``.sql``/``.py`` files, with or without a ``yoyo.ini``) is used as it is.
    """

    migration_key: ClassVar[str] = "yoyo"
    #: yoyo revisions need not form a line: several heads are no problem.
    expects_single_head: ClassVar[bool] = False
    supports_autogenerate: ClassVar[bool] = False
    supports_sql: ClassVar[bool] = True
    reports_revision_starts: ClassVar[bool] = True
    supported_databases: ClassVar[frozenset[str]] = frozenset({"sqlite", "postgresql", "mysql"})

    @classmethod
    def _session_url(cls, url: DatabaseURL) -> DatabaseURL:
        from ._engine import SUBSTITUTE_DRIVERS

        url = url.sync()
        substitute = SUBSTITUTE_DRIVERS.get((url.backend, url.driver))
        return url.with_driver(substitute) if substitute is not None else url

    @classmethod
    def _is_initialised(cls, directory: Path) -> bool:
        return _files.locate(directory) is not None

    @classmethod
    def _init(
        cls,
        directory: Path,
        *,
        url: DatabaseURL | None,
        models_module: ModuleType | str | None,
        **options: Any,
    ) -> None:
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
        **options: Any,
    ) -> str:
        return _files.create_revision(_folder(directory), message, slug).stem

    @classmethod
    def _plan(cls, run: MigrationRun) -> MigrationPlan[list[Step]]:
        return cls._plan_on(run.directory, run.session, run.operation, run.target)

    @classmethod
    def _plan_on(
        cls, directory: Path, session: Session, operation: Operation, target: str
    ) -> MigrationPlan[list[Step]]:
        from . import _engine

        folder = _folder(directory)
        backend = _engine.on_session(session, folder.migration_table)
        applied = _engine.applied_ids(backend)
        known = _files.revision_ids(folder)
        unknown = sorted(applied - known)
        if unknown:
            raise error_type_of(operation)(ahead_of_directory(unknown[-1]), revision=unknown[-1])
        if operation == Operation.UPGRADE and target == HEAD and known <= applied:
            # Nothing pending (every deploy's case): no file needs reading.
            return MigrationPlan([], [])
        migrations = _engine.load(folder)
        # yoyo applies any pending revision, even one older than the applied ones (a file
        # merged from another branch); seen as a line, the applied ones come first.
        order = [m.id for m in migrations if m.id in applied]
        current = order[-1] if order else None
        order += [m.id for m in migrations if m.id not in applied]
        revisions = plan_linear(order, current, operation, target)
        direction = "apply" if operation == Operation.UPGRADE else "rollback"
        steps = _engine.plan_steps(
            migrations, revisions, direction, compensating=not backend.has_transactional_ddl
        )
        if direction == "rollback":
            _engine.refuse_missing_rollback(steps)
        return MigrationPlan(revisions, steps)

    @classmethod
    def _apply(cls, run: MigrationRun, plan: MigrationPlan[list[Step]]) -> None:
        from . import _engine

        if not plan.revisions:
            return
        folder = _folder(run.directory)
        backend = _engine.on_session(run.session, folder.migration_table)
        _engine.run(backend, plan.state, run)
        if run.operation == Operation.UPGRADE and _files.has_post_apply_hooks(folder):
            _engine.run_post_apply_hooks(folder, backend)

    @classmethod
    def _stamp(cls, run: MigrationRun) -> None:
        from . import _engine

        folder = _folder(run.directory)
        migrations = _engine.load(folder)
        if run.target == HEAD:
            # Every head: a folder without dependencies has one per revision.
            targets: list[str] = [m.id for m in migrations]
        else:
            target = resolve_linear([m.id for m in migrations], run.target)
            targets = [target] if target is not None else []
        backend = _engine.on_session(run.session, folder.migration_table)
        _engine.stamp(backend, migrations, targets, run)

    @classmethod
    def _render_sql(
        cls, directory: Path, session: Session, operation: Operation, target: str
    ) -> str:
        from . import _engine

        plan = cls._plan_on(directory, session, operation, target)
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
    def _current(cls, directory: Path, session: Session) -> str | None:
        from . import _engine

        folder = _folder(directory)
        backend = _engine.on_session(session, folder.migration_table)
        known = _files.revision_ids(folder)
        unknown = _engine.applied_ids(backend) - known
        if unknown:
            # The database is at a revision this directory does not contain (migrated by
            # newer code): say so, as the status and every run do, rather than name the
            # last revision known here (or none).
            return max(_engine.current_ids(backend, unknown) or unknown)
        latest = _engine.current_ids(backend, known)
        if len(latest) <= 1:
            return latest[0] if latest else None
        # Applied in the same tick: the folder's own order tells which came last.
        order = [m.id for m in _engine.load(folder)]
        return max(latest, key=order.index)

    @classmethod
    def _applied(cls, directory: Path, session: Session) -> frozenset[str]:
        from . import _engine

        backend = _engine.on_session(session, _folder(directory).migration_table)
        return _engine.applied_ids(backend)

    @classmethod
    def _bookkeeping_tables(cls, directory: Path) -> Collection[str]:
        return {_folder(directory).migration_table, "_yoyo_log", "_yoyo_version", "yoyo_lock"}

    @classmethod
    def _revision_files(cls, directory: Path) -> Mapping[str, Sequence[str]]:
        return _files.revision_files(_folder(directory))

    @classmethod
    def _history(cls, directory: Path, session: Session | None) -> list[dict[str, Any]]:
        from . import _engine

        folder = _folder(directory)
        migrations = _engine.load(folder)
        applied: frozenset[str] | None = None
        if session is not None:
            backend = _engine.on_session(session, folder.migration_table)
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
                    "path": migration.path,
                }
            )
        return history


class AsyncYoyoAdapter(AsyncMigrationAdapter):
    """:class:`YoyoAdapter` as coroutines, run on a worker thread; takes
    ``sqlite+aiosqlite`` and ``postgresql+asyncpg`` URLs too."""

    migration_key: ClassVar[str] = "async_yoyo"
    sync_adapter = YoyoAdapter


def _folder(directory: Path) -> _files.Folder:
    folder = _files.locate(directory)
    if folder is None:  # checked by the core before any step runs
        raise MigrationError(f"{directory} is not a yoyo migrations folder")
    return folder


def _terminated(sql: str) -> str:
    return sql if sql.startswith("--") or sql.rstrip().endswith(";") else f"{sql};"
