"""On PostgreSQL a run opens the lock's connection and Alembic's own, and no other: each
more costs a round trip and a SCRAM authentication (about 13 ms here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic_helpers import table_revision
from pydapter_migrations_alembic import AlembicAdapter


def test_a_run_opens_the_lock_connection_and_alembics_only(
    tmp_path: Path, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    first = table_revision(directory, "a")
    table_revision(directory, "b")
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

    assert connections("upgrade", "head") == 2
    assert connections("upgrade", "head") == 1  # nothing pending: the lock's alone
    assert connections("downgrade", first) == 2
    assert connections("downgrade", "base") == 2
    current = AlembicAdapter.get_current_revision(
        directory=directory, connection_string=postgresql_url
    )
    assert current is None
