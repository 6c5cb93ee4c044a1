"""What the generated ``env.py`` runs: connect, configure Alembic, run the migrations.

The same code serves pydapter-migrations (URL and callbacks in ``config.attributes``)
and the plain ``alembic`` command (URL from ``DATABASE_URL``). SQLite gets SQLAlchemy's
pysqlite recipe so its DDL is transactional, and every database gets one transaction per
revision. Async URLs (``sqlite+aiosqlite``, ``postgresql+asyncpg``) run through the async
driver on a loop of their own, so this works even when a loop already runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Coroutine, Iterator
from configparser import Error as ConfigParserError
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydapter_migrations.bridge import run_async
from pydapter_migrations.locking import (
    lock_connection,
    postgresql_libpq_options,
    postgresql_session_options,
)
from pydapter_migrations.urls import DatabaseURL

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
_SQLITE_BUSY_TIMEOUT = 30.0
_CONNECT_TIMEOUT = 10


@dataclass
class RunOptions:
    """What pydapter-migrations hands to ``env.py`` for one run."""

    url: DatabaseURL
    #: The models to compare (autogenerate); ``None`` when not needed.
    target_metadata: Any = None
    #: Called after each revision's own transaction has committed.
    on_commit: Callable[[], None] | None = None


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
        url = options.url
        if target_metadata is None:
            target_metadata = options.target_metadata
    else:
        options = None
        url = _url_from_environment()
        if target_metadata is None:
            target_metadata = recorded_metadata(config)
    if context.is_offline_mode():
        _configure(context, url, target_metadata, dialect_name=url.backend)
        with context.begin_transaction():
            context.run_migrations()
    elif url.is_async:
        _run_async_online(context, url, target_metadata, options)
    else:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                _run_on_connection(connection, context, url, target_metadata, options)
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


def _configure(
    context: Any,
    url: DatabaseURL,
    target_metadata: Any,
    **kwargs: Any,
) -> None:
    sqlite = url.backend == "sqlite"
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
    connection: Connection,
    context: Any,
    url: DatabaseURL,
    target_metadata: Any,
    options: RunOptions | None,
) -> None:
    # An autobegun transaction would make Alembic run every revision inside it.
    if connection.in_transaction():
        connection.commit()
    _configure(context, url, target_metadata, connection=connection)
    if options is not None and options.on_commit is not None:
        _report_commits(context.get_context(), connection, options.on_commit)
    with context.begin_transaction():
        context.run_migrations()


def _report_commits(
    migration_context: Any, connection: Connection, on_commit: Callable[[], None]
) -> None:
    """Call ``on_commit`` each time a revision's own transaction has committed.

    Alembic opens that transaction with ``begin_transaction(_per_migration=True)`` for each
    revision; leaving it without an error, with the connection out of its transaction,
    means the commit returned. (A SQLAlchemy ``begin`` listener would tell the same one
    revision later, and make SQLAlchemy dispatch events for every statement.)
    """
    begin_transaction = migration_context.begin_transaction

    @contextlib.contextmanager
    def reporting(_per_migration: bool = False) -> Iterator[Any]:
        with begin_transaction(_per_migration=_per_migration) as transaction:
            yield transaction
        if _per_migration and not connection.in_transaction():
            on_commit()

    migration_context.begin_transaction = reporting


def _run_async_online(
    context: Any, url: DatabaseURL, target_metadata: Any, options: RunOptions | None
) -> None:
    async def migrate() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(
                    _run_on_connection, context, url, target_metadata, options
                )
        finally:
            await engine.dispose()

    factory: Callable[[], Coroutine[Any, Any, None]] = migrate
    run_async(factory)


# -- engines ---------------------------------------------------------------


def _sqlalchemy_url(url: DatabaseURL) -> Any:
    from sqlalchemy.engine import URL

    return URL.create(
        drivername=url.drivername,
        username=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        database=url.database,
        query=dict(url.query),
    )


def _connect_args(url: DatabaseURL) -> dict[str, Any]:
    if url.backend == "sqlite":
        return {"timeout": _SQLITE_BUSY_TIMEOUT}
    if url.backend == "postgresql":
        if url.driver == "asyncpg":
            return {"server_settings": postgresql_session_options(), "timeout": _CONNECT_TIMEOUT}
        return {"options": postgresql_libpq_options(), "connect_timeout": _CONNECT_TIMEOUT}
    return {}


def _transactional_sqlite(engine: Engine) -> None:
    """SQLAlchemy's pysqlite recipe, so DDL is inside the transaction too: the driver
    stops managing transactions and BEGIN is emitted when SQLAlchemy begins one."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None

    # The recipe emits BEGIN from a "begin" listener; any such listener makes SQLAlchemy
    # dispatch connection events around every statement of the run. The dialect's own
    # begin step of this one-off engine does the same without them.
    def do_begin(dbapi_connection: Any) -> None:
        dbapi_connection.cursor().execute("BEGIN")

    engine.dialect.do_begin = do_begin  # type: ignore[method-assign]


def create_engine(url: DatabaseURL) -> Engine:
    """A one-off synchronous engine for migrations (bare ``postgresql://`` is psycopg 3).

    Under the migration lock on PostgreSQL the engine runs on the lock's own connection
    (see :func:`_on_lock_connection`) rather than opening a second one."""
    from sqlalchemy import create_engine as sa_create_engine
    from sqlalchemy.pool import NullPool

    sync = url.sync()
    held = lock_connection(sync) if sync.driver == "psycopg" else None
    if held is not None:
        engine = sa_create_engine(
            _sqlalchemy_url(sync), poolclass=NullPool, creator=lambda: _borrow(held)
        )
        _on_lock_connection(engine)
        return engine
    engine = sa_create_engine(
        _sqlalchemy_url(sync), poolclass=NullPool, connect_args=_connect_args(sync)
    )
    if sync.backend == "sqlite":
        _transactional_sqlite(engine)
    return engine


def _borrow(connection: Any) -> Any:
    # SQLAlchemy runs transactions on psycopg through the driver's implicit BEGIN.
    connection.autocommit = False
    return connection


def _on_lock_connection(engine: Engine) -> None:
    """Make the engine hand the lock's connection back instead of closing it.

    Closing it would release the lock while the core still holds it; the connection goes
    back as the core left it, in autocommit mode. (A connection that broke cannot be set
    back; SQLAlchemy logs that, and the lock died with it anyway.)
    """

    def give_back(connection: Any) -> None:
        from psycopg.pq import TransactionStatus

        if connection.info.transaction_status != TransactionStatus.IDLE:
            connection.rollback()
        connection.autocommit = True

    engine.dialect.do_close = give_back  # type: ignore[method-assign, assignment]


def create_async_engine(url: DatabaseURL) -> AsyncEngine:
    """A one-off async engine for migrations (``sqlite+aiosqlite``, ``postgresql+asyncpg``)."""
    from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine
    from sqlalchemy.pool import NullPool

    engine = sa_create_async_engine(
        _sqlalchemy_url(url), poolclass=NullPool, connect_args=_connect_args(url)
    )
    if url.backend == "sqlite":
        _transactional_sqlite(engine.sync_engine)
    return engine
