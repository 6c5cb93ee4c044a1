"""An example backend: numbered plain SQL files, on every database the core connects to.

A revision is ``versions/NNNN.up.sql`` and ``NNNN.down.sql`` (statements separated by
``;`` at the end of a line) plus ``NNNN.txt`` holding its message; the applied revisions
are rows of ``plainsql_applied``. Everything else (locking, hooks, errors, the fence,
reading without creating) comes from :mod:`pydapter_migrations.backend`.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from pydapter_migrations.backend import (
    AsyncMigrationAdapter,
    DatabaseURL,
    MigrationInitError,
    MigrationPlan,
    MigrationRun,
    Operation,
    Session,
    SyncMigrationAdapter,
    ahead_of_directory,
    plan_linear,
    resolve_linear,
)

__all__ = ["AsyncPlainSQLAdapter", "PlainSQLAdapter", "write_revision"]

_MARKER = "plainsql.txt"
_TABLE = "plainsql_applied"


class PlainSQLAdapter(SyncMigrationAdapter[None]):
    """Numbered plain SQL files, applied one transaction per revision."""

    migration_key: ClassVar[str] = "plainsql"
    supported_databases: ClassVar[frozenset[str]] = frozenset({"sqlite", "postgresql", "mysql"})

    @classmethod
    def _is_initialised(cls, directory: Path) -> bool:
        return (directory / _MARKER).is_file() and (directory / "versions").is_dir()

    @classmethod
    def _init(
        cls,
        directory: Path,
        *,
        url: DatabaseURL | None,
        models_module: ModuleType | str | None,
        **options: Any,
    ) -> None:
        if models_module is not None:
            raise MigrationInitError("the plainsql backend cannot autogenerate migrations")
        (directory / "versions").mkdir()
        (directory / _MARKER).write_text("plainsql migrations\n")

    @classmethod
    def _create(cls, directory: Path, message: str, **options: Any) -> str:
        versions = directory / "versions"
        for number in range(len(_order(directory)) + 1, 10_000):
            revision = f"{number:04d}"
            try:  # the message file claims the number, so two writers never share one
                with open(versions / f"{revision}.txt", "x", encoding="utf-8") as claim:
                    claim.write(message)
            except FileExistsError:
                continue
            write_revision(directory, revision, [], [])
            return revision
        raise MigrationInitError(f"{versions} holds 9999 revisions")

    @classmethod
    def _plan(cls, run: MigrationRun) -> MigrationPlan[None]:
        order = _order(run.directory)
        applied = cls._applied(run.directory, run.session)
        for revision in sorted(applied - set(order)):
            raise run.error(ahead_of_directory(revision), revision=revision)
        current = max(applied, default=None)
        return MigrationPlan(plan_linear(order, current, run.operation, run.target), None)

    @classmethod
    def _apply(cls, run: MigrationRun, plan: MigrationPlan[None]) -> None:
        db = run.session
        db.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (revision varchar(16) PRIMARY KEY)")
        up = run.operation == Operation.UPGRADE
        for revision in plan.revisions:
            db.execute("BEGIN")
            try:
                # Its 'started' row: on MySQL its first DDL statement commits it, so a
                # revision that dies half-way is known (elsewhere it rolls back with it).
                run.revision_started(revision)
                for statement in _statements(run.directory, revision, "up" if up else "down"):
                    db.execute(statement)
                run.before_commit(revision)
                if up:
                    db.execute(f"INSERT INTO {_TABLE} VALUES (?)", (revision,))
                else:
                    db.execute(f"DELETE FROM {_TABLE} WHERE revision = ?", (revision,))
            except BaseException:
                run.revision_failed(revision)
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            run.revision_done(revision)

    @classmethod
    def _stamp(cls, run: MigrationRun) -> None:
        order = _order(run.directory)
        revision = resolve_linear(order, run.target)
        wanted = order[: order.index(revision) + 1] if revision is not None else []
        db = run.session
        db.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (revision varchar(16) PRIMARY KEY)")
        db.execute("BEGIN")
        try:
            run.before_commit(revision or "base")
            db.execute(f"DELETE FROM {_TABLE}")
            for applied in wanted:
                db.execute(f"INSERT INTO {_TABLE} VALUES (?)", (applied,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if revision is not None:
            run.revision_done(revision)

    @classmethod
    def _current(cls, directory: Path, session: Session) -> str | None:
        return max(cls._applied(directory, session), default=None)

    @classmethod
    def _applied(cls, directory: Path, session: Session) -> frozenset[str]:
        try:
            rows = session.execute(f"SELECT revision FROM {_TABLE}")
        except Exception:  # no table yet: nothing applied
            if session.in_transaction():
                session.execute("ROLLBACK")
            return frozenset()
        return frozenset(str(row[0]) for row in rows)

    @classmethod
    def _revision_files(cls, directory: Path) -> dict[str, tuple[Path, ...]]:
        # A revision is its two SQL files: the history table's checksums cover both.
        versions = directory / "versions"
        return {
            revision: (versions / f"{revision}.up.sql", versions / f"{revision}.down.sql")
            for revision in _order(directory)
        }

    @classmethod
    def _history(cls, directory: Path, session: Session | None) -> list[dict[str, Any]]:
        applied = cls._applied(directory, session) if session is not None else None
        order = _order(directory)
        return [
            {
                "revision": revision,
                "description": (directory / "versions" / f"{revision}.txt").read_text(),
                "down_revision": order[index - 1] if index else None,
                "applied": None if applied is None else revision in applied,
                "path": str(directory / "versions" / f"{revision}.up.sql"),
            }
            for index, revision in enumerate(order)
        ]


class AsyncPlainSQLAdapter(AsyncMigrationAdapter):
    """:class:`PlainSQLAdapter` as coroutines."""

    migration_key: ClassVar[str] = "async_plainsql"
    sync_adapter = PlainSQLAdapter


def _order(directory: Path) -> list[str]:
    return sorted(p.stem for p in (directory / "versions").glob("*.txt"))


def _statements(directory: Path, revision: str, direction: str) -> list[str]:
    text = (directory / "versions" / f"{revision}.{direction}.sql").read_text(encoding="utf-8")
    return [s.strip() for s in text.split(";\n") if s.strip()]


def write_revision(
    directory: Path | str, revision: str, upgrade: list[str], downgrade: list[str]
) -> None:
    """Give ``revision`` these statements (the conformance kit's ``write_revision``)."""
    for direction, statements in (("up", upgrade), ("down", downgrade)):
        path = Path(directory) / "versions" / f"{revision}.{direction}.sql"
        # Written aside and renamed: a concurrent reader never sees half a file.
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text("".join(f"{statement};\n" for statement in statements))
        os.replace(partial, path)
