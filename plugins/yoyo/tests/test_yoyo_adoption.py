"""Plain yoyo folders, used in place: flat ``.sql``/``.rollback.sql``/``.py`` files, with or
without a ``yoyo.ini`` of their own; raw yoyo and this backend agree on what is applied."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter
from yoyo import get_backend, read_migrations
from yoyo_helpers import query, tables

from pydapter_migrations import (
    MigrationDowngradeError,
    MigrationInitError,
    hookimpl,
)
from pydapter_migrations.events import MigrationEvent


@pytest.fixture
def url(each_database_url: str) -> str:
    return each_database_url


def _yoyo_folder(folder: Path) -> Path:
    """A folder as ``yoyo new`` leaves it: SQL with rollbacks, and a Python revision."""
    folder.mkdir(parents=True)
    (folder / "20240101_01_AbCdE-create-pets.sql").write_text(
        "-- create pets\n-- depends: \n\nCREATE TABLE pets (id integer primary key, name text);\n"
    )
    (folder / "20240101_01_AbCdE-create-pets.rollback.sql").write_text("DROP TABLE pets;\n")
    (folder / "20240102_01_FgHiJ-seed.py").write_text(
        '"""\nseed pets\n"""\n\nfrom yoyo import step\n\n'
        "__depends__ = {'20240101_01_AbCdE-create-pets'}\n\n"
        'steps = [step("INSERT INTO pets VALUES (1, \'rex\')", "DELETE FROM pets")]\n'
    )
    (folder / "20240103_01_KlMnO-owners.sql").write_text(
        "-- owners\n-- depends: 20240102_01_FgHiJ-seed\n\nCREATE TABLE owners (id integer);\n"
    )
    (folder / "20240103_01_KlMnO-owners.rollback.sql").write_text("DROP TABLE owners;\n")
    return folder


def _raw_pending(url: str, folder: Path, table: str = "_yoyo_migration") -> list[str]:
    """What raw yoyo would still apply to the database at ``url``."""
    backend = get_backend(url, migration_table=table)
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(folder)))]
    finally:
        backend.connection.close()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "pydapter-migrate"
    result = subprocess.run([str(cli), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def _yoyo_url(url: str) -> str:
    """The same database in yoyo's own URL schemes (its ``mysql`` is PyMySQL)."""
    return url.replace("postgresql://", "postgresql+psycopg://").replace(
        "mysql+pymysql://", "mysql://"
    )


def test_a_flat_folder_is_used_in_place(tmp_path: Path, url: str) -> None:
    folder = _yoyo_folder(tmp_path / "migrations")
    before = sorted(p.name for p in folder.iterdir())
    kw = {"directory": folder, "connection_string": url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.get_current_revision(**kw) == "20240103_01_KlMnO-owners"
    assert query(url, "SELECT name FROM pets") == [("rex",)]
    assert _raw_pending(_yoyo_url(url), folder) == []  # raw yoyo sees it all applied
    history = YoyoAdapter.get_migration_history(**kw)
    assert [(h["revision"], h["description"]) for h in history] == [
        ("20240101_01_AbCdE-create-pets", "create pets"),
        ("20240102_01_FgHiJ-seed", "seed pets"),
        ("20240103_01_KlMnO-owners", "owners"),
    ]
    YoyoAdapter.downgrade("20240101_01_AbCdE-create-pets", **kw)
    assert query(url, "SELECT count(*) FROM pets") == [(0,)]
    assert "owners" not in tables(url)
    assert _raw_pending(_yoyo_url(url), folder) == [
        "20240102_01_FgHiJ-seed",
        "20240103_01_KlMnO-owners",
    ]
    assert sorted(p.name for p in folder.iterdir() if p.name != "__pycache__") == before


@pytest.mark.parametrize("point_at", ["folder", "ini"])
def test_a_yoyo_ini_of_its_own_is_honoured(tmp_path: Path, sqlite_url: str, point_at: str) -> None:
    _yoyo_folder(tmp_path / "project" / "db" / "migrations")
    ini = tmp_path / "project" / "yoyo.ini"
    ini.write_text(
        "[DEFAULT]\nsources = db/migrations\nmigration_table = schema_version\n"
        "database = postgresql://someone@db.invalid/prod\nbatch_mode = on\n"
    )
    directory = ini if point_at == "ini" else ini.parent
    kw = {"directory": directory, "connection_string": sqlite_url}
    YoyoAdapter.upgrade(**kw)
    assert {"schema_version", "pets", "owners"} <= tables(sqlite_url)
    assert "_yoyo_migration" not in tables(sqlite_url)
    assert YoyoAdapter.get_current_revision(**kw) == "20240103_01_KlMnO-owners"
    assert _raw_pending(sqlite_url, tmp_path / "project/db/migrations", "schema_version") == []


def test_new_follows_yoyos_own_naming(tmp_path: Path, sqlite_url: str) -> None:
    folder = _yoyo_folder(tmp_path / "migrations")
    revision = YoyoAdapter.create_migration("Add the vets table", directory=folder)
    assert re.fullmatch(r"\d{8}_01_[A-Za-z0-9]{5}-add-the-vets-table", revision), revision
    upgrade = folder / f"{revision}.sql"
    assert upgrade.read_text().startswith(
        "-- Add the vets table\n-- depends: 20240103_01_KlMnO-owners\n"
    )
    assert (folder / f"{revision}.rollback.sql").is_file()
    upgrade.write_text(upgrade.read_text() + "CREATE TABLE vets (id integer);\n")
    (folder / f"{revision}.rollback.sql").write_text("DROP TABLE vets;\n")
    YoyoAdapter.upgrade(directory=folder, connection_string=sqlite_url)
    assert "vets" in tables(sqlite_url)
    assert _raw_pending(sqlite_url, folder) == []


def test_new_in_a_numbered_python_folder(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name in ("0000-base", "0001-initial"):
        (folder / f"{name}.py").write_text(f'from yoyo import step\nstep("SELECT 1")  # {name}\n')
    revision = YoyoAdapter.create_migration("add index", directory=folder)
    assert revision == "0002-add-index"
    text = (folder / "0002-add-index.py").read_text()
    # Both are heads (neither names the other), so both are named, as `yoyo new` does.
    assert "__depends__ = {'0000-base', '0001-initial'}" in text and "add index" in text
    assert not list(folder.glob("*.sql"))
    # A folder yoyo reads without complaint.
    assert [m.id for m in read_migrations(str(folder))][-1] == "0002-add-index"


def test_status_shows_every_head(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name in ("a", "b", "c"):  # no depends: three heads
        (folder / f"{name}.sql").write_text(f"CREATE TABLE t_{name} (id integer);\n")
        (folder / f"{name}.rollback.sql").write_text(f"DROP TABLE t_{name};\n")
    result = run_cli("-b", "yoyo", "-d", str(folder), "--url", sqlite_url, "status", "--json")
    status = json.loads(result.stdout)
    assert status["heads"] == ["a", "b", "c"] and status["head"] == ["a", "b", "c"]
    text = run_cli("-b", "yoyo", "-d", str(folder), "--url", sqlite_url, "status").stdout
    assert "heads:     a, b, c" in text


def test_new_on_the_command_line_names_the_file(tmp_path: Path) -> None:
    folder = _yoyo_folder(tmp_path / "migrations")
    result = run_cli("-b", "yoyo", "-d", str(folder), "new", "add vets")
    revision = result.stdout.strip().splitlines()[-1]
    assert f"created revision {revision} in {folder / revision}.sql" in result.stderr


def test_a_revision_without_rollback_is_not_reverted(tmp_path: Path, url: str) -> None:
    folder = _yoyo_folder(tmp_path / "migrations")
    (folder / "20240103_01_KlMnO-owners.rollback.sql").unlink()
    kw = {"directory": folder, "connection_string": url}
    YoyoAdapter.upgrade(**kw)
    with pytest.raises(MigrationDowngradeError) as info:
        YoyoAdapter.downgrade("base", **kw)
    assert info.value.revision == "20240103_01_KlMnO-owners"
    assert "cannot be reverted" in str(info.value) and "stamp" in str(info.value)
    # Nothing changed: every revision applied, every table there.
    assert YoyoAdapter.get_current_revision(**kw) == "20240103_01_KlMnO-owners"
    assert {"pets", "owners"} <= tables(url) and query(url, "SELECT count(*) FROM pets") == [(1,)]
    # A rollback file with no statement in it is no rollback either.
    (folder / "20240103_01_KlMnO-owners.rollback.sql").write_text("-- nothing to undo\n")
    with pytest.raises(MigrationDowngradeError, match="no statement in"):
        YoyoAdapter.downgrade("-1", **kw)
    # The way out it names: record the revision as not applied, leaving its table.
    YoyoAdapter.stamp("20240102_01_FgHiJ-seed", **kw)
    assert YoyoAdapter.get_current_revision(**kw) == "20240102_01_FgHiJ-seed"
    assert "owners" in tables(url)
    # A revision that does nothing either way (a placeholder made by `new` and left
    # empty) has nothing to undo: it is reverted.
    YoyoAdapter.stamp("20240103_01_KlMnO-owners", **kw)  # its table is there after all
    placeholder = YoyoAdapter.create_migration("placeholder", directory=folder)
    YoyoAdapter.upgrade(placeholder, **kw)
    YoyoAdapter.downgrade("-1", **kw)
    assert YoyoAdapter.get_current_revision(**kw) == "20240103_01_KlMnO-owners"


class _Applied:
    def __init__(self) -> None:
        self.revisions: list[str] = []

    @hookimpl
    def after_revision(self, event: MigrationEvent) -> None:
        self.revisions.append(str(event.revision))


def test_post_apply_hooks_run_after_an_upgrade_that_applied(
    tmp_path: Path, sqlite_url: str
) -> None:
    folder = _yoyo_folder(tmp_path / "migrations")
    (folder / "post-apply.py").write_text(
        "from yoyo import step\n"
        'step("CREATE TABLE IF NOT EXISTS hook_runs (n integer)")\n'
        'step("INSERT INTO hook_runs VALUES (1)")\n'
    )
    kw = {"directory": folder, "connection_string": sqlite_url}
    seen = _Applied()
    YoyoAdapter.upgrade(**kw, observers=[seen])
    assert "post-apply" not in seen.revisions and len(seen.revisions) == 3
    assert query(sqlite_url, "SELECT count(*) FROM hook_runs") == [(1,)]
    YoyoAdapter.upgrade(**kw)  # nothing applied: the hook does not run
    assert query(sqlite_url, "SELECT count(*) FROM hook_runs") == [(1,)]
    assert "post-apply" not in [h["revision"] for h in YoyoAdapter.get_migration_history(**kw)]


def test_init_on_an_existing_folder_says_how_to_adopt_it(tmp_path: Path) -> None:
    folder = _yoyo_folder(tmp_path / "migrations")
    with pytest.raises(MigrationInitError, match="skip init"):
        YoyoAdapter.init_migrations(folder)


def test_raw_yoyo_command_and_the_adapter_share_one_record(tmp_path: Path) -> None:
    """A database half-migrated by the yoyo command is finished by the adapter."""
    folder = _yoyo_folder(tmp_path / "migrations")
    db = tmp_path / "app.db"
    yoyo = Path(sys.executable).parent / "yoyo"
    subprocess.run(
        [
            str(yoyo),
            "apply",
            "--batch",
            "--database",
            f"sqlite:///{db}",
            str(folder),
            "-r",
            "20240101_01_AbCdE-create-pets",
        ],
        check=True,
        capture_output=True,
    )
    kw = {"directory": folder, "connection_string": f"sqlite:///{db}"}
    assert YoyoAdapter.get_current_revision(**kw) == "20240101_01_AbCdE-create-pets"
    YoyoAdapter.upgrade(**kw)
    assert _raw_pending(f"sqlite:///{db}", folder) == []


def test_several_sources_and_here(tmp_path: Path, sqlite_url: str) -> None:
    first, second = tmp_path / "core", tmp_path / "extra"
    first.mkdir()
    second.mkdir()
    (first / "0001-pets.sql").write_text("CREATE TABLE pets (id integer);\n")
    (second / "0002-vets.sql").write_text(
        "-- depends: 0001-pets\nCREATE TABLE vets (id integer);\n"
    )
    ini = tmp_path / "yoyo.ini"
    ini.write_text("[DEFAULT]\nsources = %(here)s/core extra\n")
    YoyoAdapter.upgrade(directory=tmp_path, connection_string=sqlite_url)
    assert {"pets", "vets"} <= tables(sqlite_url)
    history = YoyoAdapter.get_migration_history(directory=ini, connection_string=sqlite_url)
    assert [(h["revision"], h["applied"]) for h in history] == [
        ("0001-pets", True),
        ("0002-vets", True),
    ]


def test_current_follows_the_applied_order_not_the_ids(tmp_path: Path, url: str) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "z_base.sql").write_text("CREATE TABLE base (id integer);\n")
    (folder / "z_base.rollback.sql").write_text("DROP TABLE base;\n")
    (folder / "a_next.sql").write_text("-- depends: z_base\nCREATE TABLE nxt (id integer);\n")
    (folder / "a_next.rollback.sql").write_text("DROP TABLE nxt;\n")
    kw = {"directory": folder, "connection_string": url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.get_current_revision(**kw) == "a_next"
    YoyoAdapter.downgrade("-1", **kw)
    assert YoyoAdapter.get_current_revision(**kw) == "z_base"


def test_stamping_head_records_every_head(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name in ("0001_one", "0002_two"):  # no depends: two heads
        (folder / f"{name}.sql").write_text(f"CREATE TABLE t{name} (id integer);\n")
    kw = {"directory": folder, "connection_string": sqlite_url}
    YoyoAdapter.stamp("head", **kw)
    assert [h["applied"] for h in YoyoAdapter.get_migration_history(**kw)] == [True, True]
    YoyoAdapter.upgrade(**kw)  # nothing left to run
    assert tables(sqlite_url).isdisjoint({"t0001_one", "t0002_two"})
