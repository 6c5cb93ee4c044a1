"""Base classes for adapters.

:class:`SyncMigrationAdapter` implements the public classmethods once for every backend:
it checks the input (an unknown keyword argument is a ``TypeError`` before anything is
touched), parses the URL, runs upgrades and downgrades through
:func:`~pydapter_migrations.runner.run_migration` (lock, hooks, fence, errors) and maps
every failure to the documented error. A backend fills in the steps, declared here as
abstract classmethods: a concrete adapter that misses one fails when its class is
created (and in mypy). :class:`AsyncMigrationAdapter` turns any sync adapter into its
async twin, running it off the event loop.

An adapter that overrides the public classmethods directly is still a valid adapter; it
then owes no step those methods would have used, and does its own locking and hooks.
"""

from __future__ import annotations

import functools
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar

from .bridge import run_sync
from .checksums import RevisionPath, checksums_of
from .connections import DatabaseMissingError, Session, check_mysql_url, connect
from .errors import (
    MigrationCreationError,
    MigrationError,
    MigrationInitError,
    MissingParentError,
    wrap_errors,
)
from .events import Operation
from .hooks import MigrationHooks
from .integrity import changed_revisions, dirty_problems, graph_problems, recorded_checksums
from .ledger import APPLIED, DIRTY, Ledger, LedgerRow
from .locking import DEFAULT_LOCK_TIMEOUT, check_timeout, run_in_progress
from .revisions import HEAD, slugify
from .runner import (
    MigrationPlan,
    MigrationRun,
    RepairTarget,
    error_type_of,
    run_migration,
    without_repair_advice,
)
from .urls import DatabaseURL, InvalidURLError

__all__ = [
    "AsyncMigrationAdapter",
    "BaseMigrationAdapter",
    "MigrationPlan",
    "SyncMigrationAdapter",
]

PathLike = str | os.PathLike[str]
ConnectionString = str | DatabaseURL
StateT = TypeVar("StateT")
F = TypeVar("F", bound=Callable[..., Any])

# Which public methods use which step: a class that overrides all of a step's users
# owes no implementation of it.
_STEP_USERS: Mapping[str, tuple[str, ...]] = {
    "_is_initialised": ("create_migration", "upgrade", "downgrade", "get_current_revision",
                        "get_migration_history", "verify"),
    "_init": ("init_migrations",),
    "_create": ("create_migration",),
    "_plan": ("upgrade", "downgrade"),
    "_apply": ("upgrade", "downgrade"),
    "_current": ("get_current_revision",),
    "_stamp": ("stamp", "repair"),
    "_history": ("get_migration_history", "verify", "repair"),
    "_applied": ("verify",),
}  # fmt: skip


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
    #: Keyword arguments a public method takes beyond the documented ones, by method
    #: name; any other keyword is refused with ``TypeError``.
    extra_options: ClassVar[Mapping[str, frozenset[str]]] = {}
    #: Whether the revisions should end in one head (``verify`` reports several).
    expects_single_head: ClassVar[bool] = True
    #: What to tell a user whose run migrated another database than the URL's (the core
    #: checks the target's version state after every run): how to make it use the URL.
    misdirected_hint: ClassVar[str] = ""
    #: Whether the backend calls ``run.revision_started`` before every revision's work: a
    #: run that fails before the first call then names no revision as the one that failed.
    reports_revision_starts: ClassVar[bool] = False

    @classmethod
    def capabilities(cls) -> frozenset[str]:
        """Names of the optional features this adapter has: ``autogenerate``, ``sql``, ``async``."""
        flags = {
            "autogenerate": cls.supports_autogenerate,
            "sql": cls.supports_sql,
            "async": cls.is_async,
        }
        return frozenset(name for name, on in flags.items() if on)

    @classmethod
    def _check_options(cls, method: str, options: Mapping[str, Any]) -> None:
        """Refuse keywords nobody declared, as Python refuses them for plain functions."""
        allowed = cls.extra_options.get(method, frozenset())
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(
                f"{cls.__name__}.{method}() got an unexpected keyword argument {unknown[0]!r}"
            )


def _parsed(kwargs: dict[str, Any]) -> None:
    """Replace the text of ``kwargs["connection_string"]`` by the parsed URL (or by why it
    did not parse), so no frame below the caller's holds the plain password."""
    text = kwargs.get("connection_string")
    if text is not None and not isinstance(text, DatabaseURL | _RefusedURL):
        try:
            kwargs["connection_string"] = DatabaseURL.parse(text)
        except InvalidURLError as error:
            # Reported by the method, with its own error type; only the (masked) error
            # travels on, not the text.
            kwargs["connection_string"] = _RefusedURL(error)


def _public(method: F) -> F:
    """Check a public classmethod's keywords before it runs, and keep the plain connection
    string out of its frame (a parsed URL masks the password in every ``repr``)."""
    name = method.__name__

    @functools.wraps(method)
    def checked(cls: type[SyncMigrationAdapter[Any]], *args: Any, **kwargs: Any) -> Any:
        known = _KNOWN_KEYWORDS[name]
        cls._check_options(name, {k: v for k, v in kwargs.items() if k not in known})
        _parsed(kwargs)
        return method(cls, *args, **kwargs)

    return checked  # type: ignore[return-value]


def _public_async(method: F) -> F:
    """:func:`_public` for the coroutines of :class:`AsyncMigrationAdapter`."""
    name = method.__name__

    @functools.wraps(method)
    async def checked(cls: type[AsyncMigrationAdapter], *args: Any, **kwargs: Any) -> Any:
        known = _KNOWN_KEYWORDS[name]
        cls._check_options(name, {k: v for k, v in kwargs.items() if k not in known})
        _parsed(kwargs)
        return await method(cls, *args, **kwargs)

    return checked  # type: ignore[return-value]


class _RefusedURL:
    """A connection string that did not parse: why, and nothing of its text."""

    def __init__(self, error: InvalidURLError) -> None:
        self.error = error.with_traceback(None)

    def __repr__(self) -> str:
        return "<refused connection string>"


_ORIGINAL_API = (
    "init_migrations",
    "create_migration",
    "upgrade",
    "downgrade",
    "get_current_revision",
    "get_migration_history",
)
_COMMON = frozenset({"directory", "connection_string"})
_RUN = _COMMON | {"revision", "lock_timeout", "sql", "registry", "observers", "allow_changed"}
_STAMP = _COMMON | {"revision", "lock_timeout", "registry", "observers"}
_KNOWN_KEYWORDS: Mapping[str, frozenset[str]] = {
    "init_migrations": _COMMON | {"models_module"},
    "create_migration": _COMMON | {"message", "autogenerate"},
    "upgrade": _RUN,
    "downgrade": _RUN,
    "stamp": _STAMP,
    "repair": (_STAMP - {"revision"}) | {"applied"},
    "get_current_revision": _COMMON,
    "get_migration_history": _COMMON,
    "verify": _COMMON | {"strict"},
    "check": _COMMON,
}


class SyncMigrationAdapter(BaseMigrationAdapter, Generic[StateT]):
    """Base class of synchronous adapters; ``StateT`` is what the backend's plans carry.

    See the module docstring and ``docs/writing-adapters.md`` for the steps.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "migration_key" not in cls.__dict__ or getattr(cls, "_abstract_backend", False):
            return
        if not any(_inherited(cls, method) for method in _ORIGINAL_API):
            # It implements the documented methods itself (as the original documentation's
            # custom adapter does): it owes no steps, and the newer methods it does not
            # override say they are not available.
            return
        missing = [
            step
            for step, users in _STEP_USERS.items()
            if getattr(getattr(cls, step), "__isabstractmethod__", False)
            and any(_inherited(cls, user) for user in users)
        ]
        if cls.supports_sql and getattr(cls._render_sql, "__isabstractmethod__", False):
            missing.append("_render_sql")
        if missing:
            raise TypeError(
                f"adapter {cls.__qualname__} must implement {', '.join(missing)} "
                "(see docs/writing-adapters.md)"
            )

    # -- the public API ----------------------------------------------------

    @classmethod
    @_public
    def init_migrations(
        cls,
        directory: PathLike,
        *,
        connection_string: ConnectionString | None = None,
        models_module: ModuleType | str | None = None,
        **options: Any,
    ) -> None:
        """Create the migration environment in ``directory`` (missing or empty)."""
        with cls._guard(MigrationInitError, "init_migrations", connection_string) as url:
            path = _path(directory, MigrationInitError)
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                if cls._is_initialised(path):
                    raise MigrationInitError(
                        f"{path} already holds migrations the {cls.migration_key} backend "
                        "can use as they are: skip init and pass it as the directory of "
                        "upgrade, current or status (stamp adopts a database built without "
                        "them)"
                    )
                raise MigrationInitError(
                    f"{path} already exists and is not an empty directory; "
                    "pick another directory or remove it first"
                )
            created = not path.exists()
            path.mkdir(parents=True, exist_ok=True)
            try:
                cls._init(path, url=url, models_module=models_module, **options)
            except BaseException:
                _undo_init(path, created)
                raise

    @classmethod
    @_public
    def create_migration(
        cls,
        message: str,
        autogenerate: bool | None = None,
        *,
        directory: PathLike,
        connection_string: ConnectionString | None = None,
        **options: Any,
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
                **options,
            )

    @classmethod
    @_public
    def upgrade(
        cls,
        revision: str = "head",
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        sql: bool = False,
        registry: Any = None,
        observers: Iterable[object] = (),
        allow_changed: Iterable[str] = (),
        **options: Any,
    ) -> str | None:
        """Apply revisions up to ``revision``; with ``sql=True`` return the SQL instead.

        ``registry`` (default: the process registry) supplies the hook plugins, and
        ``observers`` are hook implementations that watch this run only. A revision that
        changed since it was applied stops the run, unless named in ``allow_changed``.
        """
        return cls._migrate(
            Operation.UPGRADE, revision, directory, connection_string, lock_timeout, sql,
            registry, observers, options, allow_changed,
        )  # fmt: skip

    @classmethod
    @_public
    def downgrade(
        cls,
        revision: str,
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        sql: bool = False,
        registry: Any = None,
        observers: Iterable[object] = (),
        allow_changed: Iterable[str] = (),
        **options: Any,
    ) -> str | None:
        """Revert revisions down to ``revision``; with ``sql=True`` return the SQL instead."""
        return cls._migrate(
            Operation.DOWNGRADE, revision, directory, connection_string, lock_timeout, sql,
            registry, observers, options, allow_changed,
        )  # fmt: skip

    @classmethod
    @_public
    def stamp(
        cls,
        revision: str,
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        registry: Any = None,
        observers: Iterable[object] = (),
        **options: Any,
    ) -> None:
        """Record the database as being at ``revision`` (``head``, ``base``, an id)
        without running anything: the way to adopt a database built by other means.
        Under the lock, with the hooks fired."""
        cls._require_steps("stamp", "_stamp")
        cls._migrate(
            Operation.STAMP, revision, directory, connection_string, lock_timeout, False,
            registry, observers, options,
        )  # fmt: skip

    @classmethod
    @_public
    def repair(
        cls,
        applied: bool,
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        registry: Any = None,
        observers: Iterable[object] = (),
        **options: Any,
    ) -> None:
        """Resolve a revision that started and never finished (a run that died, or failed
        after the database committed part of it): after checking the schema by hand, say
        whether it is ``applied``. The database is stamped to match, under the lock, and
        the history table records the repair."""
        if not isinstance(applied, bool):
            raise TypeError("repair() takes applied=True or applied=False")
        cls._require_steps("repair", "_stamp", "_history")

        def target_of(row: LedgerRow) -> str | None:
            if row.operation == Operation.UPGRADE:
                return row.revision if applied else None
            if row.operation == Operation.DOWNGRADE and not applied:
                parents = [
                    entry.get("down_revision")
                    for entry in cls._history(Path(str(directory)), None)
                    if entry["revision"] == row.revision
                ]
                parent = parents[0] if parents else None
                return parent if isinstance(parent, str) else "base"
            return None

        with cls._guard(MigrationError, "repair", connection_string) as url:
            path = url.sqlite_path if url is not None and url.backend == "sqlite" else None
            if path is not None and not path.exists():
                # Like a read, a repair never creates a database: this one has nothing.
                raise MigrationError(
                    f"nothing to repair: the database {url} does not exist",
                    adapter=cls.migration_key,
                )
        cls._migrate(
            Operation.STAMP, "head", directory, connection_string, lock_timeout, False,
            registry, observers, options, (), (target_of, "applied" if applied else "not applied"),
        )  # fmt: skip

    @classmethod
    @_public
    def get_current_revision(
        cls, *, directory: PathLike, connection_string: ConnectionString, **options: Any
    ) -> str | None:
        """The revision the database is at, or ``None`` when nothing is applied."""
        with cls._guard(MigrationError, "get_current_revision", connection_string) as url:
            path = cls._initialised_directory(directory, MigrationError)
            with _reading(cls._session_url(cls._require_url(url, MigrationError))) as session:
                return cls._current(path, session)

    @classmethod
    @_public
    def get_migration_history(
        cls,
        *,
        directory: PathLike,
        connection_string: ConnectionString | None = None,
        **options: Any,
    ) -> list[dict[str, Any]]:
        """Every revision, oldest first: ``revision``, ``description``, ``down_revision``,
        ``applied`` (``None`` without a connection string), ``path``; and where the history
        table knows, ``applied_at`` (UTC, ISO 8601) and ``applied_by``."""
        with cls._guard(MigrationError, "get_migration_history", connection_string) as url:
            path = cls._initialised_directory(directory, MigrationError)
            if url is None:
                return cls._history(path, None)
            with _reading(cls._session_url(url)) as session:
                history = cls._history(path, session)
                recorded = recorded_checksums(Ledger().rows(session, APPLIED))
            for entry in history:
                row = recorded.get(entry["revision"]) if entry.get("applied") else None
                if row is not None:
                    entry["applied_at"] = row.finished_at or row.started_at
                    entry["applied_by"] = f"{row.os_user}@{row.host}"
            return history

    @classmethod
    @_public
    def verify(
        cls,
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        strict: bool = False,
        **options: Any,
    ) -> list[dict[str, Any]]:
        """The problems between the directory, the database and its history table; empty
        when all is well.

        Each is a dict with ``problem``, ``revision`` and ``message``: ``changed`` (an
        applied revision's files differ from when it ran; also ``file``,
        ``recorded_checksum``, ``current_checksum``), ``missing_file``, ``missing_parent``,
        ``multiple_heads`` and ``dirty`` (see :mod:`pydapter_migrations.integrity`). With
        ``strict``, an edit of comments or layout alone is reported too (``reformatted``).
        """
        with cls._guard(MigrationError, "verify", connection_string) as url:
            cls._require_steps("verify", "_applied", "_history", "_is_initialised")
            path = cls._initialised_directory(directory, MigrationError)
            target = cls._require_url(url, MigrationError)
            with _reading(cls._session_url(target)) as session:
                rows = Ledger().rows(session, (*APPLIED, *DIRTY))
                # A started row of a run that still holds the lock is that run at work
                # (probed only for started rows: it costs a query).
                busy = {
                    run_id
                    for run_id in {row.run_id for row in rows if row.outcome == "started"}
                    if run_in_progress(target, session, run_id)
                }
                try:
                    applied = cls._applied(path, session)
                    history = cls._history(path, None)
                except MissingParentError as error:
                    # The directory's graph is broken: nothing else can be judged.
                    broken = {
                        "problem": "missing_parent",
                        "revision": error.revision,
                        "parent": error.parent,
                        "message": error.message,
                    }
                    dirty = dirty_problems((r for r in rows if r.outcome in DIRTY), running=busy)
                    return [broken, *dirty]
            problems = graph_problems(history, applied, single_head=cls.expects_single_head)
            dirty_rows = (row for row in rows if row.outcome in DIRTY)
            problems += dirty_problems(dirty_rows, running=busy)
            recorded = recorded_checksums(rows)
            files = cls._revision_files(path)
            candidates = {r: files[r] for r in applied if r in files and r in recorded}
            current = checksums_of(candidates, cache_key=f"{cls.migration_key}\0{path}")
            problems += changed_revisions(recorded, current, applied, candidates, cosmetic=strict)
            return problems

    @classmethod
    @_public
    def check(
        cls, *, directory: PathLike, connection_string: ConnectionString, **options: Any
    ) -> list[dict[str, Any]]:
        """Schema drift: how the database differs from what its applied revisions build
        (replayed on a scratch database of the same kind: a temporary SQLite file, or a
        temporary database or schema on the server), and for backends that know models,
        from the models. Empty when there is none.

        Each difference is a dict with ``source`` (``revisions`` or ``models``), ``kind``
        (``missing_table``, ``extra_column``, ``column_type``...), ``table``, ``detail``
        and ``message``.
        """
        from .drift import compare, scratch_database, snapshot  # only for check

        with cls._guard(MigrationError, "check", connection_string) as maybe_url:
            url = cls._require_url(maybe_url, MigrationError)
            path = cls._initialised_directory(directory, MigrationError)
            ignore = {Ledger().table.rpartition(".")[2], *cls._bookkeeping_tables(path)}
            with _reading(cls._session_url(url)) as session:
                actual = snapshot(session, ignore=ignore)
                applied = cls._applied(path, session)
                differences = cls._model_differences(path, session)
            target = cls._replay_target(path, applied)
            from .registry import isolated_registry

            with scratch_database(url) as scratch:
                if target is not None:
                    try:
                        cls.upgrade(
                            target, directory=path, connection_string=scratch,
                            registry=isolated_registry(),
                        )  # fmt: skip
                    except MigrationError as error:
                        # The replay is check's own work: its failure is check's.
                        what = error.message.removeprefix("upgrade failed: ")
                        raise MigrationError(
                            f"check failed: {without_repair_advice(what)} (replaying the "
                            "applied revisions on a scratch database, dropped since: the "
                            "database checked is unchanged)",
                            adapter=cls.migration_key,
                            revision=error.revision,
                        ) from error
                with _reading(cls._session_url(scratch)) as session:
                    expected = snapshot(session, ignore=ignore)
            return [
                {"source": "revisions", **difference} for difference in compare(actual, expected)
            ] + [{"source": "models", **difference} for difference in differences]

    @classmethod
    def _replay_target(cls, directory: Path, applied: frozenset[str]) -> str | None:
        """What to upgrade a scratch database to so it has what ``applied`` names."""
        if not applied:
            return None
        order = [str(entry["revision"]) for entry in cls._history(directory, None)]
        if applied >= set(order):
            return HEAD
        missing = [revision for revision in order if revision not in applied]
        last = max((order.index(r) for r in applied if r in order), default=-1)
        if any(order.index(r) < last for r in missing):
            raise MigrationError(
                "check replays the applied revisions in order, but this database has "
                f"skipped {missing[0]}: upgrade it or stamp it first"
            )
        return order[last]

    # -- the steps a backend implements ------------------------------------

    @classmethod
    def _bookkeeping_tables(cls, directory: Path) -> Collection[str]:
        """The tables the backend keeps its own records in (its version table...), which
        ``check`` leaves out of the comparison."""
        return ()

    @classmethod
    def _model_differences(cls, directory: Path, session: Session) -> list[dict[str, Any]]:
        """How the database differs from the models the directory records (a backend
        that knows models, like Alembic's autogenerate); none by default."""
        return []

    @classmethod
    def _revision_files(cls, directory: Path) -> Mapping[str, Sequence[RevisionPath]]:
        """Revision id -> the files that make it (``str`` or ``Path``), for the checksums
        the history table keeps. By default the ``path`` of each ``_history`` entry;
        override it when that is slow to build, or when a revision has more than one
        file."""
        return {
            str(entry["revision"]): (Path(entry["path"]),)
            for entry in cls._history(directory, None)
            if entry.get("path")
        }

    @classmethod
    def _session_url(cls, url: DatabaseURL) -> DatabaseURL:
        """The URL of the session the core opens for a run or a read, and lends to the
        backend: by default ``url`` through its synchronous driver. Override it to name a
        driver your engine can run on (the same database, another driver)."""
        return url.sync()

    @classmethod
    @abstractmethod
    def _is_initialised(cls, directory: Path) -> bool:
        """Whether ``directory`` holds this backend's migration environment.

        ``directory`` is what the user passed and may be a file (Alembic takes an ini);
        answer False for anything this backend cannot use in place.
        """

    @classmethod
    @abstractmethod
    def _init(
        cls,
        directory: Path,
        *,
        url: DatabaseURL | None,
        models_module: ModuleType | str | None,
        **options: Any,
    ) -> None:
        """Lay out the environment in the existing, empty ``directory``."""

    @classmethod
    @abstractmethod
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
        """Write a revision file (``slug`` is the file-name-safe message); return its id."""

    @classmethod
    @abstractmethod
    def _plan(cls, run: MigrationRun) -> MigrationPlan[StateT]:
        """Resolve ``run.target`` (raising :class:`MigrationNotFoundError` for an unknown
        one) into the revisions to run, reading the database on ``run.session``. Called
        with the lock held."""

    @classmethod
    @abstractmethod
    def _apply(cls, run: MigrationRun, plan: MigrationPlan[StateT]) -> None:
        """Run ``plan`` on ``run.session``, one transaction per revision: call
        ``run.before_commit(id)`` just before each commit and ``run.revision_done(id)``
        after it."""

    @classmethod
    @abstractmethod
    def _stamp(cls, run: MigrationRun) -> None:
        """Record the database as being at ``run.target`` on ``run.session``, running no
        revision; call ``run.revision_done(id)`` with the revision it now records (none for
        ``base``)."""

    @classmethod
    @abstractmethod
    def _render_sql(
        cls, directory: Path, session: Session, operation: Operation, target: str
    ) -> str:
        """The SQL an upgrade or downgrade would run (adapters with ``supports_sql``)."""

    @classmethod
    @abstractmethod
    def _current(cls, directory: Path, session: Session) -> str | None:
        """The applied revision, read on ``session`` (a read never creates a database)."""

    @classmethod
    @abstractmethod
    def _applied(cls, directory: Path, session: Session) -> frozenset[str]:
        """Every revision the database records as applied, read on ``session``, including
        ids this directory has no file for."""

    @classmethod
    @abstractmethod
    def _history(cls, directory: Path, session: Session | None) -> list[dict[str, Any]]:
        """The revision list, oldest first (see :meth:`get_migration_history`); ``applied``
        read on ``session``, or ``None`` for each entry without one."""

    # -- shared machinery --------------------------------------------------

    @classmethod
    @contextmanager
    def _guard(
        cls,
        error_type: type[MigrationError],
        action: str,
        connection_string: object,
    ) -> Iterator[DatabaseURL | None]:
        """Parse the URL and map every failure inside to ``error_type``, secrets masked."""
        secrets: tuple[str, ...] = ()
        with wrap_errors(error_type, adapter=cls.migration_key, action=action, secrets=secrets):
            url = None
            if isinstance(connection_string, _RefusedURL):
                raise connection_string.error
            if connection_string is not None:
                url = DatabaseURL.parse(connection_string)  # type: ignore[arg-type]
                secrets = url.secrets()
                if url.backend == "mysql":
                    check_mysql_url(url)  # quoting the URL as given, before any twin of it
                    if not url.database:
                        # The server would answer every read with "no such table" and
                        # every write with "No database selected".
                        raise InvalidURLError(
                            f"{url} names no database: MySQL and MariaDB need one "
                            "(mysql://user@host:3306/name)"
                        )
        with wrap_errors(error_type, adapter=cls.migration_key, action=action, secrets=secrets):
            if url is not None and url.backend not in cls.supported_databases:
                raise error_type(
                    f"the {cls.migration_key} backend does not support {url.backend} "
                    f"databases (supported: {', '.join(sorted(cls.supported_databases))})"
                )
            yield url

    @classmethod
    def _require_steps(cls, method: str, *steps: str) -> None:
        missing = [s for s in steps if getattr(getattr(cls, s), "__isabstractmethod__", False)]
        if missing:
            raise MigrationError(
                f"the {cls.migration_key} adapter does not offer {method} (it implements "
                f"its public methods itself, without {', '.join(missing)})"
            )

    @classmethod
    def _require_url(cls, url: DatabaseURL | None, error_type: type[MigrationError]) -> DatabaseURL:
        if url is None:
            raise error_type("this call needs a connection_string")
        return url

    @classmethod
    def _initialised_directory(cls, directory: PathLike, error_type: type[MigrationError]) -> Path:
        path = _path(directory, error_type)
        if not path.exists():
            raise error_type(
                f"migration directory {path} does not exist; run init_migrations first"
            )
        if not cls._is_initialised(path):
            if not path.is_dir():
                raise error_type(f"{path} is not a directory; pass the migration directory")
            raise error_type(
                f"{path} is not a migration directory of the {cls.migration_key} backend; "
                "run init_migrations first"
            )
        return path

    @classmethod
    def _migrate(
        cls,
        operation: Operation,
        target: str,
        directory: PathLike,
        connection_string: ConnectionString,
        lock_timeout: float,
        sql: bool,
        registry: Any,
        observers: Iterable[object],
        options: dict[str, Any],
        allow_changed: Iterable[str] = (),
        repair: tuple[RepairTarget, str] | None = None,
    ) -> str | None:
        error_type = error_type_of(operation)
        accepted = _revision_ids(allow_changed, "allow_changed")  # a TypeError, unwrapped
        action = "repair" if repair is not None else str(operation)  # a repair runs as a stamp
        with cls._guard(error_type, action, connection_string) as maybe_url:
            url = cls._require_url(maybe_url, error_type)
            if not isinstance(target, str) or not target.strip():
                raise error_type(f"{operation} needs a target revision (head, base, an id, -1)")
            target = target.strip()
            path = cls._initialised_directory(directory, error_type)
            timeout = check_timeout(lock_timeout)  # refused with sql=True too
            if sql:
                if not cls.supports_sql:
                    raise error_type(f"the {cls.migration_key} backend cannot render SQL")
                with _reading(cls._session_url(url)) as session:
                    return cls._render_sql(path, session, operation, target)
            if url.is_memory:
                raise error_type(
                    "an in-memory SQLite database lasts as long as one connection, so what a "
                    "migration applied to it would be gone at once; use a file "
                    "(sqlite:///app.db)"
                )
            hooks = _hooks(registry, observers)
        run_migration(
            adapter=cls.migration_key,
            operation=operation,
            directory=path,
            url=url,
            session_url=cls._session_url(url),
            target=target,
            hooks=hooks,
            lock_timeout=timeout,
            options=options,
            plan=_stamp_plan if operation == Operation.STAMP else cls._plan,
            apply=_stamp_apply(cls) if operation == Operation.STAMP else cls._apply,
            applied=lambda run: cls._applied(run.directory, run.session),
            misdirected_hint=cls.misdirected_hint,
            reports_starts=cls.reports_revision_starts,
            revision_files=lambda: cls._revision_files(path),
            allow_changed=accepted,
            repair=repair,
        )
        return None


def _stamp_plan(run: MigrationRun) -> MigrationPlan[None]:
    return MigrationPlan([run.target], None)


def _stamp_apply(cls: type[SyncMigrationAdapter[Any]]) -> Any:
    def apply(run: MigrationRun, plan: MigrationPlan[None]) -> None:
        cls._stamp(run)

    return apply


def _revision_ids(value: Iterable[str], name: str) -> frozenset[str]:
    if isinstance(value, str | bytes):
        raise TypeError(
            f"{name} takes a collection of revision ids ({name}=[{value!r}]), not a string"
        )
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise TypeError(f"{name} takes revision ids (strings)")
    return frozenset(item.strip() for item in items)


def _inherited(cls: type, method: str) -> bool:
    """Whether ``cls`` keeps this module's implementation of the public ``method``."""
    return str(getattr(cls, method).__qualname__).startswith("SyncMigrationAdapter.")


def _hooks(registry: Any, observers: Iterable[object]) -> MigrationHooks:
    from .registry import Registry, default_registry

    if registry is None:
        registry = default_registry()
    elif not isinstance(registry, Registry):
        raise TypeError(f"registry must be a pydapter_migrations Registry, not {registry!r}")
    return MigrationHooks(registry.plugin_manager, observers)


def _path(directory: PathLike, error_type: type[MigrationError]) -> Path:
    if directory is None or str(directory) == "":
        raise error_type("a migration directory is required")
    if not isinstance(directory, str | os.PathLike):
        raise error_type(f"directory must be a path, not {type(directory).__name__}")
    return Path(directory)


@contextmanager
def _reading(url: DatabaseURL) -> Iterator[Session]:
    """A session for a read: a SQLite file that does not exist is read as an empty
    database, and never created."""
    try:
        session = connect(url, purpose="read", create=False)
    except DatabaseMissingError:
        session = connect("sqlite://", purpose="read")
    try:
        yield session
    finally:
        session.close()


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
    sync_adapter: ClassVar[type[SyncMigrationAdapter[Any]]]
    _twin: ClassVar[type[SyncMigrationAdapter[Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        sync = cls.__dict__.get("sync_adapter")
        if sync is None:
            return
        for flag in ("supports_autogenerate", "supports_sql", "supported_databases",
                     "extra_options", "expects_single_head"):  # fmt: skip
            if flag not in cls.__dict__:
                setattr(cls, flag, getattr(sync, flag))
        # A sync subclass carrying this class's key, so errors and events name it.
        cls._twin = type(
            f"_{cls.__name__}Worker",
            (sync,),
            {"migration_key": cls.migration_key, "__module__": cls.__module__},
        )

    @classmethod
    @_public_async
    async def init_migrations(
        cls,
        directory: PathLike,
        *,
        connection_string: ConnectionString | None = None,
        models_module: ModuleType | str | None = None,
        **options: Any,
    ) -> None:
        """Async :meth:`SyncMigrationAdapter.init_migrations`."""
        await run_sync(
            cls._twin.init_migrations,
            directory,
            connection_string=connection_string,
            models_module=models_module,
            **options,
        )

    @classmethod
    @_public_async
    async def create_migration(
        cls,
        message: str,
        autogenerate: bool | None = None,
        *,
        directory: PathLike,
        connection_string: ConnectionString | None = None,
        **options: Any,
    ) -> str:
        """Async :meth:`SyncMigrationAdapter.create_migration`."""
        return await run_sync(
            cls._twin.create_migration,
            message,
            autogenerate,
            directory=directory,
            connection_string=connection_string,
            **options,
        )

    @classmethod
    @_public_async
    async def upgrade(
        cls,
        revision: str = "head",
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        **options: Any,
    ) -> str | None:
        """Async :meth:`SyncMigrationAdapter.upgrade`."""
        return await run_sync(
            cls._twin.upgrade,
            revision,
            directory=directory,
            connection_string=connection_string,
            **options,
        )

    @classmethod
    @_public_async
    async def downgrade(
        cls,
        revision: str,
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        **options: Any,
    ) -> str | None:
        """Async :meth:`SyncMigrationAdapter.downgrade`."""
        return await run_sync(
            cls._twin.downgrade,
            revision,
            directory=directory,
            connection_string=connection_string,
            **options,
        )

    @classmethod
    @_public_async
    async def stamp(
        cls,
        revision: str,
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        **options: Any,
    ) -> None:
        """Async :meth:`SyncMigrationAdapter.stamp`."""
        await run_sync(
            cls._twin.stamp,
            revision,
            directory=directory,
            connection_string=connection_string,
            **options,
        )

    @classmethod
    @_public_async
    async def repair(
        cls,
        applied: bool,
        *,
        directory: PathLike,
        connection_string: ConnectionString,
        **options: Any,
    ) -> None:
        """Async :meth:`SyncMigrationAdapter.repair`."""
        await run_sync(
            cls._twin.repair,
            applied,
            directory=directory,
            connection_string=connection_string,
            **options,
        )

    @classmethod
    @_public_async
    async def get_current_revision(
        cls, *, directory: PathLike, connection_string: ConnectionString, **options: Any
    ) -> str | None:
        """Async :meth:`SyncMigrationAdapter.get_current_revision`."""
        return await run_sync(
            cls._twin.get_current_revision,
            directory=directory,
            connection_string=connection_string,
            **options,
        )

    @classmethod
    @_public_async
    async def get_migration_history(
        cls,
        *,
        directory: PathLike,
        connection_string: ConnectionString | None = None,
        **options: Any,
    ) -> list[dict[str, Any]]:
        """Async :meth:`SyncMigrationAdapter.get_migration_history`."""
        return await run_sync(
            cls._twin.get_migration_history,
            directory=directory,
            connection_string=connection_string,
            **options,
        )

    @classmethod
    @_public_async
    async def check(
        cls, *, directory: PathLike, connection_string: ConnectionString, **options: Any
    ) -> list[dict[str, Any]]:
        """Async :meth:`SyncMigrationAdapter.check`."""
        return await run_sync(
            cls._twin.check, directory=directory, connection_string=connection_string, **options
        )

    @classmethod
    @_public_async
    async def verify(
        cls, *, directory: PathLike, connection_string: ConnectionString, **options: Any
    ) -> list[dict[str, Any]]:
        """Async :meth:`SyncMigrationAdapter.verify`."""
        return await run_sync(
            cls._twin.verify, directory=directory, connection_string=connection_string, **options
        )
