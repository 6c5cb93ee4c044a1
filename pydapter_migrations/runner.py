"""One upgrade, downgrade or stamp, as the core runs it for every backend.

:func:`run_migration` opens the run's session, takes the database lock on it, asks the
backend for a plan, lets it apply the plan, fires the hooks and turns any failure into
the documented error. The backend sees a :class:`MigrationRun`: where to migrate
(``run.session``, the connection holding the lock), and three calls it makes per revision:

* ``run.before_commit(revision, session)`` inside the revision's transaction, once its
  own work has run and before its bookkeeping (the version table) and its commit: a check
  that the revision did not end the transaction itself, and the lock's fence (see
  :mod:`~pydapter_migrations.locking`);
* ``run.revision_failed(revision, session)`` when the revision raised, before the
  rollback: says so when the revision had ended its transaction (a rollback cannot undo
  what it committed);
* ``run.revision_done(revision)`` once the commit returned: fires ``after_revision``.

Optionally, ``run.revision_started(revision, session)`` first thing inside the revision's
transaction (or before its first statement, for a revision that runs outside one): the
history table then tells a revision that died half-way (see :mod:`~pydapter_migrations.ledger`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import time
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .checksums import RevisionPath, checksums_of
from .connections import Session, connect
from .errors import (
    MigrationDowngradeError,
    MigrationError,
    MigrationLockError,
    MigrationUpgradeError,
    describe,
    wrap_errors,
)
from .events import MigrationEvent, Operation
from .hooks import HookFailedError, MigrationHooks
from .integrity import (
    changed_refusal,
    changed_revisions,
    dirty_message,
    recorded_checksums,
    unknown_accepted,
)
from .ledger import APPLIED, DIRTY, Ledger, LedgerRow, RunRecorder
from .locking import MigrationLock, database_lock

if TYPE_CHECKING:
    from .urls import DatabaseURL

__all__ = ["MigrationPlan", "MigrationRun", "RevisionEndedTransactionError", "run_migration"]

logger = logging.getLogger("pydapter_migrations")

StateT = TypeVar("StateT")
T = TypeVar("T")


@dataclass
class _Memo:
    values: dict[Hashable, Any] = field(default_factory=dict)
    #: The keys of values read from the database, forgotten once the run changed it.
    database_state: set[Hashable] = field(default_factory=set)

    def forget_database_state(self) -> None:
        for key in self.database_state:
            self.values.pop(key, None)
        self.database_state.clear()


#: What a backend computed once in the current run (see :func:`once_per_run`).
_RUN_MEMO: ContextVar[_Memo | None] = ContextVar("run_memo", default=None)


@contextmanager
def _run_memo() -> Iterator[_Memo]:
    memo = _Memo()
    token = _RUN_MEMO.set(memo)
    try:
        yield memo
    finally:
        _RUN_MEMO.reset(token)


def once_per_run(
    key: Hashable, compute: Callable[[], T | None], *, database_state: bool = False
) -> T | None:
    """``compute()`` once per run of :func:`run_migration` for ``key`` (the plan, the
    applied set and the revision files of one run ask a backend the same question; a
    ``None`` answer is asked again). Outside a run, every call computes.

    ``database_state``: the answer was read from the database (the applied revisions,
    say), so it holds until the run applies its plan and is computed again after.
    """
    memo = _RUN_MEMO.get()
    if memo is None:
        return compute()
    if key in memo.values:
        return memo.values[key]  # type: ignore[no-any-return]
    value = compute()
    if value is not None:
        memo.values[key] = value
        if database_state:
            memo.database_state.add(key)
    return value


@dataclass(frozen=True)
class MigrationPlan(Generic[StateT]):
    """What a run will do: ``revisions`` in the order they run.

    ``state`` is the backend's own (its loaded scripts, its migration objects...), handed
    back to its ``_apply`` so nothing is loaded twice.
    """

    revisions: Sequence[str]
    state: StateT


#: How a revision ended its transaction when only its vanished started row tells (MySQL).
_ROLLBACK = "a ROLLBACK"


class RevisionEndedTransactionError(Exception):
    """A revision committed or rolled back the transaction it was running in."""


def _ended(
    revision: str, failure: BaseException | None = None, how: str = "a COMMIT or ROLLBACK"
) -> RevisionEndedTransactionError:
    what = (
        "what it ran before that is undone, what it ran after that may be committed"
        if how == _ROLLBACK
        else "what it ran before that is committed and cannot be rolled back"
    )
    message = (
        f"revision {revision} ended its own transaction ({how} in the "
        f"revision): {what}, and "
        "the revision is not recorded as applied; check the database by hand. Work that "
        "cannot share a transaction runs the way the backend documents (Alembic: "
        "op.get_context().autocommit_block(); yoyo: a '-- transactional: false' revision)"
    )
    if failure is not None:
        message += f". It then failed: {describe(failure)}"
    return RevisionEndedTransactionError(message)


def error_type_of(operation: Operation) -> type[MigrationError]:
    """The error an ``operation`` raises: upgrades and stamps upgrade-errors, downgrades
    downgrade-errors."""
    return MigrationDowngradeError if operation == Operation.DOWNGRADE else MigrationUpgradeError


@dataclass
class MigrationRun:
    """One run as the backend sees it (see the module docstring)."""

    adapter: str
    operation: Operation
    directory: Path
    url: DatabaseURL
    target: str
    hooks: MigrationHooks
    lock: MigrationLock
    options: Mapping[str, Any] = field(default_factory=dict)
    misdirected_hint: str = ""
    #: Whether the backend calls :meth:`revision_started` before every revision.
    reports_starts: bool = False
    started: float = field(default_factory=time.perf_counter)
    #: Revisions committed, in order.
    done: list[str] = field(default_factory=list)
    #: Revisions whose work has run (``before_commit``), committed or not yet.
    ran: list[str] = field(default_factory=list)
    pending: tuple[str, ...] = ()
    #: The history table's rows of this run (``None`` while the run has not opened it).
    recorder: RunRecorder | None = None
    _last_mark: float = 0.0
    _identity: Any = None
    #: Connections of the backend's own found on the run's database (asked once each).
    _same_database: list[Any] = field(default_factory=list)
    #: Whether the running revision's session autocommitted when it started (MySQL).
    _autocommitted: bool | None = None
    #: Revisions started (:meth:`revision_started`) less those in which none ran.
    _starts: int = 0

    @property
    def session(self) -> Session:
        """The run's connection (on PostgreSQL and MySQL the one holding the lock):
        migrate on it."""
        assert self.lock.session is not None
        return self.lock.session

    @property
    def event(self) -> MigrationEvent:
        return MigrationEvent(
            self.adapter, self.operation, str(self.directory), self.target, self.pending
        )

    # -- what the backend calls ----------------------------------------------

    def revision_started(self, revision: str, session: Session | None = None) -> None:
        """First thing inside ``revision``'s transaction, on the connection that runs it
        (or before its first statement when it runs outside a transaction): writes its
        ``started`` row, which commits only if part of the revision does."""
        session = session or self.session
        if not self.lock.holds(session.connection):
            self._check_same_database(session)
            self.lock.enlist(session)
        self._autocommitted = session.autocommits() if _commits_ddl(session) else None
        if self.recorder is not None:
            self.recorder.started(session, revision)
        self._starts += 1

    def no_revision_ran(self, session: Session | None = None) -> None:
        """Before the commit of a transaction begun with :meth:`revision_started` in which
        no revision ran after all: its started row goes with it."""
        if self.recorder is not None:
            self.recorder.discard(session or self.session)
        self._starts -= 1

    def before_commit(self, revision: str, session: Session | None = None) -> None:
        """Inside ``revision``'s transaction, once its own work has run and before its
        bookkeeping and commit, on the connection that ran it (``session``; the run's own
        when omitted).

        Raises :class:`MigrationLockError` when the run no longer holds the lock, and
        :class:`RevisionEndedTransactionError` when the revision ended the transaction.
        """
        session = session or self.session
        autocommitted, self._autocommitted = self._autocommitted, None
        if autocommitted is False and session.autocommits():
            # Turning autocommit on commits the open transaction; every statement after
            # it committed as it ran.
            raise _ended(revision, how="SET autocommit=1")
        if not session.in_transaction():
            if not _commits_ddl(session):
                raise _ended(revision, sys.exc_info()[1])
            # MySQL committed the revision's transaction at its last DDL statement (its
            # started row with it): its outcome and the backend's bookkeeping still
            # commit together, in a transaction of their own (out of autocommit mode, the
            # next statement begins it).
            if session.autocommits():
                session.execute("BEGIN")
        if not self.lock.holds(session.connection):
            self._check_same_database(session)
        self.lock.fence(session)
        if self.recorder is not None and not self.recorder.finished(
            session, revision, _OUTCOMES[self.operation]
        ):
            # MySQL: a ROLLBACK in the revision before its first DDL statement (elsewhere
            # the transaction's end is seen above, unless the revision began another).
            raise _ended(revision, how=_ROLLBACK)
        self.ran.append(revision)

    def _check_same_database(self, session: Session) -> None:
        """A connection of the backend's own must be on the run's database: an environment
        that connects elsewhere is stopped before its first commit."""
        if any(known is session.connection for known in self._same_database):
            return
        if self._identity is None:
            self._identity = self.session.identity()
        found = session.identity()
        if found == self._identity:
            self._same_database.append(session.connection)
        else:
            raise self.error(
                f"the migrations run on another database ({found[0]}) than the one given "
                f"({self.url}) and were stopped before their first commit there; nothing is "
                f"recorded on {self.url}, but where {found[0]} commits DDL as it runs "
                "(MySQL, MariaDB, SQLite through SQLAlchemy's default pysqlite settings) what "
                "ran there stays: check that database"
                + (f" ({self.misdirected_hint})" if self.misdirected_hint else "")
            )

    def revision_failed(self, revision: str, session: Session | None = None) -> None:
        """Inside ``revision``'s transaction, when it failed and before the rollback: raises
        :class:`RevisionEndedTransactionError` (from the failure) when the revision had
        ended that transaction itself, so the rollback cannot undo all of it (on MySQL: its
        started row is gone, taken by a ROLLBACK of its own)."""
        session = session or self.session
        if not session.in_transaction() and not _commits_ddl(session):
            raise _ended(revision, sys.exc_info()[1])
        if (
            _commits_ddl(session)
            and self.recorder is not None
            and self.recorder.lost_started_row(session, revision)
        ):
            # A ROLLBACK in the revision took its started row: what it ran after that may
            # have committed with a DDL statement, unrecorded.
            raise _ended(revision, sys.exc_info()[1], how=_ROLLBACK)

    def ended_transaction(self, revision: str) -> Exception:
        """The error to raise when the backend found out itself that ``revision`` ended
        its transaction (the failure it then had, if any, is the current exception). On
        MySQL, where DDL ends it, that failure itself: the history table keeps the
        revision's started row, which says part of it may be committed."""
        failure = sys.exc_info()[1]
        if _commits_ddl(self.session) and isinstance(failure, Exception):
            return failure
        return _ended(revision, failure)

    def transaction_ended_by_ddl(self, session: Session | None = None) -> bool:
        """Whether a revision's transaction ending is what the database does with DDL
        (MySQL, MariaDB), not something to stop for."""
        return _commits_ddl(session or self.session)

    def revision_done(self, revision: str, elapsed: float | None = None) -> None:
        """``revision`` committed: fire ``after_revision``. ``elapsed`` is the seconds its
        work took, when the backend knows better than the time since the last one (its
        commit came later, shared with other revisions)."""
        now = time.perf_counter()
        self.done.append(revision)
        since, self._last_mark = now - (self._last_mark or self.started), now
        elapsed = since if elapsed is None else elapsed
        self.hooks.after_revision(
            replace(self.event, revision=revision, index=len(self.done), elapsed=elapsed)
        )

    def error(self, message: str, *, revision: str | None = None) -> MigrationError:
        """The error this run raises (upgrade or downgrade error), for a backend to raise."""
        return error_type_of(self.operation)(message, adapter=self.adapter, revision=revision)

    # -- what the core calls -------------------------------------------------

    def begin(self, plan: MigrationPlan[Any]) -> None:
        self.pending = tuple(plan.revisions)
        self._last_mark = time.perf_counter()
        if self.recorder is not None:
            if self.pending and self.operation != Operation.STAMP:
                # Before its first started row: readers tell this run's from a dead one's.
                self.lock.mark_run(self.recorder.run_id)
            self.recorder.mark()
        self.hooks.before_migrate(self.event)

    @property
    def next_revision(self) -> str | None:
        """The first planned revision whose work has not run yet, if any."""
        index = max(len(self.done), len(self.ran))
        return self.pending[index] if index < len(self.pending) else None

    @property
    def failed_revision(self) -> str | None:
        """The planned revision that was running when the run stopped, if any (none when
        the backend reports each start and the next one never started; a stamp runs none)."""
        not_started = self._starts <= max(len(self.done), len(self.ran))
        if self.reports_starts and self.operation != Operation.STAMP and not_started:
            return None
        return self.next_revision

    def finish(self) -> None:
        self.hooks.after_migrate(replace(self.event, elapsed=time.perf_counter() - self.started))

    def fail(self, error: BaseException) -> None:
        self.hooks.on_migration_error(
            replace(self.event, elapsed=time.perf_counter() - self.started), error
        )


def _commits_ddl(session: Session) -> bool:
    return session.family == "mysql"


_OUTCOMES = {
    Operation.UPGRADE: "applied",
    Operation.DOWNGRADE: "reverted",
    Operation.STAMP: "stamped",
}

Plan = Callable[[MigrationRun], MigrationPlan[Any]]
Apply = Callable[[MigrationRun, MigrationPlan[Any]], None]
Applied = Callable[[MigrationRun], frozenset[str]]


RevisionFiles = Callable[[], Mapping[str, Sequence[RevisionPath]]]
#: For a repair: the revision to stamp so the database records what the user says is
#: true of a dirty row's revision (``None``: it already does).
RepairTarget = Callable[[LedgerRow], str | None]


def run_migration(
    *,
    adapter: str,
    operation: Operation,
    directory: Path,
    url: DatabaseURL,
    session_url: DatabaseURL,
    target: str,
    hooks: MigrationHooks,
    lock_timeout: float,
    options: Mapping[str, Any],
    plan: Plan,
    apply: Apply,
    applied: Applied,
    misdirected_hint: str = "",
    reports_starts: bool = False,
    revision_files: RevisionFiles | None = None,
    allow_changed: Collection[str] = (),
    repair: tuple[RepairTarget, str] | None = None,
) -> None:
    """Run ``operation`` to ``target``: lock, history table, plan, check that no applied
    revision changed, apply, check what the database now records, hooks, errors.

    With ``repair`` (how to find the stamp target, and what the user says), the run
    resolves the dirty revision instead of refusing to start because of it.
    """
    error_type = error_type_of(operation)
    action = "repair" if repair is not None else str(operation)  # a repair runs as a stamp
    with (
        _run_memo() as memo,
        wrap_errors(error_type, adapter=adapter, action=action, secrets=url.secrets()),
        _session(session_url, f"{adapter} {operation}") as session,
    ):
        with database_lock(url, timeout=lock_timeout, adapter=adapter, session=session) as lock:
            run = MigrationRun(
                adapter,
                operation,
                directory,
                url,
                target,
                hooks,
                lock,
                options,
                misdirected_hint,
                reports_starts,
            )
            apply = _forgetting_database_state(apply, memo)
            files = functools.cache(revision_files or dict)
            # Read once, through the cache that verify and later runs share: reading and
            # normalising each revision's files as it finishes cost ~20% of an upgrade.
            checksums = functools.cache(
                lambda: checksums_of(files(), cache_key=f"{adapter}\0{directory}")
            )
            recorder = RunRecorder(
                Ledger(),
                backend=adapter,
                operation=str(operation),
                checksum_of=lambda revision: checksums().get(revision),
            )
            try:
                rows = recorder.open(run.session)
                run.recorder = recorder
                dirty = [row for row in rows if row.outcome in DIRTY]
                if repair is not None:
                    _repair(run, dirty, repair, plan, apply, applied)
                else:
                    if dirty:
                        raise run.error(dirty_message(dirty[-1]), revision=dirty[-1].revision)
                    migration_plan = plan(run)
                    if operation == Operation.UPGRADE and (rows or allow_changed):
                        _refuse_changed(run, rows, applied(run), files, allow_changed)
                    if migration_plan.revisions:
                        recorder.ensure(run.session, lambda: applied(run))
                    run.begin(migration_plan)
                    apply(run, migration_plan)
                    if migration_plan.revisions or run.done or operation == Operation.STAMP:
                        recorded = applied(run)
                        _check_reported(run, recorded, misdirected_hint)
                        _check_complete(run, migration_plan.revisions, recorded)
                        if run.operation == Operation.STAMP:
                            _record_stamp(run, recorder, rows, recorded)
            except Exception as exc:
                # Judged while the lock is held: was it lost under the run?
                error = _run_error(exc, run, error_type)
                _record_failure(run, error)
                run.fail(error)
                if error is exc:
                    raise
                raise error from exc
        run.finish()


def _forgetting_database_state(apply: Apply, memo: _Memo) -> Apply:
    """``apply``, after which what the run read from the database is read again."""

    def applying(run: MigrationRun, plan: MigrationPlan[Any]) -> None:
        try:
            apply(run, plan)
        finally:
            memo.forget_database_state()

    return applying


def _refuse_changed(
    run: MigrationRun,
    rows: Sequence[LedgerRow],
    applied: frozenset[str],
    files: RevisionFiles,
    allow_changed: Collection[str],
) -> None:
    """Refuse to run while an applied revision's files differ from when it ran, unless the
    caller accepts that revision's change (recorded as ``accepted``, by whom)."""
    unknown = unknown_accepted(allow_changed, set(applied) | set(files()))
    if unknown is not None:
        raise run.error(unknown)
    recorded = recorded_checksums(rows)
    known = files()
    candidates = {
        revision: known[revision]
        for revision in applied
        if revision in known and revision in recorded and recorded[revision].checksum
    }
    if not candidates:
        return
    current = checksums_of(candidates, cache_key=f"{run.adapter}\0{run.directory}")
    if any(recorded[r].checksum != current[r].exact for r in candidates if r in current):
        # A file differs: its row whole says whether its content did, and when it ran.
        assert run.recorder is not None
        whole = run.recorder.ledger.rows(run.session, APPLIED, known=True)
        recorded = recorded_checksums(whole)
    problems = changed_revisions(recorded, current, applied, candidates)
    refused = changed_refusal(problems, allow_changed)
    if refused is not None:
        raise run.error(refused["message"], revision=refused["revision"])
    assert run.recorder is not None
    for problem in problems:
        run.recorder.record(
            run.session,
            problem["revision"],
            "accepted",
            note=f"changed file accepted (was {problem['recorded_checksum']})",
        )


def _record_stamp(
    run: MigrationRun,
    recorder: RunRecorder,
    rows: Sequence[LedgerRow],
    recorded: frozenset[str],
) -> None:
    """After a stamp: rows for the revisions it recorded or unrecorded besides its target
    (and for a new target the backend's stamp wrote no row for), so the history table's
    idea of what is applied stays the database's."""
    before = set(recorded_checksums(rows)) | set(recorder.adopted)
    target = run.done[-1] if run.done else None
    for revision in run.done:
        if revision not in before:
            recorder.record_stamped(run.session, revision)
    for revision in sorted(recorded - before - set(run.done)):
        recorder.record(run.session, revision, "stamped", note=f"recorded by a stamp to {target}")
    for revision in sorted(before - recorded):
        note = f"left unrecorded by a stamp to {target or 'base'}"
        recorder.record(run.session, revision, "unstamped", note=note)


def _repair(
    run: MigrationRun,
    dirty: Sequence[LedgerRow],
    repair: tuple[RepairTarget, str],
    plan: Plan,
    apply: Apply,
    applied: Applied,
) -> None:
    """Record a dirty revision as the user says (applied or not applied), stamping the
    database where its bookkeeping says otherwise, and mark its row repaired."""
    target_of, said = repair
    if not dirty:
        raise run.error("nothing to repair: every revision that started also finished")
    row = dirty[-1]
    target = target_of(row)
    if target is not None:
        run.target = target
        migration_plan = plan(run)
        assert run.recorder is not None
        run.recorder.ensure(run.session, lambda: applied(run))
        run.begin(migration_plan)
        apply(run, migration_plan)
        _check_reported(run, applied(run), run.misdirected_hint)
        if row.revision in run.done:
            # Recorded applied with its checksum, so verify watches its file as an applied
            # revision's.
            run.recorder.record_stamped(run.session, row.revision, "recorded by a repair")
    assert run.recorder is not None
    for each in dirty:
        run.recorder.ledger.resolve(run.session, each, f"repaired: marked {said}")


def _record_failure(run: MigrationRun, error: MigrationError) -> None:
    """The failed revision's row, on the lock's session once its transaction is over (a
    dead session or one still in a transaction records nothing: the next run sees the
    ``started`` row, if it committed)."""
    revision, recorder = run.failed_revision, run.recorder
    if revision is None or recorder is None or isinstance(error, MigrationLockError):
        return
    with contextlib.suppress(Exception):
        if run.lock.alive() and not run.session.in_transaction():
            recorder.failed(run.session, revision, str(error), partial=_ended_itself(error))
            # The failed revision's row, if part of it committed (and any other the run
            # left so).
            dirty = list(dict.fromkeys(row.revision for row in recorder.ledger.dirty(run.session)))
            if dirty:
                which = f" {dirty[0]}" if len(dirty) == 1 else f"s {', '.join(dirty)}"
                error.message += (
                    f"{_REPAIR_ADVICE}{which} may be committed: the database records it as "
                    "incomplete, and later runs refuse until you check the schema and the "
                    "data and record what is true: pydapter-migrate repair --applied, or "
                    "--not-applied"
                )


#: Where a failed run's error starts saying what to repair (always at its end).
_REPAIR_ADVICE = ". Part of revision"


def without_repair_advice(message: str) -> str:
    """``message`` of a failed run without what it says to repair (for a run on a database
    that is gone since, as check's scratch database)."""
    before, found, _ = message.rpartition(_REPAIR_ADVICE)
    return before if found else message


def _ended_itself(error: BaseException) -> bool:
    """Whether the run saw the failed revision end its own transaction (so part of it
    committed)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, RevisionEndedTransactionError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


@contextmanager
def _session(url: DatabaseURL, purpose: str) -> Iterator[Session]:
    session = connect(url, purpose=purpose)
    try:
        yield session
    finally:
        session.close()


def _check_reported(run: MigrationRun, recorded: frozenset[str], hint: str) -> None:
    """Raise unless the database records what the run reported: a run never reports what
    did not happen (an environment may well have migrated another database)."""
    operation, done = run.operation, run.done
    if operation == Operation.DOWNGRADE:
        wrong = [revision for revision in done if revision in recorded]
        claim = "reverted"
    elif operation == Operation.STAMP and not done:
        wrong = sorted(recorded)  # stamped to base: nothing may be recorded
        claim = "left unrecorded (stamped to base)"
    else:
        wrong = [revision for revision in done if revision not in recorded]
        claim = "applied" if operation == Operation.UPGRADE else "stamped"
    if not wrong:
        return
    raise run.error(
        f"the {operation} reported {', '.join(wrong)} {claim}, but the database at "
        f"{run.url} does not record that: the migrations ran against another database"
        + (f" ({hint})" if hint else ""),
        revision=wrong[0],
    )


def _check_complete(run: MigrationRun, planned: Sequence[str], recorded: frozenset[str]) -> None:
    """Raise unless every planned revision is now applied (upgrade) or reverted (downgrade):
    an environment that returns without an error but skipped them (an ``env.py`` that
    swallows a failure, or never calls ``run_migrations``) is not a success."""
    if run.operation == Operation.UPGRADE:
        left = [revision for revision in planned if revision not in recorded]
        state = "not applied"
    elif run.operation == Operation.DOWNGRADE:
        left = [revision for revision in planned if revision in recorded]
        state = "still applied"
    else:
        return
    if not left:
        return
    raise run.error(
        f"the {run.operation} to {run.target} ended without an error, but {len(left)} of its "
        f"{len(planned)} revisions {'is' if len(left) == 1 else 'are'} {state} "
        f"({', '.join(left)}): the migration environment did not run them (does env.py "
        "catch an error, or skip run_migrations?)",
        revision=left[0],
    )


def _run_error(
    exc: Exception, run: MigrationRun, error_type: type[MigrationError]
) -> MigrationError:
    """The :class:`MigrationError` a failed run raises for ``exc``."""
    failed = run.failed_revision
    committed = f"; committed before it: {', '.join(run.done)}" if run.done else ""
    uncommitted = [revision for revision in run.ran if revision not in run.done]
    if uncommitted:
        # An environment that runs several revisions in one transaction (an adopted env.py
        # without transaction_per_migration) rolls them back together.
        committed += f"; rolled back with it: {', '.join(uncommitted)}"
    if isinstance(exc, HookFailedError):
        last = run.done[-1] if run.done else None
        after = f" after revision {last} was {run.operation.verb}" if last else ""
        error = error_type(
            f"{run.operation} stopped{after}: {exc} (the database is at the last revision "
            "that committed)",
            adapter=run.adapter,
        )
        _scrub(error, run)
        return error
    if not isinstance(exc, MigrationLockError) and not run.lock.alive():
        # The lock's session died under the run: say so, rather than the driver's
        # "connection closed" of whatever statement noticed first.
        error = run.lock.lost("its session ended")
        error.revision = failed
        error.message += committed
        return error
    action = f"{run.operation} of revision {failed}" if failed else str(run.operation)
    error = _as_migration_error(exc, error_type, run.adapter, action, run.url)
    if error.revision is None:
        error.revision = failed
    if committed and error is not exc:
        error.message += committed
    return error


def _scrub(error: MigrationError, run: MigrationRun) -> None:
    error.message = run.url.mask(error.message)


def _as_migration_error(
    exc: Exception,
    error_type: type[MigrationError],
    adapter: str,
    action: str,
    url: DatabaseURL,
) -> MigrationError:
    """``exc`` as the :class:`MigrationError` that :func:`wrap_errors` would raise."""
    try:
        with wrap_errors(error_type, adapter=adapter, action=action, secrets=url.secrets()):
            raise exc
    except MigrationError as wrapped:
        return wrapped
