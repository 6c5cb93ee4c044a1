"""What the generated ``env.py`` runs: connect, configure Alembic, run the migrations.

The same code serves pydapter-migrations (URL and run in ``config.attributes``) and the
plain ``alembic`` command (URL from ``DATABASE_URL``). Every connection comes from the
core's connection module; during a run Alembic runs on the core's session, the one
holding the database lock. SQLite gets SQLAlchemy's pysqlite recipe so its DDL is
transactional, and every database gets one transaction per revision. Async URLs
(``sqlite+aiosqlite``, ``postgresql+asyncpg``) run through their own driver on a loop of
their own, so this works even when a loop already runs; their commits are fenced by the
core's lock (see ``pydapter_migrations.locking``).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Coroutine, Iterator
from configparser import Error as ConfigParserError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydapter_migrations.backend import (
    DatabaseURL,
    MigrationRun,
    Session,
    connect,
    connect_async,
    history_table,
    run_async,
)

from . import _compat
from ._models import ModelsRef, find_metadata, load_models

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["MODELS_SECTION", "RunOptions", "is_managed", "run_migrations"]

#: Key of :class:`RunOptions` in ``config.attributes``.
ATTRIBUTE = "pydapter_migrations"
#: Section of ``alembic.ini`` recording the models module.
MODELS_SECTION = "pydapter_migrations"


@dataclass
class Reporter:
    """Tells the core's run about each revision: once its work has run (before Alembic
    writes its version row and commits), if it failed, and once the commit returned."""

    run: MigrationRun
    pending: list[str] = field(default_factory=list)
    #: Seconds each pending revision took, where known (an own env.py's steps).
    durations: list[float] = field(default_factory=list)
    connection: Connection | None = None
    #: A started row was written in the current transaction, for no revision yet.
    unfinished: bool = False

    def applied(self, revision: str) -> None:
        """``revision``'s work has run, inside its transaction (Alembic writes its version
        row next)."""
        self.pending.append(revision)
        self.unfinished = False
        if self.connection is not None:
            self.run.before_commit(revision, session_of(self.connection))

    def started(self, connection: Connection) -> None:
        """The next revision's transaction has begun (before any of its statements)."""
        revision = self.run.next_revision
        if revision is not None:
            self.run.revision_started(revision, session_of(connection))
            self.unfinished = True

    def ending(self, connection: Connection) -> None:
        """The transaction ends without an error: a step that ran no revision (Alembic
        moving a branch's version row) leaves no started row behind."""
        if self.unfinished:
            self.run.no_revision_ran(session_of(connection))
            self.unfinished = False

    def failed(self, connection: Connection) -> None:
        """The running revision raised, inside its transaction (before the rollback)."""
        revision = self.run.failed_revision
        if revision is not None:
            self.run.revision_failed(revision, session_of(connection))

    def committed(self) -> None:
        done, self.pending = self.pending, []
        took, self.durations = self.durations, []
        for index, revision in enumerate(done):
            self.run.revision_done(revision, elapsed=took[index] if index < len(took) else None)


@dataclass
class RunOptions:
    """What pydapter-migrations hands to ``env.py`` for one call."""

    url: DatabaseURL
    #: The models to compare (autogenerate); ``None`` when not needed.
    target_metadata: Any = None
    #: The core's session, holding the lock: Alembic runs on it (sync drivers).
    session: Session | None = None
    #: The run to report to, during an upgrade or downgrade.
    reporter: Reporter | None = None


def is_managed(config: Config) -> bool:
    """Whether pydapter-migrations (rather than the ``alembic`` command) runs this env."""
    return isinstance(config.attributes.get(ATTRIBUTE), RunOptions)


def run_migrations(context: Any, target_metadata: Any = None) -> None:
    """Run the migrations of the current Alembic command, online or offline.

    ``context`` is the ``alembic.context`` proxy. ``target_metadata`` defaults to the
    models recorded by ``init_migrations``.
    """
    config: Config = context.config
    options = config.attributes.get(ATTRIBUTE)
    if isinstance(options, RunOptions):
        # Only autogenerate compares models: a run never imports them.
        if target_metadata is None:
            target_metadata = options.target_metadata
    else:
        options = RunOptions(url=_url_from_environment())
        if target_metadata is None:
            target_metadata = recorded_metadata(config)
    url = options.url
    if context.is_offline_mode():
        _configure(context, url, target_metadata, dialect_name=url.dialect)
        with context.begin_transaction():
            context.run_migrations()
    elif url.is_async and (options.session is None or url.driver == "asyncpg"):
        # asyncpg runs as the URL asks (its SQL semantics differ from psycopg's); the
        # other async drivers wrap the same library as the sync session lent to us.
        _run_async_online(context, target_metadata, options)
    else:
        engine = create_engine(url, lent=options.session)
        try:
            with engine.connect() as connection:
                _run_on_connection(connection, context, target_metadata, options)
        finally:
            engine.dispose()


def recorded_models(config: Config) -> ModelsRef:
    """The models module recorded in ``alembic.ini`` (empty when none)."""
    try:
        module = config.get_section_option(MODELS_SECTION, "models_module") or None
        file = config.get_section_option(MODELS_SECTION, "models_file") or None
    except ConfigParserError:
        return ModelsRef()
    return ModelsRef(module, file)


def recorded_metadata(config: Config) -> Any:
    """The ``MetaData`` of the recorded models, or ``None`` when none were recorded."""
    ref = recorded_models(config)
    return find_metadata(load_models(ref)) if ref else None


def _url_from_environment() -> DatabaseURL:
    text = os.environ.get("DATABASE_URL", "").strip()
    if not text:
        raise RuntimeError(
            "no database URL: set DATABASE_URL (this directory's alembic.ini holds none "
            "on purpose, so that no password is stored)"
        )
    return DatabaseURL.parse(text)


def without_history_table(include_name: Any = None) -> Any:
    """An ``include_name`` hook for autogenerate that never sees the core's history table
    (it is no model's), then asks ``include_name`` (a project's own) about the rest."""
    table = history_table().rpartition(".")[2]

    def include(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table" and name == table:
            return False
        return True if include_name is None else bool(include_name(name, type_, parent_names))

    return include


def _configure(context: Any, url: DatabaseURL, target_metadata: Any, **kwargs: Any) -> None:
    sqlite = url.backend == "sqlite"
    kwargs["include_name"] = without_history_table(kwargs.get("include_name"))
    if url.schema is not None:
        # A tenant's schema (its URL's search_path) holds its version table too.
        kwargs.setdefault("version_table_schema", url.schema)
    context.configure(
        target_metadata=target_metadata,
        transaction_per_migration=True,
        # Alembic deems SQLite's DDL non-transactional; with the pysqlite recipe it is.
        transactional_ddl=True if sqlite else None,
        render_as_batch=sqlite,
        literal_binds=context.is_offline_mode(),
        **kwargs,
    )


def _run_on_connection(
    connection: Connection, context: Any, target_metadata: Any, options: RunOptions
) -> None:
    # An autobegun transaction would make Alembic run every revision inside it.
    if connection.in_transaction():
        connection.commit()
    _configure(context, options.url, target_metadata, connection=connection)
    if options.reporter is not None:
        _report_commits(context.get_context(), connection, options.reporter)
    with context.begin_transaction():
        context.run_migrations()


def _report_commits(migration_context: Any, connection: Connection, reporter: Reporter) -> None:
    """Tell ``reporter`` when a revision fails inside its own transaction, and once that
    transaction has committed (left without an error, outside any transaction)."""

    reporter.connection = connection

    @contextlib.contextmanager
    def per_revision(begin: Callable[[], Any]) -> Iterator[Any]:
        with begin() as transaction:
            try:
                reporter.started(connection)
                yield transaction
            except BaseException:
                reporter.failed(connection)
                raise
            reporter.ending(connection)
        if not connection.in_transaction():
            reporter.committed()

    _compat.wrap_per_migration_transactions(migration_context, per_revision)


def _run_async_online(context: Any, target_metadata: Any, options: RunOptions) -> None:
    async def migrate() -> None:
        engine = create_async_engine(options.url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_run_on_connection, context, target_metadata, options)
        finally:
            await engine.dispose()

    factory: Callable[[], Coroutine[Any, Any, None]] = migrate
    run_async(factory)


# -- engines ---------------------------------------------------------------


def session_of(connection: Connection) -> Session:
    """The core's view of a SQLAlchemy connection (for the fence, inside its transaction);
    the same view for every revision run on one DB-API connection."""
    dbapi_connection = connection.connection.dbapi_connection
    cached = _SESSIONS.get(id(dbapi_connection))
    if cached is not None and cached.connection is dbapi_connection:
        return cached
    dialect = connection.dialect
    session = Session(
        dbapi_connection,
        family=_family(dialect.name),
        paramstyle=dialect.paramstyle,
        driver=dialect.driver,
    )
    _SESSIONS.clear()  # one run's connection at a time: nothing outlives it for long
    _SESSIONS[id(dbapi_connection)] = session
    return session


#: The last connection's view (a run asks for it twice per revision).
_SESSIONS: dict[int, Session] = {}


@functools.cache
def _family(dialect_name: str) -> str:
    return DatabaseURL.parse(f"{dialect_name}://").backend


def _sqlalchemy_url(url: DatabaseURL) -> Any:
    """``url`` for SQLAlchemy, without the password: connections come from the core."""
    from sqlalchemy.engine import URL

    return URL.create(
        drivername=url.dialect + (f"+{url.driver}" if url.driver else ""),
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
    )


def create_engine(url: DatabaseURL, *, lent: Session | None = None) -> Engine:
    """A one-off synchronous engine for migrations, on ``lent`` (the core's session, which
    goes back open when the engine is done with it) or on connections of its own. Its
    connections stay in autocommit mode and its transactions are explicit statements."""
    from sqlalchemy import create_engine as sa_create_engine
    from sqlalchemy.pool import NullPool

    sync = url.sync()
    if lent is not None:
        sync = sync.with_driver(lent.driver)

    def creator() -> Any:
        return lent.connection if lent is not None else connect(sync, purpose="alembic").connection

    engine = sa_create_engine(_sqlalchemy_url(sync), poolclass=NullPool, creator=creator)
    _compat.explicit_transactions(engine, lent)
    return engine


def create_async_engine(url: DatabaseURL) -> AsyncEngine:
    """A one-off async engine for migrations (``sqlite+aiosqlite``, ``postgresql+asyncpg``),
    with the same explicit transactions as :func:`create_engine`."""
    from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine
    from sqlalchemy.pool import NullPool

    engine = sa_create_async_engine(
        _sqlalchemy_url(url),
        poolclass=NullPool,
        async_creator=lambda: connect_async(url, purpose="alembic"),
    )
    _compat.explicit_transactions(engine.sync_engine)
    return engine
