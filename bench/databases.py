"""The databases the contenders run on: a fresh one per run, SQLite files in a scratch
directory (tmpfs by default) or PostgreSQL databases on a throwaway server.

The bench's own set-up (creating and dropping PostgreSQL databases, counting the tables a
contender made) connects through ``pydapter_migrations.connections.connect``. The floor
contender connects with the driver alone (:meth:`Database.connect`): that is what it
measures.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BACKENDS = ("sqlite", "postgresql")


class Databases:
    """Fresh databases per run: SQLite files in a scratch dir, or PostgreSQL databases
    on a throwaway server (created and dropped with an admin connection)."""

    def __init__(self, backend: str, scratch: Path, server: Any = None, prefix: str = "b") -> None:
        self.backend = backend
        self.scratch = scratch
        self.server = server
        #: Starts every database name: processes sharing one server each need their own.
        self.prefix = prefix
        self._count = 0
        self._admin: Any = None
        if backend == "postgresql":
            from pydapter_migrations.connections import connect

            self._admin = connect(server.url("postgres"), purpose="bench")

    def psycopg_kwargs(self, database: str) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.server.port,
            "user": self.server.user,
            "password": self.server.password,
            "dbname": database,
        }

    def fresh(self) -> Database:
        self._count += 1
        name = f"{self.prefix}{self._count}"
        if self.backend == "sqlite":
            path = self.scratch / f"{name}.db"
            for leftover in (path, path.with_name(path.name + "-journal")):
                leftover.unlink(missing_ok=True)
            return Database(self, name, path)
        self._admin.execute(f'CREATE DATABASE "{name}"')
        return Database(self, name, None)

    def drop(self, db: Database) -> None:
        if db.path is not None:
            for leftover in db.path.parent.glob(db.path.name + "*"):
                leftover.unlink(missing_ok=True)
        else:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()

    # -- another process on the same databases (bench/instructions.py) --------------

    def spec(self, prefix: str) -> dict[str, Any]:
        """What :meth:`from_spec` needs to make databases here from another process, each
        named with ``prefix``. It holds the throwaway server's password: pass it in the
        environment, never on a command line."""
        server = self.server
        return {
            "backend": self.backend,
            "scratch": str(self.scratch),
            "prefix": prefix,
            "server": None
            if server is None
            else {"port": server.port, "user": server.user, "password": server.password},
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Databases:
        server = None
        if spec["server"] is not None:
            from pydapter_migrations.testing.postgres import PostgresServer

            server = PostgresServer()  # not started: the other process's server, by address
            server.port = spec["server"]["port"]
            server.user = spec["server"]["user"]
            server.password = spec["server"]["password"]
        return cls(spec["backend"], Path(spec["scratch"]), server, prefix=spec["prefix"])


@dataclass
class Database:
    owner: Databases
    name: str
    path: Path | None

    @property
    def url(self) -> str:
        """The URL our adapters take (``postgresql://`` is psycopg 3 for them)."""
        if self.path is not None:
            return f"sqlite:///{self.path}"
        return str(self.owner.server.url(self.name))

    @property
    def sqlalchemy_url(self) -> str:
        """The URL raw Alembic takes (psycopg 3 named explicitly)."""
        if self.path is not None:
            return f"sqlite:///{self.path}"
        return str(self.owner.server.url(self.name, driver="postgresql+psycopg"))

    @property
    def yoyo_url(self) -> str:
        if self.path is not None:
            return f"sqlite:///{self.path}"
        return str(self.owner.server.url(self.name, driver="postgresql+psycopg"))

    def connect(self) -> Any:
        """A plain driver connection in autocommit mode (we issue BEGIN/COMMIT): the
        floor's, sqlite3 or psycopg with nothing on top."""
        if self.path is not None:
            return sqlite3.connect(self.path, isolation_level=None)
        import psycopg

        return psycopg.connect(**self.owner.psycopg_kwargs(self.name), autocommit=True)

    def drop(self) -> None:
        self.owner.drop(self)


def count_tables(db: Database) -> int:
    """How many ``t_i`` tables exist (to check each contender really did the work)."""
    from pydapter_migrations.connections import connect

    if db.path is not None:
        sql = (
            "SELECT count(*) FROM sqlite_master "
            "WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\'"
        )
    else:
        sql = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 't\\_%'"
    with connect(db.url, purpose="bench check") as session:
        return int(session.scalar(sql))


@contextlib.contextmanager
def databases(backend: str, sqlite_dir: Path | None = None) -> Iterator[Databases]:
    """Databases of ``backend``; PostgreSQL runs on a throwaway server stopped at exit."""
    scratch = Path(tempfile.mkdtemp(prefix="pydm-bench-db-", dir=sqlite_dir))
    try:
        if backend == "sqlite":
            dbs = Databases(backend, scratch)
            yield dbs
            return
        from pydapter_migrations.testing.postgres import PostgresServer

        with PostgresServer() as server:
            dbs = Databases(backend, scratch, server)
            try:
                yield dbs
            finally:
                dbs.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
