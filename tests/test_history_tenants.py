"""The history table of schema-per-tenant databases: each tenant's own, never shared."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter

from pydapter_migrations import MigrationError
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

pytestmark = pytest.mark.postgresql


def test_each_tenant_schema_keeps_its_own_history(
    tmp_path: Path, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001.sql").write_text("CREATE TABLE t1 (id integer);\n")
    (folder / "0001.rollback.sql").write_text("DROP TABLE t1;\n")
    db = KitDatabase(DatabaseURL.parse(postgresql_url))
    tenants = {}
    for name in ("acme", "globex"):
        with_schema = DatabaseURL.parse(postgresql_url).with_schema(name)
        tenants[name] = with_schema.render(hide_password=False)
    from pydapter_migrations.connections import connect

    with connect(postgresql_url) as session:
        for name in tenants:
            session.execute(f"CREATE SCHEMA {name}")
    YoyoAdapter.upgrade(directory=folder, connection_string=tenants["acme"])
    rows = db.query(
        "SELECT table_schema FROM information_schema.tables "
        "WHERE table_name = 'pydapter_migrations_history'"
    )
    assert rows == [("acme",)]

    # A history table qualified with another schema would hold every tenant's rows, none
    # saying whose (one tenant's repair would speak for another): refused, nothing run.
    monkeypatch.setenv("PYDAPTER_MIGRATIONS_HISTORY_TABLE", "public.history")
    with pytest.raises(MigrationError, match="every tenant would share one history"):
        YoyoAdapter.upgrade(directory=folder, connection_string=tenants["globex"])
    assert db.query("SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = 'globex'") == [(0,)]  # fmt: skip
    # Named in the tenant's own schema, it is that tenant's.
    monkeypatch.setenv("PYDAPTER_MIGRATIONS_HISTORY_TABLE", "globex.history")
    YoyoAdapter.upgrade(directory=folder, connection_string=tenants["globex"])
    assert (
        YoyoAdapter.get_current_revision(directory=folder, connection_string=tenants["globex"])
        == "0001"
    )
