"""Every database connection this project opens, with the same session settings.

The core's lock, its reads of version tables, the testing kit and both backends open
their connections here, so every one of them gets the same treatment:

* a connect timeout, TCP keepalives and, on PostgreSQL, ``client_connection_check_interval``
  (the server notices a dead client within a second, even mid-statement);
* an ``application_name`` (PostgreSQL) or ``program_name`` (MySQL) saying which
  run it is, unless the URL sets its own;
* the URL's query parameters translated for the driver at hand (``sslmode`` for libpq,
  ``ssl`` for asyncpg...), and a parameter no driver would take refused by name;
* SQLite files opened read-write without creating them for reads (a read-write open also
  rolls back the journal a killed writer left behind, which a read-only one cannot).

:class:`Session` is a DB-API connection in autocommit mode plus what the core needs to
speak to it (its family and parameter style). Secrets: the plain password exists only in
the arguments of the driver's ``connect`` call; when that call fails, the frames that
held it are cleared before the error travels on.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import socket
import sqlite3
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .urls import DatabaseURL, InvalidURLError, parse_server_options

__all__ = [
    "CONNECT_TIMEOUT",
    "DatabaseMissingError",
    "Session",
    "application_name",
    "check_mysql_url",
    "connect",
    "connect_async",
    "convert_placeholders",
    "mysql_tls",
]

#: Seconds to wait for a server to answer a connection attempt.
CONNECT_TIMEOUT = 10
#: Seconds a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT = 30.0
#: How often (ms) PostgreSQL checks that the client of a running statement is alive.
CHECK_INTERVAL_MS = 1000
_APPLICATION = "pydapter-migrations"
# PostgreSQL keeps the first 63 bytes of application_name.
_NAME_LIMIT = 63


class DatabaseMissingError(FileNotFoundError):
    """A read found no SQLite database file (reads never create one)."""


def application_name(purpose: str = "") -> str:
    """What the server shows for our sessions: tool, purpose, pid and host."""
    label = f"{_APPLICATION} {purpose}".strip()
    return f"{label} pid={os.getpid()} host={socket.gethostname()}"[:_NAME_LIMIT]


class Session:
    """One DB-API connection in autocommit mode, as the core speaks to it.

    ``execute`` takes SQL with ``?`` placeholders (the core's SQL never holds a literal
    ``?`` or ``%``) and puts them in the driver's parameter style.
    """

    def __init__(
        self,
        connection: Any,
        *,
        family: str,
        paramstyle: str,
        driver: str,
        url: DatabaseURL | None = None,
    ) -> None:
        self.connection = connection
        self.family = family
        self.paramstyle = paramstyle
        self.driver = driver
        #: The URL it was opened with (its ``repr`` masks every secret), if known.
        self.url = url

    def __repr__(self) -> str:
        return f"<Session {self.family}+{self.driver or 'default'}>"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; return its rows (none for statements without a result)."""
        with self._ran(sql, params) as cursor:
            if cursor.description is None:
                return []
            return [tuple(row) for row in cursor.fetchall()]

    def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement that changes rows; return how many it changed."""
        with self._ran(sql, params) as cursor:
            return int(cursor.rowcount)

    @contextlib.contextmanager
    def _ran(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """A cursor that has run ``sql`` (closed afterwards)."""
        cursor = self.connection.cursor()
        try:
            if params:
                cursor.execute(convert_placeholders(sql, self.paramstyle), tuple(params))
            else:
                cursor.execute(sql)
            yield cursor
        finally:
            cursor.close()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or ``None``."""
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    def identity(self) -> tuple[Any, ...]:
        """What tells this session's database apart from another one, asked of the server
        (the first item names it for people)."""
        if self.family == "sqlite":
            rows = self.execute("PRAGMA database_list")
            path = next((row[2] for row in rows if row[1] == "main"), "") or ":memory:"
            return (os.path.realpath(path) if path != ":memory:" else path,)
        if self.family == "postgresql":
            # The schema too: a tenant's schema in a shared database is a target of its own.
            row = self.execute(
                "SELECT current_database(), inet_server_port(),"
                " pg_postmaster_start_time()::text, current_schema()"
            )[0]
            return tuple(row)
        row = self.execute("SELECT DATABASE(), @@hostname, @@port")[0]
        return tuple(row)

    @property
    def _driver_connection(self) -> Any:
        # SQLAlchemy's adapters of asyncio drivers expose the driver's own connection.
        return getattr(self.connection, "driver_connection", None) or self.connection

    def in_transaction(self) -> bool:
        """Whether the driver reports an open transaction (``True`` when it cannot tell)."""
        conn = self._driver_connection
        is_in_transaction = getattr(conn, "is_in_transaction", None)  # asyncpg
        if callable(is_in_transaction):
            return bool(is_in_transaction())
        if self.family == "sqlite":
            return bool(getattr(conn, "in_transaction", True))
        status = getattr(getattr(conn, "info", None), "transaction_status", None)
        if status is not None:  # psycopg 3 and psycopg2: 0 is IDLE, outside any transaction
            return int(status) != 0
        server_status = getattr(conn, "server_status", None)
        if isinstance(server_status, int):  # PyMySQL: SERVER_STATUS_IN_TRANS
            return bool(server_status & 1)
        in_transaction = getattr(conn, "in_transaction", None)  # pg8000
        if isinstance(in_transaction, bool):
            return in_transaction
        return True

    def autocommits(self) -> bool:
        """Whether each statement outside ``BEGIN`` commits itself. Every session the core
        opens does; a MySQL connection that a backend's engine took out of autocommit mode
        (SQLAlchemy's own way there) starts a transaction with its next statement instead."""
        # PyMySQL, mysqlclient, aiomysql...
        get_autocommit = getattr(self._driver_connection, "get_autocommit", None)
        if self.family == "mysql" and callable(get_autocommit):
            return bool(get_autocommit())
        return True

    def close(self) -> None:
        # A broken connection may fail to close; it is gone either way.
        with contextlib.suppress(Exception):
            self.connection.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def convert_placeholders(sql: str, paramstyle: str) -> str:
    """``sql`` written with ``?`` placeholders, in the DB-API ``paramstyle`` given."""
    if paramstyle == "qmark":
        return sql
    if paramstyle in ("format", "pyformat"):
        return sql.replace("%", "%%").replace("?", "%s")
    parts = sql.split("?")
    if paramstyle == "numeric_dollar":
        marks = [f"${i}" for i in range(1, len(parts))]
    elif paramstyle == "numeric":
        marks = [f":{i}" for i in range(1, len(parts))]
    elif paramstyle == "named":
        raise ValueError("named parameters need names; use positional ones")
    else:
        raise ValueError(f"unknown DB-API paramstyle {paramstyle!r}")
    return "".join(part + mark for part, mark in zip(parts, [*marks, ""], strict=True))


# -- opening -------------------------------------------------------------------


def connect(url: DatabaseURL | str, *, purpose: str = "", create: bool = True) -> Session:
    """A :class:`Session` on ``url``'s database through its synchronous driver.

    An async URL (``+asyncpg``, ``+aiosqlite``...) connects through the sync twin. With
    ``create=False`` a missing SQLite file raises :class:`DatabaseMissingError` instead
    of being created.
    """
    given = DatabaseURL.parse(url)
    url = given.sync()
    opener = _OPENERS.get(url.backend)
    if opener is None:
        raise InvalidURLError(f"no connection is known for {url.backend} databases")
    try:
        session = opener(url, purpose, create)
    except BaseException as exc:
        # The frames below this one built the driver's arguments (query-string secrets
        # included); an error tracker would record their variables.
        traceback.clear_frames(exc.__traceback__)
        raise
    session.url = given
    return session


async def connect_async(url: DatabaseURL | str, *, purpose: str = "") -> Any:
    """A connection of the URL's asyncio driver (asyncpg, aiosqlite, aiomysql, asyncmy),
    with the same session settings as :func:`connect`; the driver's own object."""
    url = DatabaseURL.parse(url)
    try:
        return await _connect_async(url, purpose)
    except BaseException as exc:
        traceback.clear_frames(exc.__traceback__)  # as in connect()
        raise


async def _connect_async(url: DatabaseURL, purpose: str) -> Any:
    if url.backend == "postgresql" and url.driver == "asyncpg":
        asyncpg = _import("asyncpg", "asyncpg", url)
        return await _guarded_async(asyncpg.connect, url, **_asyncpg_arguments(url, purpose))
    if url.backend == "sqlite" and url.driver == "aiosqlite":
        aiosqlite = _import("aiosqlite", "aiosqlite", url)
        target, uri = _sqlite_target(url, create=True)
        # aiosqlite runs sqlite3 on a thread of its own; its setters run on the caller's.
        conn = await aiosqlite.connect(
            target, uri=uri, timeout=_sqlite_timeout(url), check_same_thread=False
        )
        conn.isolation_level = None  # transactions are explicit (see Session)
        return conn
    if url.backend == "mysql" and url.driver in ("aiomysql", "asyncmy"):
        module = _import(url.driver, url.driver, url)
        kwargs = _mysql_arguments(url, purpose)
        if url.driver == "aiomysql":
            kwargs["db"] = kwargs.pop("database", None)
        tls = _tls(url)  # checked by _mysql_arguments
        server = (kwargs["host"], kwargs["port"], kwargs.get("unix_socket"))
        if tls.context is not None and not (tls.mode == "preferred" and server in _NO_TLS):
            kwargs["ssl"] = tls.context
        try:
            conn = await _guarded_async(module.connect, url, **kwargs)
        except Exception as exc:
            # aiomysql goes on without TLS where the server offers none; asyncmy fails
            # the handshake instead, so *preferred* retries without and remembers.
            if tls.mode != "preferred" or "ssl" not in kwargs or "SSL" not in str(exc):
                raise
            conn = None
        if conn is None:  # retried outside the except block: nothing chains to the refusal
            _NO_TLS.add(server)
            del kwargs["ssl"]
            conn = await _guarded_async(module.connect, url, **kwargs)
        if tls.mode == "required":
            async with conn.cursor() as cursor:
                await cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                row = await cursor.fetchone()
            if not row or not row[1]:
                conn.close()
                raise _tls_missing(url)
        return conn
    raise InvalidURLError(f"{url.drivername} is not an asyncio driver this project knows")


def _import(module: str, package: str, url: DatabaseURL) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{url.drivername} URLs need the {module} driver: pip install {package}"
        ) from exc


def _guarded(
    connect_call: Callable[..., Any],
    url: DatabaseURL,
    *args: Any,
    password_key: str = "password",
    **kwargs: Any,
) -> Any:
    """``connect_call(*args, **kwargs)`` with ``url``'s password added as ``password_key``.

    This frame is the only one of ours that holds the plain password; when the driver
    fails, every frame below it that saw the password is cleared, and the error goes on
    as a copy without what the driver attached to it (see :func:`_without_connection`),
    chained to nothing.
    """
    if url.password is not None:
        kwargs[password_key] = url.password
    try:
        return connect_call(*args, **kwargs)
    except Exception as exc:
        kwargs.clear()
        failure = _without_connection(exc)
    except BaseException as exc:
        kwargs.clear()
        traceback.clear_frames(exc.__traceback__)
        raise
    # Raised outside the except block: the original error (and its connection) would
    # otherwise stay reachable as the copy's __context__.
    raise failure


async def _guarded_async(
    connect_call: Callable[..., Any], url: DatabaseURL, *args: Any, **kwargs: Any
) -> Any:
    """:func:`_guarded` for an asyncio driver's ``connect``."""
    if url.password is not None:
        kwargs["password"] = url.password
    try:
        return await connect_call(*args, **kwargs)
    except Exception as exc:
        kwargs.clear()
        failure = _without_connection(exc)
    except BaseException as exc:
        kwargs.clear()
        traceback.clear_frames(exc.__traceback__)
        raise
    raise failure


def _without_connection(error: Exception) -> Exception:
    """A driver's connect error as it travels on: its frames cleared, and, where the
    driver supports pickling its errors, a copy made that way (type, message, SQLSTATE
    and server details kept; no traceback, no chained errors). psycopg attaches the failed
    connection to its error (``pgconn``), whose connection options hold the plain
    password; its pickling leaves that out."""
    traceback.clear_frames(error.__traceback__)
    try:
        import pickle  # only when a connection failed

        copy = pickle.loads(pickle.dumps(error))
    except Exception:
        copy = None
    if type(copy) is not type(error) or str(copy) != str(error):
        # Not picklable as itself: the error goes on as it is, less its traceback and
        # what it was chained to.
        error.__traceback__ = None
        error.__cause__ = error.__context__ = None
        return error
    assert isinstance(copy, Exception)
    return copy


# -- SQLite --------------------------------------------------------------------


def _sqlite_timeout(url: DatabaseURL) -> float:
    try:
        return float(url.query.get("timeout", SQLITE_BUSY_TIMEOUT))
    except ValueError:
        raise InvalidURLError(f"timeout in {url} must be a number of seconds") from None


def _sqlite_target(url: DatabaseURL, *, create: bool) -> tuple[str, bool]:
    """What ``sqlite3.connect`` opens for ``url``, and whether it is a URI."""
    path = url.sqlite_path
    if path is None:
        return ":memory:", False
    if not create and not path.exists():
        raise DatabaseMissingError(f"no SQLite database at {path}")
    # A URI from the absolute path: '?' and '#' in names are escaped, and mode=rw opens
    # an existing file read-write (recovering a hot journal) without ever creating one.
    mode = "rwc" if create else "rw"
    return f"{path.absolute().as_uri()}?mode={mode}", True


def _open_sqlite(url: DatabaseURL, purpose: str, create: bool) -> Session:
    target, uri = _sqlite_target(url, create=create)
    # Not bound to its thread: an env.py may migrate on a worker thread of its own, and
    # the async adapters hand the session to one (one user at a time either way).
    conn = sqlite3.connect(
        target, uri=uri, isolation_level=None, timeout=_sqlite_timeout(url),
        check_same_thread=False,
    )  # fmt: skip
    return Session(conn, family="sqlite", paramstyle="qmark", driver="")


# -- PostgreSQL ----------------------------------------------------------------

# libpq's connection parameters (psycopg, psycopg2 pass them through to libpq).
_LIBPQ = frozenset(
    [
        "password",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "sslcompression",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "requiressl",
        "gssencmode",
        "gsslib",
        "krbsrvname",
        "channel_binding",
        "require_auth",
        "options",
        "application_name",
        "fallback_application_name",
        "connect_timeout",
        "client_encoding",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "target_session_attrs",
        "load_balance_hosts",
        "passfile",
        "service",
        "hostaddr",
        "replication",
    ]
)
# asyncpg's spelling (SQLAlchemy's asyncpg dialect passes ?ssl= through) -> libpq's.
_SSL_AS_SSLMODE = {"true": "require", "1": "require", "false": "disable", "0": "disable"}


def _refuse_parameters(url: DatabaseURL, allowed: Callable[[str], bool], message: str) -> None:
    """Refuse the first query parameter of ``url`` that ``allowed`` rejects (``message``
    formatted with ``name`` and ``url``). Only the names are looked at, so no frame of the
    error holds a parameter's value (``?password=`` included)."""
    refused = sorted(name for name in url.query if not allowed(name))
    if refused:
        raise InvalidURLError(message.format(name=refused[0], url=url))


# Query parameters of SQLAlchemy's asyncpg dialect that libpq does not know: dropped.
_ASYNCPG_ONLY = frozenset({"ssl", "prepared_statement_cache_size"})


def _libpq_query(url: DatabaseURL) -> dict[str, str]:
    """The URL's query as libpq parameters: ``ssl`` becomes ``sslmode``; an unknown one is
    refused by name."""
    _refuse_parameters(
        url,
        lambda name: name in _LIBPQ or name in _ASYNCPG_ONLY,
        "PostgreSQL connection parameter {name!r} in {url} is not one libpq knows (see the "
        "PostgreSQL manual's list of connection parameters)",
    )
    query = dict(url.query)
    if "ssl" in query:
        value = query.pop("ssl")
        query.setdefault("sslmode", _SSL_AS_SSLMODE.get(value.lower(), value))
    query.pop("prepared_statement_cache_size", None)  # SQLAlchemy's asyncpg option
    return query


def _check_interval_option() -> str:
    return f"-c client_connection_check_interval={CHECK_INTERVAL_MS}"


def _libpq_arguments(url: DatabaseURL, purpose: str) -> dict[str, Any]:
    query = _libpq_query(url)
    kwargs: dict[str, Any] = dict(query)
    kwargs["options"] = f"{query.get('options', '')} {_check_interval_option()}".strip()
    kwargs.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
    kwargs.setdefault("keepalives", "1")
    kwargs.setdefault("keepalives_idle", "10")
    kwargs.setdefault("keepalives_interval", "5")
    kwargs.setdefault("keepalives_count", "3")
    kwargs.setdefault("application_name", application_name(purpose))
    for key, value in (
        ("host", url.host),
        ("port", url.port),
        ("user", url.username),
        ("dbname", url.database),
    ):
        if value is not None:
            kwargs[key] = value
    return kwargs


def _open_postgresql(url: DatabaseURL, purpose: str, create: bool) -> Session:
    driver = url.driver or "psycopg"
    # The arguments go straight into _guarded: a password in the query string must not
    # sit in this frame either.
    if driver == "psycopg":
        psycopg = _import("psycopg", "'psycopg[binary]'", url)
        conn = _guarded(psycopg.connect, url, autocommit=True, **_libpq_arguments(url, purpose))
        return Session(conn, family="postgresql", paramstyle="format", driver="psycopg")
    if driver == "psycopg2":
        psycopg2 = _import("psycopg2", "psycopg2-binary", url)
        conn = _guarded(psycopg2.connect, url, **_libpq_arguments(url, purpose))
        conn.autocommit = True
        return Session(conn, family="postgresql", paramstyle="format", driver="psycopg2")
    if driver == "pg8000":
        return _open_pg8000(url, purpose)
    raise InvalidURLError(f"{url.drivername} has no synchronous driver this project knows")


def _open_pg8000(url: DatabaseURL, purpose: str) -> Session:
    pg8000 = _import("pg8000.dbapi", "pg8000", url)
    supported = {"application_name", "connect_timeout", "sslmode", "ssl", "options"}
    _refuse_parameters(
        url, supported.__contains__, "pg8000 cannot take the parameter {name!r} in {url}"
    )
    query = _libpq_query(url)
    # pg8000 has no libpq: the settings of ``options`` (a tenant's search_path...) go in
    # its startup parameters, as libpq would send them.
    startup = parse_server_options(query.get("options", ""))
    startup["client_connection_check_interval"] = str(CHECK_INTERVAL_MS)
    ssl_context: Any = None
    if query.get("sslmode", "disable") not in ("disable", "allow", "prefer"):
        import ssl

        ssl_context = ssl.create_default_context()
        if query["sslmode"] == "require":
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
    conn = _guarded(
        pg8000.connect,
        url,
        user=url.username or "postgres",
        host=url.host or "localhost",
        port=url.port or 5432,
        database=url.database,
        timeout=float(query.get("connect_timeout", CONNECT_TIMEOUT)),
        application_name=query.get("application_name", application_name(purpose)),
        ssl_context=ssl_context,
        tcp_keepalive=True,
        startup_params=startup,
    )
    conn.autocommit = True
    return Session(conn, family="postgresql", paramstyle="format", driver="pg8000")


# What asyncpg takes of libpq's parameters: in its DSN, or translated.
_ASYNCPG_QUERY = frozenset(
    {"password", "sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslcrl",
     "ssl_min_protocol_version", "ssl_max_protocol_version", "target_session_attrs",
     "gsslib", "krbsrvname", "passfile", "application_name", "options", "connect_timeout"}
)  # fmt: skip


def _number(url: DatabaseURL, name: str, default: float) -> float:
    """The query parameter ``name`` of ``url`` as a number of seconds."""
    text = url.query.get(name)
    if text is None:
        return float(default)
    try:
        value: float | None = float(text)
    except ValueError:
        value = None
    if value is None:
        # Raised outside the except block: no __context__ with this frame.
        raise InvalidURLError(f"{name} in {url} must be a number of seconds")
    return value


def _asyncpg_arguments(url: DatabaseURL, purpose: str) -> dict[str, Any]:
    """asyncpg's keyword arguments for ``url``: libpq's SSL parameters stay in the ``dsn``
    (asyncpg reads them there), ``options`` and ``application_name`` become
    ``server_settings``, ``connect_timeout`` becomes ``timeout``."""
    _refuse_parameters(
        url,
        lambda name: (
            name in _ASYNCPG_QUERY or name in _ASYNCPG_ONLY or name.startswith("keepalives")
        ),
        "asyncpg cannot take the parameter {name!r} in {url}",
    )
    timeout = _number(url, "connect_timeout", CONNECT_TIMEOUT)
    query = _libpq_query(url)
    settings: dict[str, str] = {
        "client_connection_check_interval": str(CHECK_INTERVAL_MS),
        "application_name": query.pop("application_name", application_name(purpose)),
    }
    settings.update(parse_server_options(query.pop("options", "")))
    query.pop("connect_timeout", None)
    query = {k: v for k, v in query.items() if not k.startswith("keepalives")}
    plain = DatabaseURL(
        "postgresql", url.username, None, url.host, url.port, url.database, query
    ).render(hide_password=False)
    return {"dsn": plain, "timeout": timeout, "server_settings": settings}


# -- MySQL / MariaDB -----------------------------------------------------------

_MYSQL_QUERY = frozenset({"charset", "connect_timeout", "read_timeout", "write_timeout",
                          "ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert",
                          "ssl_verify_identity", "ssl_disabled", "unix_socket",
                          "program_name", "local_infile", "init_command"})  # fmt: skip


_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})
#: The client error of a TLS connection the server cannot take (PyMySQL 1.2 and later).
_CR_SSL_CONNECTION_ERROR = 2026
#: Servers (host, port, socket) found in this process to offer no TLS.
_NO_TLS: set[tuple[Any, ...]] = set()


class MySQLTLS(NamedTuple):
    """What a MySQL URL's ``ssl_*`` parameters ask for: ``mode`` is ``preferred`` (none
    given), ``required`` or ``disabled``; ``context`` the TLS settings for any driver."""

    mode: str
    context: Any  # ssl.SSLContext | None
    #: For mysqlclient, which takes paths rather than a context.
    files: Mapping[str, str]


def mysql_tls(url: DatabaseURL | str) -> MySQLTLS:
    """The TLS a MySQL URL asks for, the same for every driver.

    No ``ssl_*`` parameter: *preferred*, the default of MySQL's own clients and of PyMySQL
    1.2: TLS when the server offers it, unverified (it keeps the traffic from eavesdroppers
    but does not prove who the server is). Its context is made once per process, without
    the CA bundle that an unverified context never reads (loading it cost 30-60 ms per
    connection on the machines measured, more than the rest of a migration with nothing to
    do). ``ssl_disabled=true``: never. Any other ``ssl_*`` parameter makes TLS required:
    ``ssl_ca`` (verify the server's certificate with it), ``ssl_cert`` and ``ssl_key`` (a
    client certificate), ``ssl_verify_cert`` (verify, with the system's CAs unless
    ``ssl_ca`` names others) and ``ssl_verify_identity`` (verify the host name too), as
    PyMySQL reads them. The URL is checked first (:func:`check_mysql_url`).
    """
    url = DatabaseURL.parse(url)
    check_mysql_url(url)
    return _tls(url)


def _tls(url: DatabaseURL) -> MySQLTLS:
    """:func:`mysql_tls` of a URL :func:`check_mysql_url` passed."""
    params = {key[4:]: value for key, value in url.query.items() if key.startswith("ssl_")}
    if _mysql_flag(url, "ssl_disabled", params.pop("disabled", None)):
        return MySQLTLS("disabled", None, {})  # alone: the check refused any other ssl_*
    if not params:
        return MySQLTLS("preferred", _preferred_context(), {})
    import ssl

    ca = params.get("ca")
    verify_cert = _mysql_flag(url, "ssl_verify_cert", params.get("verify_cert"))
    verify_identity = bool(_mysql_flag(url, "ssl_verify_identity", params.get("verify_identity")))
    verify = verify_identity or (verify_cert if verify_cert is not None else ca is not None)
    if verify:
        context = ssl.create_default_context(cafile=ca)
        # The self-signed certificates MySQL makes for itself fail X.509 strict checks.
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
        context.check_hostname = verify_identity
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if "cert" in params:
        context.load_cert_chain(params["cert"], params.get("key"))
    files: dict[str, str] = {k: params[k] for k in ("ca", "cert", "key") if k in params}
    return MySQLTLS("required", context, files)


def _mysql_flag(url: DatabaseURL, name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise InvalidURLError(f"{name} in {url} must be true or false, not {value!r}")


@functools.cache
def _preferred_context() -> Any:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_SSL_MODE_HINT = (
    "; TLS is set with ssl_disabled, ssl_verify_cert, ssl_verify_identity, ssl_ca, ssl_cert "
    "and ssl_key (ssl_mode=DISABLED is ssl_disabled=true, REQUIRED is ssl_verify_cert=false, "
    "VERIFY_CA is ssl_ca=/path/ca.pem or ssl_verify_cert=true, VERIFY_IDENTITY is "
    "ssl_verify_identity=true)"
)
_MYSQL_TIMEOUTS = ("connect_timeout", "read_timeout", "write_timeout")


def check_mysql_url(url: DatabaseURL | str) -> None:
    """Refuse, with :class:`InvalidURLError` naming the parameter, a MySQL URL parameter no
    driver would take, before anything connects: an unknown name (``ssl_mode`` with the
    ``ssl_*`` parameters that say the same), a character set MySQL does not have, a timeout
    that is not a number of seconds, a flag that is not true or false, a certificate or key
    file that does not exist (its path named: it is no secret). The URL is quoted as given
    (an async URL as such), its password masked."""
    url = DatabaseURL.parse(url)
    if "ssl_mode" in url.query:
        raise InvalidURLError(
            f"MySQL connection parameter 'ssl_mode' in {url} is not known{_SSL_MODE_HINT}"
        )
    _refuse_parameters(
        url, _MYSQL_QUERY.__contains__, "MySQL connection parameter {name!r} in {url} is not known"
    )
    for name in _MYSQL_TIMEOUTS:
        if name in url.query:
            _seconds(url, name)
    charset = url.query.get("charset")
    if charset is not None and not _known_charset(charset):
        raise InvalidURLError(f"charset in {url}: {charset!r} is not a MySQL character set")
    for name in ("ssl_disabled", "ssl_verify_cert", "ssl_verify_identity", "local_infile"):
        _mysql_flag(url, name, url.query.get(name))
    others = [key for key in url.query if key.startswith("ssl_") and key != "ssl_disabled"]
    if others and _mysql_flag(url, "ssl_disabled", url.query.get("ssl_disabled")):
        raise InvalidURLError(f"ssl_disabled=true contradicts {others[0]} in {url}")
    for name in ("ssl_ca", "ssl_cert", "ssl_key"):
        path = url.query.get(name)
        if path is not None and not os.path.isfile(path):
            what = "does not exist" if not os.path.exists(path) else "is not a file"
            raise InvalidURLError(f"{name} in {url}: {path} {what}")


def _seconds(url: DatabaseURL, name: str) -> float:
    value = url.query[name]
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidURLError(f"{name} in {url} must be a number of seconds > 0, not {value!r}")
    return seconds


def _known_charset(name: str) -> bool:
    import importlib

    try:
        charsets: Any = importlib.import_module("pymysql.charset")
    except ImportError:  # pragma: no cover - PyMySQL comes with the mysql extras
        return True
    try:
        return charsets.charset_by_name(name) is not None
    except KeyError:
        return False


def _mysql_arguments(url: DatabaseURL, purpose: str) -> dict[str, Any]:
    """The keyword arguments every MySQL driver takes alike (TLS aside: :func:`mysql_tls`)."""
    check_mysql_url(url)
    query = dict(url.query)
    connect_timeout = _seconds(url, "connect_timeout") if "connect_timeout" in query else None
    query.pop("connect_timeout", None)
    kwargs: dict[str, Any] = {
        "host": url.host or "localhost",
        "port": url.port or 3306,
        "user": url.username,
        "database": url.database,
        "charset": query.pop("charset", "utf8mb4"),
        # The drivers take whole seconds, at least one.
        "connect_timeout": max(1, math.ceil(connect_timeout or CONNECT_TIMEOUT)),
        "autocommit": True,
        "program_name": query.pop("program_name", application_name(purpose)),
    }
    for key in ("read_timeout", "write_timeout"):
        if key in query:
            kwargs[key] = _seconds(url, key)
            del query[key]
    for key in [key for key in query if key.startswith("ssl_")]:
        del query[key]
    if "unix_socket" in query:
        kwargs["unix_socket"] = query.pop("unix_socket")
    if "local_infile" in query:
        # A driver takes any non-empty string as true: "false" would allow LOAD DATA LOCAL.
        kwargs["local_infile"] = _mysql_flag(url, "local_infile", query.pop("local_infile"))
    kwargs.update(query)
    return kwargs


def _tls_missing(url: DatabaseURL) -> ConnectionError:
    return ConnectionError(
        f"TLS is required by the ssl_* parameters of {url}, but the server does not offer "
        "it (SSL is not enabled there)"
    )


def _open_mysql(url: DatabaseURL, purpose: str, create: bool) -> Session:
    driver = url.driver or "pymysql"
    if driver == "pymysql":
        pymysql = _import("pymysql", "pymysql", url)
        conn = _open_pymysql(pymysql, url, _mysql_arguments(url, purpose), _tls(url))
        return Session(conn, family="mysql", paramstyle="format", driver="pymysql")
    if driver == "mysqldb":
        mysqldb = _import("MySQLdb", "mysqlclient", url)
        kwargs = _mysql_arguments(url, purpose)
        kwargs["db"] = kwargs.pop("database")
        kwargs.pop("program_name", None)
        tls = _tls(url)
        if tls.mode == "disabled":
            kwargs["ssl_mode"] = "DISABLED"
        elif tls.mode == "required":
            kwargs["ssl_mode"] = "VERIFY_IDENTITY" if tls.context.check_hostname else "REQUIRED"
            kwargs["ssl"] = dict(tls.files)
        conn = _guarded(mysqldb.connect, url, password_key="passwd", **kwargs)
        return Session(conn, family="mysql", paramstyle="format", driver="mysqldb")
    raise InvalidURLError(f"{url.drivername} has no synchronous driver this project knows")


def _open_pymysql(pymysql: Any, url: DatabaseURL, kwargs: dict[str, Any], tls: MySQLTLS) -> Any:
    """A PyMySQL connection with the URL's TLS. *Preferred* is TLS with the cached context
    where the server offers it; PyMySQL 1.2 refuses a context the server cannot take
    (1.1 goes on without TLS), so such a server is then remembered and reached without."""
    server = (kwargs["host"], kwargs["port"], kwargs.get("unix_socket"))
    if tls.mode == "disabled" or (tls.mode == "preferred" and server in _NO_TLS):
        return _guarded(pymysql.connect, url, ssl_disabled=True, **kwargs)
    try:
        conn = _guarded(pymysql.connect, url, ssl=tls.context, **kwargs)
    except pymysql.err.OperationalError as exc:
        if tls.mode != "preferred" or not exc.args or exc.args[0] != _CR_SSL_CONNECTION_ERROR:
            raise
        conn = None
    if conn is None:  # retried outside the except block: nothing chains to the refusal
        _NO_TLS.add(server)
        return _guarded(pymysql.connect, url, ssl_disabled=True, **kwargs)
    if tls.mode == "required":
        _check_tls(Session(conn, family="mysql", paramstyle="format", driver="pymysql"), url)
    return conn


def _check_tls(session: Session, url: DatabaseURL) -> None:
    """Close ``session`` and raise unless it runs over TLS (older drivers go on without
    TLS when the server offers none, even when it was asked for)."""
    rows = session.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
    if not rows or not rows[0][1]:
        session.close()
        raise _tls_missing(url)


_OPENERS: Mapping[str, Callable[[DatabaseURL, str, bool], Session]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgresql,
    "mysql": _open_mysql,
}


def sqlite_lock_path(url: DatabaseURL) -> Path | None:
    """The lock file beside a SQLite database, keyed on the file's real path (a symlink
    and its target are one database); ``None`` for an in-memory database."""
    path = url.sqlite_path
    if path is None:
        return None
    real = Path(os.path.realpath(path))
    return real.with_name(real.name + ".migration-lock")
