"""Fleets on PostgreSQL: many databases, and many schemas of one database (a tenant per
schema: its search_path, its version table and its lock)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from fleet_helpers import applied_counts, no_secret, query

from pydapter_migrations import MigrationLockError
from pydapter_migrations.fleet import Target, status_many, upgrade_many
from pydapter_migrations.locking import database_lock
from pydapter_migrations.urls import DatabaseURL

pytestmark = pytest.mark.postgresql

HOLD_LOCK = """
import sys, time
from pydapter_migrations.locking import database_lock
with database_lock(sys.argv[1], timeout=30):
    print("held", flush=True)
    time.sleep(60)
"""


def test_twenty_databases_and_a_wrong_password(
    project: Project, postgresql_server: Any, tmp_path: Path
) -> None:
    directory, ids = project("yoyo", 3)
    targets = {
        f"pg{i:02d}": postgresql_server.url(postgresql_server.create_database()) for i in range(20)
    }
    other = DatabaseURL.parse(postgresql_server.url(postgresql_server.create_database()))
    targets["intruder"] = replace(other, password="hunter2-wr0ng@x").render(hide_password=False)
    result = upgrade_many(targets, directory=directory, backend="yoyo", parallel=4)
    assert [r.name for r in result.failed] == ["intruder"]
    assert "password authentication failed" in str(result.get("intruder").error)  # type: ignore[union-attr]
    for name, url in targets.items():
        if name != "intruder":
            assert result.get(name).revisions == tuple(ids)  # type: ignore[union-attr]
            assert applied_counts(url) == dict.fromkeys(ids, 1)
    text = json.dumps(result.to_json()) + repr(result)
    no_secret([text], [postgresql_server.password, "hunter2-wr0ng@x"])


@pytest.mark.parametrize("kind", ["alembic", "yoyo"])
def test_twenty_schemas_of_one_database(kind: str, project: Project, postgresql_url: str) -> None:
    directory, ids = project(kind, 3)
    # A version table in public must not be mistaken for a tenant's.
    query(postgresql_url, "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    query(postgresql_url, "INSERT INTO alembic_version VALUES ('not-a-tenant')")
    names = [f"tenant_{i:02d}" for i in range(20)]
    tenants = [Target(name, postgresql_url, schema=name) for name in names]
    tenants.append(
        Target("odd", f"{postgresql_url}?options=-csearch_path%3D%22Odd%5C%20One%22,public")
    )
    result = upgrade_many(tenants, directory=directory, backend=kind, parallel=3)
    assert result.ok, result.failed
    assert {(r.from_revision, r.revisions) for r in result} == {(None, tuple(ids))}
    version_table = "alembic_version" if kind == "alembic" else "_yoyo_migration"
    rows = query(
        postgresql_url,
        "SELECT table_schema, table_name FROM information_schema.tables"
        f" WHERE table_name IN ('{version_table}', 'applied_log', 't_3')",
    )
    schemas = {f"tenant_{i:02d}" for i in range(20)} | {"Odd One"}
    for table in (version_table, "applied_log", "t_3"):
        found = {schema for schema, name in rows if name == table} - {"public"}
        assert found == schemas, table
    assert query(postgresql_url, "SELECT version_num FROM public.alembic_version") == [
        ("not-a-tenant",)
    ]
    for tenant in tenants:
        assert applied_counts(tenant.url) == dict.fromkeys(ids, 1)
    status = status_many(tenants, directory=directory, backend=kind)
    assert {(r.status, r.revision) for r in status} == {("up_to_date", ids[-1])}


def test_each_schema_has_its_own_lock(postgresql_url: str) -> None:
    base = DatabaseURL.parse(postgresql_url)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, base.with_schema("tenant_a").render(hide_password=False)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with database_lock(base.with_schema("tenant_b"), timeout=0):
            pass
        with database_lock(base, timeout=0):  # the database's own scope is another lock
            pass
        held = base.with_schema("tenant_a")
        taken = pytest.raises(MigrationLockError, match=f"pid={holder.pid}")
        with taken, database_lock(held, timeout=0):
            pass
        # The same schema, written otherwise.
        quoted = f"{postgresql_url}?options=-c%20search_path%3DTENANT_A,public"
        with pytest.raises(MigrationLockError), database_lock(quoted, timeout=0):
            pass
    finally:
        holder.kill()
        holder.wait()
    with database_lock(base.with_schema("tenant_a"), timeout=5):
        pass
