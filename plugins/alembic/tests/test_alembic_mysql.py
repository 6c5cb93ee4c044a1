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


def test_the_lock_connection_runs_out_of_autocommit_and_comes_back_in_it(mariadb_url: str) -> None:
    # MariaDB commits around DDL whatever the client does; SQLAlchemy's own way there
    # (the driver out of autocommit mode) keeps the statements after a DDL statement in
    # the transaction. The core's session is handed back in autocommit mode, still
    # holding the lock.
    from pydapter_migrations_alembic._environment import create_engine
    from sqlalchemy import text

    from pydapter_migrations.locking import database_lock, mysql_lock_name

    url = DatabaseURL.parse(mariadb_url)
    with database_lock(url, timeout=5) as lock:
        held = lock.session.connection
        engine = create_engine(url, lent=lock.session)
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is held
            connection.execute(text("CREATE TABLE lent (id integer)"))
            assert held.get_autocommit() is False
            connection.execute(text("INSERT INTO lent VALUES (1)"))
            connection.rollback()
        engine.dispose()
        assert held.open and held.get_autocommit() is True
        cursor = held.cursor()
        cursor.execute("SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (mysql_lock_name(url),))
        assert cursor.fetchone() == (1,)
        cursor.execute("SELECT count(*) FROM lent")  # the DDL committed, the row did not
        assert cursor.fetchone() == (0,)


def _items_then(tmp_path: Path, upgrade_body: str) -> tuple[Path, str, str]:
    """A project of two revisions: one creating ``items``, then one running
    ``upgrade_body`` (its downgrade empties ``items``); the directory and both ids."""
    from alembic_helpers import table_revision

    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    table = table_revision(directory, "items")
    second = AlembicAdapter.create_migration("then", False, directory=directory)
    down = "    op.execute(sa.text('DELETE FROM items'))"
    write_revision_bodies(directory, second, upgrade_body, down)
    return directory, table, second


def test_an_autocommit_block_commits_as_it_runs_and_the_rest_rolls_back(
    tmp_path: Path, mariadb_url: str
) -> None:
    from pydapter_migrations import MigrationUpgradeError

    directory, table, fill = _items_then(
        tmp_path,
        "    with op.get_context().autocommit_block():\n"
        "        op.execute(sa.text('INSERT INTO items VALUES (1)'))\n"
        "    op.execute(sa.text('INSERT INTO items VALUES (2)'))\n"
        "    op.execute(sa.text('INSERT INTO no_such_table VALUES (3)'))",
    )
    kw = {"directory": directory, "connection_string": mariadb_url}
    with pytest.raises(MigrationUpgradeError) as info:
        AlembicAdapter.upgrade(**kw)
    assert info.value.revision == fill
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    assert db.query("SELECT id FROM items") == [(1,)]
    assert AlembicAdapter.get_current_revision(**kw) == table
    # What the block committed is the revision's half: later runs refuse until repaired.
    with pytest.raises(MigrationUpgradeError, match="repair") as refused:
        AlembicAdapter.upgrade(**kw)
    assert refused.value.revision == fill


def test_a_revision_that_turns_autocommit_on_is_stopped_and_named(
    tmp_path: Path, mariadb_url: str
) -> None:
    # SET autocommit=1 commits the revision's transaction and lets every statement after
    # it commit as it runs: the revision is not recorded as applied, nothing after it
    # runs, and later runs refuse until the database is checked and repaired.
    from alembic_helpers import table_revision

    from pydapter_migrations import MigrationUpgradeError

    directory, table, switch = _items_then(
        tmp_path,
        "    op.execute(sa.text('SET autocommit = 1'))\n"
        "    op.execute(sa.text('INSERT INTO items VALUES (1)'))",
    )
    after = table_revision(directory, "later")
    kw = {"directory": directory, "connection_string": mariadb_url}
    with pytest.raises(MigrationUpgradeError, match="SET autocommit=1") as info:
        AlembicAdapter.upgrade(**kw)
    assert info.value.revision == switch and "ended its own transaction" in str(info.value)
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    assert db.query("SELECT id FROM items") == [(1,)]
    assert "later" not in db.tables() and after
    assert AlembicAdapter.get_current_revision(**kw) == table
    with pytest.raises(MigrationUpgradeError, match="repair"):
        AlembicAdapter.upgrade(**kw)
