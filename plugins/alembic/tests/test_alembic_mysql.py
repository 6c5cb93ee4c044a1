"""MariaDB (standing for MySQL) through every URL that names it: the sync and async
adapters, the plain ``alembic`` command with an asyncio driver, and the driver each runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic_helpers import write_revision_bodies
from pydapter_migrations_alembic import AlembicAdapter, AsyncAlembicAdapter

from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

pytestmark = pytest.mark.mariadb

RECORD_DRIVER = """\
    bind = op.get_bind()
    module = type(bind.connection.driver_connection).__module__.split(".")[0]
    op.execute(sa.text("CREATE TABLE drivers (name varchar(40))"))
    op.execute(sa.text("INSERT INTO drivers VALUES (:m)").bindparams(m=module))"""
DROP = '    op.execute("DROP TABLE drivers")'


def _with_scheme(url: str, scheme: str) -> str:
    return scheme + url[url.index("://") :]


def _project(tmp_path: Path) -> tuple[Path, str]:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration("record the driver", directory=directory)
    write_revision_bodies(directory, revision, RECORD_DRIVER, DROP)
    return directory, revision


@pytest.mark.parametrize(
    ("scheme", "module"),
    [
        ("mysql", "pymysql"),  # bare: PyMySQL (SQLAlchemy's own default is mysqlclient)
        ("mysql+pymysql", "pymysql"),
        ("mariadb+pymysql", "pymysql"),
        ("mysql+mysqldb", "MySQLdb"),
    ],
)
def test_the_named_driver_runs_the_revisions(
    tmp_path: Path, mariadb_url: str, scheme: str, module: str
) -> None:
    pytest.importorskip(module)
    url = _with_scheme(mariadb_url, scheme)
    directory, revision = _project(tmp_path)
    AlembicAdapter.upgrade(directory=directory, connection_string=url)
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    assert db.query("SELECT name FROM drivers") == [(module,)]
    assert AlembicAdapter.get_current_revision(directory=directory, connection_string=url) == (
        revision
    )
    AlembicAdapter.downgrade("base", directory=directory, connection_string=url)
    assert "drivers" not in db.tables()


@pytest.mark.parametrize("scheme", ["mysql+aiomysql", "mysql+asyncmy", "mariadb+aiomysql"])
def test_async_urls_run_on_the_locks_session(tmp_path: Path, mariadb_url: str, scheme: str) -> None:
    # The asyncio drivers speak the same protocol as PyMySQL (aiomysql is built on it):
    # the migration runs off the event loop on the session that holds the lock.
    pytest.importorskip(scheme.partition("+")[2])
    import asyncio

    url = _with_scheme(mariadb_url, scheme)
    directory, revision = _project(tmp_path)

    async def upgrade() -> str | None:
        await AsyncAlembicAdapter.upgrade(directory=directory, connection_string=url)
        return await AsyncAlembicAdapter.get_current_revision(
            directory=directory, connection_string=url
        )

    assert asyncio.run(upgrade()) == revision
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    assert db.query("SELECT name FROM drivers") == [("pymysql",)]
    AlembicAdapter.downgrade("base", directory=directory, connection_string=url)
    assert "drivers" not in db.tables()


@pytest.mark.parametrize(("scheme", "module"), [("mysql+aiomysql", "aiomysql"),
                                                ("mysql+asyncmy", "asyncmy")])  # fmt: skip
def test_plain_alembic_command_with_an_asyncio_driver(
    tmp_path: Path, mariadb_url: str, scheme: str, module: str
) -> None:
    # Without pydapter-migrations, the generated env.py connects through the URL's own
    # asyncio driver, as Alembic's async recipe does.
    pytest.importorskip(module)
    directory, revision = _project(tmp_path)
    env = {**os.environ, "DATABASE_URL": _with_scheme(mariadb_url, scheme)}
    ini = str(directory / "alembic.ini")
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", ini, "upgrade", "head"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    assert db.query("SELECT name FROM drivers") == [(module,)]
    assert AlembicAdapter.get_current_revision(
        directory=directory, connection_string=mariadb_url
    ) == (revision)
