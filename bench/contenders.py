"""What each contender runs, on one project directory and one database.

* raw Alembic: ``alembic.command`` with the URL set on the ``Config`` (how a program
  drives Alembic);
* raw Alembic on a real project (:func:`raw_alembic_shipped`): its own ini, as its package
  drives it;
* raw yoyo: ``yoyo.get_backend`` + ``read_migrations`` + ``backend.lock()`` +
  ``apply_migrations`` / ``rollback_migrations``;
* the adapters: this project's public API (:func:`adapter` gives the class);
* the floor: the driver alone (sqlite3 / psycopg), one transaction per revision holding
  its DDL and one version-row update; for reads, one ``SELECT``;
* whole processes: the real console scripts of this interpreter (:func:`script`).
"""

from __future__ import annotations

import io
import shutil
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from databases import Database
from projects import ShippedProject, create_sql, drop_sql
from timing import quiet

#: Console scripts of this interpreter (not pyenv shims, which add ~50 ms per start).
SCRIPTS_DIR = Path(sysconfig.get_path("scripts"))


def raw_alembic_config(directory: Path, db: Database) -> Any:
    """How a program drives Alembic: Config from the ini, URL set on it."""
    from alembic.config import Config

    config = Config(str(directory / "alembic.ini"), stdout=io.StringIO())
    config.set_main_option("sqlalchemy.url", db.sqlalchemy_url.replace("%", "%%"))
    return config


def raw_alembic(operation: str, directory: Path, db: Database, target: str = "head") -> None:
    from alembic import command

    config = raw_alembic_config(directory, db)
    with quiet():
        if operation == "upgrade":
            command.upgrade(config, target)
        elif operation == "downgrade":
            command.downgrade(config, target)
        elif operation == "current":
            command.current(config)
        else:
            raise ValueError(operation)


def raw_alembic_shipped(
    operation: str, project: ShippedProject, db: Database, target: str = "heads"
) -> None:
    """A project's own ini driven through ``alembic.command`` the way its package drives
    it (MLflow's ``_get_alembic_config``): the ini, an absolute script location and the
    URL set in memory."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(project.ini), stdout=io.StringIO())
    config.set_main_option("script_location", str(project.script_location))
    config.set_main_option("sqlalchemy.url", db.sqlalchemy_url.replace("%", "%%"))
    with quiet():
        if operation == "upgrade":
            command.upgrade(config, target)
        else:
            raise ValueError(operation)


def raw_yoyo(operation: str, directory: Path, db: Database) -> None:
    from yoyo import get_backend, read_migrations

    backend = get_backend(db.yoyo_url)
    try:
        migrations = read_migrations(str(directory / "migrations"))
        with quiet(), backend.lock():
            if operation == "upgrade":
                backend.apply_migrations(backend.to_apply(migrations))
            elif operation == "downgrade":
                backend.rollback_migrations(backend.to_rollback(migrations))
            else:
                raise ValueError(operation)
    finally:
        backend.connection.close()


def adapter(kind: str) -> Any:
    """``AlembicAdapter`` (``kind="alembic"``) or ``YoyoAdapter``."""
    if kind == "alembic":
        from pydapter_migrations_alembic import AlembicAdapter

        return AlembicAdapter
    from pydapter_migrations_yoyo import YoyoAdapter

    return YoyoAdapter


_FLOOR_TABLE = "floor_version"


def floor(operation: str, db: Database, n: int) -> None:
    """The least a migration tool must do: one transaction per revision holding its DDL
    and a version-row update (upgrade), or just read the version (``current``/``noop``)."""
    conn = db.connect()
    try:
        if operation in ("current", "noop"):
            conn.execute(f"SELECT num FROM {_FLOOR_TABLE}").fetchone()
            return
        conn.execute(f"CREATE TABLE IF NOT EXISTS {_FLOOR_TABLE} (num integer)")
        if conn.execute(f"SELECT num FROM {_FLOOR_TABLE}").fetchone() is None:
            conn.execute(f"INSERT INTO {_FLOOR_TABLE} VALUES (0)")
        mark = "?" if db.path is not None else "%s"
        steps: Sequence[tuple[str, int]]
        if operation == "upgrade":
            steps = [(create_sql(i), i) for i in range(1, n + 1)]
        elif operation == "downgrade":
            steps = [(drop_sql(i), i - 1) for i in range(n, 0, -1)]
        else:
            raise ValueError(operation)
        update = f"UPDATE {_FLOOR_TABLE} SET num = {mark}"
        for ddl, version in steps:
            conn.execute("BEGIN")
            conn.execute(ddl)
            conn.execute(update, (version,))
            conn.execute("COMMIT")
    finally:
        conn.close()


def script(name: str) -> str:
    """The real console script of this interpreter (``alembic``, ``yoyo``, ...)."""
    path = SCRIPTS_DIR / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise SystemExit(f"{name} is not installed")
        return found
    return str(path)
