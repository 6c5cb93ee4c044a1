"""One target's work, wherever it runs (this process, a thread, a worker process).

:func:`run_target` calls the adapter's public API on one database and turns whatever
happens into a :class:`~.results.TargetResult`: it never raises for a migration that
failed (only for an interrupt), and the result holds no secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import MigrationError, MigrationLockError, describe
from ..hookspecs import hookimpl
from ..urls import DatabaseURL
from .results import FAILED, LOCKED, TargetResult

__all__ = ["OPERATIONS", "Emit", "Job", "call", "run_target"]

#: What a fleet runs on each target.
OPERATIONS = ("upgrade", "downgrade", "current", "status")

#: Sends one progress event (kind, payload) of the running target; never raises.
Emit = Callable[[str, Any], None]


@dataclass(frozen=True)
class Job:
    """What every target of one fleet run gets: picklable, sent to each worker."""

    operation: str
    revision: str | None
    directory: str
    #: The adapter class (pickled by reference: a worker process imports it).
    adapter: type[Any]
    #: Extra keyword arguments of the adapter's method.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Upgrades create a target's missing PostgreSQL schema first.
    create_schemas: bool = True


class _Progress:
    """Observer of one run: counts the revisions it committed and reports them."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.revisions: list[str] = []

    @hookimpl
    def before_migrate(self, event: Any) -> None:
        self.emit("planned", event.total)

    @hookimpl
    def after_revision(self, event: Any) -> None:
        self.revisions.append(event.revision)
        self.emit("revision", event.revision)


def call(adapter: type[Any], method: str, *args: Any, **kwargs: Any) -> Any:
    """Call one of the adapter's public methods; an async adapter's on a loop of its own."""
    func = getattr(adapter, method)
    if getattr(adapter, "is_async", False):
        from ..bridge import run_async

        return run_async(lambda: func(*args, **kwargs))
    return func(*args, **kwargs)


def _takes_observers(adapter: type[Any]) -> bool:
    """Whether ``adapter`` runs through the core's base classes (which take observers of
    one run), rather than implementing its public methods itself."""
    from ..base import AsyncMigrationAdapter, SyncMigrationAdapter

    return issubclass(adapter, SyncMigrationAdapter | AsyncMigrationAdapter)


def run_target(
    job: Job,
    name: str,
    url: DatabaseURL,
    *,
    lock_timeout: float | None,
    skip_locked: bool,
    emit: Emit,
) -> TargetResult:
    """Run ``job`` on the target ``name`` at ``url``.

    With ``skip_locked`` the lock is tried once: when another run holds it, the result's
    status is :data:`~.results.LOCKED` (the fleet comes back to it later).
    """
    started = time.perf_counter()
    base: dict[str, Any] = {"name": name, "url": str(url), "operation": job.operation}
    common = {"directory": job.directory, "connection_string": url}
    try:
        if job.operation in ("current", "status"):
            return _read(job, base, common, started)
        return _migrate(job, base, common, url, lock_timeout, skip_locked, emit, started)
    except MigrationLockError as error:
        if skip_locked and not error.lost:
            return TargetResult(**base, status=LOCKED, seconds=time.perf_counter() - started)
        return _failed(base, error, url, started)
    except Exception as error:
        return _failed(base, error, url, started)


def _migrate(
    job: Job,
    base: dict[str, Any],
    common: dict[str, Any],
    url: DatabaseURL,
    lock_timeout: float | None,
    skip_locked: bool,
    emit: Emit,
    started: float,
) -> TargetResult:
    adapter = job.adapter
    before = _current(adapter, common)
    if job.operation == "upgrade" and job.create_schemas and url.schema is not None:
        ensure_schema(url)
    kwargs = dict(job.options)
    if skip_locked:
        kwargs["lock_timeout"] = 0
    elif lock_timeout is not None:
        kwargs["lock_timeout"] = lock_timeout
    progress = _Progress(emit)
    if _takes_observers(adapter):
        kwargs["observers"] = [progress]
    try:
        call(adapter, job.operation, job.revision, **common, **kwargs)
    except Exception as error:
        if isinstance(error, MigrationLockError) and skip_locked and not error.lost:
            raise  # never started: the fleet comes back to it
        # What committed before the failure stays committed: the result says so.
        return replace(
            _failed(base, error, url, started),
            from_revision=before,
            to_revision=_current(adapter, common),
            revisions=tuple(progress.revisions),
        )
    done = tuple(progress.revisions)
    if job.operation == "upgrade" and done:
        after: str | None = done[-1]
    elif done or not _takes_observers(adapter):
        after = _current(adapter, common)
    else:
        after = before
    # An adapter of its own making reports no revisions: only the revision moved.
    return TargetResult(
        **base,
        status="migrated" if done or after != before else "unchanged",
        from_revision=before,
        to_revision=after,
        revisions=done,
        seconds=time.perf_counter() - started,
    )


def _current(adapter: type[Any], common: dict[str, Any]) -> str | None:
    """The target's revision, or ``None`` when it cannot tell one (several branch heads):
    the run then says what is wrong, if anything is."""
    try:
        revision: str | None = call(adapter, "get_current_revision", **common)
    except MigrationError:
        return None
    return revision


def _read(job: Job, base: dict[str, Any], common: dict[str, Any], started: float) -> TargetResult:
    adapter = job.adapter
    current: str | None = call(adapter, "get_current_revision", **common)
    if job.operation == "current":
        return TargetResult(
            **base,
            status="ok",
            from_revision=current,
            to_revision=current,
            seconds=time.perf_counter() - started,
        )
    entries = call(adapter, "get_migration_history", **common)
    problems: list[dict[str, Any]] = []
    if callable(getattr(adapter, "verify", None)):
        problems = list(call(adapter, "verify", **common))
    pending = tuple(str(entry["revision"]) for entry in entries if not entry.get("applied"))
    status = "pending" if pending else "up_to_date"
    error = None
    if problems:
        status, error = FAILED, "; ".join(str(p.get("message", p)) for p in problems)
    return TargetResult(
        **base,
        status=status,
        from_revision=current,
        to_revision=current,
        seconds=time.perf_counter() - started,
        error=error,
        error_type="VerifyProblems" if problems else None,
        heads=_heads(entries),
        pending=pending,
        problems=tuple(problems),
    )


def _heads(entries: list[dict[str, Any]]) -> tuple[str, ...]:
    """The revisions no other revision follows, oldest first."""
    parents: set[str] = set()
    for entry in entries:
        down = entry.get("down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    return tuple(str(e["revision"]) for e in entries if e["revision"] not in parents)


def _failed(
    base: dict[str, Any], error: BaseException, url: DatabaseURL, started: float
) -> TargetResult:
    text = str(error).strip() if isinstance(error, MigrationError) else describe(error)
    # One line, every form of the target's secrets masked (the adapters mask them
    # already; this holds for any exception).
    message = url.mask(" ".join(line.strip() for line in text.splitlines()) or type(error).__name__)
    return TargetResult(
        **base,
        status=FAILED,
        seconds=time.perf_counter() - started,
        error=message,
        error_type=type(error).__name__,
    )


def ensure_schema(url: DatabaseURL) -> None:
    """Create the schema ``url`` names (its ``search_path``) unless it exists."""
    from ..connections import connect

    schema = url.schema
    assert schema is not None
    quoted = '"' + schema.replace('"', '""') + '"'
    exists = "SELECT 1 FROM pg_namespace WHERE nspname = ?"
    with connect(url, purpose="fleet schema") as session:
        if session.scalar(exists, (schema,)):
            return
        try:
            session.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        except Exception:
            # Another runner created it at the same moment (a unique violation).
            if not session.scalar(exists, (schema,)):
                raise
