"""Every use of a private name of yoyo-migrations, fenced in one place.

Each says what it buys and is checked against the versions it was written for
(:data:`TESTED`; ``tox.ini`` runs the oldest and the newest); where public API can do the
job, an unknown version gets that instead. Nothing else in this plugin touches a private
name of yoyo.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import version
from typing import Any

from yoyo import migrations as yoyo_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.migrations import Migration, MigrationStep

__all__ = [
    "TESTED",
    "loading",
    "mark_internal_schema_current",
    "read_sql_file",
    "reload_steps",
    "send_rows_to",
    "step_sql",
]

#: The yoyo-migrations releases (major, minor) these uses were written and tested for.
TESTED = ((9, 0), (9, 0))
# What yoyo.migrations.read_sql_migration returns: directives, leading comment, statements.
SqlFile = tuple[dict[str, str], str, list[str]]
# yoyo.migrations.Migration keeps every migration it ever built in this class attribute.
_REGISTRY_ATTRIBUTE = "_Migration__all_migrations"
#: Held for a whole load: yoyo's registry and reader are process-wide, and a load that
#: began while another was under way would restore the other's state when it ended.
_registry_lock = threading.RLock()
#: yoyo's own reader of SQL migration files (public function; swapped by :func:`loading`).
read_sql_file: Callable[[str], SqlFile] = yoyo_migrations.read_sql_migration


def _known() -> bool:
    major, minor, *_ = (int(part) for part in version("yoyo-migrations").split(".")[:2])
    low, high = TESTED
    return low <= (major, minor) <= high


@contextlib.contextmanager
def loading(migrations: Iterable[Migration], read_sql: Callable[[str], SqlFile]) -> Iterator[None]:
    """Load revisions with yoyo's id registry holding only ``migrations`` and its SQL file
    reader replaced by ``read_sql``, for this thread only; both restored afterwards. Loads
    in other threads wait for this one to end.

    Buys: ``-- depends:`` resolving inside one directory (yoyo's registry is process-wide,
    so two directories with the same ids would see each other's revisions), and reading
    only the header of SQL files a run does not execute (yoyo splits every file of the
    directory with sqlparse: 0.81x -> 0.55x of raw yoyo's upgrade time at N=500).
    Private: the name-mangled ``Migration.__all_migrations``, and replacing the module
    function ``yoyo.migrations.read_sql_migration`` that ``Migration.load`` calls.
    Fallback for a yoyo outside :data:`TESTED`: yoyo's own reader (everything parsed).
    """
    owner = threading.get_ident()
    swap = _known()
    with _registry_lock:
        real_read = yoyo_migrations.read_sql_migration

        def read(path: str) -> SqlFile:
            return read_sql(path) if threading.get_ident() == owner else real_read(path)

        registry: dict[str, Migration] = getattr(Migration, _REGISTRY_ATTRIBUTE)
        saved = dict(registry)
        registry.clear()
        registry.update((migration.id, migration) for migration in migrations)
        if swap:
            yoyo_migrations.read_sql_migration = read
        try:
            yield
        finally:
            yoyo_migrations.read_sql_migration = real_read
            registry.clear()
            registry.update(saved)


def reload_steps(migration: Migration) -> None:
    """Load ``migration``'s steps again (after :func:`loading` gave it its header only).

    Private: ``Migration.load()`` returns early once ``steps`` is set, so it is reset.
    """
    migration.steps = None
    migration.load()


def send_rows_to(step: MigrationStep, out: Any) -> None:
    """Write the rows ``step``'s statements return to ``out`` instead of stdout.

    Buys: a migration's ``SELECT`` never pollutes a program's stdout (``--json`` output).
    Private: ``MigrationStep._execute`` and its ``out`` argument.
    """
    step._execute = functools.partial(MigrationStep._execute, step, out=out)


def step_sql(step: MigrationStep, direction: str) -> Any:
    """What ``step`` runs to apply or roll back: SQL text, a callable, or ``None``.

    Buys: ``upgrade(sql=True)`` and the check for transaction control in SQL files.
    Private: ``MigrationStep._apply`` / ``_rollback`` (yoyo keeps no public accessor).
    """
    return step._apply if direction == "apply" else step._rollback


def mark_internal_schema_current(backend: DatabaseBackend) -> None:
    """Tell ``backend`` its bookkeeping tables are up to date (the caller just made sure).

    Buys: ``ensure_internal_schema_updated`` not taking yoyo's table lock (its row survives
    a killed process), while the core's lock is held anyway. Private:
    ``DatabaseBackend._internal_schema_updated``.
    """
    backend._internal_schema_updated = True
