"""The per-database migration lock that every run holds, and its fence.

PostgreSQL: a session-level advisory lock, taken by polling ``pg_try_advisory_lock``
outside any transaction (a waiter never sits in the server's lock manager, where it could
deadlock with ``CREATE INDEX CONCURRENTLY``). It lives exactly as long as its session,
which :mod:`~pydapter_migrations.connections` opens with dead-client detection. Its key is
the database's, or, for a URL whose ``search_path`` names a schema of its own (a tenant's
schema, :attr:`~pydapter_migrations.urls.DatabaseURL.schema`), that schema's: the tenants
of one database migrate side by side, each schema by one run at a time.

MySQL / MariaDB: ``GET_LOCK`` on its own session, polled with a zero timeout; released
when the session ends. A second named lock, the *migrating* lock, goes with the connection
that runs the revisions: the lock's own session, or a connection of a project's env.py
(:meth:`MigrationLock.enlist`). Every new holder waits for it after taking the lock, so a
run that lost the lock while its env.py's connection went on migrating (MySQL commits DDL
as it runs: no fence can take that back) is waited out, and its started row seen.

SQLite: ``flock`` on a lock file beside the database's real path (never the database file
itself: POSIX record locks on it belong to SQLite and vanish when any descriptor closes).
The kernel releases it when the holder dies.

**The run's mark.** A run about to apply revisions marks the lock as its own
(:meth:`MigrationLock.mark_run`): an advisory lock keyed on its run id (PostgreSQL), a
named lock ``pydapter_run.<run id>`` (MySQL), its run id in the lock file (SQLite). A
reader (``status``, ``verify``) then tells a started revision whose run is still at work
(:func:`run_in_progress`) from one whose run died, whoever holds the lock now.

**The fence.** A lock held by a session can be lost while its run goes on: the session
is killed (``pg_terminate_backend``, ``idle_session_timeout``, a network cut) and another
deployer takes the lock. Backends therefore migrate on the session that holds the lock
(:attr:`MigrationLock.session`), where a lost lock means a lost transaction: nothing more
can commit. A backend that must use a connection of its own calls :meth:`MigrationLock.fence`
inside each revision's transaction, just before its commit. On PostgreSQL that statement
checks that the holder still holds the lock and takes a shared transaction lock on a second
key; every new holder first takes that second key exclusively (and lets it go), so it
waits out any commit that passed the check before reading the version table. A run that
lost its lock can therefore commit nothing more, and the next run sees everything it did.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from .connections import Session, application_name, connect, sqlite_lock_path
from .errors import MigrationLockError
from .urls import DatabaseURL

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "AdvisoryKeys",
    "MigrationLock",
    "advisory_keys",
    "check_timeout",
    "database_lock",
    "lock_holder_query",
    "lock_in_use",
    "mysql_lock_name",
    "run_in_progress",
]

DEFAULT_LOCK_TIMEOUT = 60.0
# Advisory keys: the class "pydm", the lock "migr" and the fence "fenc". Advisory locks
# are scoped to the current database.
_CLASS, _LOCK_KEY, _FENCE_KEY = 0x7079646D, 0x6D696772, 0x66656E63
# A schema of its own (a tenant's, see DatabaseURL.schema) is locked apart from the rest of
# its database: the classes "pyds" (lock) and "pydf" (fence), keyed by the schema's name.
_SCHEMA_CLASS, _SCHEMA_FENCE_CLASS = 0x70796473, 0x70796466
# A run's mark: the class "pydr", keyed by its run id; in SQLite's lock file, its holder's
# label, then this separator and the run id.
_RUN_CLASS = 0x70796472
_RUN_SEPARATOR = " run "
_POLL_START, _POLL_MAX = 0.02, 0.25


def check_timeout(timeout: Any) -> float:
    """``timeout`` as seconds to wait; a negative, infinite or non-number value is refused."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError(f"lock_timeout must be a number of seconds, not {type(timeout).__name__}")
    if not math.isfinite(timeout) or timeout < 0:
        raise ValueError(f"lock_timeout must be a finite number of seconds >= 0, got {timeout!r}")
    return float(timeout)


def _poll_delays(timeout: float) -> Iterator[float]:
    """Sleep lengths until ``timeout`` has passed: short at first, then capped."""
    deadline = time.monotonic() + timeout
    delay = _POLL_START
    while (left := deadline - time.monotonic()) > 0:
        yield min(delay, left)
        delay = min(delay * 2, _POLL_MAX)


class MigrationLock:
    """The lock of one database, held for one run.

    ``session`` is the connection holding it (PostgreSQL, MySQL) or the run's connection
    (SQLite, where the lock is a file and needs none): backends migrate on it.
    """

    def __init__(self, url: DatabaseURL, session: Session | None, adapter: str | None) -> None:
        self.url = url
        self.session = session
        self.adapter = adapter
        self._holder: Any = None  # backend pid / connection id / lock-file inode
        self._keys = advisory_keys(url)
        #: The connection holding the migrating lock where it is not ``session`` (MySQL).
        self._enlisted: Session | None = None

    # -- the fence -----------------------------------------------------------

    def holds(self, connection: Any) -> bool:
        """Whether ``connection`` (a DB-API connection) is the session holding the lock."""
        return self.session is not None and connection is self.session.connection

    def fence(self, executor: Session) -> None:
        """Raise :class:`MigrationLockError` unless this run still holds the lock.

        Run it on the connection that migrates, inside the revision's transaction and
        just before its commit. On the holding session it costs nothing: a session that
        lost the lock has lost its transaction too.
        """
        family = self.url.backend
        if family == "sqlite":
            if not self.url.is_memory:
                self._fence_file()
        elif self.holds(executor.connection):
            return
        elif family == "postgresql":
            keys = self._keys
            executor.execute(f"SELECT pg_advisory_xact_lock_shared({keys.fence_pair})")
            held = executor.scalar(
                f"SELECT count(*) FROM pg_locks WHERE {keys.held_by()}"
                f" AND pid = {int(self._holder)}"
            )
            if not held:
                raise self.lost("its session ended")
        elif family == "mysql":
            holder = executor.scalar("SELECT IS_USED_LOCK(?)", (mysql_lock_name(self.url),))
            if holder != self._holder:
                raise self.lost("its session ended", elsewhere=True)

    def enlist(self, executor: Session) -> None:
        """Before a revision runs on ``executor``, a connection other than the lock's own
        (a project's env.py may build its own engine): raise :class:`MigrationLockError`
        unless this run still holds the lock, and on MySQL hand the migrating lock to
        ``executor`` (see the module docstring), kept until the run ends."""
        if self.url.backend != "mysql" or self.holds(executor.connection):
            self.fence(executor)
            return
        enlisted = self._enlisted
        if enlisted is not None and enlisted.connection is executor.connection:
            self.fence(executor)
            return
        name = _mysql_migrating_name(self.url)
        assert self.session is not None
        with contextlib.suppress(Exception):  # a connection env.py closed let it go
            (enlisted or self.session).execute("SELECT RELEASE_LOCK(?)", (name,))
        self._enlisted = executor
        # Taken first, then the lock checked: a run that took the lock after this one
        # lost it took the migrating lock before this connection could.
        got, holder = executor.execute(
            "SELECT GET_LOCK(?, 0), IS_USED_LOCK(?)", (name, mysql_lock_name(self.url))
        )[0]
        if got != 1 or holder != self._holder:
            raise self.lost("its session ended", elsewhere=True)

    def _fence_file(self) -> None:
        fd, path = self._holder
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if not same:
            raise self.lost(f"its lock file {path} was removed or replaced")

    def mark_run(self, run_id: str) -> None:
        """Mark the lock as held by the run ``run_id`` (before it writes a started row),
        for :func:`run_in_progress`; the mark goes with the lock."""
        family = self.url.backend
        if family == "sqlite":
            if isinstance(self._holder, tuple):
                fd, _ = self._holder
                holder = os.pread(fd, 512, 0).decode(errors="replace").partition(_RUN_SEPARATOR)[0]
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{holder}{_RUN_SEPARATOR}{run_id}".encode(), 0)
            return
        assert self.session is not None
        if family == "postgresql":
            self.session.execute(f"SELECT pg_try_advisory_lock({_RUN_CLASS}, {_run_key(run_id)})")
        elif family == "mysql":
            self.session.execute("SELECT GET_LOCK(?, 0)", (_mysql_run_name(run_id),))

    def alive(self) -> bool:
        """Whether the lock is still held (asked after a failure, to tell a lost lock)."""
        if self.url.backend == "sqlite":
            try:
                self.fence(self.session)  # type: ignore[arg-type]
            except MigrationLockError:
                return False
            return True
        assert self.session is not None
        try:
            if self.url.backend == "postgresql":
                return bool(
                    self.session.scalar(
                        f"SELECT count(*) FROM pg_locks WHERE {self._keys.held_by()}"
                        " AND pid = pg_backend_pid()"
                    )
                )
            holder = self.session.scalar("SELECT IS_USED_LOCK(?)", (mysql_lock_name(self.url),))
            return bool(holder == self._holder)
        except Exception:
            return False

    def lost(self, why: str, *, elsewhere: bool = False) -> MigrationLockError:
        """The error of a run whose lock is gone (its ``lost`` attribute is true);
        ``elsewhere``: noticed on a connection other than the lock's own."""
        stopped = "so this run stopped without committing anything more"
        if self.url.backend == "mysql" and not elsewhere:
            stopped = (
                "so this run stopped, committing nothing more. MySQL and MariaDB commit DDL "
                "as it runs: what a revision running then did up to its last DDL statement "
                "may be committed, and its started row then says so until repaired"
            )
        elif self.url.backend == "mysql":
            stopped = (
                "so this run stopped. It migrated on a connection of its own (its env.py's), "
                "where MySQL and MariaDB commit DDL as it runs: what the running revision "
                "did up to its last DDL statement may be committed, and its started row "
                "then says so until repaired"
            )
        error = MigrationLockError(
            f"lost the migration lock on {self.url} ({why}); another run may now hold it, "
            + stopped,
            adapter=self.adapter,
        )
        error.lost = True
        return error


@contextlib.contextmanager
def database_lock(
    url: DatabaseURL | str,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    adapter: str | None = None,
    session: Session | None = None,
    purpose: str = "lock",
) -> Iterator[MigrationLock]:
    """Hold the migration lock of the database at ``url`` for the ``with`` block.

    Takes it on ``session`` when given (it must be a session on that database), else on
    a session opened (and closed) here. Raises :class:`MigrationLockError` after
    ``timeout`` seconds of waiting, naming the holder where the database can tell.
    """
    url = DatabaseURL.parse(url)
    timeout = check_timeout(timeout)
    owned = session is None and url.backend != "sqlite"
    if session is None and owned:
        session = connect(url, purpose=purpose)
    try:
        lock = MigrationLock(url, session, adapter)
        if url.is_memory:
            yield lock  # an in-memory database belongs to one connection: nothing to lock
        elif url.backend == "sqlite":
            with _file_lock(lock, timeout):
                yield lock
        elif url.backend == "postgresql":
            with _advisory_lock(lock, timeout):
                yield lock
        elif url.backend == "mysql":
            with _named_lock(lock, timeout):
                yield lock
        else:
            raise MigrationLockError(
                f"no migration lock is known for {url.backend} databases", adapter=adapter
            )
    finally:
        if owned and session is not None:
            session.close()


def _timed_out(lock: MigrationLock, timeout: float, what: str, holder: str) -> MigrationLockError:
    return MigrationLockError(
        f"timed out after {timeout:g}s waiting for the migration lock {what}; held by {holder}",
        adapter=lock.adapter,
    )


# -- SQLite --------------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(lock: MigrationLock, timeout: float) -> Iterator[None]:
    path = sqlite_lock_path(lock.url)
    assert path is not None
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
                    raise _timed_out(
                        lock, timeout, str(path), holder or "another process"
                    ) from None
                time.sleep(delay)
        os.ftruncate(fd, 0)
        label = f"{application_name()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}"
        os.pwrite(fd, label.encode(), 0)
        lock._holder = (fd, path)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# -- PostgreSQL ----------------------------------------------------------------

_CURRENT_DATABASE = "(SELECT oid FROM pg_database WHERE datname = current_database())"


class AdvisoryKeys(NamedTuple):
    """The two-key advisory locks of one PostgreSQL lock scope: the migration lock and
    its fence (see the module docstring)."""

    lock_class: int
    lock_key: int
    fence_class: int
    fence_key: int

    @property
    def lock_pair(self) -> str:
        return f"{self.lock_class}, {self.lock_key}"

    @property
    def fence_pair(self) -> str:
        return f"{self.fence_class}, {self.fence_key}"

    def held_by(self, alias: str = "") -> str:
        """A ``pg_locks`` condition: the migration lock, granted, in any database."""
        p = f"{alias}." if alias else ""
        return (
            f"{p}locktype = 'advisory' AND {p}granted AND {p}classid = {self.lock_class}"
            f" AND {p}objid = {self.lock_key} AND {p}objsubid = 2"
        )


def advisory_keys(url: DatabaseURL | str) -> AdvisoryKeys:
    """The advisory keys of ``url``'s lock: the database's own, or, for a URL whose
    ``search_path`` names a schema of its own (:attr:`DatabaseURL.schema`), keys of that
    schema, so that every tenant schema of a database migrates independently. ``public``
    is the database's own scope, as a URL without a schema is."""
    schema = DatabaseURL.parse(url).schema
    if schema is None or schema == "public":
        return AdvisoryKeys(_CLASS, _LOCK_KEY, _CLASS, _FENCE_KEY)
    digest = hashlib.sha256(schema.encode()).digest()
    key = int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
    return AdvisoryKeys(_SCHEMA_CLASS, key, _SCHEMA_FENCE_CLASS, key)


def _holder_query(keys: AdvisoryKeys) -> str:
    return (
        "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start::text"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        f" WHERE {keys.held_by('l')} AND l.database = {_CURRENT_DATABASE}"
    )


def lock_holder_query(schema: str | None = None) -> str:
    """SQL listing the backend pids that hold the migration lock of the current database
    (PostgreSQL), or of one ``schema`` of it; what an operator runs to see, or end, a
    stuck run."""
    url = DatabaseURL("postgresql")
    keys = advisory_keys(url.with_schema(schema) if schema is not None else url)
    return f"SELECT pid FROM pg_locks WHERE {keys.held_by()} AND database = {_CURRENT_DATABASE}"


def _try(session: Session, pair: str) -> bool:
    return bool(session.scalar(f"SELECT pg_try_advisory_lock({pair})"))


@contextlib.contextmanager
def _advisory_lock(lock: MigrationLock, timeout: float) -> Iterator[None]:
    session = lock.session
    assert session is not None
    keys = lock._keys
    started = time.monotonic()
    delays = _poll_delays(timeout)
    while not _try(session, keys.lock_pair):
        delay = next(delays, None)
        if delay is None:
            row = session.execute(_holder_query(keys))
            holder = "another session"
            if row:
                pid, name, client, since = row[0]
                where = f", client {client}" if client else ""
                holder = (
                    f"backend pid {pid} ({name or 'no application_name'}{where}, connected {since})"
                )
            raise _timed_out(lock, timeout, f"on {lock.url}", holder)
        time.sleep(delay)
    try:
        lock._holder = session.scalar("SELECT pg_backend_pid()")
        # The barrier of the fence: wait out any commit of a run that lost this lock but
        # passed its fence check just before (see the module docstring).
        barrier = _poll_delays(max(timeout - (time.monotonic() - started), 1.0))
        while not _try(session, keys.fence_pair):
            delay = next(barrier, None)
            if delay is None:
                raise _timed_out(lock, timeout, f"on {lock.url}", "a run still committing")
            time.sleep(delay)
        session.execute(f"SELECT pg_advisory_unlock({keys.fence_pair})")
        yield
    finally:
        with contextlib.suppress(Exception):
            session.execute(f"SELECT pg_advisory_unlock({keys.lock_pair})")


# -- MySQL / MariaDB -----------------------------------------------------------


def mysql_lock_name(url: DatabaseURL | str) -> str:
    """The ``GET_LOCK`` name of ``url``'s database (MySQL, MariaDB): what an operator
    passes to ``IS_USED_LOCK()`` to find the connection of a stuck run."""
    return f"pydapter_migrations.{_mysql_key(url)}"


def _mysql_migrating_name(url: DatabaseURL | str) -> str:
    """The name of the migrating lock (see the module docstring)."""
    return f"pydapter_migrating.{_mysql_key(url)}"


def _mysql_key(url: DatabaseURL | str) -> str:
    # GET_LOCK names are server-wide (64 characters at most): key them on the database.
    database = str(DatabaseURL.parse(url).database or "")
    return hashlib.sha1(database.encode(), usedforsecurity=False).hexdigest()[:40]


@contextlib.contextmanager
def _named_lock(lock: MigrationLock, timeout: float) -> Iterator[None]:
    session = lock.session
    assert session is not None
    name, migrating = mysql_lock_name(lock.url), _mysql_migrating_name(lock.url)
    started = time.monotonic()
    delays = _poll_delays(timeout)
    while session.scalar("SELECT GET_LOCK(?, 0)", (name,)) != 1:
        delay = next(delays, None)
        if delay is None:
            holder = _mysql_holder(session, name)
            elsewhere = session.execute(
                "SELECT IS_USED_LOCK(?), IS_USED_LOCK(?)", (name, migrating)
            )[0]
            if None not in elsewhere and elsewhere[0] != elsewhere[1]:
                # Its project's env.py migrates on a connection of its own.
                holder += f"; its revisions run on {_mysql_holder(session, migrating)}"
            raise _timed_out(lock, timeout, f"on {lock.url}", holder)
        time.sleep(delay)
    try:
        row = session.execute("SELECT CONNECTION_ID(), GET_LOCK(?, 0)", (migrating,))[0]
        lock._holder, got = row
        # The barrier: wait out a run that lost this lock while a connection of its env.py
        # went on migrating (see the module docstring).
        barrier = _poll_delays(max(timeout - (time.monotonic() - started), 1.0))
        while got != 1:
            delay = next(barrier, None)
            if delay is None:
                holder = _mysql_holder(session, migrating)
                raise _timed_out(
                    lock,
                    timeout,
                    f"on {lock.url}",
                    f"{holder}, still migrating for a run that lost it",
                )
            time.sleep(delay)
            got = session.scalar("SELECT GET_LOCK(?, 0)", (migrating,))
        yield
    finally:
        if lock._enlisted is not None:
            with contextlib.suppress(Exception):
                lock._enlisted.execute("SELECT RELEASE_LOCK(?)", (migrating,))
        with contextlib.suppress(Exception):
            session.execute("SELECT RELEASE_LOCK(?), RELEASE_LOCK(?)", (name, migrating))


def _mysql_holder(session: Session, name: str) -> str:
    """Who holds the lock ``name``: the connection id, and from the process list its
    account, client host and port, and what it has been doing for how long; its
    ``program_name`` too (which run it is) where the server keeps connection attributes
    (``performance_schema``, on by default in MySQL 8, off in MariaDB)."""
    holder = session.scalar("SELECT IS_USED_LOCK(?)", (name,))
    if holder is None:
        return "another session"
    details = []
    with contextlib.suppress(Exception):
        program = session.scalar(
            "SELECT ATTR_VALUE FROM performance_schema.session_connect_attrs"
            " WHERE PROCESSLIST_ID = ? AND ATTR_NAME = 'program_name'",
            (holder,),
        )
        if program:
            details.append(str(program))
    rows: list[tuple[Any, ...]] = []
    with contextlib.suppress(Exception):
        rows = session.execute(
            "SELECT USER, HOST, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID = ?",
            (holder,),
        )
    if rows:
        user, host, command, seconds = rows[0]
        state = "idle" if command == "Sleep" else "busy"
        details.append(f"{user}@{host}, {state} for {seconds}s")
    return f"connection {holder}" + (f" ({', '.join(details)})" if details else "")


def lock_in_use(url: DatabaseURL | str, session: Session | None = None) -> bool:
    """Whether some run holds the migration lock of ``url``'s database right now, probed
    without taking it: PostgreSQL's ``pg_locks`` for the advisory key (of the URL's
    schema), MySQL's ``IS_USED_LOCK``, a non-blocking ``flock`` try on SQLite's lock file
    (never created here). ``session`` is a session on that database (PostgreSQL, MySQL).
    What a reader asks to tell a revision at work from one whose run died (on MySQL the
    migrating lock counts too); a probe that cannot tell says ``False``."""
    url = DatabaseURL.parse(url)
    try:
        if url.backend == "sqlite":
            return _file_lock_in_use(url)
        if session is None:
            return False
        if url.backend == "postgresql":
            keys = advisory_keys(url)
            return bool(
                session.scalar(
                    f"SELECT count(*) FROM pg_locks WHERE {keys.held_by()}"
                    f" AND database = {_CURRENT_DATABASE}"
                )
            )
        if url.backend == "mysql":
            # Or the migrating lock: a run's env.py connection may outlive its lock session.
            holder = session.scalar(
                "SELECT COALESCE(IS_USED_LOCK(?), IS_USED_LOCK(?))",
                (mysql_lock_name(url), _mysql_migrating_name(url)),
            )
            return holder is not None
    except Exception:
        return False
    return False


def run_in_progress(url: DatabaseURL | str, session: Session | None, run_id: str) -> bool:
    """Whether the run ``run_id`` still holds the lock of ``url``'s database (it marked
    it, :meth:`MigrationLock.mark_run`): its started revision is at work, not dead. Probed
    without taking anything; ``session`` is a session on that database (PostgreSQL,
    MySQL). A probe that cannot tell says ``False``."""
    url = DatabaseURL.parse(url)
    try:
        if url.backend == "sqlite":
            if not _file_lock_in_use(url):
                return False
            path = sqlite_lock_path(url)
            assert path is not None
            label = path.read_bytes()[:512].decode(errors="replace")
            return label.partition(_RUN_SEPARATOR)[2].strip() == run_id
        if session is None:
            return False
        if url.backend == "postgresql":
            return bool(
                session.scalar(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    f" AND classid = {_RUN_CLASS} AND objid = {_run_key(run_id)}"
                    f" AND objsubid = 2 AND database = {_CURRENT_DATABASE}"
                )
            )
        if url.backend == "mysql":
            return session.scalar("SELECT IS_USED_LOCK(?)", (_mysql_run_name(run_id),)) is not None
    except Exception:
        return False
    return False


def _run_key(run_id: str) -> int:
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


def _mysql_run_name(run_id: str) -> str:
    return f"pydapter_run.{run_id}"[:64]


def _file_lock_in_use(url: DatabaseURL) -> bool:
    if url.is_memory:
        return False
    path = sqlite_lock_path(url)
    if path is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # no lock file: no run ever took the lock here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the descriptor drops a shared lock it got
    return False


def lock_file_path(url: DatabaseURL | str) -> Path | None:
    """Where the lock file of a SQLite database lives (``None`` for other databases)."""
    url = DatabaseURL.parse(url)
    return sqlite_lock_path(url) if url.backend == "sqlite" else None
