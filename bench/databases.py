"""The databases the contenders run on: a fresh one per run, SQLite files in a scratch
directory (tmpfs by default), or PostgreSQL or MariaDB databases on a throwaway server.

The bench's own set-up (creating and dropping server databases, counting the tables a
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

#: Every database the benchmarks can run on; ``--backends`` picks among them.
BACKENDS = ("sqlite", "postgresql", "mariadb")
#: What a script runs on when ``--backends`` is not given.
DEFAULT_BACKENDS = ("sqlite", "postgresql")


class Databases:
    """Fresh databases per run: SQLite files in a scratch dir, or PostgreSQL or MariaDB
    databases on a throwaway server (created and dropped with an admin connection)."""

    def __init__(self, backend: str, scratch: Path, server: Any = None, prefix: str = "b") -> None:
        self.backend = backend
        self.scratch = scratch
        self.server = server
        #: Starts every database name: processes sharing one server each need their own.
        self.prefix = prefix
        self._count = 0
        self._admin: Any = None
        if backend != "sqlite":
            from pydapter_migrations.connections import connect

            admin = server.url("postgres" if backend == "postgresql" else "")
            self._admin = connect(admin, purpose="bench")

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
        self._admin.execute(f"CREATE DATABASE {self._quoted(name)}")
        return Database(self, name, None)

    def drop(self, db: Database) -> None:
        if db.path is not None:
            for leftover in db.path.parent.glob(db.path.name + "*"):
                leftover.unlink(missing_ok=True)
        elif self.backend == "mariadb":
            self._admin.execute(f"DROP DATABASE IF EXISTS {self._quoted(db.name)}")
        else:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')

    def _quoted(self, name: str) -> str:
        return f"`{name}`" if self.backend == "mariadb" else f'"{name}"'

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
        server: Any = None
        if spec["server"] is not None:
            if spec["backend"] == "mariadb":
                from pydapter_migrations.testing.mariadb import MariaDBServer

                server = MariaDBServer()  # not started: the other process's, by address
            else:
                from pydapter_migrations.testing.postgres import PostgresServer

                server = PostgresServer()  # not started: the other process's, by address
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
        """The URL raw Alembic takes (psycopg 3, PyMySQL named explicitly)."""
        if self.path is not None:
            return f"sqlite:///{self.path}"
        driver = "mysql+pymysql" if self.owner.backend == "mariadb" else "postgresql+psycopg"
        return str(self.owner.server.url(self.name, driver=driver))

    @property
    def yoyo_url(self) -> str:
        """The URL raw yoyo takes (its own schemes: ``mysql`` is PyMySQL)."""
        if self.path is not None:
            return f"sqlite:///{self.path}"
        driver = "mysql" if self.owner.backend == "mariadb" else "postgresql+psycopg"
        return str(self.owner.server.url(self.name, driver=driver))

    def connect(self) -> Any:
        """A plain driver connection in autocommit mode (we issue BEGIN/COMMIT): the
        floor's, sqlite3, psycopg or PyMySQL with nothing on top."""
        if self.path is not None:
            return sqlite3.connect(self.path, isolation_level=None)
        if self.owner.backend == "mariadb":
            import pymysql

            server = self.owner.server
            return _Executing(
                pymysql.connect(
                    host="127.0.0.1",
                    port=server.port,
                    user=server.user,
                    password=server.password,
                    database=self.name,
                    autocommit=True,
                )
            )
        import psycopg

        return psycopg.connect(**self.owner.psycopg_kwargs(self.name), autocommit=True)

    def drop(self) -> None:
        self.owner.drop(self)


class _Executing:
    """A DB-API connection with ``execute`` on it, as sqlite3's and psycopg's have: the
    floor's code is the same on every driver."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._cursor = connection.cursor()

    def execute(self, sql: str, params: Any = None) -> Any:
        self._cursor.execute(sql, params)
        return self._cursor

    def close(self) -> None:
        self._connection.close()


def count_tables(db: Database) -> int:
    """How many ``t_i`` tables exist (to check each contender really did the work)."""
    from pydapter_migrations.connections import connect

    if db.path is not None:
        sql = (
            "SELECT count(*) FROM sqlite_master "
            "WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\'"
        )
    elif db.owner.backend == "mariadb":
        sql = (
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name LIKE 't\\_%'"
        )
    else:
        sql = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 't\\_%'"
    with connect(db.url, purpose="bench check") as session:
        return int(session.scalar(sql))


@contextlib.contextmanager
def databases(backend: str, sqlite_dir: Path | None = None) -> Iterator[Databases]:
    """Databases of ``backend``; PostgreSQL and MariaDB run on a throwaway server (the
    tests' own) stopped at exit."""
    scratch = Path(tempfile.mkdtemp(prefix="pydm-bench-db-", dir=sqlite_dir))
    try:
        if backend == "sqlite":
            dbs = Databases(backend, scratch)
            yield dbs
            return
        from pydapter_migrations.testing.mariadb import MariaDBServer
        from pydapter_migrations.testing.postgres import PostgresServer

        server_class: Any = MariaDBServer if backend == "mariadb" else PostgresServer
        with server_class() as server:
            dbs = Databases(backend, scratch, server)
            try:
                yield dbs
            finally:
                dbs.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
