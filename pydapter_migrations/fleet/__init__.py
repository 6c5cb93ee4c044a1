"""Fleets: one migration directory applied to many databases, in parallel, from any
number of machines, each target migrated once.

>>> from pydapter_migrations.fleet import upgrade_many
>>> result = upgrade_many(                                   # doctest: +SKIP
...     {"tenant_a": "postgresql://app@db/a", "tenant_b": "postgresql://app@db/b"},
...     directory="migrations", backend="alembic", parallel=4,
... )
>>> result.ok, [r.status for r in result]                    # doctest: +SKIP
(True, ['migrated', 'unchanged'])

Every function takes the targets (:class:`Target` objects, ``(name, url)`` pairs or a
mapping; :func:`read_targets` reads a targets file, :func:`targets_from_envs` the named
environments matching a glob), runs the backend's public API on each with ``parallel``
workers, and returns a :class:`FleetResult`: one :class:`TargetResult` per target, in
order. A failing target never stops the others unless ``fail_fast=True``.

Nothing coordinates the runners but each database's own migration lock: ``shard="I/N"``
takes a stable share of the targets, and ``skip_locked=True`` moves on when another runner
holds a target's lock and comes back to it at the end, so several machines running the
same fleet finish it between them, each target migrated once. A run that was killed is
finished by running it again: every database records where it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Coroutine, Mapping
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec

from ..errors import MigrationError
from ..locking import check_timeout
from .results import WORKER_KINDS, FleetError, FleetEvent, FleetResult, TargetResult
from .targets import (
    EnvTargets,
    Target,
    TargetsError,
    TargetsLike,
    parse_shard,
    parse_targets,
    read_targets,
    select_shard,
    shard_of,
    targets_from_envs,
)

__all__ = [
    "WORKER_KINDS",
    "EnvTargets",
    "FleetError",
    "FleetEvent",
    "FleetResult",
    "Target",
    "TargetResult",
    "TargetsError",
    "current_many",
    "current_many_async",
    "downgrade_many",
    "downgrade_many_async",
    "parse_shard",
    "parse_targets",
    "read_targets",
    "select_shard",
    "shard_of",
    "status_many",
    "status_many_async",
    "targets_from_envs",
    "upgrade_many",
    "upgrade_many_async",
]

P = ParamSpec("P")
Backend = str | type[Any]
Progress = Callable[[FleetEvent], None]


#: Keywords of every adapter's ``upgrade`` that the fleet passes on to each target.
_CORE_OPTIONS = frozenset({"allow_changed"})


def upgrade_many(
    targets: TargetsLike,
    revision: str = "head",
    *,
    directory: str | os.PathLike[str],
    backend: Backend = "alembic",
    parallel: int = 1,
    workers: str = "auto",
    skip_locked: bool = False,
    fail_fast: bool = False,
    lock_timeout: float | None = None,
    shard: str | tuple[int, int] | None = None,
    create_schemas: bool = True,
    allow_changed: Collection[str] = (),
    progress: Progress | None = None,
    **options: Any,
) -> FleetResult:
    """Upgrade every target to ``revision`` with ``parallel`` workers.

    ``backend`` is an adapter key (``"alembic"``, ``"yoyo"``...) or class. ``workers``:
    ``"auto"`` (worker processes, or threads for an adapter declaring
    ``thread_safe = True``; the calling thread when ``parallel`` is 1), ``"process"``,
    ``"thread"`` or ``"inline"``. ``skip_locked``: a target whose lock another runner holds
    is done last, after waiting for that runner. ``fail_fast``: the first failure stops
    the start of new targets. ``lock_timeout``: seconds to wait for a target's lock
    (default: the adapter's, 60). ``shard``: ``"I/N"``, this runner's share.
    ``create_schemas``: create a target's missing PostgreSQL schema first.
    ``allow_changed``: applied revisions whose change is accepted, as for ``upgrade``
    (on every target). ``progress``
    is called with a :class:`FleetEvent` as targets start, run and finish. Other
    keywords go to the adapter's ``upgrade`` (those it declares in ``extra_options``).
    """
    if isinstance(allow_changed, str):
        raise TypeError("allow_changed must be a collection of revision ids, not a string")
    if allow_changed:
        options = {**options, "allow_changed": list(allow_changed)}
    return _fleet(
        "upgrade", targets, revision, directory, backend, parallel, workers, skip_locked,
        fail_fast, lock_timeout, shard, create_schemas, progress, options,
    )  # fmt: skip


def downgrade_many(
    targets: TargetsLike,
    revision: str,
    *,
    directory: str | os.PathLike[str],
    backend: Backend = "alembic",
    parallel: int = 1,
    workers: str = "auto",
    skip_locked: bool = False,
    fail_fast: bool = False,
    lock_timeout: float | None = None,
    shard: str | tuple[int, int] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> FleetResult:
    """Downgrade every target to ``revision`` (an id, ``-1`` or ``base``); the options are
    :func:`upgrade_many`'s."""
    return _fleet(
        "downgrade", targets, revision, directory, backend, parallel, workers, skip_locked,
        fail_fast, lock_timeout, shard, False, progress, options,
    )  # fmt: skip


def current_many(
    targets: TargetsLike,
    *,
    directory: str | os.PathLike[str],
    backend: Backend = "alembic",
    parallel: int = 1,
    workers: str = "auto",
    fail_fast: bool = False,
    shard: str | tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> FleetResult:
    """Each target's current revision (``result.revision``); reads take no lock."""
    return _fleet(
        "current", targets, None, directory, backend, parallel, workers, False, fail_fast,
        None, shard, False, progress, {},
    )  # fmt: skip


def status_many(
    targets: TargetsLike,
    *,
    directory: str | os.PathLike[str],
    backend: Backend = "alembic",
    parallel: int = 1,
    workers: str = "auto",
    fail_fast: bool = False,
    shard: str | tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> FleetResult:
    """Each target's current revision, the head, its ``pending`` revisions and the
    ``problems`` ``verify`` finds (a target with problems counts as failed)."""
    return _fleet(
        "status", targets, None, directory, backend, parallel, workers, False, fail_fast,
        None, shard, False, progress, {},
    )  # fmt: skip


def _fleet(
    operation: str,
    targets: TargetsLike,
    revision: str | None,
    directory: str | os.PathLike[str],
    backend: Backend,
    parallel: int,
    workers: str,
    skip_locked: bool,
    fail_fast: bool,
    lock_timeout: float | None,
    shard: str | tuple[int, int] | None,
    create_schemas: bool,
    progress: Progress | None,
    options: Mapping[str, Any],
) -> FleetResult:
    import time

    from ._executor import execute
    from ._work import Job

    started = time.perf_counter()
    adapter = _adapter(backend)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ValueError(f"parallel must be a whole number of workers >= 1, not {parallel!r}")
    if lock_timeout is not None:
        lock_timeout = check_timeout(lock_timeout)
    if operation in ("upgrade", "downgrade"):
        if not isinstance(revision, str) or not revision.strip():
            raise ValueError(f"{operation} needs a target revision (head, base, an id, -1)")
        allowed = getattr(adapter, "extra_options", {}).get(operation, frozenset())
        unknown = sorted(set(options) - set(allowed) - _CORE_OPTIONS)
        if unknown:
            raise TypeError(f"{operation}_many() got an unexpected keyword argument {unknown[0]!r}")
    chosen = _targets(targets)
    if shard is not None:
        chosen = select_shard(chosen, shard)
    path = Path(directory)
    if not path.exists():
        key = getattr(adapter, "migration_key", None)
        raise MigrationError(f"migration directory {path} does not exist", adapter=key)
    job = Job(operation, revision, str(path.absolute()), adapter, dict(options), create_schemas)
    results, _ = execute(
        job,
        chosen,
        parallel=parallel,
        workers=workers,
        skip_locked=skip_locked,
        fail_fast=fail_fast,
        lock_timeout=lock_timeout,
        progress=progress,
    )
    return FleetResult(operation, revision, tuple(results), time.perf_counter() - started, parallel)


def _targets(targets: TargetsLike) -> list[Target]:
    from .targets import as_targets

    return as_targets(targets)


def _adapter(backend: Backend) -> type[Any]:
    if isinstance(backend, str):
        from ..registry import get_adapter

        return get_adapter(backend)
    if isinstance(backend, type) and hasattr(backend, "upgrade"):
        return backend
    raise TypeError(f"backend must be an adapter key or class, not {backend!r}")


def _twin(func: Callable[P, FleetResult]) -> Callable[P, Coroutine[Any, Any, FleetResult]]:
    """The async twin of a fleet function: the same function on a worker thread, so the
    caller's event loop stays free (a ``progress`` callback is then called on that
    thread)."""

    @wraps(func)
    async def twin(*args: P.args, **kwargs: P.kwargs) -> FleetResult:
        from ..bridge import run_sync

        return await run_sync(func, *args, **kwargs)

    twin.__name__ = twin.__qualname__ = f"{func.__name__}_async"
    twin.__doc__ = f"Async :func:`{func.__name__}` (awaitable; the loop stays free)."
    return twin


upgrade_many_async = _twin(upgrade_many)
downgrade_many_async = _twin(downgrade_many)
current_many_async = _twin(current_many)
status_many_async = _twin(status_many)
