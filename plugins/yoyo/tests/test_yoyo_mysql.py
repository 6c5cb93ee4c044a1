"""MariaDB (standing for MySQL): every URL that names it runs with PyMySQL, yoyo's own
MySQL driver; yoyo's records stay its own; and where DDL commits itself, a failing
revision is undone the way yoyo undoes it, its finished steps' rollback statements."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydapter_migrations_yoyo import AsyncYoyoAdapter, YoyoAdapter
from yoyo_helpers import query, tables, write_revision

from pydapter_migrations import MigrationUpgradeError

pytestmark = pytest.mark.mariadb

RECORD_DRIVER = """\
from yoyo import step


def record(conn):
    cursor = conn.cursor()
    cursor.execute("CREATE TABLE drivers (name varchar(40))")
    cursor.execute("INSERT INTO drivers VALUES ('%s')" % type(conn).__module__.split(".")[0])


steps = [step(record, "DROP TABLE drivers")]
"""


def _with_scheme(url: str, scheme: str) -> str:
    return scheme + url[url.index("://") :]


@pytest.mark.parametrize(
    "scheme",
    [
        "mysql",  # bare: PyMySQL
        "mysql+pymysql",
        "mariadb+pymysql",
        "mysql+mysqldb",  # yoyo's MySQL backend is PyMySQL's: mysqlclient URLs run with it
        "mysql+aiomysql",  # the async drivers' URLs too, for either key
        "mysql+asyncmy",
    ],
)
def test_every_mysql_url_runs_with_pymysql(tmp_path: Path, mariadb_url: str, scheme: str) -> None:
    url = _with_scheme(mariadb_url, scheme)
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001-drivers.py").write_text(RECORD_DRIVER)
    YoyoAdapter.upgrade(directory=folder, connection_string=url)
    assert query(mariadb_url, "SELECT name FROM drivers") == [("pymysql",)]
    current = AsyncYoyoAdapter.get_current_revision(directory=folder, connection_string=url)
    assert asyncio.run(current) == "0001-drivers"
    asyncio.run(AsyncYoyoAdapter.downgrade("base", directory=folder, connection_string=url))
    assert "drivers" not in tables(mariadb_url)


def test_a_failing_revision_is_undone_step_by_step(tmp_path: Path, mariadb_url: str) -> None:
    # MariaDB commits each CREATE TABLE as it runs. yoyo then runs the rollback statement
    # paired with each finished step (rollback files list them in reverse), as yoyo does.
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    r2 = YoyoAdapter.create_migration("two", directory=d)
    write_revision(d, r1, ["CREATE TABLE a (id integer)"], ["DROP TABLE a"])
    write_revision(
        d,
        r2,
        [
            "CREATE TABLE b (id integer)",
            "CREATE TABLE c (id integer)",
            "INSERT INTO nope VALUES (1)",
        ],
        ["DROP TABLE c", "DROP TABLE b"],
    )
    with pytest.raises(MigrationUpgradeError) as info:
        YoyoAdapter.upgrade(directory=d, connection_string=mariadb_url)
    message = str(info.value)
    assert info.value.revision == r2
    assert "nope" in message and "savepoint" not in message.lower()  # the real error
    assert YoyoAdapter.get_current_revision(directory=d, connection_string=mariadb_url) == r1
    assert tables(mariadb_url) >= {"a"} and not tables(mariadb_url) & {"b", "c"}
    assert query(mariadb_url, "SELECT migration_id FROM `_yoyo_migration`") == [(r1,)]


def test_a_dml_revision_rolls_back_whole(tmp_path: Path, mariadb_url: str) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    r2 = YoyoAdapter.create_migration("two", directory=d)
    write_revision(d, r1, ["CREATE TABLE a (id integer)"], ["DROP TABLE a"])
    # No rollback statements: nothing to undo by hand, the transaction does it all.
    write_revision(d, r2, ["INSERT INTO a VALUES (1)", "INSERT INTO nope VALUES (1)"], [])
    with pytest.raises(MigrationUpgradeError) as info:
        YoyoAdapter.upgrade(directory=d, connection_string=mariadb_url)
    assert info.value.revision == r2 and "nope" in str(info.value)
    assert query(mariadb_url, "SELECT count(*) FROM a") == [(0,)]
    assert YoyoAdapter.get_current_revision(directory=d, connection_string=mariadb_url) == r1


def test_plain_yoyo_sees_what_the_adapter_applied(tmp_path: Path, mariadb_url: str) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    r2 = YoyoAdapter.create_migration("two", directory=d)
    write_revision(d, r1, ["CREATE TABLE a (id integer)"], ["DROP TABLE a"])
    write_revision(d, r2, ["CREATE TABLE b (id integer)"], ["DROP TABLE b"])
    YoyoAdapter.upgrade(r1, directory=d, connection_string=mariadb_url)
    yoyo = Path(sys.executable).with_name("yoyo")
    command = [str(yoyo)] if yoyo.exists() else [sys.executable, "-m", "yoyo"]
    # yoyo's own URL scheme for PyMySQL is plain mysql://.
    yoyo_url = _with_scheme(mariadb_url, "mysql")
    out = subprocess.run(
        [*command, "list", "--config", str(d / "yoyo.ini"), "--database", yoyo_url],
        capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert re.search(rf"^A\s+{r1}\s", out, re.MULTILINE), out
    assert re.search(rf"^U\s+{r2}\s", out, re.MULTILINE), out


def test_a_non_transactional_revision_commits_as_it_runs_and_is_left_to_repair(
    tmp_path: Path, mariadb_url: str
) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    r2 = YoyoAdapter.create_migration("two", directory=d)
    write_revision(d, r1, ["CREATE TABLE a (id integer)"], ["DROP TABLE a"])
    path = d / "versions" / f"{r2}.sql"
    path.write_text("-- transactional: false\n" + path.read_text())
    write_revision(d, r2, ["INSERT INTO a VALUES (1)", "INSERT INTO nope VALUES (1)"], [])
    with pytest.raises(MigrationUpgradeError) as info:
        YoyoAdapter.upgrade(directory=d, connection_string=mariadb_url)
    assert info.value.revision == r2
    assert query(mariadb_url, "SELECT id FROM a") == [(1,)]  # committed as it ran
    with pytest.raises(MigrationUpgradeError, match="repair") as refused:
        YoyoAdapter.upgrade(directory=d, connection_string=mariadb_url)
    assert refused.value.revision == r2


@pytest.mark.parametrize(
    "statement", ["SET @@session.autocommit = 1", "SET sql_mode = '', autocommit = 1",
                  "/*!40000 SET autocommit = 1 */"],
)  # fmt: skip
def test_a_revision_turning_autocommit_on_is_refused_before_running(
    tmp_path: Path, mariadb_url: str, statement: str
) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    write_revision(
        d, r1, ["CREATE TABLE a (id integer)", statement, "INSERT INTO a VALUES (1)"], []
    )
    with pytest.raises(MigrationUpgradeError, match="AUTOCOMMIT") as info:
        YoyoAdapter.upgrade(directory=d, connection_string=mariadb_url)
    assert info.value.revision == r1
    assert "a" not in tables(mariadb_url)  # nothing ran


ROLLS_BACK = """\
from yoyo import step


def insert_roll_back_create(conn):
    cursor = conn.cursor()
    cursor.execute("INSERT INTO kept VALUES (1)")
    conn.rollback()
    cursor.execute("INSERT INTO kept VALUES (2)")
    cursor.execute("CREATE TABLE later (id integer)")


steps = [step(insert_roll_back_create)]
"""


def test_a_python_step_that_rolls_back_is_stopped_and_left_to_repair(
    tmp_path: Path, mariadb_url: str
) -> None:
    """Its ROLLBACK took the first INSERT and the revision's started row; the CREATE
    TABLE then committed the second INSERT: never reported as applied."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001-kept.sql").write_text("CREATE TABLE kept (id integer)")
    (folder / "0002-rolls-back.py").write_text(ROLLS_BACK)
    kw = {"directory": folder, "connection_string": mariadb_url}
    with pytest.raises(MigrationUpgradeError) as info:
        YoyoAdapter.upgrade(**kw)
    assert info.value.revision == "0002-rolls-back" and "ROLLBACK" in str(info.value)
    assert query(mariadb_url, "SELECT id FROM kept") == [(2,)]
    assert YoyoAdapter.get_current_revision(**kw) == "0001-kept"
    problems = YoyoAdapter.verify(**kw)
    assert [(p["problem"], p["revision"]) for p in problems] == [("dirty", "0002-rolls-back")]
