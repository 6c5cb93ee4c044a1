"""``check``: the database against what its revisions build (replayed on a scratch database
of the same kind) and, for Alembic, against the models; real databases, both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydapter_migrations_alembic import AlembicAdapter
from pydapter_migrations_yoyo import YoyoAdapter

from pydapter_migrations import MigrationError
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def _folder(root: Path) -> Path:
    folder = root / "migrations"
    folder.mkdir()
    (folder / "0001.sql").write_text(
        "CREATE TABLE owners (id integer PRIMARY KEY, name varchar(50) NOT NULL);\n"
        "CREATE UNIQUE INDEX owners_name ON owners (name);\n"
    )
    (folder / "0001.rollback.sql").write_text("DROP TABLE owners;\n")
    (folder / "0002.sql").write_text(
        "-- depends: 0001\n"
        "CREATE TABLE pets (id integer PRIMARY KEY, owner_id integer REFERENCES owners (id));\n"
    )
    (folder / "0002.rollback.sql").write_text("DROP TABLE pets;\n")
    return folder


def test_no_drift_then_each_kind_of_drift(tmp_path: Path, url: str) -> None:
    folder = _folder(tmp_path)
    kw = {"directory": folder, "connection_string": url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.check(**kw) == []
    db = KitDatabase(DatabaseURL.parse(url))
    db.query("CREATE TABLE scratch (id integer)")
    db.query("ALTER TABLE pets ADD COLUMN nickname varchar(20)")
    db.query("DROP INDEX owners_name")
    found = {(d["kind"], d["table"], d["detail"]) for d in YoyoAdapter.check(**kw)}
    assert found == {
        ("extra_table", "scratch", ""),
        ("extra_column", "pets", "nickname"),
        ("missing_index", "owners", "name"),
    }
    # The scratch database is gone again (a server database or schema named for it).
    if "postgresql" in url:
        assert not db.query("SELECT 1 FROM pg_database WHERE datname LIKE 'pydapter_check_%'")
        assert not db.query("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'pydapter_check_%'")


def test_a_database_part_way_is_compared_with_its_own_revisions(tmp_path: Path, url: str) -> None:
    folder = _folder(tmp_path)
    kw = {"directory": folder, "connection_string": url}
    YoyoAdapter.upgrade("0001", **kw)
    assert YoyoAdapter.check(**kw) == []  # pets is pending, not missing


def test_the_command_line_exits_1_on_drift(tmp_path: Path, url: str) -> None:
    folder = _folder(tmp_path)
    YoyoAdapter.upgrade(directory=folder, connection_string=url)
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, "-m", "pydapter_migrations", "-b", "yoyo", "-d", str(folder)]
    clean = subprocess.run([*command, "check"], env=env, capture_output=True, text=True)
    assert clean.returncode == 0 and "no drift" in clean.stdout
    KitDatabase(DatabaseURL.parse(url)).query("DROP TABLE pets")
    drift = subprocess.run([*command, "check", "--json"], env=env, capture_output=True, text=True)
    assert drift.returncode == 1
    assert json.loads(drift.stdout) == [
        {
            "source": "revisions",
            "kind": "missing_table",
            "table": "pets",
            "detail": "",
            "message": "table pets is missing",
        }
    ]


def test_alembic_models_against_the_database(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "drift_models", raising=False)
    models = tmp_path / "drift_models.py"
    models.write_text(
        "from sqlalchemy import Integer, String\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n\n"
        "class User(Base):\n    __tablename__ = 'users'\n"
        "    id: Mapped[int] = mapped_column(Integer, primary_key=True)\n"
        "    name: Mapped[str] = mapped_column(String(50))\n"
    )
    directory = tmp_path / "alembic"
    kw = {"directory": directory, "connection_string": url}
    AlembicAdapter.init_migrations(directory, models_module="drift_models")
    AlembicAdapter.create_migration("users", autogenerate=True, **kw)
    AlembicAdapter.upgrade(**kw)
    assert AlembicAdapter.check(**kw) == []
    # A model changed without a revision: the models differ, the revisions do not.
    models.write_text(models.read_text() + "    email: Mapped[str] = mapped_column(String(80))\n")
    sys.modules.pop("drift_models", None)
    [difference] = AlembicAdapter.check(**kw)
    assert difference["source"] == "models" and difference["kind"] == "add_column"
    assert (difference["table"], difference["detail"]) == ("users", "email")
    # An index and a foreign key the database lacks: autogenerate names their table
    # through the index's and the constraint's own table (a Table is no boolean).
    models.write_text(
        models.read_text() + "\n\nclass Pet(Base):\n    __tablename__ = 'pets'\n"
        "    id: Mapped[int] = mapped_column(Integer, primary_key=True)\n"
        "    owner: Mapped[int] = mapped_column(Integer)\n"
    )
    sys.modules.pop("drift_models", None)
    AlembicAdapter.create_migration("pets", autogenerate=True, **kw)
    AlembicAdapter.upgrade(**kw)
    assert AlembicAdapter.check(**kw) == []
    models.write_text(
        models.read_text()
        .replace("mapped_column(String(50))", "mapped_column(String(50), index=True)")
        .replace("mapped_column(Integer)\n", "mapped_column(ForeignKey('users.id'))\n")
        .replace("from sqlalchemy import Integer", "from sqlalchemy import ForeignKey, Integer")
    )
    sys.modules.pop("drift_models", None)
    found = {(d["source"], d["kind"], d["table"]) for d in AlembicAdapter.check(**kw)}
    assert found == {("models", "add_index", "users"), ("models", "add_fk", "pets")}


@pytest.mark.postgresql
def test_check_on_a_tenant_schema_compares_schema_with_schema(
    tmp_path: Path, postgresql_url: str
) -> None:
    """A URL whose search_path names the tenant's schema: the scratch database gets that
    schema, and the tenant's tables are compared with what the revisions build there."""
    url = DatabaseURL.parse(postgresql_url).with_schema("acme").render(hide_password=False)
    KitDatabase(DatabaseURL.parse(postgresql_url)).query("CREATE SCHEMA acme")
    folder = _folder(tmp_path)
    kw = {"directory": folder, "connection_string": url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.check(**kw) == []
    KitDatabase(DatabaseURL.parse(url)).query("CREATE TABLE acme.extra (id integer)")
    assert [d["kind"] for d in YoyoAdapter.check(**kw)] == ["extra_table"]
    # A replay that fails is check's failure, and says so.
    (folder / "0002.sql").write_text("-- depends: 0001\nCREATE TABLE pets (id nonsense);\n")
    with pytest.raises(MigrationError) as info:
        YoyoAdapter.check(**kw)
    assert str(info.value).startswith("check failed: ") and "upgrade failed" not in str(info.value)


def _stale_and_fresh(session: Any) -> tuple[str, str]:
    stale = "pydapter_check_1000000000_0a0b0c"
    fresh = f"pydapter_check_{int(time.time())}_0d0e0f"
    for name in (stale, fresh):
        session.execute(f"CREATE DATABASE {name}")
    return stale, fresh


@pytest.mark.postgresql
def test_check_sweeps_the_scratch_databases_of_killed_checks(
    tmp_path: Path, postgresql_server: Any, postgresql_url: str
) -> None:
    from pydapter_migrations.connections import connect

    with connect(postgresql_server.url("postgres")) as admin:
        stale, fresh = _stale_and_fresh(admin)
        admin.execute(f"CREATE SCHEMA {stale}")
    kw = {"directory": _folder(tmp_path), "connection_string": postgresql_url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.check(**kw) == []
    with connect(postgresql_server.url("postgres")) as admin:
        names = {r[0] for r in admin.execute("SELECT datname FROM pg_database")}
        assert stale not in names and fresh in names  # a check of this hour may be running
        admin.execute(f"DROP DATABASE {fresh}")
    with connect(postgresql_url) as session:
        schemas = {r[0] for r in session.execute("SELECT nspname FROM pg_namespace")}
        assert not {s for s in schemas if s.startswith("pydapter_check_")}


@pytest.mark.mariadb
def test_check_on_mariadb_without_create_database_names_the_privilege(
    tmp_path: Path, mariadb_server: Any
) -> None:
    """MySQL has no schemas inside a database to replay in: the missing privilege is named
    (no PostgreSQL-only DROP SCHEMA ... CASCADE sent); granted, check works and sweeps."""
    from pydapter_migrations.connections import connect

    database = mariadb_server.create_database()
    admin_url = mariadb_server.url(database)
    with connect(admin_url) as admin:
        admin.execute("CREATE USER 'appuser'@'%' IDENTIFIED BY 'apppw'")
        admin.execute(f"GRANT ALL ON {database}.* TO 'appuser'@'%'")
    url = f"mysql+pymysql://appuser:apppw@127.0.0.1:{mariadb_server.port}/{database}"
    kw = {"directory": _folder(tmp_path), "connection_string": url}
    YoyoAdapter.upgrade(**kw)
    with pytest.raises(MigrationError) as info:
        YoyoAdapter.check(**kw)
    message = str(info.value)
    assert "may not create" in message and "GRANT ALL ON `pydapter\\_check\\_%`.*" in message
    assert "CASCADE" not in message and "syntax" not in message
    with connect(admin_url) as admin:
        admin.execute("GRANT ALL ON `pydapter\\_check\\_%`.* TO 'appuser'@'%'")
        stale, fresh = _stale_and_fresh(admin)
    assert YoyoAdapter.check(**kw) == []
    with connect(admin_url) as admin:
        names = {r[0] for r in admin.execute("SHOW DATABASES")}
        assert stale not in names and fresh in names
        admin.execute(f"DROP DATABASE {fresh}")


@pytest.mark.mariadb
def test_a_replay_that_fails_halfway_on_mariadb_asks_for_no_repair(
    tmp_path: Path, mariadb_url: str
) -> None:
    """A revision that needs a table made outside the revisions (as Buildbot's and MLflow's
    first ones do) fails on the scratch database after its CREATE TABLE committed there:
    check says so, and does not ask to repair a database that is gone."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001.sql").write_text(
        "CREATE TABLE pets (id integer);\nALTER TABLE owners ADD COLUMN pet integer;\n"
    )
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    db.query("CREATE TABLE owners (id integer)")
    kw = {"directory": folder, "connection_string": mariadb_url}
    YoyoAdapter.upgrade(**kw)
    with pytest.raises(MigrationError) as info:
        YoyoAdapter.check(**kw)
    message = str(info.value)
    assert message.startswith("check failed: ") and "owners" in message
    assert "dropped since: the database checked is unchanged" in message
    assert "repair" not in message and "Part of" not in message
    assert YoyoAdapter.verify(**kw) == []
