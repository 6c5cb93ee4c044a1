"""The history table the core keeps for every backend: who migrated what, when, and how.

One row per revision a run applied, reverted or stamped, written in that revision's own
transaction next to the backend's bookkeeping, so the row and the revision commit together.
A row is first written as ``started`` when the revision begins (inside its transaction):
on a database that commits DDL by itself (MySQL, MariaDB) or in a revision that runs
outside a transaction, a revision that dies half-way leaves that row behind, and the
database is *dirty* until someone says what is true (:meth:`Ledger.resolve`, the CLI's
``repair``). Where the revision's transaction rolls back whole, its ``started`` row goes
with it: nothing to repair.

Outcomes: ``applied``, ``reverted``, ``stamped`` (a stamp recorded the revision without
running it), ``unstamped`` (a stamp left it unrecorded), ``adopted`` (applied before the
table existed), ``accepted`` (its changed file accepted by ``allow_changed``), ``failed``
(nothing of it committed), ``started`` and ``incomplete`` (dirty: part of it may be
committed), ``repaired`` (a dirty row resolved by hand).

The table's name is ``pydapter_migrations_history``, or ``$PYDAPTER_MIGRATIONS_HISTORY_TABLE``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from .connections import Session
from .errors import MigrationError
from .urls import quote_identifier

logger = logging.getLogger("pydapter_migrations")

__all__ = ["DIRTY", "Ledger", "LedgerRow", "default_table"]

DEFAULT_TABLE = "pydapter_migrations_history"
TABLE_VARIABLE = "PYDAPTER_MIGRATIONS_HISTORY_TABLE"

#: Outcomes after which a revision counts as applied, with the checksum the row holds.
APPLIED = ("applied", "stamped", "adopted", "accepted")
#: Outcomes of a revision that may be half-applied.
DIRTY = ("started", "incomplete")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")


@dataclass(frozen=True)
class LedgerRow:
    """One row of the history table."""

    run_id: str
    seq: int
    revision: str
    operation: str
    outcome: str
    backend: str
    checksum: str | None = None
    content_checksum: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    db_user: str | None = None
    os_user: str | None = None
    host: str | None = None
    tool_version: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_COLUMNS = tuple(f.name for f in fields(LedgerRow))


def default_table() -> str:
    """The history table's name: ``$PYDAPTER_MIGRATIONS_HISTORY_TABLE`` or the default."""
    return os.environ.get(TABLE_VARIABLE, "").strip() or DEFAULT_TABLE


class Ledger:
    """Reads and writes the history table through core sessions."""

    def __init__(self, table: str | None = None) -> None:
        table = table or default_table()
        if not _NAME.match(table):
            raise ValueError(
                f"{table!r} is not a usable history table name (letters, digits and _, "
                "optionally schema.table)"
            )
        self.table = table

    # -- the table -----------------------------------------------------------

    def name(self, session: Session) -> str:
        """The table as this session names it: in a tenant's schema when its URL names one
        (never a same-named table further along the search path)."""
        schema = getattr(session.url, "schema", None) if session.url is not None else None
        if not schema:
            return self.table
        if "." in self.table:
            if self.table.partition(".")[0] != schema:
                # Every tenant's rows in one table, none saying whose: one tenant's repair
                # or accepted change would speak for the others.
                raise MigrationError(
                    f"the history table {self.table} names a schema, but this URL migrates "
                    f"the tenant schema {schema}: every tenant would share one history. "
                    f"Set {TABLE_VARIABLE} to a table name alone (kept in each tenant's schema)"
                )
            return self.table
        # Quoted when it must be: a schema's name may hold capitals or spaces.
        return f"{quote_identifier(schema)}.{self.table}"

    def exists(self, session: Session) -> bool:
        schema, _, name = self.name(session).rpartition(".")
        if session.family == "sqlite":
            return bool(
                session.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
                )
            )
        if session.family == "postgresql":
            return session.scalar("SELECT to_regclass(?)::text", (self.name(session),)) is not None
        return bool(
            session.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_name = ?"
                " AND table_schema = " + ("?" if schema else "DATABASE()"),
                (name, schema) if schema else (name,),
            )
        )

    def create(self, session: Session) -> None:
        """Create the table (outside any transaction: MySQL would commit one anyway)."""
        text = "VARCHAR(2000)" if session.family == "mysql" else "TEXT"
        real = "DOUBLE PRECISION" if session.family != "sqlite" else "REAL"
        # Transactional whatever the server's default engine: a MyISAM row would neither
        # commit nor roll back with its revision.
        engine = " ENGINE=InnoDB" if session.family == "mysql" else ""
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {self.name(session)} ("
            "run_id VARCHAR(36) NOT NULL, seq INTEGER NOT NULL,"
            " revision VARCHAR(255) NOT NULL, operation VARCHAR(16) NOT NULL,"
            " outcome VARCHAR(16) NOT NULL, backend VARCHAR(100) NOT NULL,"
            " checksum VARCHAR(64), content_checksum VARCHAR(64),"
            " started_at VARCHAR(32), finished_at VARCHAR(32), seconds "
            f"{real}, db_user VARCHAR(255), os_user VARCHAR(255), host VARCHAR(255),"
            f" tool_version VARCHAR(100), note {text},"
            f" PRIMARY KEY (run_id, seq)){engine}"
        )

    # -- rows ----------------------------------------------------------------

    def rows(
        self,
        session: Session,
        outcomes: Sequence[str] = (),
        *,
        known: bool = False,
        whole: Sequence[str] | None = None,
    ) -> list[LedgerRow]:
        """The rows, oldest first (only those with one of ``outcomes`` when given); none
        when the table does not exist (``known``: the caller knows it does).

        ``whole``: only rows with one of these outcomes are read whole; the others up to
        their ``checksum``, the rest ``None`` (a driver such as PyMySQL parses every
        value in Python: a third of the time of reading 300 rows whole).
        """
        if not known and not self.exists(session):
            return []
        columns: Sequence[str] = _COLUMNS
        params: tuple[str, ...] = ()
        if whole is not None:
            brief = _COLUMNS.index("checksum") + 1
            marks = ", ".join("?" * len(whole))
            columns = [
                *_COLUMNS[:brief],
                *(f"CASE WHEN outcome IN ({marks}) THEN {c} END" for c in _COLUMNS[brief:]),
            ]
            params = tuple(whole) * (len(_COLUMNS) - brief)
        where = ""
        if outcomes:
            where = f" WHERE outcome IN ({', '.join('?' * len(outcomes))})"
        found = session.execute(
            f"SELECT {', '.join(columns)} FROM {self.name(session)}{where}"
            " ORDER BY started_at, run_id, seq",
            (*params, *outcomes),
        )
        return [LedgerRow(*row) for row in found]

    def insert(self, session: Session, row: LedgerRow) -> None:
        session.execute(
            f"INSERT INTO {self.name(session)} ({', '.join(_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(_COLUMNS))})",
            tuple(getattr(row, c) for c in _COLUMNS),
        )

    def insert_many(self, session: Session, rows: Iterable[LedgerRow]) -> None:
        for row in rows:
            self.insert(session, row)

    def delete(self, session: Session, run_id: str, seq: int) -> None:
        session.execute(
            f"DELETE FROM {self.name(session)} WHERE run_id = ? AND seq = ?", (run_id, seq)
        )

    def update(self, session: Session, run_id: str, seq: int, **values: Any) -> int:
        """Set ``values`` on one row; how many rows that was (0: the row is not there)."""
        assignments = ", ".join(f"{name} = ?" for name in values)
        return session.change(
            f"UPDATE {self.name(session)} SET {assignments} WHERE run_id = ? AND seq = ?",
            (*values.values(), run_id, seq),
        )

    def row_exists(self, session: Session, run_id: str, seq: int) -> bool:
        return bool(
            session.execute(
                f"SELECT 1 FROM {self.name(session)} WHERE run_id = ? AND seq = ?",
                (run_id, seq),
            )
        )

    def dirty(self, session: Session) -> list[LedgerRow]:
        """Revisions that started and never finished (see the module docstring)."""
        return self.rows(session, DIRTY)

    def resolve(self, session: Session, row: LedgerRow, note: str) -> None:
        """Mark the dirty ``row`` repaired, saying how and by whom."""
        self.update(
            session,
            row.run_id,
            row.seq,
            outcome="repaired",
            note=f"{row.note + '; ' if row.note else ''}{note} ({os_user()}@{hostname()}, {now()})",
        )


# uuid, socket and getpass are imported where used: a run with nothing to do writes no row,
# and a deploy's no-op should not pay for them.


def new_run_id() -> str:
    import uuid

    return str(uuid.uuid4())


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@functools.cache
def hostname() -> str:
    import socket

    return socket.gethostname()[:255]


@functools.cache
def os_user() -> str:
    import getpass

    try:
        return getpass.getuser()[:255]
    except Exception:
        return "unknown"


@functools.cache
def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"pydapter-migrations {version('pydapter-migrations')}"[:100]
    except PackageNotFoundError:
        return "pydapter-migrations"


def database_user(session: Session) -> str | None:
    """Who the database says we are (``None`` on SQLite, which has no users)."""
    if session.family == "postgresql":
        return str(session.scalar("SELECT current_user"))
    if session.family == "mysql":
        return str(session.scalar("SELECT CURRENT_USER()"))
    return None


# -- one run's rows ------------------------------------------------------------


class RunRecorder:
    """The rows one run writes: ``started`` when a revision begins (where the backend says
    so), its outcome in its own transaction, ``failed`` or ``incomplete`` when it fails."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        backend: str,
        operation: str,
        checksum_of: Any,
    ) -> None:
        self.ledger = ledger
        self.backend = backend
        self.operation = operation
        self.run_id = new_run_id()
        self._checksum_of = checksum_of  # revision -> Checksum | None
        self._seq = 0
        self._open: dict[str, tuple[int, str, float]] = {}  # revision -> seq, at, clock
        self._session: Session | None = None
        self._exists = False
        self._db_user: str | bool | None = False  # False: not asked yet
        self._mark: tuple[str, float] | None = None
        #: Revisions found applied when this run created the table.
        self.adopted: list[str] = []
        #: Revisions whose outcome this run wrote (through :meth:`finished`).
        self.finished_revisions: set[str] = set()

    def open(self, session: Session) -> list[LedgerRow]:
        """Before a run, on the lock's session: the rows of applied and of dirty
        revisions, oldest first (none while the table does not exist). Dirty rows are
        whole; applied ones end at their ``checksum`` (what every run compares; a run
        that finds one differing reads them whole)."""
        self._session = session
        self._exists = self.ledger.exists(session)
        if not self._exists:
            return []
        return self.ledger.rows(session, (*APPLIED, *DIRTY), known=True, whole=DIRTY)

    def ensure(self, session: Session, applied: Any) -> None:
        """Before the run writes anything, outside any transaction: create the table if
        missing, recording the revisions ``applied()`` returns as ``adopted`` (applied
        before the table existed)."""
        if self._exists:
            return
        self.ledger.create(session)
        self._exists = True
        self.adopted = sorted(applied())
        stamp = now()
        note = "applied before the history table existed; checksum of its files then"
        for revision in self.adopted:
            self.ledger.insert(session, self._row(revision, "adopted", stamp, note=note))
        if self.adopted:
            logger.warning(
                "created the history table %s: its history starts now; the %d revisions "
                "applied before are recorded as adopted",
                self.ledger.name(session),
                len(self.adopted),
            )

    def mark(self) -> None:
        """The clock for the next revision starts now (for backends that do not say when
        a revision starts)."""
        self._mark = (now(), time.perf_counter())

    def started(self, session: Session, revision: str) -> None:
        seq = self._next()
        at = now()
        self._open[revision] = (seq, at, time.perf_counter())
        self.ledger.insert(session, self._row(revision, "started", at, seq=seq))

    def finished(self, session: Session, revision: str, outcome: str) -> bool:
        """Inside the revision's transaction: its outcome, committed with it. ``False``
        when its started row is gone: the revision rolled back its own transaction."""
        clock = time.perf_counter()
        opened = self._open.pop(revision, None)
        if opened is None and self._open:
            # The backend started a revision under another name than it finished (it
            # guessed the next in the plan): the row is this revision's.
            opened = self._open.pop(next(reversed(self._open)))
            self.ledger.update(session, self.run_id, opened[0], revision=revision[:255])
        if opened is not None:
            seq, at, since = opened
            checksum = self._checksum_of(revision)
            found = self.ledger.update(
                session,
                self.run_id,
                seq,
                outcome=outcome,
                finished_at=now(),
                seconds=round(clock - since, 6),
                checksum=checksum.exact if checksum else None,
                content_checksum=checksum.content if checksum else None,
            )
        else:
            at, since = self._mark or (now(), clock)
            row = self._row(revision, outcome, at, seconds=round(clock - since, 6))
            self.ledger.insert(session, row)
            found = 1
        self._mark = (now(), time.perf_counter())
        self.finished_revisions.add(revision)
        return found > 0

    def lost_started_row(self, session: Session, revision: str) -> bool:
        """Inside ``revision``'s transaction, before any rollback of ours: whether the row
        it started with is gone (the revision rolled back its own transaction)."""
        opened = self._open.get(revision)
        return opened is not None and not self.ledger.row_exists(session, self.run_id, opened[0])

    def discard(self, session: Session) -> None:
        """The transaction begun for a revision ends without one having run in it: its
        started row goes, inside that transaction."""
        for seq, _, _ in self._open.values():
            self.ledger.delete(session, self.run_id, seq)
        self._open.clear()

    def failed(self, session: Session, revision: str, error: str, *, partial: bool) -> None:
        """After ``revision`` failed and its transaction ended, on the lock's session: its
        ``started`` row survived, or the run saw it end its own transaction (``partial``):
        part of it committed, ``incomplete``; otherwise ``failed``."""
        opened = self._open.pop(revision, None)
        note = " ".join(error.split())[:1900]  # one line: status and verify print it so
        if opened is not None and self.ledger.row_exists(session, self.run_id, opened[0]):
            self.ledger.update(
                session, self.run_id, opened[0], outcome="incomplete", finished_at=now(), note=note
            )
            return
        at = opened[1] if opened else (self._mark or (now(), 0.0))[0]
        outcome = "incomplete" if partial else "failed"
        self.ensure(session, lambda: ())
        self.ledger.insert(session, self._row(revision, outcome, at, note=note))

    def record(
        self, session: Session, revision: str, outcome: str, note: str | None = None
    ) -> None:
        """One row written now, outside any revision (stamps' side effects, repairs)."""
        self.ledger.insert(session, self._row(revision, outcome, now(), note=note))

    def record_stamped(self, session: Session, revision: str, note: str | None = None) -> None:
        """``revision`` recorded applied by a stamp, with its checksum, unless this run
        already wrote its outcome (a backend whose stamp runs through ``before_commit``)."""
        if revision not in self.finished_revisions:
            self.record(session, revision, "stamped", note)

    def _database_user(self) -> str | None:
        if self._db_user is False:
            self._db_user = database_user(self._session) if self._session else None
        return self._db_user if isinstance(self._db_user, str) else None

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _row(
        self,
        revision: str,
        outcome: str,
        started_at: str,
        *,
        seq: int | None = None,
        seconds: float | None = None,
        note: str | None = None,
    ) -> LedgerRow:
        checksum = self._checksum_of(revision) if outcome != "started" else None
        finished = None if outcome == "started" else now()
        return LedgerRow(
            run_id=self.run_id,
            seq=self._next() if seq is None else seq,
            revision=revision[:255],
            operation=self.operation,
            outcome=outcome,
            backend=self.backend[:100],
            checksum=checksum.exact if checksum else None,
            content_checksum=checksum.content if checksum else None,
            started_at=started_at,
            finished_at=finished,
            seconds=seconds,
            db_user=self._database_user(),
            os_user=os_user(),
            host=hostname(),
            tool_version=tool_version(),
            note=note,
        )
