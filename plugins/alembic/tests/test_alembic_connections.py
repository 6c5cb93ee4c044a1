"""On PostgreSQL a run opens one connection, the lock's, and runs Alembic on it: each more
would cost a round trip and a SCRAM authentication (about 13 ms here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic_helpers import table_revision, write_revision, write_revision_bodies
from pydapter_migrations_alembic import AlembicAdapter
from pydapter_migrations_alembic._environment import create_engine
from sqlalchemy import text

from pydapter_migrations.errors import MigrationUpgradeError
from pydapter_migrations.locking import database_lock
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL


def test_a_run_opens_the_lock_connection_only(
    tmp_path: Path, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    first = table_revision(directory, "a")
    second = table_revision(directory, "b")
    opened: list[int] = []
    real_connect = psycopg.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        conn = real_connect(*args, **kwargs)
        opened.append(conn.info.backend_pid)
        return conn

    monkeypatch.setattr(psycopg, "connect", connect)

    def connections(operation: str, target: str) -> int:
        opened.clear()
        getattr(AlembicAdapter, operation)(
            target, directory=directory, connection_string=postgresql_url
        )
        return len(opened)

    def current() -> str | None:
        return AlembicAdapter.get_current_revision(
            directory=directory, connection_string=postgresql_url
        )

    assert connections("upgrade", "head") == 1
    assert current() == second
    assert connections("upgrade", "head") == 1  # nothing pending
    assert connections("downgrade", first) == 1
    assert current() == first
    assert connections("downgrade", "base") == 1
    assert current() is None


def test_the_lock_connection_comes_back_open_idle_and_in_autocommit(postgresql_url: str) -> None:
    url = DatabaseURL.parse(postgresql_url)
    with database_lock(url, timeout=5) as lock:
        held = lock.session.connection
        engine = create_engine(url, lent=lock.session)
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is held
            connection.execute(text("CREATE TABLE lent (id integer)"))
            # SQLAlchemy's transactions are real ones, on a connection left in autocommit
            assert held.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            connection.rollback()
        engine.dispose()
        assert not held.closed
        assert held.autocommit is True
        assert held.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        (holds,) = held.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid()"
        ).fetchone()
        assert holds == 1
        assert held.execute("SELECT to_regclass('lent')").fetchone() == (None,)


def test_autocommit_blocks_and_transactions_after_them_on_the_lent_connection(
    tmp_path: Path, postgresql_url: str
) -> None:
    # CREATE INDEX CONCURRENTLY needs Alembic's autocommit_block, which switches the
    # (lent) connection's isolation level; the revisions after it are transactional again.
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    table = table_revision(directory, "items")
    index = AlembicAdapter.create_migration("index items", False, directory=directory)
    write_revision_bodies(
        directory,
        index,
        "    with op.get_context().autocommit_block():\n"
        "        op.execute(sa.text('CREATE INDEX CONCURRENTLY items_id ON items (id)'))",
        "    with op.get_context().autocommit_block():\n"
        "        op.execute(sa.text('DROP INDEX CONCURRENTLY items_id'))",
    )
    broken = AlembicAdapter.create_migration("breaks", False, directory=directory)
    write_revision(
        directory, broken, ["CREATE TABLE half (id integer)", "SELECT * FROM no_such_table"], []
    )
    with pytest.raises(MigrationUpgradeError) as info:
        AlembicAdapter.upgrade("head", directory=directory, connection_string=postgresql_url)
    assert info.value.revision == broken
    current = AlembicAdapter.get_current_revision(
        directory=directory, connection_string=postgresql_url
    )
    assert current == index
    db = KitDatabase(DatabaseURL.parse(postgresql_url))
    found = db.query("SELECT to_regclass('items_id') IS NOT NULL, to_regclass('half') IS NULL")
    assert found == [(True, True)]
    AlembicAdapter.downgrade(table, directory=directory, connection_string=postgresql_url)
    assert db.query("SELECT to_regclass('items_id')") == [(None,)]
