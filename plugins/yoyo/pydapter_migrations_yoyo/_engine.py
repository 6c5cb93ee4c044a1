"""Everything that touches yoyo: connections, loading revisions, applying them atomically.

Imported lazily by :mod:`pydapter_migrations_yoyo.adapter`, so listing adapters never
imports yoyo. Five things differ from calling yoyo's own API:

* yoyo runs on the core's session, the connection that holds the database lock (so a
  lost lock is a lost transaction), and makes no ``yoyo_lock`` table (``get_backend``
  creates it, ``backend.lock()`` leaves a row behind when the process is killed).
* A revision's statements and its bookkeeping rows commit in one transaction
  (``apply_one`` uses two, so a crash between them re-applies the revision).
* yoyo's process-wide registry of migration ids is emptied while one directory loads
  and restored afterwards, so ``-- depends:`` only ever resolves inside that directory.
* Rows returned by statements go to the debug log instead of stdout.
* Only the SQL a run executes is split into statements (yoyo splits every upgrade and
  rollback file of the directory with sqlparse, whatever it runs).
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import glob
import logging
import socket
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yoyo import internalmigrations, read_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.backends.core import (
    MySQLBackend,
    PostgresqlBackend,
    PostgresqlPsycopgBackend,
    SQLiteBackend,
)
from yoyo.connections import DatabaseURI
from yoyo.migrations import (
    Migration,
    MigrationList,
    MigrationStep,
    StepGroup,
    Transactionless,
    TransactionWrapper,
    parse_metadata_from_sql_comments,
    topological_sort,
)
from yoyo.utils import change_param_style

from pydapter_migrations.backend import (
    MigrationDowngradeError,
    MigrationRun,
    MigrationUpgradeError,
    MissingParentError,
    Session,
    find_transaction_control,
    once_per_run,
)

from . import _compat, _files
from ._compat import SqlFile

logger = logging.getLogger("pydapter_migrations.yoyo")


# -- connecting -------------------------------------------------------------

# yoyo's backend class for each (database family, driver) of a core session.
_BACKENDS: dict[tuple[str, str], type[DatabaseBackend]] = {
    ("sqlite", ""): SQLiteBackend,
    ("postgresql", "psycopg"): PostgresqlPsycopgBackend,
    ("postgresql", "psycopg2"): PostgresqlBackend,
    ("mysql", "pymysql"): MySQLBackend,
}
#: Drivers yoyo has no backend for, and the driver it runs their URLs with instead.
SUBSTITUTE_DRIVERS = {("postgresql", "pg8000"): "psycopg", ("mysql", "mysqldb"): "pymysql"}


def on_session(session: Session, table: str) -> DatabaseBackend:
    """A yoyo backend that runs on ``session``'s connection (autocommit, explicit
    transactions, as yoyo's own PostgreSQL backend works); yoyo never connects itself,
    so it never sees the password."""
    base = _BACKENDS[(session.family, session.driver)]

    class OnSession(base):  # type: ignore[valid-type,misc]
        def connect(self, dburi: DatabaseURI) -> Any:
            return session.connection

        if session.family == "mysql":
            # yoyo asks the server for sql_mode before quoting each name (to use double
            # quotes under ANSI_QUOTES): a round trip per name, eight per run with nothing
            # to do. Backticks quote a name in MySQL and MariaDB in every sql_mode.
            def quote_identifier(self, identifier: str) -> str:
                quoted = identifier.replace("`", "``")
                return f"`{quoted}`"

    uri = DatabaseURI(session.family, None, None, None, None, _database_name(session), {})
    backend = OnSession(uri, table)
    # What yoyo would find out by creating a scratch table (get_backend): MySQL and
    # MariaDB commit implicitly around DDL. yoyo then undoes a failed revision's finished
    # steps with their rollback steps, as far as it can.
    backend.has_transactional_ddl = session.family != "mysql"
    return backend


def _database_name(session: Session) -> str | None:
    # yoyo's MySQL backend lists tables of the URI's database.
    if session.family != "mysql":
        return None
    if session.url is not None and session.url.database:
        return session.url.database
    return str(session.scalar("SELECT DATABASE()"))


def ensure_internal_schema(backend: DatabaseBackend) -> None:
    """Create or upgrade yoyo's bookkeeping tables, outside any migration transaction.

    ``backend.ensure_internal_schema_updated()`` would take yoyo's own table lock; the
    caller already holds the core's lock.
    """
    if internalmigrations.needs_upgrading(backend):
        internalmigrations.upgrade(backend)
    _compat.mark_internal_schema_current(backend)


def applied_ids(backend: DatabaseBackend) -> frozenset[str]:
    """Ids of the applied revisions; read-only (no table is created). Read once per run
    until it applies its plan (its plan and its checks ask alike)."""

    def read() -> frozenset[str]:
        version = internalmigrations.get_current_version(backend)
        if version == 0:
            return frozenset()
        column = "migration_id" if version >= internalmigrations.USE_VERSION_TABLE_FROM else "id"
        sql = f"SELECT {backend.quote_identifier(column)} FROM {backend.migration_table_quoted}"
        return frozenset(row[0] for row in backend.execute(sql).fetchall())

    key = ("yoyo applied", id(backend.connection), backend.migration_table)
    return once_per_run(key, read, database_state=True) or frozenset()


def current_ids(backend: DatabaseBackend, known: Collection[str]) -> list[str]:
    """The revisions among ``known`` applied last, in one query: one, or several applied
    in the same tick of the database's clock (MySQL keeps whole seconds).

    Applied order, not id order: ids need not sort as the revisions depend on each other
    (``__init__`` first, then dated ones). Several migration directories may share one
    database and its yoyo table; only this directory's revisions count.
    """
    qi = backend.quote_identifier
    sql = (
        f"SELECT {qi('migration_id')}, {qi('applied_at_utc')}"
        f" FROM {backend.migration_table_quoted} ORDER BY {qi('applied_at_utc')}"
    )
    try:
        rows = backend.execute(sql).fetchall()
    except backend.DatabaseError:
        if backend.migration_table not in backend.list_tables():
            return []  # nothing was ever applied
        raise
    mine = [(row[0], str(row[1])) for row in rows if row[0] in known]
    if not mine:
        return []
    last = mine[-1][1]
    return [revision for revision, at in mine if at == last]


# -- loading revisions -------------------------------------------------------


class _LogWriter:
    """Where yoyo writes the rows a statement returned: the debug log, not stdout."""

    def write(self, text: str) -> int:
        if text.strip():
            logger.debug("%s", text.rstrip("\n"))
        return len(text)


_SINK = _LogWriter()


def load(folder: _files.Folder) -> list[Migration]:
    """Every revision in ``folder``, in run order.

    Of a SQL revision only the header is read here (message, ``-- depends:``,
    ``-- transactional:``): splitting its statements with sqlparse is most of what
    loading costs, so :func:`plan_steps` does that later for the revisions a run needs,
    and only for the direction it runs. Python revisions are loaded whole, as yoyo does.
    """
    with _compat.loading((), _header_only):
        migrations = _read(folder)
        known = {migration.id for migration in migrations}
        for migration in migrations:
            _refuse_missing_depends(migration, known)
            migration.load()  # resolves -- depends: against this directory only
        return list(topological_sort(migrations))


def _refuse_missing_depends(migration: Migration, known: Collection[str]) -> None:
    """A revision naming one the folder has not is refused with both named (yoyo says
    only that it could not resolve dependencies)."""
    path = Path(migration.path)
    if path.suffix != ".sql":
        return  # a Python revision's __depends__ is known only once it runs
    for parent in _files.read_header(path).depends:
        if parent not in known:
            raise MissingParentError(
                f"revision {migration.id} depends on {parent}, which is not in the folder; "
                "fix its '-- depends:' line",
                revision=migration.id,
                parent=parent,
            )


def _read(folder: _files.Folder) -> MigrationList:
    # read_migrations globs its arguments: a path holding [ * ? must be escaped.
    return read_migrations(*(glob.escape(str(source)) for source in folder.sources))


def run_post_apply_hooks(folder: _files.Folder, backend: DatabaseBackend) -> None:
    """Run the folder's ``post-apply`` hooks, each in a transaction of its own, as yoyo
    does after an upgrade that applied something (they are never recorded)."""
    with _compat.loading((), _compat.read_sql_file):
        hooks = list(_read(folder).post_apply)
        for hook in hooks:
            hook.load()
    for hook in hooks:
        for step in _plain_steps(hook.steps):
            _compat.send_rows_to(step, _SINK)
        with backend.transaction():
            _process(hook, backend, "apply")


@dataclass(frozen=True)
class Step:
    """One revision to apply or roll back, its SQL parsed for that direction.

    Built only by :func:`plan_steps`: a revision from :func:`load` alone has no statements.
    """

    migration: Migration
    direction: str  # "apply" or "rollback"


def plan_steps(
    migrations: Sequence[Migration],
    revisions: Sequence[str],
    direction: str,
    *,
    compensating: bool = False,
) -> list[Step]:
    """``revisions`` (ids from ``migrations``, in run order) ready to run in ``direction``.

    Only the file that direction runs is split into statements, unless yoyo may need the
    other one to undo a failed revision step by step: for a ``-- transactional: false``
    revision, or when ``compensating`` (a database without transactional DDL).
    """
    by_id = {migration.id: migration for migration in migrations}
    wanted = [by_id[revision] for revision in revisions]
    both = {m.path for m in wanted if compensating or not m.use_transactions}
    with _compat.loading(migrations, functools.partial(_read_for, direction, both)):
        for migration in wanted:
            if migration.is_raw_sql():
                _compat.reload_steps(migration)
                if migration.use_transactions:
                    _refuse_transaction_control(migration, direction)
    for migration in wanted:
        for step in _plain_steps(migration.steps):
            _compat.send_rows_to(step, _SINK)
    return [Step(migration, direction) for migration in wanted]


def _refuse_transaction_control(migration: Migration, direction: str) -> None:
    """Refuse a transactional SQL revision holding a statement that would end its
    transaction (after which a failure could leave it half-applied and unrecorded)."""
    keyword = find_transaction_control(statements(migration, direction))
    if keyword is None:
        return
    which = "rollback file" if direction == "rollback" else "file"
    error = MigrationDowngradeError if direction == "rollback" else MigrationUpgradeError
    raise error(
        f"revision {migration.id} would end its own transaction: its {which} runs "
        f"{keyword}, after which a failure could leave the revision half-applied and "
        "unrecorded. Remove it; for work that cannot run in a transaction (CREATE INDEX "
        "CONCURRENTLY...), put it in a revision of its own with the header line "
        "'-- transactional: false'",
        revision=migration.id,
    )


def refuse_missing_rollback(steps: Sequence[Step]) -> None:
    """Refuse, before anything runs, to roll back a revision that has nothing to undo it
    (yoyo would record it reverted and leave its schema in place). A revision that does
    nothing either way (a placeholder, a merge point) is reverted by undoing nothing."""
    for step in steps:
        migration = step.migration
        if not statements(migration, "rollback") and _does_something(migration):
            where = (
                f"no statement in {Path(migration.path).with_suffix(_files.ROLLBACK_SUFFIX).name}"
                if migration.is_raw_sql()
                else "no step with a rollback"
            )
            raise MigrationDowngradeError(
                f"revision {migration.id} cannot be reverted: it has {where}, so nothing "
                "would undo it. Write its rollback, or record it as not applied without "
                "undoing it: stamp the revision before it",
                revision=migration.id,
            )


def _does_something(migration: Migration) -> bool:
    """Whether applying ``migration`` runs anything (its SQL read now: a downgrade loads
    only the rollback side)."""
    if migration.is_raw_sql():
        return bool(_compat.read_sql_file(migration.path)[2])
    return bool(statements(migration, "apply"))


def _header_only(path: str) -> SqlFile:
    """What yoyo's ``read_sql_migration`` returns for ``path``, less the statements."""
    if path.endswith(_files.ROLLBACK_SUFFIX):
        return {}, "", []  # yoyo reads no directives from a rollback file
    with open(path, encoding="UTF-8") as file:
        # yoyo reads these from the first statement; the header precedes all of them.
        directives, leading_comment, _ = parse_metadata_from_sql_comments(file.read().strip())
    return directives, leading_comment, []


def _read_for(direction: str, both: Collection[str], path: str) -> SqlFile:
    rollback_file = path.endswith(_files.ROLLBACK_SUFFIX)
    upgrade_path = path[: -len(_files.ROLLBACK_SUFFIX)] + ".sql" if rollback_file else path
    if upgrade_path in both or rollback_file == (direction == "rollback"):
        return _compat.read_sql_file(path)
    return _header_only(path)


def _plain_steps(steps: Sequence[Any] | None) -> Iterator[MigrationStep]:
    """The :class:`MigrationStep` objects inside yoyo's wrappers and groups, in order."""
    for step in steps or ():
        if isinstance(step, TransactionWrapper | Transactionless):
            yield from _plain_steps([step.step])
        elif isinstance(step, StepGroup):
            yield from _plain_steps(step.steps)
        elif isinstance(step, MigrationStep):
            yield step


def statements(migration: Migration, direction: str) -> list[str]:
    """The SQL ``migration`` runs to apply or roll back, in the order it runs it."""
    steps = list(_plain_steps(migration.steps))
    if direction != "apply":
        steps.reverse()
    actions = [_compat.step_sql(step, direction) for step in steps]
    rendered = []
    for action in actions:
        if isinstance(action, str):
            rendered.append(action.strip())
        elif action is not None:
            name = getattr(action, "__qualname__", repr(action))
            rendered.append(f"-- Python step {name}() is not rendered")
    return [text for text in rendered if text]


def message_of(migration: Migration) -> str:
    """The ``-- message:`` of a revision, else the first line of its leading comment."""
    path = Path(migration.path)
    if path.suffix == ".sql":
        message = _files.read_header(path).message
        if message is not None:
            return message
    doc = (getattr(migration.module, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


# -- applying ----------------------------------------------------------------


def run(backend: DatabaseBackend, steps: Sequence[Step], migration_run: MigrationRun) -> None:
    """Apply or roll back each revision with its bookkeeping in one transaction, telling
    ``migration_run`` before each commit and after it. A failure rolls back that revision
    entirely."""
    ensure_internal_schema(backend)
    with _autocommit(migration_run.session, False):
        _run_steps(backend, steps, migration_run)


def _run_steps(
    backend: DatabaseBackend, steps: Sequence[Step], migration_run: MigrationRun
) -> None:
    record = _Bookkeeping(backend)
    for step in steps:
        migration = step.migration
        if migration.use_transactions and not backend.has_transactional_ddl:
            # MySQL, MariaDB: the revision's DDL commits itself (and its savepoints with
            # it); a revision of DML alone still rolls back whole. Its bookkeeping commits
            # as one either way, in the transaction its first statement begins.
            with backend.transaction():
                # Its started row commits with the first DDL statement, if any: it then
                # says the revision may be half-applied until it finishes.
                migration_run.revision_started(migration.id)
                try:
                    _process(migration, backend, step.direction)
                except Exception:
                    migration_run.revision_failed(migration.id)
                    raise
                migration_run.before_commit(migration.id)
                record(migration, step.direction)
        elif migration.use_transactions:
            with backend.transaction():
                migration_run.revision_started(migration.id)
                # yoyo's Python steps get the connection and may end the transaction; the
                # driver cannot always tell (SQLite opens a new one at yoyo's next
                # savepoint), but this savepoint is gone once it has ended.
                backend.savepoint(_MARK)
                try:
                    _process(migration, backend, step.direction)
                except Exception:
                    if not _marked(backend, backend.savepoint_rollback):
                        raise migration_run.ended_transaction(migration.id) from None
                    migration_run.revision_failed(migration.id)
                    raise
                if not _marked(backend, backend.savepoint_release):
                    raise migration_run.ended_transaction(migration.id)
                migration_run.before_commit(migration.id)
                record(migration, step.direction)
        else:
            # "-- transactional: false" (e.g. CREATE INDEX CONCURRENTLY) cannot share a
            # transaction with anything; only its record is transactional, and its
            # started row commits before it runs.
            with _autocommit(migration_run.session, True):
                migration_run.revision_started(migration.id)
                _process(migration, backend, step.direction)
            with backend.transaction():
                migration_run.before_commit(migration.id)
                record(migration, step.direction)
        migration_run.revision_done(migration.id)


@contextlib.contextmanager
def _autocommit(session: Session, on: bool) -> Iterator[None]:
    """On MySQL and MariaDB, ``session``'s driver in autocommit mode (``on``) or out of
    it for the block; what it was after. Out of it, as raw yoyo's connections are, a
    revision's statements after a DDL statement (which commits by itself) stay in its
    transaction until the next one or its commit, and a failure rolls them back; a
    ``-- transactional: false`` revision runs in autocommit mode. Elsewhere: nothing."""
    connection = session.connection
    if session.family != "mysql" or session.autocommits() == on:
        yield
        return

    def restore() -> None:
        if not on and session.in_transaction():
            connection.rollback()  # what no revision committed is not applied
        connection.autocommit(not on)

    connection.autocommit(on)
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):  # a dead connection: its own error is told
            restore()
        raise
    restore()


def stamp(
    backend: DatabaseBackend,
    migrations: Sequence[Migration],
    targets: Collection[str],
    run: MigrationRun,
) -> None:
    """Record exactly ``targets`` and what they depend on as applied (none: nothing), in
    one transaction, running no revision."""
    ensure_internal_schema(backend)
    wanted: set[str] = set()
    todo = [m for m in migrations if m.id in targets]
    target = next((m.id for m in reversed(migrations) if m.id in targets), None)
    while todo:
        migration = todo.pop()
        if migration.id not in wanted:
            wanted.add(migration.id)
            todo += list(migration.depends)
    applied = applied_ids(backend)
    record = _Bookkeeping(backend)
    with backend.transaction():
        run.before_commit(target or "base")
        for migration in migrations:
            if migration.id in wanted and migration.id not in applied:
                record(migration, "mark")  # yoyo's own word for it, in its log
            elif migration.id not in wanted and migration.id in applied:
                record(migration, "unmark")
    if target is not None:
        run.revision_done(target)


_MARK = "pydapter_revision"


def _marked(backend: DatabaseBackend, end_savepoint: Callable[[str], Any]) -> bool:
    """End the revision's savepoint (release or roll back to it); ``False`` when it is
    gone because the transaction it belonged to has ended."""
    try:
        end_savepoint(_MARK)
    except backend.DatabaseError:
        return False
    return True


def _process(migration: Migration, backend: DatabaseBackend, direction: str) -> None:
    """yoyo's ``process_steps``, reporting the error that stopped a step rather than the
    failures of the savepoint rollbacks that followed it (a savepoint is gone once the
    transaction has ended: a full disk, a COMMIT inside a Python step, DDL on MySQL)."""
    try:
        migration.process_steps(backend, direction)
    except backend.DatabaseError as error:
        original: BaseException = error
        while original.__context__ is not None and "savepoint" in str(original).lower():
            original = original.__context__
        if original is not error:
            raise original from None
        raise


class _Statement:
    """A statement of yoyo's bookkeeping, put in the driver's parameter style once.

    yoyo's ``backend.execute`` formats the table names in and rewrites the parameters
    (building a regular expression) for every row; this does both on the first row, with
    yoyo's own functions, and keeps the order in which a positional driver wants the
    values. Every row of one statement passes the same parameter names.
    """

    def __init__(self, backend: DatabaseBackend, template: str) -> None:
        self._backend = backend
        self._template = template
        self._prepared: tuple[str, tuple[str, ...] | None] | None = None

    def __call__(self, params: Mapping[str, Any]) -> None:
        if self._prepared is None:
            sql, probe = change_param_style(
                self._backend.driver.paramstyle,
                self._backend.format_sql(self._template),
                {name: name for name in params},
            )
            self._prepared = (sql, None if isinstance(probe, Mapping) else tuple(probe))
        sql, positional = self._prepared
        values = params if positional is None else [params[n] for n in positional]
        self._backend.cursor().execute(sql, values)


class _Bookkeeping:
    """Writes yoyo's rows for a revision applied, rolled back, marked or unmarked
    (``direction``, yoyo's word in its log): its mark and its log."""

    def __init__(self, backend: DatabaseBackend) -> None:
        self.backend = backend
        self.mark = _Statement(backend, backend.mark_migration_sql)
        self.unmark = _Statement(backend, backend.unmark_migration_sql)
        self.log = _Statement(backend, backend.log_migration_sql)

    def __call__(self, migration: Migration, direction: str) -> None:
        when = _timestamp(self.backend)
        if direction in ("apply", "mark"):
            self.mark(
                {"migration_hash": migration.hash, "migration_id": migration.id, "when": when}
            )
        else:
            self.unmark({"migration_hash": migration.hash})
        self.log(
            {
                "id": str(uuid.uuid1()),
                "migration_hash": migration.hash,
                "migration_id": migration.id,
                "operation": direction,
                "username": _username(),
                "hostname": _hostname(),
                "created_at_utc": when,
            }
        )


def _timestamp(backend: DatabaseBackend) -> datetime | str:
    now = datetime.now(UTC).replace(tzinfo=None)
    # sqlite3's implicit datetime adapter is deprecated (3.12); store the ISO text it made.
    return now.isoformat(" ") if isinstance(backend, SQLiteBackend) else now


@functools.cache
def _hostname() -> str:
    # yoyo calls socket.getfqdn() for every log row; a slow resolver made that seconds.
    return socket.getfqdn()[:255]


@functools.cache
def _username() -> str:
    try:
        return getpass.getuser()[:255]
    except Exception:
        return "unknown"
