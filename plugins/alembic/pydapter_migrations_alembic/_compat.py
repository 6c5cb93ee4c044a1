"""Every use of a private name of Alembic or SQLAlchemy, fenced in one place.

Each one says what it buys, is checked against the versions it was written for
(:data:`TESTED`, see ``tox.ini``'s oldest/newest environments), and falls back to public
API where one exists. Nothing else in this plugin touches an engine's private names.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from pydapter_migrations.backend import Session

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Engine

__all__ = [
    "borrow",
    "give_back_on_close",
    "revision_steps",
    "transactional_sqlite",
    "wrap_per_migration_transactions",
]


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
) -> list[Any]:
    """Alembic's own steps from ``heads`` to ``target``, each reporting to ``on_applied``
    once its revision's work has run (inside the revision's transaction).

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
    if on_applied is not None:
        for step in steps:
            _report_after(step, on_applied)
    return steps


def _report_after(step: Any, on_applied: Callable[[str], None]) -> None:
    migration_fn = step.migration_fn
    revision = step.revision.revision

    def run_then_report(**kwargs: Any) -> None:
        migration_fn(**kwargs)
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


# -- SQLAlchemy: the core's session lent to an engine ---------------------------------


def borrow(session: Session) -> Any:
    """The lent connection, set up for SQLAlchemy to run transactions on it: drivers in
    autocommit mode get it turned off (SQLAlchemy relies on the driver's implicit BEGIN).
    Public driver API only."""
    conn = session.connection
    if session.family == "sqlite":
        return conn  # isolation_level None: BEGIN comes from transactional_sqlite
    if session.driver == "pymysql":
        conn.autocommit(False)
    else:
        conn.autocommit = False
    return conn


def _give_back(session: Session) -> None:
    conn = session.connection
    if session.family == "sqlite":
        if conn.in_transaction:
            conn.rollback()
        return
    conn.rollback()
    if session.driver == "pymysql":
        conn.autocommit(True)
    else:
        conn.autocommit = True


def give_back_on_close(engine: Engine, session: Session) -> None:
    """Make ``engine`` hand ``session``'s connection back (rolled back if a transaction was
    left open, autocommit on) instead of closing it: closing would end the session that
    holds the database lock.

    Private: replacing ``dialect.do_close`` on the engine's own dialect instance (the pool
    calls it to close a connection). Buys: one connection per run instead of two (a round
    trip and a SCRAM authentication, 13 ms here). Fallback: none; a SQLAlchemy outside
    :data:`TESTED` still works, since ``do_close`` is part of SQLAlchemy's public
    ``Dialect`` interface.
    """

    def give_back(connection: Any) -> None:
        _give_back(session)

    engine.dialect.do_close = give_back  # type: ignore[method-assign, assignment]


def transactional_sqlite(engine: Engine) -> None:
    """SQLAlchemy's pysqlite recipe, so DDL is inside the transaction too: the driver
    stops managing transactions and BEGIN is emitted when SQLAlchemy begins one.

    The documented recipe emits BEGIN from a ``begin`` event listener; any such listener
    makes SQLAlchemy dispatch connection events around every statement of the run. Private:
    replacing ``dialect.do_begin`` on this one-off engine's dialect instance (buys 6 % of
    an upgrade's instructions). Fallback for a SQLAlchemy outside :data:`TESTED`: the
    documented recipe.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None

    if not _known("sqlalchemy"):

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

        return

    def do_begin(dbapi_connection: Any) -> None:
        dbapi_connection.cursor().execute("BEGIN")

    engine.dialect.do_begin = do_begin  # type: ignore[method-assign]
