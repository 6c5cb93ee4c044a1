"""Every use of a private name of Alembic or SQLAlchemy, fenced in one place.

Each one says what it buys, is checked against the versions it was written for
(:data:`TESTED`, see ``tox.ini``'s oldest/newest environments), and falls back to public
API where one exists. Nothing else in this plugin touches an engine's private names.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from pydapter_migrations.backend import DatabaseURL, Session

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Engine

__all__ = ["explicit_transactions", "revision_steps", "wrap_per_migration_transactions"]


def _release(name: str) -> tuple[int, int]:
    major, minor, *_ = version(name).split(".")
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


#: The (major, minor) ranges these internals were written and tested for.
TESTED = {"alembic": ((1, 13), (1, 20)), "sqlalchemy": ((2, 0), (2, 1))}


def _known(name: str) -> bool:
    low, high = TESTED[name]
    return low <= _release(name) <= high


# -- Alembic: one transaction per revision, seen from outside ------------------------


def wrap_per_migration_transactions(
    context: MigrationContext, per_revision: Callable[[Callable[[], Any]], Any]
) -> None:
    """Run each revision's own transaction through ``per_revision(begin)``, a context
    manager that can act just before the commit and right after it.

    Buys: knowing the moment a revision's transaction commits without a SQLAlchemy
    ``commit`` listener, which makes SQLAlchemy dispatch events around every statement
    of the run (about 6 % of an upgrade's instructions). Private: the ``_per_migration``
    argument of ``MigrationContext.begin_transaction`` (Alembic 1.x). Fallback: none
    needed (the generated env.py configures the context; an unknown Alembic keeps the
    commit listener of :func:`listen_for_commits`).
    """
    begin_transaction = context.begin_transaction

    def begin(_per_migration: bool = False) -> Any:
        if not _per_migration:
            return begin_transaction()
        return per_revision(lambda: begin_transaction(_per_migration=True))

    context.begin_transaction = begin  # type: ignore[method-assign]


# -- Alembic: the revision steps of a run ---------------------------------------------


def revision_steps(
    script: ScriptDirectory,
    operation: str,
    target: str,
    heads: Any,
    on_applied: Callable[[str], None] | None = None,
    *,
    on_started: Callable[[str], None] | None = None,
    on_failed: Callable[[str], None] | None = None,
) -> list[Any]:
    """Alembic's own steps from ``heads`` to ``target``, each reporting to ``on_started``
    just before its revision's work runs, to ``on_applied`` once it has run and to
    ``on_failed`` when it raised (all inside the revision's transaction).

    Private: ``ScriptDirectory._upgrade_revs`` / ``_downgrade_revs`` (what
    ``alembic.command.upgrade``/``downgrade`` hand to the context), replacing a step's
    ``migration_fn`` (buys: no ``on_version_apply`` callback, for which Alembic builds a
    ``MigrationInfo`` and walks the revision map per revision), and the downgrade step
    class below.
    """
    if operation == "upgrade":
        steps = list(script._upgrade_revs(target, heads))
    else:
        steps = list(script._downgrade_revs(target, heads))
        if _known("alembic"):
            from alembic.runtime.migration import RevisionStep

            for step in steps:
                if type(step) is RevisionStep:
                    step.__class__ = _downgrade_step_class()
    if on_applied is not None or on_started is not None or on_failed is not None:
        for step in steps:
            _report_around(step, on_started, on_applied, on_failed)
    return steps


def _report_around(
    step: Any,
    on_started: Callable[[str], None] | None,
    on_applied: Callable[[str], None] | None,
    on_failed: Callable[[str], None] | None,
) -> None:
    migration_fn = step.migration_fn
    revision = step.revision.revision

    @functools.wraps(migration_fn)  # Alembic logs "Running <its name> ..."
    def run_then_report(**kwargs: Any) -> None:
        if on_started is not None:
            on_started(revision)
        try:
            migration_fn(**kwargs)
        except BaseException:
            if on_failed is not None:
                on_failed(revision)
            raise
        if on_applied is not None:
            on_applied(revision)

    step.migration_fn = run_then_report


_DOWNGRADE_STEP: type | None = None


def _downgrade_step_class() -> type:
    """Alembic's downgrade step, less a walk of the whole history per revision.

    To decide whether reverting a revision deletes its version row, Alembic collects every
    ancestor of the revision below it: O(N) per step, O(N^2) for a downgrade to base. When
    that revision is the only head and has one down revision, the answer needs no walk: a
    revision is never its own ancestor, so the row is updated, not deleted.

    Buys: a downgrade of 500 revisions 0.75x raw Alembic instead of 1.13x. Private:
    ``RevisionStep.should_delete_branch`` and ``Revision._normalized_down_revisions``.
    Fallback (an Alembic outside :data:`TESTED`): Alembic's own step.
    """
    global _DOWNGRADE_STEP
    if _DOWNGRADE_STEP is None:
        from alembic.runtime.migration import RevisionStep

        class DowngradeStep(RevisionStep):
            def should_delete_branch(self, heads: set[str]) -> bool:
                if (
                    not self.is_upgrade
                    and len(self.revision._normalized_down_revisions) == 1
                    and heads == {self.revision.revision}
                ):
                    return False
                return super().should_delete_branch(heads)

        _DOWNGRADE_STEP = DowngradeStep
    return _DOWNGRADE_STEP


# -- SQLAlchemy: explicit transactions on a connection in autocommit mode -------------


def explicit_transactions(engine: Engine, lent: Session | None = None) -> None:
    """Make ``engine`` run its transactions as ``BEGIN`` / ``COMMIT`` / ``ROLLBACK``
    statements on connections that stay in the driver's autocommit mode, as yoyo and
    SQLAlchemy's pysqlite recipe do; with ``lent``, hand that connection back at the end
    (rolled back if left in a transaction) instead of closing it, since closing would end
    the session that holds the database lock. ``isolation_level="AUTOCOMMIT"`` (Alembic's
    ``autocommit_block``) then simply means: no ``BEGIN``.

    Buys, on every driver alike: DDL inside the transaction on SQLite; the driver's own
    transaction status telling exactly whether a revision ended its transaction (after a
    ``COMMIT`` in a revision the rest of it runs in autocommit mode, visible at its end);
    no flipping of ``autocommit`` on a connection SQLAlchemy owns; one connection per run
    instead of two (a round trip and a SCRAM authentication, 13 ms here); and no
    ``begin`` event listener (the documented SQLite recipe), which makes SQLAlchemy
    dispatch events around every statement (6 % of an upgrade's instructions).

    MySQL and MariaDB commit around every DDL statement whatever the client does, so
    there SQLAlchemy keeps its own way: the driver out of autocommit mode (a lent
    connection is put back in it when handed back), the next statement beginning the
    transaction. A revision's statements after its DDL then stay in its transaction, as
    under raw Alembic, and no ``BEGIN`` costs a round trip (two per revision: 1.17x ->
    1.1x raw Alembic at N=300 on MariaDB).

    Private: replacing ``do_begin``, ``do_commit``, ``do_rollback``, ``set_isolation_level``
    and ``do_close`` on this one-off engine's dialect instance; all five belong to
    SQLAlchemy's public ``Dialect`` interface, so the override holds across SQLAlchemy 2.x.
    """
    from sqlalchemy import event

    dialect = engine.dialect
    family = DatabaseURL.parse(f"{dialect.name}://").backend
    autocommit_asked: set[int] = set()

    def raw(dbapi_connection: Any) -> Any:
        # The pool may hand its proxy rather than the driver's connection.
        return getattr(dbapi_connection, "dbapi_connection", dbapi_connection)

    def in_transaction(dbapi_connection: Any) -> bool:
        session = Session(raw(dbapi_connection), family=family, paramstyle="qmark", driver="")
        return session.in_transaction()

    def execute(dbapi_connection: Any, statement: str) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()

    @event.listens_for(engine, "connect")
    def driver_autocommit(dbapi_connection: Any, connection_record: Any) -> None:
        if family == "sqlite":
            dbapi_connection.isolation_level = None
        elif callable(getattr(dbapi_connection, "autocommit", None)):
            # PyMySQL, and SQLAlchemy's adapters of aiomysql and asyncmy: a method.
            dbapi_connection.autocommit(family != "mysql")
        else:
            dbapi_connection.autocommit = True

    def set_isolation_level(dbapi_connection: Any, level: str) -> None:
        if level == "AUTOCOMMIT":
            autocommit_asked.add(id(raw(dbapi_connection)))
        else:
            autocommit_asked.discard(id(raw(dbapi_connection)))

    def do_begin(dbapi_connection: Any) -> None:
        if id(raw(dbapi_connection)) not in autocommit_asked:
            execute(dbapi_connection, "BEGIN")

    # SQLAlchemy also ends transactions that never began (resetting a connection it
    # gives back); SQLite refuses a COMMIT or ROLLBACK outside one.
    def do_commit(dbapi_connection: Any) -> None:
        if in_transaction(dbapi_connection):
            execute(dbapi_connection, "COMMIT")

    def do_rollback(dbapi_connection: Any) -> None:
        if in_transaction(dbapi_connection):
            execute(dbapi_connection, "ROLLBACK")

    if family != "mysql":
        dialect.set_isolation_level = set_isolation_level  # type: ignore[method-assign]
        dialect.do_begin = do_begin  # type: ignore[method-assign]
        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    if lent is not None:

        def give_back(dbapi_connection: Any) -> None:
            autocommit_asked.discard(id(raw(dbapi_connection)))
            # A connection killed under the run (its lock lost) cannot roll back: the run
            # reports that itself, and SQLAlchemy would print the driver's traceback too.
            with contextlib.suppress(Exception):
                do_rollback(dbapi_connection)
                if family == "mysql":
                    raw(dbapi_connection).autocommit(True)  # the core's sessions autocommit

        dialect.do_close = give_back  # type: ignore[method-assign]
