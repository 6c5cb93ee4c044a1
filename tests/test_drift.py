"""``check``: the database against what its revisions build (replayed on a scratch database
of the same kind) and, for Alembic, against the models; real databases, both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydapter_migrations_alembic import AlembicAdapter
from pydapter_migrations_yoyo import YoyoAdapter

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
