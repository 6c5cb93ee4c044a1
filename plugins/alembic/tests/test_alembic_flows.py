"""The documented flows of the Alembic backend, on real SQLite files, a real PostgreSQL and a
real MariaDB."""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import logging
import os
import secrets
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic_helpers import revision_file, write_revision
from pydapter_migrations_alembic import AlembicAdapter, AsyncAlembicAdapter

from pydapter_migrations import (
    AlembicAdapter as RegistryAlembicAdapter,
)
from pydapter_migrations import (
    AsyncAlembicAdapter as RegistryAsyncAlembicAdapter,
)
from pydapter_migrations import (
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationInitError,
    MigrationNotFoundError,
    MigrationUpgradeError,
    get_adapter,
)
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

DECLARATIVE_MODELS = """
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    username = Column(String(50), unique=True, nullable=False)
    email = Column(String(100), unique=True, nullable=False)
"""

TYPED_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Model(DeclarativeBase):
    pass


class Account(Model):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
"""

METADATA_MODELS = """
from sqlalchemy import Column, Integer, MetaData, String, Table

meta = MetaData()
events = Table("events", meta, Column("id", Integer, primary_key=True), Column("kind", String(20)))
"""


@pytest.fixture
def url(each_database_url: str) -> str:
    return each_database_url


@pytest.fixture
def db(url: str) -> KitDatabase:
    return KitDatabase(DatabaseURL.parse(url))


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Write a models module under a unique name and import it."""
    created: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source: str = DECLARATIVE_MODELS) -> ModuleType:
        name = f"models_{secrets.token_hex(4)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        created.append(name)
        return importlib.import_module(name)

    yield make
    for name in created:
        sys.modules.pop(name, None)


def _revision_text(directory: Path, revision: str) -> str:
    return revision_file(directory, revision).read_text()


def test_both_import_paths_give_the_same_classes() -> None:
    assert RegistryAlembicAdapter is AlembicAdapter
    assert RegistryAsyncAlembicAdapter is AsyncAlembicAdapter
    assert get_adapter("alembic") is AlembicAdapter
    assert get_adapter("async_alembic") is AsyncAlembicAdapter
    assert AlembicAdapter.capabilities() == {"autogenerate", "sql"}
    assert AsyncAlembicAdapter.capabilities() == {"autogenerate", "sql", "async"}


def test_adapter_module_imports_no_alembic_or_sqlalchemy() -> None:
    code = (
        "import sys, pydapter_migrations_alembic.adapter\n"
        "bad = [m for m in ('alembic', 'sqlalchemy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_documented_flow(tmp_path: Path, url: str, db: KitDatabase, models: Any) -> None:
    """init with models, autogenerate, upgrade, current, history, downgrade to id and base."""
    mymodels = models()
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(
        directory=str(directory), connection_string=url, models_module=mymodels
    )
    assert {p.name for p in directory.iterdir()} == {
        "alembic.ini",
        "env.py",
        "script.py.mako",
        "versions",
    }
    first = AlembicAdapter.create_migration(
        message="Add users table",
        autogenerate=True,
        directory=str(directory),
        connection_string=url,
    )
    assert len(first) == 12
    assert revision_file(directory, first).name == f"{first}_add_users_table.py"
    assert "op.create_table('users'" in _revision_text(directory, first)
    assert "users" not in db.tables()

    AlembicAdapter.upgrade(revision="head", directory=str(directory), connection_string=url)
    assert "users" in db.tables()
    current = AlembicAdapter.get_current_revision(directory=str(directory), connection_string=url)
    assert current == first

    second = AlembicAdapter.create_migration(
        message="Custom data migration",
        autogenerate=False,
        directory=str(directory),
        connection_string=url,
    )
    assert "def upgrade() -> None:\n    pass" in _revision_text(directory, second)
    write_revision(
        directory,
        second,
        ["INSERT INTO users (id, username, email) VALUES (1, 'ann', 'ann@example.com')"],
        ["DELETE FROM users WHERE id = 1"],
    )
    AlembicAdapter.upgrade(directory=str(directory), connection_string=url)
    assert db.query("SELECT username FROM users") == [("ann",)]

    history = AlembicAdapter.get_migration_history(directory=str(directory), connection_string=url)
    paths = [Path(entry.pop("path")) for entry in history]
    assert all(entry.pop("applied_at") and entry.pop("applied_by") for entry in history)
    assert [p.parent for p in paths] == [directory / "versions"] * 2
    assert history == [
        {
            "revision": first,
            "description": "Add users table",
            "down_revision": None,
            "applied": True,
        },
        {
            "revision": second,
            "description": "Custom data migration",
            "down_revision": first,
            "applied": True,
        },
    ]

    AlembicAdapter.downgrade(revision=first, directory=str(directory), connection_string=url)
    assert AlembicAdapter.get_current_revision(directory=directory, connection_string=url) == first
    assert db.query("SELECT count(*) FROM users") == [(0,)]
    AlembicAdapter.downgrade(revision="base", directory=str(directory), connection_string=url)
    assert AlembicAdapter.get_current_revision(directory=directory, connection_string=url) is None
    assert "users" not in db.tables()
    history = AlembicAdapter.get_migration_history(directory=str(directory), connection_string=url)
    assert [h["applied"] for h in history] == [False, False]


@pytest.mark.parametrize("source", [DECLARATIVE_MODELS, TYPED_MODELS, METADATA_MODELS])
def test_autogenerate_from_a_fresh_process(
    tmp_path: Path, sqlite_url: str, models: Any, source: str
) -> None:
    """Declarative Base, DeclarativeBase subclass or MetaData, recorded by dotted path."""
    module = models(source)
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory, models_module=module.__name__)
    code = (
        "from pydapter_migrations import AlembicAdapter\n"
        f"print(AlembicAdapter.create_migration('initial', autogenerate=True, "
        f"directory={str(directory)!r}, connection_string={sqlite_url!r}))\n"
    )
    # Another process, started elsewhere, with the models' folder not on sys.path.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    revision = out.stdout.strip().splitlines()[-1]
    table = {DECLARATIVE_MODELS: "users", TYPED_MODELS: "accounts", METADATA_MODELS: "events"}
    assert f"op.create_table('{table[source]}'" in _revision_text(directory, revision)
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert table[source] in KitDatabase(DatabaseURL.parse(sqlite_url)).tables()


def test_models_of_a_script_run_as_main(tmp_path: Path, sqlite_url: str) -> None:
    """The documented ``models_module=sys.modules[__name__]`` from a script."""
    script = tmp_path / "app.py"
    script.write_text(
        DECLARATIVE_MODELS
        + textwrap.dedent(
            f"""
            import sys
            from pydapter_migrations import AlembicAdapter

            AlembicAdapter.init_migrations(
                directory="migrations",
                connection_string={sqlite_url!r},
                models_module=sys.modules[__name__],
            )
            print(AlembicAdapter.create_migration(
                "from main", autogenerate=True, directory="migrations",
                connection_string={sqlite_url!r},
            ))
            """
        )
    )
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    directory = tmp_path / "migrations"
    first = run.stdout.strip().splitlines()[-1]
    assert "op.create_table('users'" in _revision_text(directory, first)
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    # Here (another process) the script is loaded from its file; the models are the same,
    # so nothing is left to generate.
    script.write_text(script.read_text().replace("String(100)", "String(200)"))
    second = AlembicAdapter.create_migration(
        "widen email", autogenerate=True, directory=directory, connection_string=sqlite_url
    )
    text = _revision_text(directory, second)
    assert "alter_column('email'" in text and "String(length=200)" in text


def test_models_without_metadata_are_refused(tmp_path: Path, models: Any) -> None:
    empty = models("X = 1\n")
    target = tmp_path / "migrations"
    with pytest.raises(MigrationInitError, match="no SQLAlchemy metadata"):
        AlembicAdapter.init_migrations(target, models_module=empty)
    assert not target.exists()
    with pytest.raises(MigrationInitError):
        AlembicAdapter.init_migrations(target, models_module="no_such_models_module_xyz")
    assert not target.exists()


def test_autogenerate_needs_models_and_url(tmp_path: Path, sqlite_url: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    with pytest.raises(MigrationCreationError, match="models_module"):
        AlembicAdapter.create_migration(
            "x", autogenerate=True, directory=directory, connection_string=sqlite_url
        )
    # Left out, autogenerate means "where possible": an empty revision here.
    revision = AlembicAdapter.create_migration("plain", directory=directory)
    assert "    pass" in _revision_text(directory, revision)
    assert len(list((directory / "versions").glob("*.py"))) == 1


def test_autogenerate_against_an_outdated_database(
    tmp_path: Path, sqlite_url: str, models: Any
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory, models_module=models())
    AlembicAdapter.create_migration(
        "one", autogenerate=True, directory=directory, connection_string=sqlite_url
    )
    with pytest.raises(MigrationCreationError, match="not up to date") as info:
        AlembicAdapter.create_migration(
            "two", autogenerate=True, directory=directory, connection_string=sqlite_url
        )
    assert type(info.value.__cause__).__name__ == "CommandError"
    assert len(list((directory / "versions").glob("*.py"))) == 1


@pytest.mark.parametrize(
    "message",
    ['quote """ and \\x escape', "slash/../and\\back", "ünïcödé ✓ message", "tab\there"],
)
def test_any_message_gives_a_valid_revision_file(tmp_path: Path, message: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration(message, directory=directory)
    path = revision_file(directory, revision)
    assert path.parent == directory / "versions"
    assert path.name.isascii() and "/" not in path.name[len(revision) :]
    compile(path.read_text(), str(path), "exec")
    [entry] = AlembicAdapter.get_migration_history(directory=directory)
    assert entry["description"] == message


def test_two_databases_with_two_directories(
    tmp_path: Path, postgresql_server: Any, models: Any
) -> None:
    main_url = postgresql_server.url(postgresql_server.create_database("main_db"))
    analytics_url = postgresql_server.url(postgresql_server.create_database("analytics_db"))
    main_models = models(DECLARATIVE_MODELS)
    analytics_models = models(METADATA_MODELS)
    for name, url, module in (
        ("main", main_url, main_models),
        ("analytics", analytics_url, analytics_models),
    ):
        directory = tmp_path / "migrations" / name
        AlembicAdapter.init_migrations(
            directory=str(directory), connection_string=url, models_module=module
        )
        AlembicAdapter.create_migration(
            "initial", autogenerate=True, directory=str(directory), connection_string=url
        )
    for name, url in (("main", main_url), ("analytics", analytics_url)):
        AlembicAdapter.upgrade(
            "head", directory=str(tmp_path / "migrations" / name), connection_string=url
        )
    main_db = KitDatabase(DatabaseURL.parse(main_url))
    analytics_db = KitDatabase(DatabaseURL.parse(analytics_url))
    history = "pydapter_migrations_history"
    assert main_db.tables() == {"alembic_version", "users", history}
    assert analytics_db.tables() == {"alembic_version", "events", history}


def _async_url(url: str) -> str:
    return DatabaseURL.parse(url).asynchronous().render(hide_password=False)


def test_async_flow_inside_a_running_loop(
    tmp_path: Path,
    url: str,
    db: KitDatabase,
    models: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The async example of the docs, awaited while another task keeps ticking.

    The revision itself waits until the loop has ticked while it runs: a revision run on the
    loop's own thread would wait in vain and fail, however fast or slow the machine is.
    """
    async_url = _async_url(url)
    assert async_url.split(":")[0] in {"sqlite+aiosqlite", "postgresql+asyncpg", "mysql+aiomysql"}
    directory = str(tmp_path / "migrations")
    mymodels = models()
    probe = ModuleType("_loop_probe")
    probe.revision_running = threading.Event()  # type: ignore[attr-defined]
    probe.loop_ticked = threading.Event()  # type: ignore[attr-defined]

    def wait_for_the_loop() -> None:
        probe.revision_running.set()  # type: ignore[attr-defined]
        if not probe.loop_ticked.wait(60):  # type: ignore[attr-defined]
            raise RuntimeError("the event loop did not run while the revision ran")

    probe.wait_for_the_loop = wait_for_the_loop  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_loop_probe", probe)

    async def main() -> tuple[str, str | None, list[int]]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                if probe.revision_running.is_set():  # type: ignore[attr-defined]
                    probe.loop_ticked.set()  # type: ignore[attr-defined]
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        ticks_during: list[int] = []
        before = ticks
        await AsyncAlembicAdapter.init_migrations(
            directory=directory, connection_string=async_url, models_module=mymodels
        )
        ticks_during.append(ticks - before)
        before = ticks
        revision = await AsyncAlembicAdapter.create_migration(
            message="Add users table",
            autogenerate=True,
            directory=directory,
            connection_string=async_url,
        )
        ticks_during.append(ticks - before)
        script = revision_file(Path(directory), revision)
        script.write_text(
            script.read_text().replace(
                "def upgrade() -> None:\n",
                "def upgrade() -> None:\n"
                '    __import__("sys").modules["_loop_probe"].wait_for_the_loop()\n',
                1,
            )
        )
        before = ticks
        await AsyncAlembicAdapter.upgrade(
            revision="head", directory=directory, connection_string=async_url
        )
        ticks_during.append(ticks - before)
        current = await AsyncAlembicAdapter.get_current_revision(
            directory=directory, connection_string=async_url
        )
        stop.set()
        await task
        return revision, current, ticks_during

    revision, current, ticks_during = asyncio.run(main())
    assert current == revision
    assert "users" in db.tables()
    assert probe.loop_ticked.is_set()  # type: ignore[attr-defined]
    # Autogenerate compares models with a live database for tens of milliseconds: the loop
    # must have run in that time too.
    assert ticks_during[1] > 0, ticks_during


def test_sync_adapter_takes_async_urls_inside_a_running_loop(
    tmp_path: Path, sqlite_url: str
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration("t", directory=directory)
    write_revision(directory, revision, ["CREATE TABLE t (id integer)"], ["DROP TABLE t"])
    async_url = _async_url(sqlite_url)

    async def main() -> None:
        # Blocking, as a sync call is; but Alembic's async recipe must not collide with
        # the loop already running in this thread (alembic#1353).
        AlembicAdapter.upgrade(directory=directory, connection_string=async_url)

    asyncio.run(main())
    assert AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)


def test_concurrent_calls_from_threads(tmp_path: Path) -> None:
    """Threads in one process: Alembic's global state is guarded."""
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            directory = tmp_path / f"m{i}"
            url = f"sqlite:///{tmp_path / f'db{i}.sqlite'}"
            AlembicAdapter.init_migrations(directory)
            revisions = []
            for n in range(3):
                revision = AlembicAdapter.create_migration(f"r{n}", directory=directory)
                write_revision(
                    directory, revision, [f"CREATE TABLE t{n} (id integer)"], [f"DROP TABLE t{n}"]
                )
                revisions.append(revision)
            AlembicAdapter.upgrade(directory=directory, connection_string=url)
            AlembicAdapter.downgrade("-1", directory=directory, connection_string=url)
            results[i] = (
                revisions,
                AlembicAdapter.get_current_revision(directory=directory, connection_string=url),
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(results) == 6
    for revisions, current in results.values():
        assert current == revisions[1]


def test_threads_upgrading_one_database(tmp_path: Path, url: str, db: KitDatabase) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revisions = []
    for n in range(3):
        revision = AlembicAdapter.create_migration(f"r{n}", directory=directory)
        up = [f"CREATE TABLE t{n} (id integer)", f"INSERT INTO kit_log VALUES ({n})"]
        if n == 0:
            up.insert(0, "CREATE TABLE kit_log (n integer)")
        write_revision(directory, revision, up, [])
        revisions.append(revision)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            AlembicAdapter.upgrade(directory=directory, connection_string=url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(db.query("SELECT n FROM kit_log")) == [(0,), (1,), (2,)]


def test_sql_mode_renders_without_touching_the_database(
    tmp_path: Path, url: str, db: KitDatabase, models: Any
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory, models_module=models())
    first = AlembicAdapter.create_migration(
        "users", autogenerate=True, directory=directory, connection_string=url
    )
    tables_before = db.tables()
    sql = AlembicAdapter.upgrade("head", directory=directory, connection_string=url, sql=True)
    assert isinstance(sql, str)
    assert "CREATE TABLE users" in sql and "alembic_version" in sql
    assert db.tables() == tables_before
    AlembicAdapter.upgrade(directory=directory, connection_string=url)
    down = AlembicAdapter.downgrade("base", directory=directory, connection_string=url, sql=True)
    assert isinstance(down, str) and "DROP TABLE users" in down
    assert AlembicAdapter.get_current_revision(directory=directory, connection_string=url) == first
    assert "users" in db.tables()
    with pytest.raises(MigrationNotFoundError):
        AlembicAdapter.upgrade("abcdef123456", directory=directory, connection_string=url, sql=True)


def test_sql_mode_does_not_create_a_sqlite_file(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration("t", directory=directory)
    write_revision(directory, revision, ["CREATE TABLE t (id integer)"], ["DROP TABLE t"])
    database = tmp_path / "never.db"
    sql = AlembicAdapter.upgrade(
        directory=directory, connection_string=f"sqlite:///{database}", sql=True
    )
    assert isinstance(sql, str) and "CREATE TABLE t" in sql
    assert not database.exists()


def test_plain_alembic_command_with_database_url(
    tmp_path: Path, url: str, db: KitDatabase, models: Any
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory, models_module=models())
    revision = AlembicAdapter.create_migration(
        "users", autogenerate=True, directory=directory, connection_string=url
    )
    # The plain command, as `python -m alembic` so it is this environment's Alembic.
    alembic = [sys.executable, "-m", "alembic"]
    ini = str(directory / "alembic.ini")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    missing = subprocess.run(
        [*alembic, "-c", ini, "upgrade", "head"], env=env, capture_output=True, text=True
    )
    assert missing.returncode != 0
    assert "DATABASE_URL" in missing.stderr
    env["DATABASE_URL"] = url
    done = subprocess.run(
        [*alembic, "-c", ini, "upgrade", "head"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "users" in db.tables()
    current = subprocess.run(
        [*alembic, "-c", ini, "current"], env=env, capture_output=True, text=True
    )
    assert current.returncode == 0 and revision in current.stdout
    assert AlembicAdapter.get_current_revision(directory=directory, connection_string=url) == (
        revision
    )


def test_password_stays_out_of_files_and_errors(
    tmp_path: Path, postgresql_url: str, postgresql_server: Any, models: Any
) -> None:
    password = postgresql_server.password
    secret_forms = DatabaseURL.parse(postgresql_url).secrets()
    assert password in secret_forms
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(
        directory, connection_string=postgresql_url, models_module=models()
    )
    AlembicAdapter.create_migration(
        "users", autogenerate=True, directory=directory, connection_string=postgresql_url
    )
    AlembicAdapter.upgrade(directory=directory, connection_string=postgresql_url)
    AlembicAdapter.get_migration_history(directory=directory, connection_string=postgresql_url)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(s.encode() in content for s in secret_forms), path
    wrong = postgresql_url.replace(secret_forms[0], "n0t%25the%40password")
    assert wrong != postgresql_url
    for call in (
        lambda: AlembicAdapter.get_current_revision(directory=directory, connection_string=wrong),
        lambda: AlembicAdapter.create_migration(
            "x", autogenerate=True, directory=directory, connection_string=wrong
        ),
        lambda: AlembicAdapter.downgrade("base", directory=directory, connection_string=wrong),
    ):
        with pytest.raises(MigrationError) as info:
            call()
        text = str(info.value) + repr(info.value.__cause__)
        assert "n0t%the@password" not in text and "n0t%25the%40password" not in text
        assert info.value.__cause__ is not None


def test_errors_are_mapped_to_documented_types(tmp_path: Path, sqlite_url: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    AlembicAdapter.create_migration("one", directory=directory)
    r2 = AlembicAdapter.create_migration("two", directory=directory)
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    with pytest.raises(MigrationNotFoundError) as info:
        AlembicAdapter.downgrade("0123456789ab", directory=directory, connection_string=sqlite_url)
    assert info.value.revision == "0123456789ab"
    with pytest.raises(
        MigrationUpgradeError, match=r"relative target \+2 goes past the last revision"
    ):
        AlembicAdapter.upgrade("+2", directory=directory, connection_string=sqlite_url)
    assert (
        AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url) == r2
    )
    AlembicAdapter.downgrade("base", directory=directory, connection_string=sqlite_url)
    with pytest.raises(MigrationDowngradeError):
        AlembicAdapter.downgrade("-1", directory=directory, connection_string=sqlite_url)
    assert (
        AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
        is None
    )
    assert r2


def test_no_stdout_chatter_and_host_loggers_kept(
    tmp_path: Path, sqlite_url: str, models: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    host = logging.getLogger("host.application")
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory, models_module=models())
    AlembicAdapter.create_migration(
        "users", autogenerate=True, directory=directory, connection_string=sqlite_url
    )
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    AlembicAdapter.get_migration_history(directory=directory, connection_string=sqlite_url)
    out, _ = capfd.readouterr()
    assert out == ""
    assert not host.disabled
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    host.addHandler(handler)
    try:
        host.warning("still here")
    finally:
        host.removeHandler(handler)
    assert "still here" in stream.getvalue()


def test_graph_cache_is_used_only_when_provably_fresh(tmp_path: Path, sqlite_url: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    marker = tmp_path / "imported"
    revisions = []
    for n in range(3):
        revision = AlembicAdapter.create_migration(f"step {n}", directory=directory)
        write_revision(directory, revision, [f"CREATE TABLE t{n} (id integer)"], [])
        path = revision_file(directory, revision)
        path.write_text(path.read_text() + f"\nopen({str(marker)!r}, 'a').close()\n")
        revisions.append(revision)
    old = time.time() - 3600
    for path in [*(directory / "versions").glob("*.py"), directory / "alembic.ini"]:
        os.utime(path, (old, old))
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert marker.exists()  # the scripts ran
    assert (directory / "__pycache__" / "pydapter_alembic_graph.json").exists()

    marker.unlink()
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    history = AlembicAdapter.get_migration_history(
        directory=directory, connection_string=sqlite_url
    )
    assert [h["revision"] for h in history] == revisions
    assert not marker.exists(), "a fresh cache must spare importing the scripts"

    # Same size, same mtime, different content: the ctime gives it away.
    path = revision_file(directory, revisions[2])
    path.write_text(path.read_text().replace('"""step 2', '"""STEP 2'))
    os.utime(path, (old, old))
    history = AlembicAdapter.get_migration_history(directory=directory)
    assert history[2]["description"] == "STEP 2"

    # A new revision file is seen at once.
    fourth = AlembicAdapter.create_migration("step 3", directory=directory)
    write_revision(directory, fourth, ["CREATE TABLE t3 (id integer)"], [])
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert (
        AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
        == fourth
    )


def test_racy_files_are_trusted_only_while_their_content_matches(tmp_path: Path) -> None:
    """A file rewritten within the timestamp granularity keeps its stats; the digest of
    what was parsed catches it."""
    from pydapter_migrations_alembic import _graph
    from pydapter_migrations_alembic._engine import _graph as load_graph
    from pydapter_migrations_alembic._facts import known
    from pydapter_migrations_alembic._project import locate

    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration("original", directory=directory)
    project = locate(directory)
    assert project is not None
    facts = known(project)
    assert facts is not None
    _, script = load_graph(project, facts)  # just written: every file is racy
    assert script is not None

    def stats() -> dict[str, tuple[int, int, int, int]]:
        return _graph.fingerprint(project, facts.locations(project))

    cached = _graph.read_cache(project, stats())
    assert cached is not None and cached.revisions[revision].description == "original"

    path = revision_file(directory, revision)
    path.write_text(path.read_text().replace('"""original', '"""ORIGINAL'))
    # Pretend the rewrite left every stat as it was (a coarse clock would).
    cache = directory / "__pycache__" / "pydapter_alembic_graph.json"
    data = json.loads(cache.read_text())
    data["stats"] = stats()
    cache.write_text(json.dumps(data))
    assert _graph.read_cache(project, stats()) is None
    [entry] = AlembicAdapter.get_migration_history(directory=directory)
    assert entry["description"] == "ORIGINAL"


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+asyncpg"])
def test_postgresql_migration_connections_carry_the_session_options(
    tmp_path: Path, postgresql_url: str, driver: str
) -> None:
    """A killed client's transaction must die within a second: the setting is on."""
    url = postgresql_url.replace("postgresql://", f"{driver}://", 1)
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration("record the setting", directory=directory)
    write_revision(
        directory,
        revision,
        [
            "CREATE TABLE seen AS SELECT current_setting('client_connection_check_interval') AS v",
        ],
        ["DROP TABLE seen"],
    )
    AlembicAdapter.upgrade(directory=directory, connection_string=url)
    assert KitDatabase(DatabaseURL.parse(postgresql_url)).query("SELECT v FROM seen") == [("1s",)]


def test_branches_and_a_merge(tmp_path: Path, sqlite_url: str) -> None:
    """Hand-written branches: history lists the merge's parents; a database left at two
    heads has no single current revision and says so."""
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    versions = directory / "versions"

    def script(revision: str, down: str | tuple[str, ...] | None, table: str) -> None:
        (versions / f"{revision}_{table}.py").write_text(
            f'"""{table}"""\nfrom alembic import op\n\n'
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            "branch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n    op.execute('CREATE TABLE {table} (id integer)')\n\n\n"
            f"def downgrade():\n    op.execute('DROP TABLE {table}')\n"
        )

    script("aaaaaaaaaaaa", None, "root")
    script("bbbbbbbbbbbb", "aaaaaaaaaaaa", "left")
    script("cccccccccccc", "aaaaaaaaaaaa", "right")
    script("dddddddddddd", ("bbbbbbbbbbbb", "cccccccccccc"), "joined")
    history = AlembicAdapter.get_migration_history(directory=directory)
    assert history[0]["revision"] == "aaaaaaaaaaaa"
    assert history[-1]["revision"] == "dddddddddddd"
    assert history[-1]["down_revision"] == ("bbbbbbbbbbbb", "cccccccccccc")

    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    current = AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
    assert current == "dddddddddddd"
    AlembicAdapter.downgrade("bbbbbbbbbbbb", directory=directory, connection_string=sqlite_url)
    with pytest.raises(MigrationError, match="several branch heads"):
        AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
    applied = AlembicAdapter.get_migration_history(
        directory=directory, connection_string=sqlite_url
    )
    assert {h["revision"]: h["applied"] for h in applied} == {
        "aaaaaaaaaaaa": True,
        "bbbbbbbbbbbb": True,
        "cccccccccccc": True,
        "dddddddddddd": False,
    }
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert "joined" in KitDatabase(DatabaseURL.parse(sqlite_url)).tables()


@pytest.mark.parametrize("target", ["@", "head@", "x@y", "+", ":"])
def test_malformed_targets_are_not_found(tmp_path: Path, sqlite_url: str, target: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    AlembicAdapter.create_migration("one", directory=directory)
    with pytest.raises(MigrationNotFoundError) as info:
        AlembicAdapter.upgrade(target, directory=directory, connection_string=sqlite_url)
    assert info.value.revision is not None
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists() or (
        AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
        is None
    )


def test_a_missing_down_revision_is_named(tmp_path: Path, sqlite_url: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    first = AlembicAdapter.create_migration("one", directory=directory)
    second = AlembicAdapter.create_migration("two", directory=directory)
    path = revision_file(directory, second)
    path.write_text(path.read_text().replace(repr(first), "'ffffffffffff'"))
    kw: dict[str, Any] = {"directory": directory, "connection_string": sqlite_url}
    for call, error in (
        (lambda: AlembicAdapter.upgrade(**kw), MigrationUpgradeError),
        (lambda: AlembicAdapter.get_migration_history(**kw), MigrationError),
    ):
        with pytest.raises(error) as info:
            call()
        assert "ffffffffffff" in str(info.value) and second in str(info.value)
        assert "KeyError" not in str(info.value)


def test_an_env_py_written_by_release_0_1_still_runs(tmp_path: Path, sqlite_url: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    env = directory / "env.py"
    text = env.read_text()
    assert "from pydapter_migrations_alembic.env import is_managed, run_migrations" in text
    env.write_text(
        text.replace("pydapter_migrations_alembic.env ", "pydapter_migrations_alembic.environment ")
    )
    revision = AlembicAdapter.create_migration("one", directory=directory)
    write_revision(directory, revision, ["CREATE TABLE t (id integer)"], ["DROP TABLE t"])
    AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
    assert (
        AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
        == revision
    )
