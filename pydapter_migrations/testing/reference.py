"""A small reference adapter: plain SQL files, SQLite and PostgreSQL, stdlib + psycopg.

The core's own tests run the conformance kit against it, so the kit is proven on an
adapter that only fills in the private steps of :class:`SyncMigrationAdapter`. It is
also the shortest complete example of an adapter.

A revision is ``versions/<NNNN>.sql``::

    -- message: add users
    -- up
    CREATE TABLE users (id integer);
    -- down
    DROP TABLE users;
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from ..backend import (
    AsyncMigrationAdapter,
    DatabaseURL,
    MigrationPlan,
    MigrationRun,
    Operation,
    Session,
    SyncMigrationAdapter,
    ahead_of_directory,
    plan_linear,
    resolve_linear,
)

__all__ = ["AsyncReferenceAdapter", "ReferenceAdapter", "write_reference_revision"]

_MARKER = "reference-migrations.txt"
_VERSION_TABLE = "pydapter_reference_version"
_SECTION = re.compile(r"^-- (up|down)\s*$", re.MULTILINE)


def _statements(text: str) -> list[str]:
    return [s.strip() for s in text.split(";\n") if s.strip() and s.strip() != ";"]


def _read(path: Path) -> tuple[str, dict[str, list[str]]]:
    text = path.read_text()
    message = text.splitlines()[0].removeprefix("-- message:").strip()
    parts = _SECTION.split(text)
    sections = {parts[i]: _statements(parts[i + 1]) for i in range(1, len(parts) - 1, 2)}
    return message, sections


def write_reference_revision(
    directory: Path, revision: str, upgrade: list[str], downgrade: list[str]
) -> None:
    """The kit's ``write_revision`` for this adapter."""
    path = Path(directory) / "versions" / f"{revision}.sql"
    message, _ = _read(path)
    up = "".join(f"{s};\n" for s in upgrade)
    down = "".join(f"{s};\n" for s in downgrade)
    path.write_text(f"-- message: {message}\n-- up\n{up}-- down\n{down}")


def _read_current(session: Session) -> str | None:
    if session.family == "sqlite":
        exists = session.scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_VERSION_TABLE,)
        )
    else:
        exists = session.scalar("SELECT to_regclass(?)", (_VERSION_TABLE,))
    if not exists:
        return None
    return session.scalar(f"SELECT revision FROM {_VERSION_TABLE}")  # type: ignore[no-any-return]


class ReferenceAdapter(SyncMigrationAdapter[None]):
    """Plain SQL revisions numbered 0001, 0002, ... in ``versions/``."""

    migration_key: ClassVar[str] = "reference"
    supports_sql: ClassVar[bool] = True

    @classmethod
    def _order(cls, directory: Path) -> list[str]:
        return sorted(p.stem for p in (directory / "versions").glob("*.sql"))

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
        **kwargs: Any,
    ) -> None:
        if models_module is not None:
            raise ValueError("the reference backend cannot autogenerate; drop models_module")
        (directory / "versions").mkdir()
        (directory / _MARKER).write_text("reference adapter migrations\n")

    @classmethod
    def _create(
        cls,
        directory: Path,
        message: str,
        *,
        autogenerate: bool | None,
        slug: str,
        url: DatabaseURL | None,
        **kwargs: Any,
    ) -> str:
        order = cls._order(directory)
        revision = f"{int(order[-1]) + 1 if order else 1:04d}"
        one_line = " ".join(message.split())
        # Written aside and renamed, so that a concurrent history never reads it half-made.
        partial = directory / "versions" / f".{revision}.sql.partial"
        partial.write_text(f"-- message: {one_line}\n-- up\n-- down\n")
        os.replace(partial, directory / "versions" / f"{revision}.sql")
        return revision

    @classmethod
    def _plan(cls, run: MigrationRun) -> MigrationPlan[None]:
        current = _read_current(run.session)
        order = cls._order(run.directory)
        if current is not None and current not in order:
            raise run.error(ahead_of_directory(current))
        return MigrationPlan(plan_linear(order, current, run.operation, run.target), None)

    @classmethod
    def _apply(cls, run: MigrationRun, plan: MigrationPlan[None]) -> None:
        order = cls._order(run.directory)
        upgrading = run.operation == Operation.UPGRADE
        session = run.session
        session.execute(f"CREATE TABLE IF NOT EXISTS {_VERSION_TABLE} (revision text)")
        for revision in plan.revisions:
            _, sections = _read(run.directory / "versions" / f"{revision}.sql")
            index = order.index(revision)
            after = revision if upgrading else (order[index - 1] if index else None)
            session.execute("BEGIN")
            try:
                for statement in sections["up" if upgrading else "down"]:
                    session.execute(statement)
                run.before_commit(revision)
                session.execute(f"DELETE FROM {_VERSION_TABLE}")
                if after is not None:
                    session.execute(f"INSERT INTO {_VERSION_TABLE} VALUES (?)", (after,))
                session.execute("COMMIT")
            except BaseException:
                run.revision_failed(revision)
                session.execute("ROLLBACK")
                raise
            run.revision_done(revision)

    @classmethod
    def _stamp(cls, run: MigrationRun) -> None:
        revision = resolve_linear(cls._order(run.directory), run.target)
        session = run.session
        session.execute(f"CREATE TABLE IF NOT EXISTS {_VERSION_TABLE} (revision text)")
        session.execute("BEGIN")
        try:
            session.execute(f"DELETE FROM {_VERSION_TABLE}")
            if revision is not None:
                session.execute(f"INSERT INTO {_VERSION_TABLE} VALUES (?)", (revision,))
            run.before_commit(revision or "base")
            session.execute("COMMIT")
        except BaseException:
            session.execute("ROLLBACK")
            raise
        if revision is not None:
            run.revision_done(revision)

    @classmethod
    def _render_sql(
        cls, directory: Path, session: Session, operation: Operation, target: str
    ) -> str:
        order = cls._order(directory)
        current = _read_current(session)
        lines = []
        for revision in plan_linear(order, current, operation, target):
            _, sections = _read(directory / "versions" / f"{revision}.sql")
            section = "up" if operation == Operation.UPGRADE else "down"
            lines += [f"-- {revision}", *(f"{s};" for s in sections[section])]
        return "\n".join(lines) + "\n"

    @classmethod
    def _current(cls, directory: Path, session: Session) -> str | None:
        return _read_current(session)

    @classmethod
    def _applied(cls, directory: Path, session: Session) -> frozenset[str]:
        current = _read_current(session)
        order = cls._order(directory)
        if current is None:
            return frozenset()
        return frozenset(order[: order.index(current) + 1] if current in order else [current])

    @classmethod
    def _history(cls, directory: Path, session: Session | None) -> list[dict[str, Any]]:
        order = cls._order(directory)
        current = _read_current(session) if session is not None else None
        applied_count = order.index(current) + 1 if current in order else 0
        return [
            {
                "revision": revision,
                "description": _read(directory / "versions" / f"{revision}.sql")[0],
                "down_revision": order[i - 1] if i else None,
                "applied": (i < applied_count) if session is not None else None,
                "path": str(directory / "versions" / f"{revision}.sql"),
            }
            for i, revision in enumerate(order)
        ]


class AsyncReferenceAdapter(AsyncMigrationAdapter):
    """The async twin of :class:`ReferenceAdapter`."""

    migration_key: ClassVar[str] = "async_reference"
    sync_adapter = ReferenceAdapter
