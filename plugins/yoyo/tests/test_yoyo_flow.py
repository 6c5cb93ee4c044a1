"""The raw-SQL workflow end to end, on real SQLite, PostgreSQL and MariaDB, sync and async."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import traceback
from pathlib import Path
from urllib.parse import quote

import pytest
from pydapter_migrations_yoyo import AsyncYoyoAdapter, YoyoAdapter
from yoyo_helpers import query, tables, write_revision

from pydapter_migrations import (
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationInitError,
    MigrationNotFoundError,
    MigrationUpgradeError,
    get_adapter,
)
from pydapter_migrations.urls import DatabaseURL

DATABASES = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]
#: The databases whose DDL runs inside the revision's transaction.
TRANSACTIONAL_DDL = DATABASES[:2]


@pytest.fixture(params=DATABASES)
def url(request: pytest.FixtureRequest) -> str:
    value: str = request.getfixturevalue(f"{request.param}_url")
    return value


@pytest.fixture(params=TRANSACTIONAL_DDL)
def transactional_url(request: pytest.FixtureRequest) -> str:
    value: str = request.getfixturevalue(f"{request.param}_url")
    return value


def _quoted(url: str, name: str) -> str:
    """``name`` quoted for the database at ``url`` (MySQL quotes with backticks)."""
    return f"`{name}`" if DatabaseURL.parse(url).backend == "mysql" else f'"{name}"'


def _edit(path: Path, sql: str) -> None:
    """Append SQL below the generated header, as a user editing the file would."""
    path.write_text(path.read_text(encoding="utf-8") + sql, encoding="utf-8")


def test_raw_sql_flow(tmp_path: Path, url: str) -> None:
    d = str(tmp_path / "migrations")
    YoyoAdapter.init_migrations(d, connection_string=url)
    versions = Path(d) / "versions"

    r1 = YoyoAdapter.create_migration("create users", directory=d, connection_string=url)
    r2 = YoyoAdapter.create_migration("add email", directory=d, connection_string=url)
    r3 = YoyoAdapter.create_migration("seed users", directory=d)
    assert sorted([r3, r1, r2]) == [r1, r2, r3]
    for rev in (r1, r2, r3):
        assert (versions / f"{rev}.sql").is_file()
        assert (versions / f"{rev}.rollback.sql").is_file()
    assert f"-- depends: {r1}" in (versions / f"{r2}.sql").read_text()
    assert "-- depends:" not in (versions / f"{r1}.sql").read_text()

    _edit(versions / f"{r1}.sql", "CREATE TABLE users (id integer PRIMARY KEY, name text);\n")
    _edit(versions / f"{r1}.rollback.sql", "DROP TABLE users;\n")
    _edit(versions / f"{r2}.sql", "ALTER TABLE users ADD COLUMN email text;\n")
    _edit(versions / f"{r2}.rollback.sql", "ALTER TABLE users DROP COLUMN email;\n")
    _edit(versions / f"{r3}.sql", "INSERT INTO users (id, name) VALUES (1, 'ada');\n")
    _edit(versions / f"{r3}.rollback.sql", "DELETE FROM users WHERE id = 1;\n")

    kw = {"directory": d, "connection_string": url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.get_current_revision(**kw) == r3
    assert query(url, "SELECT id, name, email FROM users") == [(1, "ada", None)]
    history = YoyoAdapter.get_migration_history(**kw)
    assert [h.pop("path") for h in history] == [str(versions / f"{r}.sql") for r in (r1, r2, r3)]
    # Where and when each ran, from the history table.
    assert all(h.pop("applied_at").startswith("20") and "@" in h.pop("applied_by") for h in history)
    assert history == [
        {"revision": r1, "description": "create users", "down_revision": None, "applied": True},
        {"revision": r2, "description": "add email", "down_revision": r1, "applied": True},
        {"revision": r3, "description": "seed users", "down_revision": r2, "applied": True},
    ]

    YoyoAdapter.downgrade("-1", **kw)
    assert YoyoAdapter.get_current_revision(**kw) == r2
    assert query(url, "SELECT count(*) FROM users") == [(0,)]

    YoyoAdapter.downgrade(r1, **kw)
    assert YoyoAdapter.get_current_revision(**kw) == r1
    YoyoAdapter.upgrade(r2, **kw)
    assert YoyoAdapter.get_current_revision(**kw) == r2
    assert query(url, "SELECT email FROM users") == []
    assert [h["applied"] for h in YoyoAdapter.get_migration_history(**kw)] == [True, True, False]

    YoyoAdapter.upgrade("+1", **kw)
    assert YoyoAdapter.get_current_revision(**kw) == r3

    YoyoAdapter.downgrade("base", **kw)
    assert YoyoAdapter.get_current_revision(**kw) is None
    # Only bookkeeping remains (yoyo's, and the core's history); no yoyo_lock table and no
    # scratch tables either.
    assert tables(url) == {
        "_yoyo_migration",
        "_yoyo_log",
        "_yoyo_version",
        "pydapter_migrations_history",
    }
    operations = query(url, f"SELECT operation FROM {_quoted(url, '_yoyo_log')}")
    assert sorted(row[0] for row in operations) == ["apply"] * 5 + ["rollback"] * 5


def test_async_flow_with_async_urls_and_same_url_for_both_keys(tmp_path: Path, url: str) -> None:
    async_url = DatabaseURL.parse(url).asynchronous().render(hide_password=False)
    assert async_url.startswith(
        ("sqlite+aiosqlite://", "postgresql+asyncpg://", "mysql+aiomysql://")
    )
    d = str(tmp_path / "migrations")
    Async = get_adapter("async_yoyo")
    assert Async is AsyncYoyoAdapter

    async def scenario() -> tuple[str, str | None, list[dict[str, object]]]:
        await Async.init_migrations(d, connection_string=async_url)
        rev = await Async.create_migration("table t", directory=d, connection_string=async_url)
        write_revision(Path(d), rev, ["CREATE TABLE t (id integer)"], ["DROP TABLE t"])
        await Async.upgrade(directory=d, connection_string=async_url)
        current = await Async.get_current_revision(directory=d, connection_string=async_url)
        history = await Async.get_migration_history(directory=d, connection_string=async_url)
        return rev, current, history

    rev, current, history = asyncio.run(scenario())
    assert current == rev
    assert history[0]["applied"] is True
    # The same async URL works with the sync key, and the sync URL with the async key.
    assert YoyoAdapter.get_current_revision(directory=d, connection_string=async_url) == rev
    YoyoAdapter.downgrade("base", directory=d, connection_string=async_url)
    assert "t" not in tables(url)
    asyncio.run(AsyncYoyoAdapter.upgrade(directory=d, connection_string=url))
    assert "t" in tables(url)


def test_sql_rendering_lists_the_statements_that_would_run(tmp_path: Path, url: str) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    r2 = YoyoAdapter.create_migration("two", directory=d)
    write_revision(d, r1, ["CREATE TABLE a (id integer)"], ["DROP TABLE a"])
    write_revision(d, r2, ["CREATE TABLE b (id integer)", "INSERT INTO b VALUES (1)"],
                   ["DELETE FROM b", "DROP TABLE b"])  # fmt: skip
    sql = YoyoAdapter.upgrade(directory=d, connection_string=url, sql=True)
    assert sql is not None
    lines = [line for line in sql.splitlines() if line and not line.startswith("--")]
    assert lines == [
        "CREATE TABLE a (id integer);",
        "CREATE TABLE b (id integer);",
        "INSERT INTO b VALUES (1);",
    ]
    assert f"-- upgrade to {r1}: one" in sql
    assert tables(url) == set()  # rendering touched nothing

    YoyoAdapter.upgrade(directory=d, connection_string=url)
    sql = YoyoAdapter.downgrade("base", directory=d, connection_string=url, sql=True)
    assert sql is not None
    lines = [line for line in sql.splitlines() if line and not line.startswith("--")]
    assert lines == ["DELETE FROM b;", "DROP TABLE b;", "DROP TABLE a;"]
    assert YoyoAdapter.get_current_revision(directory=d, connection_string=url) == r2


def test_non_transactional_revision(tmp_path: Path, postgresql_url: str) -> None:
    """``-- transactional: false`` (CREATE INDEX CONCURRENTLY) runs outside a transaction."""
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("table", directory=d)
    write_revision(d, r1, ["CREATE TABLE t (id integer)"], ["DROP TABLE t"])
    r2 = YoyoAdapter.create_migration("index", directory=d)
    path = d / "versions" / f"{r2}.sql"
    path.write_text(
        path.read_text() + "-- transactional: false\nCREATE INDEX CONCURRENTLY ti ON t (id);\n"
    )
    (d / "versions" / f"{r2}.rollback.sql").write_text("DROP INDEX CONCURRENTLY ti;\n")
    kw = {"directory": d, "connection_string": postgresql_url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.get_current_revision(**kw) == r2
    assert query(postgresql_url, "SELECT indexname FROM pg_indexes WHERE tablename = 't'") == [
        ("ti",)
    ]
    YoyoAdapter.downgrade("-1", **kw)
    assert query(postgresql_url, "SELECT indexname FROM pg_indexes WHERE tablename = 't'") == []


def test_postgresql_connections_get_the_session_options(
    tmp_path: Path, postgresql_url: str
) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    rev = YoyoAdapter.create_migration("record settings", directory=d)
    write_revision(d, rev, [
        "CREATE TABLE settings AS SELECT current_setting('client_connection_check_interval') AS v"
    ], ["DROP TABLE settings"])  # fmt: skip
    YoyoAdapter.upgrade(directory=d, connection_string=postgresql_url)
    assert query(postgresql_url, "SELECT v FROM settings") == [("1s",)]


# -- bad input ------------------------------------------------------------------------


def test_autogenerate_true_raises_and_writes_nothing(tmp_path: Path, sqlite_url: str) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    before = sorted(p.name for p in (d / "versions").iterdir())
    with pytest.raises(MigrationCreationError, match="cannot autogenerate"):
        YoyoAdapter.create_migration(
            "x", autogenerate=True, directory=d, connection_string=sqlite_url
        )
    assert sorted(p.name for p in (d / "versions").iterdir()) == before
    # Left out, autogenerate means "where the backend can": an empty revision.
    rev = YoyoAdapter.create_migration("x", directory=d, connection_string=sqlite_url)
    YoyoAdapter.upgrade(directory=d, connection_string=sqlite_url)
    assert YoyoAdapter.get_current_revision(directory=d, connection_string=sqlite_url) == rev


def test_init_with_models_module_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    d = tmp_path / "migrations"
    with pytest.raises(MigrationInitError, match="cannot autogenerate"):
        YoyoAdapter.init_migrations(d, models_module="myapp.models")
    assert not d.exists()
    d.mkdir()
    with pytest.raises(MigrationInitError):
        YoyoAdapter.init_migrations(d, models_module=sys)
    assert list(d.iterdir()) == []


def test_other_directories_are_not_yoyo_environments(tmp_path: Path, sqlite_url: str) -> None:
    other = tmp_path / "alembic_like"
    (other / "versions").mkdir(parents=True)
    (other / "alembic.ini").write_text("[alembic]\n")
    with pytest.raises(MigrationUpgradeError, match=r"yoyo.*init_migrations"):
        YoyoAdapter.upgrade(directory=other, connection_string=sqlite_url)


def test_targets_that_make_no_sense_raise_and_change_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    r2 = YoyoAdapter.create_migration("two", directory=d)
    write_revision(d, r1, ["CREATE TABLE a (id integer)"], ["DROP TABLE a"])
    write_revision(d, r2, ["CREATE TABLE b (id integer)"], ["DROP TABLE b"])
    kw = {"directory": d, "connection_string": sqlite_url}
    with pytest.raises(MigrationDowngradeError, match="-1"):
        YoyoAdapter.downgrade("-1", **kw)  # nothing applied
    YoyoAdapter.upgrade(**kw)
    with pytest.raises(MigrationUpgradeError):
        YoyoAdapter.upgrade(r1, **kw)  # older than the current revision
    with pytest.raises(MigrationUpgradeError):
        YoyoAdapter.upgrade("+1", **kw)  # nothing pending
    with pytest.raises(MigrationDowngradeError):
        YoyoAdapter.downgrade("-3", **kw)
    with pytest.raises(MigrationNotFoundError) as info:
        YoyoAdapter.downgrade(r1[:-1], **kw)  # no prefix matching
    assert info.value.revision == r1[:-1]
    # A misspelt keyword must not silently upgrade to head.
    with pytest.raises(TypeError, match="revison"):
        YoyoAdapter.upgrade(directory=d, connection_string=sqlite_url, revison=r1)  # type: ignore[call-arg]
    assert YoyoAdapter.get_current_revision(**kw) == r2
    assert tables(sqlite_url) >= {"a", "b"}


def test_failing_revision_rolls_back_its_own_statements(
    tmp_path: Path, transactional_url: str
) -> None:
    url = transactional_url
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    r2 = YoyoAdapter.create_migration("two", directory=d)
    write_revision(d, r1, ["CREATE TABLE a (id integer)"], ["DROP TABLE a"])
    write_revision(d, r2, ["INSERT INTO a VALUES (1)", "CREATE TABLE b (id integer)",
                           "INSERT INTO nope VALUES (1)"], ["DROP TABLE b"])  # fmt: skip
    with pytest.raises(MigrationUpgradeError) as info:
        YoyoAdapter.upgrade(directory=d, connection_string=url)
    assert info.value.revision == r2
    assert YoyoAdapter.get_current_revision(directory=d, connection_string=url) == r1
    assert query(url, "SELECT count(*) FROM a") == [(0,)]
    assert "b" not in tables(url)
    assert query(url, f"SELECT migration_id FROM {_quoted(url, '_yoyo_migration')}") == [(r1,)]


def test_password_stays_out_of_files_and_errors(
    tmp_path: Path, postgresql_url: str, postgresql_server: object
) -> None:
    password: str = postgresql_server.password  # type: ignore[attr-defined]
    assert "%" in password and "@" in password
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d, connection_string=postgresql_url)
    rev = YoyoAdapter.create_migration("t", directory=d, connection_string=postgresql_url)
    write_revision(d, rev, ["CREATE TABLE t (id integer)"], ["DROP TABLE t"])
    YoyoAdapter.upgrade(directory=d, connection_string=postgresql_url)  # the password works
    secrets = DatabaseURL.parse(postgresql_url).secrets()
    for path in d.rglob("*"):
        if path.is_file():
            assert not any(s.encode() in path.read_bytes() for s in secrets), path
    bad_db = postgresql_url.rsplit("/", 1)[0] + "/no_such_database"
    for call in (
        lambda: YoyoAdapter.upgrade(directory=d, connection_string=bad_db),
        lambda: YoyoAdapter.get_current_revision(directory=d, connection_string=bad_db),
        lambda: YoyoAdapter.get_migration_history(directory=d, connection_string=bad_db),
    ):
        with pytest.raises(MigrationError) as info:
            call()
        text = "".join(traceback.format_exception(info.value)) + repr(info.value.args)
        assert "no_such_database" in text
        assert not any(s in text for s in secrets)


# -- the files ------------------------------------------------------------------------


def test_ids_sort_in_creation_order_within_one_second(tmp_path: Path) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    revisions = [YoyoAdapter.create_migration(f"r{i}", directory=d) for i in range(30)]
    assert revisions == sorted(revisions)
    assert len(set(revisions)) == 30
    history = YoyoAdapter.get_migration_history(directory=d)
    assert [h["revision"] for h in history] == revisions
    assert [h["down_revision"] for h in history] == [None, *revisions[:-1]]


def test_concurrent_creates_in_separate_processes_get_distinct_ids(tmp_path: Path) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    script = (
        "import sys\nfrom pydapter_migrations_yoyo import YoyoAdapter\n"
        "for i in range(10):\n"
        "    print(YoyoAdapter.create_migration(f'p{sys.argv[1]} {i}', directory=sys.argv[2]))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(n), str(d)], stdout=subprocess.PIPE, text=True
        )
        for n in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    for ids in outputs:
        assert ids == sorted(ids)  # each process's revisions in its creation order
    all_ids = [i for ids in outputs for i in ids]
    assert len(set(all_ids)) == 40
    assert len(list((d / "versions").glob("*.rollback.sql"))) == 40
    assert not [p for p in (d / "versions").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "message",
    [
        "Add users table",
        "two\nlines",
        "back\\slash \\n not a newline",
        "-- depends: 20000101_000000_000000",
        "ünïcödé ✓ 'quotes' \"double\" ; DROP TABLE x; --",
        "tab\there",
    ],
)
def test_any_message_round_trips_through_the_header(tmp_path: Path, message: str) -> None:
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    first = YoyoAdapter.create_migration("first", directory=d)
    rev = YoyoAdapter.create_migration(message, directory=d)
    [_, entry] = YoyoAdapter.get_migration_history(directory=d)
    assert entry["revision"] == rev
    assert entry["description"] == message
    assert entry["down_revision"] == first
    assert [p.name for p in (d / "versions").iterdir()] != []
    assert all(p.parent == d / "versions" for p in (d / "versions").rglob("*"))


def test_directory_with_glob_characters(tmp_path: Path, sqlite_url: str) -> None:
    d = tmp_path / "mig[1]*?"
    YoyoAdapter.init_migrations(d)
    rev = YoyoAdapter.create_migration("t", directory=d)
    write_revision(d, rev, ["CREATE TABLE t (id integer)"], ["DROP TABLE t"])
    YoyoAdapter.upgrade(directory=d, connection_string=sqlite_url)
    assert YoyoAdapter.get_current_revision(directory=d, connection_string=sqlite_url) == rev


def test_sqlite_path_with_uri_characters(tmp_path: Path) -> None:
    db = tmp_path / "odd?name#1%.db"
    url = f"sqlite:///{quote(str(db))}"  # percent-encoded, as in any URL
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    rev = YoyoAdapter.create_migration("t", directory=d)
    write_revision(d, rev, ["CREATE TABLE t (id integer)"], ["DROP TABLE t"])
    YoyoAdapter.upgrade(directory=d, connection_string=url)
    assert db.is_file()
    assert YoyoAdapter.get_current_revision(directory=d, connection_string=url) == rev


def test_plain_yoyo_command_reads_the_environment(tmp_path: Path, sqlite_url: str) -> None:
    """The directory and the bookkeeping stay yoyo's: ``yoyo list`` sees what was applied."""
    d = tmp_path / "migrations"
    YoyoAdapter.init_migrations(d)
    r1 = YoyoAdapter.create_migration("one", directory=d)
    r2 = YoyoAdapter.create_migration("two", directory=d)
    write_revision(d, r1, ["CREATE TABLE a (id integer)"], ["DROP TABLE a"])
    write_revision(d, r2, ["CREATE TABLE b (id integer)"], ["DROP TABLE b"])
    YoyoAdapter.upgrade(r1, directory=d, connection_string=sqlite_url)
    yoyo = Path(sys.executable).with_name("yoyo")
    command = [str(yoyo)] if yoyo.exists() else [sys.executable, "-m", "yoyo"]
    out = subprocess.run(
        [*command, "list", "--config", str(d / "yoyo.ini"), "--database", sqlite_url],
        capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert re.search(rf"^A\s+{r1}\s", out, re.MULTILINE), out
    assert re.search(rf"^U\s+{r2}\s", out, re.MULTILINE), out


def test_the_error_that_stopped_a_step_is_reported_not_its_savepoint(
    tmp_path: Path, sqlite_url: str
) -> None:
    # A Python step that ends the transaction makes yoyo's savepoint rollback fail with
    # "no such savepoint", which used to hide the real error.
    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    revision = YoyoAdapter.create_migration("python steps", directory=directory)
    for suffix in (".sql", ".rollback.sql"):
        (directory / "versions" / f"{revision}{suffix}").unlink()
    (directory / "versions" / f"{revision}.py").write_text(
        "from yoyo import step\n\n"
        "steps = [\n"
        "    step('CREATE TABLE a1 (id integer)'),\n"
        "    step(lambda conn: conn.cursor().execute('COMMIT')),\n"
        "    step('INSERT INTO nowhere VALUES (1)'),\n"
        "]\n"
    )
    with pytest.raises(MigrationUpgradeError) as info:
        YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    message = str(info.value)
    assert "no such table: nowhere" in message and "savepoint" not in message
    assert "ended its own transaction" in message and info.value.revision == revision
    assert (
        YoyoAdapter.get_current_revision(directory=directory, connection_string=sqlite_url) is None
    )


def test_a_transactional_sql_revision_that_commits_is_refused_before_running(
    tmp_path: Path, sqlite_url: str
) -> None:
    directory = tmp_path / "migrations"
    YoyoAdapter.init_migrations(directory)
    revision = YoyoAdapter.create_migration("commits", directory=directory)
    write_revision(
        directory,
        revision,
        ["CREATE TABLE a1 (id integer)", "COMMIT", "CREATE TABLE a2 (id integer)"],
        [],
    )
    with pytest.raises(MigrationUpgradeError, match="COMMIT") as info:
        YoyoAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert info.value.revision == revision and "transactional: false" in str(info.value)
    assert tables(sqlite_url) == set()  # nothing ran
