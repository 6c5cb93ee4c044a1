"""The per-database migration lock that every backend's upgrade and downgrade holds.

PostgreSQL: a session-level advisory lock on a connection opened for it, taken by polling
``pg_try_advisory_lock`` outside any transaction, so a waiter never sits in the lock
manager where it could deadlock with the holder (``CREATE INDEX CONCURRENTLY``). The
server drops it the moment the holder's connection closes, and
``client_connection_check_interval`` makes it notice a dead client within a second even
in the middle of a statement.

SQLite: ``flock`` on a lock file beside the database (never the database file itself:
POSIX record locks on it belong to SQLite and vanish when any descriptor closes). The
kernel releases it when the holder dies.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import MigrationLockError
from .urls import DatabaseURL

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "database_lock",
    "lock_connection",
    "postgresql_libpq_options",
    "postgresql_session_options",
]

DEFAULT_LOCK_TIMEOUT = 60.0
# Two int4 keys: "pydm", "migr". Advisory locks are scoped to the current database.
_ADVISORY_KEY = (0x7079646D, 0x6D696772)
_APPLICATION_NAME = "pydapter-migrations"
_CHECK_INTERVAL_MS = 1000
_POLL_START, _POLL_MAX = 0.02, 0.25
#: The database locked in this context and the connection holding its advisory lock.
_HELD: contextvars.ContextVar[tuple[DatabaseURL, Any] | None] = contextvars.ContextVar(
    "pydapter_migrations_lock", default=None
)


def postgresql_session_options() -> dict[str, str]:
    """Session settings for every PostgreSQL connection that runs migrations.

    With them the server notices within a second that a client died mid-statement, and
    rolls its transaction back instead of holding locks until the statement ends.
    """
    return {"client_connection_check_interval": str(_CHECK_INTERVAL_MS)}


def postgresql_libpq_options() -> str:
    """:func:`postgresql_session_options` as libpq's ``options`` (psycopg, yoyo)."""
    return " ".join(f"-c {k}={v}" for k, v in postgresql_session_options().items())


def lock_connection(url: DatabaseURL | str) -> Any | None:
    """The connection holding the migration lock on ``url``'s PostgreSQL database in
    this context (psycopg, autocommit), or ``None`` when no such lock is held here.

    A backend can read its version table, or run its migrations, on it rather than open
    another connection, which costs a round trip and a SCRAM authentication. Hand it back
    as it was lent: open (the lock lives exactly as long as it does), in autocommit mode
    and outside any transaction.
    """
    held = _HELD.get()
    if held is None:
        return None
    locked, conn = held
    return conn if DatabaseURL.parse(url).sync() == locked else None


def _holder_label() -> str:
    return f"{_APPLICATION_NAME} pid={os.getpid()} host={socket.gethostname()}"


def _poll_delays(timeout: float) -> Iterator[float]:
    """Sleep lengths until ``timeout`` has passed: short at first, then capped."""
    deadline = time.monotonic() + timeout
    delay = _POLL_START
    while (left := deadline - time.monotonic()) > 0:
        yield min(delay, left)
        delay = min(delay * 2, _POLL_MAX)


@contextlib.contextmanager
def database_lock(
    url: DatabaseURL | str,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    adapter: str | None = None,
) -> Iterator[None]:
    """Hold the migration lock of the database at ``url`` for the ``with`` block.

    Raises :class:`MigrationLockError` after ``timeout`` seconds of waiting, naming the
    holder where the database can tell.
    """
    url = DatabaseURL.parse(url)
    if timeout < 0:
        raise ValueError(f"lock_timeout must be >= 0, got {timeout!r}")
    if url.backend == "sqlite":
        path = url.sqlite_path
        if path is None:  # an in-memory database belongs to one connection
            yield
            return
        with _file_lock(path.with_name(path.name + ".migration-lock"), timeout, adapter):
            yield
    elif url.backend == "postgresql":
        with _advisory_lock(url, timeout, adapter):
            yield
    else:
        raise MigrationLockError(
            f"no migration lock is known for {url.backend} databases", adapter=adapter
        )


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float, adapter: str | None) -> Iterator[None]:
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the database's directory {path.parent} does not exist")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        delays = _poll_delays(timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                delay = next(delays, None)
                if delay is None:
                    holder = os.pread(fd, 512, 0).decode(errors="replace").strip()
                    raise MigrationLockError(
                        f"timed out after {timeout:g}s waiting for the migration lock "
                        f"{path}; held by {holder or 'another process'}",
                        adapter=adapter,
                    ) from None
                time.sleep(delay)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{_holder_label()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _connect_postgresql(url: DatabaseURL) -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise ImportError(
            "the PostgreSQL migration lock needs psycopg: "
            "pip install 'pydapter-migrations[postgresql]'"
        ) from exc
    options = postgresql_libpq_options()
    kwargs = url.sync().psycopg_kwargs()
    kwargs.setdefault("connect_timeout", 10)
    kwargs.setdefault("keepalives", 1)
    kwargs.setdefault("keepalives_idle", 10)
    kwargs.setdefault("keepalives_interval", 5)
    kwargs.setdefault("keepalives_count", 3)
    kwargs["options"] = f"{kwargs.get('options', '')} {options}".strip()
    kwargs["application_name"] = _holder_label()
    return psycopg.connect(autocommit=True, **kwargs)


_HOLDER_QUERY = """
SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start::text
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
  AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


@contextlib.contextmanager
def _advisory_lock(url: DatabaseURL, timeout: float, adapter: str | None) -> Iterator[None]:
    conn = _connect_postgresql(url)
    try:
        delays = _poll_delays(timeout)
        while not conn.execute("SELECT pg_try_advisory_lock(%s, %s)", _ADVISORY_KEY).fetchone()[0]:
            delay = next(delays, None)
            if delay is None:
                row = conn.execute(_HOLDER_QUERY, _ADVISORY_KEY).fetchone()
                holder = (
                    f"backend pid {row[0]} ({row[1] or 'no application_name'}"
                    f"{', client ' + row[2] if row[2] else ''}, connected {row[3]})"
                    if row
                    else "another session"
                )
                raise MigrationLockError(
                    f"timed out after {timeout:g}s waiting for the migration lock on "
                    f"{url}; held by {holder}",
                    adapter=adapter,
                )
            time.sleep(delay)
        held = _HELD.set((url.sync(), conn))
        try:
            yield
        finally:
            _HELD.reset(held)
            with contextlib.suppress(Exception):
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", _ADVISORY_KEY)
    finally:
        conn.close()
