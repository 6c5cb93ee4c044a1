"""A small real SQLite adapter, installed by the CLI tests as a throwaway distribution.

It lets the command-line tests run without the shipped plugins: revisions are
``versions/NNNN_slug.up.sql`` / ``.down.sql`` pairs, the applied revision sits in a
``ref_version`` table, and each revision runs in its own transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydapter_migrations import BaseMigrationAdapter
from pydapter_migrations.backend import (
    AsyncMigrationAdapter,
    MigrationPlan,
    MigrationRun,
    Operation,
    Session,
    SyncMigrationAdapter,
    plan_linear,
    resolve_linear,
)

MARKER = "ref-migrations.txt"


class RefAdapter(SyncMigrationAdapter[None]):
    migration_key = "ref"
    supported_databases = frozenset({"sqlite"})

    @classmethod
    def _is_initialised(cls, directory: Path) -> bool:
        return (directory / MARKER).is_file()

    @classmethod
    def _init(cls, directory: Path, *, url: Any, models_module: Any, **kw: Any) -> None:
        (directory / "versions").mkdir()
        (directory / MARKER).write_text(f"models: {models_module}\n")

    @classmethod
    def _order(cls, directory: Path) -> list[str]:
        return sorted(p.name[: -len(".up.sql")] for p in (directory / "versions").glob("*.up.sql"))

    @classmethod
    def _create(cls, directory: Path, message: str, *, slug: str, **kw: Any) -> str:
        revision = f"{len(cls._order(directory)) + 1:04d}_{slug}"
        for suffix in ("up", "down"):
            (directory / "versions" / f"{revision}.{suffix}.sql").write_text(f"-- {message}\n")
        return revision

    @staticmethod
    def _read(session: Session) -> str | None:
        session.execute("CREATE TABLE IF NOT EXISTS ref_version (revision TEXT)")
        return session.scalar("SELECT revision FROM ref_version")  # type: ignore[no-any-return]

    @classmethod
    def _current(cls, directory: Path, session: Session) -> str | None:
        return cls._read(session)

    @classmethod
    def _applied(cls, directory: Path, session: Session) -> frozenset[str]:
        order, current = cls._order(directory), cls._read(session)
        if current is None:
            return frozenset()
        return frozenset(order[: order.index(current) + 1] if current in order else [current])

    @classmethod
    def _plan(cls, run: MigrationRun) -> MigrationPlan[None]:
        order = cls._order(run.directory)
        current = cls._read(run.session)
        return MigrationPlan(plan_linear(order, current, run.operation, run.target), None)

    @classmethod
    def _apply(cls, run: MigrationRun, plan: MigrationPlan[None]) -> None:
        order = cls._order(run.directory)
        db = run.session
        upgrading = run.operation == Operation.UPGRADE
        for revision in plan.revisions:
            script = (
                run.directory / "versions" / f"{revision}.{'up' if upgrading else 'down'}.sql"
            ).read_text()
            index = order.index(revision)
            new = revision if upgrading else (order[index - 1] if index else None)
            db.execute("BEGIN")
            try:
                for statement in script.split(";"):
                    if statement.strip() and not all(
                        line.startswith("--") for line in statement.strip().splitlines()
                    ):
                        db.execute(statement)
                run.before_commit(revision)
                db.execute("DELETE FROM ref_version")
                if new is not None:
                    db.execute("INSERT INTO ref_version VALUES (?)", (new,))
            except BaseException:
                run.revision_failed(revision)
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            run.revision_done(revision)

    @classmethod
    def _stamp(cls, run: MigrationRun) -> None:
        revision = resolve_linear(cls._order(run.directory), run.target)
        cls._read(run.session)
        run.session.execute("DELETE FROM ref_version")
        if revision is not None:
            run.session.execute("INSERT INTO ref_version VALUES (?)", (revision,))
            run.revision_done(revision)

    @classmethod
    def _history(cls, directory: Path, session: Session | None) -> list[dict[str, Any]]:
        order = cls._order(directory)
        current = cls._read(session) if session is not None else None
        applied_upto = order.index(current) + 1 if current in order else 0
        return [
            {
                "revision": revision,
                "description": (directory / "versions" / f"{revision}.up.sql")
                .read_text()
                .splitlines()[0][3:],
                "down_revision": order[i - 1] if i else None,
                "applied": (i < applied_upto) if session is not None else None,
            }
            for i, revision in enumerate(order)
        ]


class AsyncRefAdapter(AsyncMigrationAdapter):
    migration_key = "async_ref"
    sync_adapter = RefAdapter


class RawAdapter(BaseMigrationAdapter):
    """An adapter that bypasses the core's error mapping and fails with a raw exception
    quoting its connection string, as a careless third-party adapter might."""

    migration_key = "raw"

    @classmethod
    def get_current_revision(cls, *, directory: Any, connection_string: str, **kw: Any) -> None:
        raise RuntimeError(f"cannot reach {connection_string}\nsecond line")
