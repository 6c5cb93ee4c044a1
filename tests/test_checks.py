"""The checks users run on their own migrations: each passes on sound revisions and fails,
saying why, on the mistake it exists for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydapter_migrations_alembic import AlembicAdapter
from pydapter_migrations_yoyo import AsyncYoyoAdapter, YoyoAdapter

from pydapter_migrations.testing import (
    MigrationChecks,
    assert_models_match,
    assert_round_trip,
    assert_single_head,
)


def _folder(root: Path, rollback_of_2: str) -> Path:
    folder = root / "migrations"
    folder.mkdir(parents=True)
    (folder / "0001.sql").write_text("CREATE TABLE a (id integer);\n")
    (folder / "0001.rollback.sql").write_text("DROP TABLE a;\n")
    (folder / "0002.sql").write_text(
        "-- depends: 0001\nCREATE TABLE b (id integer);\nCREATE INDEX b_id ON b (id);\n"
    )
    (folder / "0002.rollback.sql").write_text(rollback_of_2)
    return folder


def test_round_trip_passes_and_catches_a_downgrade_that_forgets(
    tmp_path: Path, migration_checks: MigrationChecks, sqlite_url: str
) -> None:
    good = _folder(tmp_path / "good", "DROP TABLE b;\n")
    migration_checks.round_trip(YoyoAdapter, good)
    assert_round_trip(AsyncYoyoAdapter, good, sqlite_url)  # async adapters too
    sloppy = _folder(tmp_path / "sloppy", "DROP INDEX b_id;\n")  # leaves table b behind
    with pytest.raises(AssertionError, match="downgrading 0002 did not undo it: table b"):
        assert_round_trip(YoyoAdapter, sloppy, f"sqlite:///{tmp_path / 'other.db'}")


def test_single_head(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "DROP TABLE b;\n")
    assert_single_head(YoyoAdapter, folder)
    (folder / "0003.sql").write_text("-- depends: 0001\nCREATE TABLE c (id integer);\n")
    with pytest.raises(AssertionError, match="2 heads: 0002, 0003"):
        assert_single_head(YoyoAdapter, folder)


def test_models_match(
    tmp_path: Path, migration_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "checked_models", raising=False)
    models = tmp_path / "checked_models.py"
    models.write_text(
        "from sqlalchemy import Integer\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n\n"
        "class Item(Base):\n    __tablename__ = 'items'\n"
        "    id: Mapped[int] = mapped_column(Integer, primary_key=True)\n"
    )
    directory = tmp_path / "alembic"
    AlembicAdapter.init_migrations(directory, models_module="checked_models")
    AlembicAdapter.create_migration(
        "items", autogenerate=True, directory=directory, connection_string=migration_database
    )
    assert_models_match(AlembicAdapter, directory, migration_database)
    models.write_text(models.read_text() + "    size: Mapped[int] = mapped_column(Integer)\n")
    sys.modules.pop("checked_models", None)
    with pytest.raises(AssertionError, match="size"):
        assert_models_match(AlembicAdapter, directory, migration_database)
