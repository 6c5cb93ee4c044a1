"""Existing Alembic projects, unchanged: their own env.py, ini, version table, version
locations; the adapter reports only what happened to the database it was given."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydapter_migrations_alembic import AlembicAdapter

from pydapter_migrations import MigrationEvent, MigrationUpgradeError, hookimpl
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

# Alembic's generic template, as `alembic init` writes it, plus the cookbook's connection
# sharing and the settings a project may pass to configure().
ENV_PY = """
from logging.config import fileConfig

from sqlalchemy import engine_from_config, pool

from alembic import context

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = None
OPTIONS = {options}


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
                      target_metadata=target_metadata, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = config.attributes.get("connection", None)
    if connectable is None:
        connectable = engine_from_config(config.get_section(config.config_ini_section, {{}}),
                                         prefix="sqlalchemy.", poolclass=pool.NullPool)
        with connectable.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, **OPTIONS)
            with context.begin_transaction():
                context.run_migrations()
    else:
        context.configure(connection=connectable, target_metadata=target_metadata, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""

INI = """
[alembic]
script_location = {script_location}
{extra}
sqlalchemy.url = {decoy}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %%(levelname)s %%(message)s
"""

REVISION = '''"""{message}"""
from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''


def _revision(folder: Path, revision: str, down: str | None, up: str, down_sql: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{revision}_step.py").write_text(
        REVISION.format(
            message=f"step {revision}",
            revision=revision,
            down=down,
            upgrade=f"    op.execute({up!r})",
            downgrade=f"    op.execute({down_sql!r})",
        )
    )


def _project(
    root: Path,
    decoy: str,
    *,
    options: str = "{}",
    extra: str = "",
    ini_at: Path | None = None,
    script_location: str | None = None,
) -> Path:
    """A project as `alembic init` leaves it, with the env.py above; returns the ini."""
    scripts = root / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "env.py").write_text(ENV_PY.format(options=options))
    ini = ini_at or (root / "alembic.ini")
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(
        INI.format(script_location=script_location or str(scripts), extra=extra, decoy=decoy)
    )
    return ini


def _project_with_env(root: Path, old: str, new: str) -> Path:
    """A project as :func:`_project` makes it, with ``old`` replaced by ``new`` in env.py."""
    ini = _project(root, "sqlite:///decoy.db")
    env = root / "scripts" / "env.py"
    text = env.read_text()
    assert old in text
    env.write_text(text.replace(old, new))
    return ini


def _steps(folder: Path, count: int, prefix: str = "aaaa") -> list[str]:
    revisions = [f"{prefix}{n:08d}" for n in range(1, count + 1)]
    for n, revision in enumerate(revisions):
        down = revisions[n - 1] if n else None
        _revision(folder, revision, down, f"CREATE TABLE t_{revision} (id integer)",
                  f"DROP TABLE t_{revision}")  # fmt: skip
    return revisions


@pytest.fixture
def url(each_database_url: str) -> str:
    return each_database_url


class Seen:
    def __init__(self) -> None:
        self.events: list[MigrationEvent] = []

    @hookimpl
    def after_revision(self, event: MigrationEvent) -> None:
        self.events.append(event)


def test_an_own_env_py_with_its_own_version_table_and_locations(tmp_path: Path, url: str) -> None:
    decoy = tmp_path / "decoy.db"
    schema_option = ', "version_table_schema": "public"' if "postgresql" in url else ""
    ini = _project(
        tmp_path,
        f"sqlite:///{decoy}",
        options='{"version_table": "app_versions"' + schema_option + "}",
        extra=f"version_locations = {tmp_path}/scripts/versions {tmp_path}/more\n"
        "path_separator = space",
    )
    first = _steps(tmp_path / "scripts" / "versions", 2)
    _revision(tmp_path / "more", "bbbb00000001", first[-1],
              "CREATE TABLE t_more (id integer)", "DROP TABLE t_more")  # fmt: skip
    kw = {"directory": ini, "connection_string": url}
    history = AlembicAdapter.get_migration_history(**kw)
    assert [h["revision"] for h in history] == [*first, "bbbb00000001"]
    assert all(h["applied"] is False for h in history)

    seen = Seen()
    AlembicAdapter.upgrade(**kw, observers=[seen])
    assert [e.revision for e in seen.events] == [*first, "bbbb00000001"]
    # One transaction for the whole run, as env.py configures it: every revision is
    # reported once it committed, each with the seconds its own work took.
    assert all(e.elapsed is not None and e.elapsed < 30 for e in seen.events)
    db = KitDatabase(DatabaseURL.parse(url))
    assert {"app_versions", "t_more"} <= db.tables() and "alembic_version" not in db.tables()
    assert AlembicAdapter.get_current_revision(**kw) == "bbbb00000001"
    assert not decoy.exists(), "the URL in the ini was used"
    AlembicAdapter.downgrade(first[0], **kw)
    assert AlembicAdapter.get_current_revision(**kw) == first[0]
    assert [h["applied"] for h in AlembicAdapter.get_migration_history(**kw)] == [
        True, False, False,
    ]  # fmt: skip
    AlembicAdapter.upgrade(**kw)  # from the cached graph and the remembered facts
    assert AlembicAdapter.verify(**kw) == []


def test_a_failure_names_its_revision_and_what_was_rolled_back_with_it(
    tmp_path: Path, url: str
) -> None:
    ini = _project(tmp_path, f"sqlite:///{tmp_path / 'decoy.db'}")
    revisions = _steps(tmp_path / "scripts" / "versions", 2)
    _revision(tmp_path / "scripts" / "versions", "aaaa00000003", revisions[-1],
              "INSERT INTO no_such_table VALUES (1)", "SELECT 1")  # fmt: skip
    kw = {"directory": ini, "connection_string": url}
    with pytest.raises(MigrationUpgradeError) as info:
        AlembicAdapter.upgrade(**kw)
    assert info.value.revision == "aaaa00000003"
    if "postgresql" in url:  # one transaction: the first two went back with it
        assert "rolled back with it: aaaa00000001, aaaa00000002" in str(info.value)
        assert AlembicAdapter.get_current_revision(**kw) is None


def _revision_of(folder: Path, revision: str, down: str | None, *statements: str) -> None:
    """A revision running ``statements`` in turn going up (nothing going down)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"    op.execute({statement!r})" for statement in statements)
    (folder / f"{revision}_step.py").write_text(
        REVISION.format(
            message=f"step {revision}", revision=revision, down=down, upgrade=body,
            downgrade="    pass",
        )
    )  # fmt: skip


@pytest.fixture(params=["shared connection", "own engine", "async template"])
def mysql_project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """An adopted project whose env.py runs on the connection it is given, or, as
    Optuna's does, on one of its own engine (``engine_from_config``), or on an asyncio
    engine (``alembic init -t async``)."""
    if request.param == "async template":
        from alembic import command
        from alembic.config import Config

        ini = tmp_path / "alembic.ini"
        command.init(Config(str(ini)), str(tmp_path / "scripts"), template="async")
        return ini
    if request.param == "own engine":
        return _project_with_env(
            tmp_path,
            'connectable = config.attributes.get("connection", None)',
            "connectable = None",
        )
    return _project(tmp_path, f"sqlite:///{tmp_path / 'decoy.db'}")


@pytest.mark.mariadb
def test_an_own_env_py_on_mysql_leaves_a_half_applied_revision_marked(
    tmp_path: Path, mariadb_url: str, mysql_project: Path
) -> None:
    """MariaDB commits each DDL statement as it runs, whatever env.py's transactions: the
    revision it was part of is recorded as started with it."""
    ini = mysql_project
    versions = tmp_path / "scripts" / "versions"
    _revision_of(versions, "aaaa00000001", None, "CREATE TABLE t_one (id integer)")
    _revision_of(versions, "aaaa00000002", "aaaa00000001",
                 "CREATE TABLE t_half (id integer)", "INSERT INTO nope VALUES (1)")  # fmt: skip
    kw = {"directory": ini, "connection_string": mariadb_url}
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    with pytest.raises(MigrationUpgradeError) as info:
        AlembicAdapter.upgrade(**kw)
    message = str(info.value)
    assert info.value.revision == "aaaa00000002"
    assert "Part of revision aaaa00000002 may be committed" in message and "repair" in message
    assert AlembicAdapter.get_current_revision(**kw) == "aaaa00000001"
    assert {"t_one", "t_half"} <= db.tables()
    problems = AlembicAdapter.verify(**kw)
    assert [(p["problem"], p["revision"]) for p in problems] == [("dirty", "aaaa00000002")]

    # Fixed, the revision would run its CREATE TABLE again: every later run refuses.
    _revision_of(versions, "aaaa00000002", "aaaa00000001", "CREATE TABLE t_half (id integer)")
    with pytest.raises(MigrationUpgradeError) as refused:
        AlembicAdapter.upgrade(**kw)
    assert refused.value.revision == "aaaa00000002"
    assert "started" in str(refused.value) and "repair" in str(refused.value)
    assert AlembicAdapter.get_current_revision(**kw) == "aaaa00000001"
    AlembicAdapter.repair(True, **kw)
    assert AlembicAdapter.get_current_revision(**kw) == "aaaa00000002"
    assert AlembicAdapter.verify(**kw) == []


@pytest.mark.mariadb
def test_an_own_env_py_on_mysql_leaves_nothing_of_a_failed_data_only_revision(
    tmp_path: Path, mariadb_url: str, mysql_project: Path
) -> None:
    ini = mysql_project
    versions = tmp_path / "scripts" / "versions"
    _revision_of(versions, "aaaa00000001", None, "CREATE TABLE t_one (id integer)")
    kw = {"directory": ini, "connection_string": mariadb_url}
    AlembicAdapter.upgrade(**kw)
    _revision_of(versions, "aaaa00000002", "aaaa00000001",
                 "INSERT INTO t_one VALUES (1)", "INSERT INTO nope VALUES (1)")  # fmt: skip
    with pytest.raises(MigrationUpgradeError) as info:
        AlembicAdapter.upgrade(**kw)
    assert info.value.revision == "aaaa00000002"
    assert "may be committed" not in str(info.value)
    assert AlembicAdapter.verify(**kw) == []
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    assert db.query("SELECT id FROM t_one") == []
    _revision_of(versions, "aaaa00000002", "aaaa00000001", "INSERT INTO t_one VALUES (1)")
    AlembicAdapter.upgrade(**kw)
    assert AlembicAdapter.get_current_revision(**kw) == "aaaa00000002"


@pytest.mark.mariadb
@pytest.mark.parametrize("then_fails", [False, True])
def test_an_own_env_py_on_mysql_stops_a_revision_that_rolls_back(
    tmp_path: Path, mariadb_url: str, mysql_project: Path, then_fails: bool
) -> None:
    """Its ROLLBACK undoes its first INSERT and its started row; its CREATE TABLE then
    commits the second: stopped and left to repair, whether it then succeeds or fails."""
    ini = mysql_project
    versions = tmp_path / "scripts" / "versions"
    _revision_of(versions, "aaaa00000001", None, "CREATE TABLE m1 (v integer)")
    kw = {"directory": ini, "connection_string": mariadb_url}
    AlembicAdapter.upgrade(**kw)
    statements = ["INSERT INTO m1 VALUES (1)", "ROLLBACK", "INSERT INTO m1 VALUES (2)",
                  "CREATE TABLE z (id int)"]  # fmt: skip
    if then_fails:
        statements.append("INSERT INTO nope VALUES (1)")
    _revision_of(versions, "aaaa00000002", "aaaa00000001", *statements)
    with pytest.raises(MigrationUpgradeError) as info:
        AlembicAdapter.upgrade(**kw)
    assert info.value.revision == "aaaa00000002" and "ROLLBACK" in str(info.value)
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    assert db.query("SELECT v FROM m1") == [(2,)]
    assert AlembicAdapter.get_current_revision(**kw) == "aaaa00000001"
    problems = AlembicAdapter.verify(**kw)
    assert [(p["problem"], p["revision"]) for p in problems] == [("dirty", "aaaa00000002")]


@pytest.mark.mariadb
def test_a_revision_is_applied_once_when_the_lock_session_dies_under_it(
    tmp_path: Path, mariadb_url: str, mysql_project: Path, request: pytest.FixtureRequest
) -> None:
    """The lock's session is killed while a revision sleeps between its INSERT and its
    CREATE TABLE. On the shared connection the revision dies with it, whole, and the next
    run applies it. An env.py of its own engine migrates on another connection, which runs
    on and commits the INSERT with the DDL: the next run waits until that connection has
    stopped, finds the revision's started row and refuses. Either way, the row is there
    once."""
    import threading

    from pydapter_migrations import MigrationError

    ini = mysql_project
    versions = tmp_path / "scripts" / "versions"
    _revision_of(versions, "aaaa00000001", None, "CREATE TABLE m1 (v integer)")
    kw = {"directory": ini, "connection_string": mariadb_url}
    AlembicAdapter.upgrade(**kw)
    _revision_of(
        versions, "aaaa00000002", "aaaa00000001",
        "INSERT INTO m1 VALUES (10)", "SELECT SLEEP(3)", "CREATE TABLE z (id int)",
    )  # fmt: skip
    db = KitDatabase(DatabaseURL.parse(mariadb_url))
    first: list[BaseException] = []

    def upgrade() -> None:
        try:
            AlembicAdapter.upgrade(**kw)
        except BaseException as error:
            first.append(error)

    worker = threading.Thread(target=upgrade)
    worker.start()
    try:
        while not db.is_running("SLEEP(3)"):
            assert worker.is_alive(), first
        assert db.kill_lock_holders() == 1
        if request.node.callspec.params["mysql_project"] == "shared connection":
            AlembicAdapter.upgrade(**kw, lock_timeout=30)
            assert AlembicAdapter.get_current_revision(**kw) == "aaaa00000002"
        else:
            with pytest.raises(MigrationError) as second:
                AlembicAdapter.upgrade(**kw, lock_timeout=30)
            assert second.value.revision == "aaaa00000002" and "repair" in str(second.value)
            assert AlembicAdapter.get_current_revision(**kw) == "aaaa00000001"
    finally:
        worker.join(60)
    assert first and "lost the migration lock" in str(first[0])
    assert db.query("SELECT v FROM m1") == [(10,)]


def test_an_env_py_that_migrates_another_database_is_stopped(tmp_path: Path) -> None:
    decoy = tmp_path / "decoy.db"
    target = tmp_path / "target.db"
    ini = _project(tmp_path, f"sqlite:///{decoy}")
    env = tmp_path / "scripts" / "env.py"
    # An env.py that ignores both channels and builds its own engine for a fixed URL.
    env.write_text(
        env.read_text()
        .replace('config.attributes.get("connection", None)', "None")
        .replace("config.get_section(config.config_ini_section, {})",
                 f"{{'sqlalchemy.url': 'sqlite:///{decoy}'}}")
    )  # fmt: skip
    _steps(tmp_path / "scripts" / "versions", 2)
    with pytest.raises(MigrationUpgradeError) as info:
        AlembicAdapter.upgrade(directory=ini, connection_string=f"sqlite:///{target}")
    message = str(info.value)
    assert "another database" in message and "sqlalchemy.url" in message, message
    # It never claims that nothing happened there: pysqlite committed the CREATE TABLE.
    assert "nothing of them is committed" not in message and "check that database" in message
    assert (
        AlembicAdapter.get_current_revision(directory=ini, connection_string=f"sqlite:///{target}")
        is None
    )
    # Stopped before its first commit: the other database records nothing either (its
    # DDL may stay, as pysqlite commits DDL by itself; that database is env.py's).
    assert (
        AlembicAdapter.get_current_revision(directory=ini, connection_string=f"sqlite:///{decoy}")
        is None
    )


@pytest.mark.parametrize("form", ["absolute", "here", "relative", "package"])
def test_the_ini_may_sit_anywhere(
    tmp_path: Path, sqlite_url: str, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "shipped_app"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    location = {
        "absolute": str(package / "migrations" / "scripts"),
        "here": "%(here)s/scripts",
        "relative": "shipped_app/migrations/scripts",
        "package": "shipped_app:migrations:scripts",
    }[form]
    ini = _project(
        package / "migrations",
        f"sqlite:///{tmp_path / 'decoy.db'}",
        ini_at=package / "migrations" / "alembic.ini",
        script_location=location,
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.chdir(tmp_path)  # not where the ini's relative path starts
    revisions = _steps(package / "migrations" / "scripts" / "versions", 2)
    for directory in (ini, package / "migrations" / "scripts"):
        AlembicAdapter.upgrade(directory=directory, connection_string=sqlite_url)
        assert (
            AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
            == revisions[-1]
        )
        AlembicAdapter.downgrade("base", directory=directory, connection_string=sqlite_url)


def test_version_locations_set_by_env_py_itself(tmp_path: Path, sqlite_url: str) -> None:
    ini = _project(tmp_path, f"sqlite:///{tmp_path / 'decoy.db'}")
    env = tmp_path / "scripts" / "env.py"
    env.write_text(
        env.read_text().replace(
            "target_metadata = None",
            "target_metadata = None\n"
            f"context.script.version_locations = [{str(tmp_path / 'tree')!r}]",
        )
    )
    revisions = _steps(tmp_path / "tree", 3)
    AlembicAdapter.upgrade(directory=ini, connection_string=sqlite_url)
    assert (
        AlembicAdapter.get_current_revision(directory=ini, connection_string=sqlite_url)
        == revisions[-1]
    )
    history = AlembicAdapter.get_migration_history(directory=ini, connection_string=sqlite_url)
    assert [h["revision"] for h in history] == revisions


def test_the_ini_and_env_py_are_never_written(tmp_path: Path, sqlite_url: str) -> None:
    ini = _project(tmp_path, "postgresql://app:s%40cret@db.invalid/app")
    _steps(tmp_path / "scripts" / "versions", 1)
    before = {p: p.read_bytes() for p in (ini, tmp_path / "scripts" / "env.py")}
    url = sqlite_url
    AlembicAdapter.upgrade(directory=ini, connection_string=url)
    AlembicAdapter.stamp("base", directory=ini, connection_string=url)
    assert {p: p.read_bytes() for p in before} == before
    assert "s@cret" not in "".join(
        p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p != ini
    )


def test_alembics_async_template_runs_unchanged(tmp_path: Path, url: str) -> None:
    # `alembic init -t async`: env.py makes an asyncio engine from sqlalchemy.url, so it
    # gets the database through the family's asyncio driver, whichever URL was given.
    from alembic import command
    from alembic.config import Config
    from pydapter_migrations_alembic import AsyncAlembicAdapter

    ini = tmp_path / "alembic.ini"
    command.init(Config(str(ini)), str(tmp_path / "scripts"), template="async")
    before = (tmp_path / "scripts" / "env.py").read_bytes()
    revisions = _steps(tmp_path / "scripts" / "versions", 2)
    kw = {"directory": ini, "connection_string": url}
    AlembicAdapter.upgrade(**kw)
    assert AlembicAdapter.get_current_revision(**kw) == revisions[-1]
    db = KitDatabase(DatabaseURL.parse(url))
    assert {f"t_{r}" for r in revisions} <= db.tables()
    AlembicAdapter.downgrade(revisions[0], **kw)
    assert f"t_{revisions[-1]}" not in db.tables()
    asynchronous = DatabaseURL.parse(url).asynchronous().render(hide_password=False)
    import asyncio

    asyncio.run(AsyncAlembicAdapter.upgrade(directory=ini, connection_string=asynchronous))
    assert AlembicAdapter.get_current_revision(**kw) == revisions[-1]
    assert {f"t_{r}" for r in revisions} <= db.tables()
    assert (tmp_path / "scripts" / "env.py").read_bytes() == before


def test_an_env_py_may_migrate_the_shared_connection_on_a_thread_of_its_own(
    tmp_path: Path, sqlite_url: str
) -> None:
    # Some env.py files run the migrations on a worker thread (an executor, asyncio's
    # to_thread); the connection lent to them must allow it, SQLite's included.
    ini = _project_with_env(
        tmp_path,
        "    run_migrations_online()",
        "    import threading\n\n    worker = threading.Thread(target=run_migrations_online)\n"
        "    worker.start()\n    worker.join()",
    )
    revisions = _steps(tmp_path / "scripts" / "versions", 2)
    AlembicAdapter.upgrade(directory=ini, connection_string=sqlite_url)
    assert (
        AlembicAdapter.get_current_revision(directory=ini, connection_string=sqlite_url)
        == (revisions[-1])
    )
    assert {f"t_{r}" for r in revisions} <= KitDatabase(DatabaseURL.parse(sqlite_url)).tables()


def test_an_env_py_that_skips_the_migrations_is_not_a_success(
    tmp_path: Path, sqlite_url: str
) -> None:
    # An env.py that returns without running them (here: it swallows every error) must
    # not make an upgrade that applied nothing look like one that worked.
    ini = _project_with_env(
        tmp_path,
        "    run_migrations_online()",
        "    try:\n        run_migrations_online(1)\n    except Exception:\n        pass",
    )
    revisions = _steps(tmp_path / "scripts" / "versions", 2)
    with pytest.raises(MigrationUpgradeError, match="did not run them") as failed:
        AlembicAdapter.upgrade(directory=ini, connection_string=sqlite_url)
    assert failed.value.revision == revisions[0] and ", ".join(revisions) in str(failed.value)
    assert AlembicAdapter.get_current_revision(directory=ini, connection_string=sqlite_url) is None


def test_an_env_py_that_fails_before_any_revision_names_none(tmp_path: Path, url: str) -> None:
    # env.py broke during the run, before Alembic started a revision: no revision failed,
    # so none is named in the error and the history table records none as failed. (Only
    # the run has a destination: the adapter first runs env.py without one, as `alembic
    # current` does, to learn its settings.)
    ini = _project_with_env(
        tmp_path,
        "    run_migrations_online()",
        "    try:\n"
        "        context.get_revision_argument()\n"
        "    except KeyError:\n"
        "        pass\n"
        "    else:\n"
        "        raise RuntimeError('no settings for this environment')\n"
        "    run_migrations_online()",
    )
    _steps(tmp_path / "scripts" / "versions", 2)
    kw = {"directory": ini, "connection_string": url}
    with pytest.raises(MigrationUpgradeError, match="no settings for this environment") as failed:
        AlembicAdapter.upgrade(**kw)
    assert failed.value.revision is None
    assert "revision" not in str(failed.value)
    db = KitDatabase(DatabaseURL.parse(url))
    if "pydapter_migrations_history" in db.tables():
        assert db.query("SELECT revision, outcome FROM pydapter_migrations_history") == []
    assert "alembic_version" not in db.tables()


def test_the_logging_an_env_py_sets_up_stays_off_the_terminal(
    tmp_path: Path, sqlite_url: str
) -> None:
    # A stock `alembic init` project: its env.py configures logging from its ini, whose
    # alembic logger says INFO. The command line shows it only with --verbose.
    import subprocess
    import sys

    from alembic import command
    from alembic.config import Config

    ini = tmp_path / "alembic.ini"
    command.init(Config(str(ini)), str(tmp_path / "scripts"))
    _steps(tmp_path / "scripts" / "versions", 1)
    base = [sys.executable, "-m", "pydapter_migrations", "-b", "alembic", "-d", str(ini)]
    quiet = subprocess.run([*base, "--url", sqlite_url, "upgrade"], capture_output=True, text=True)
    assert quiet.returncode == 0 and "INFO" not in quiet.stderr, quiet.stderr
    verbose = subprocess.run(
        [*base, "--url", sqlite_url, "-v", "downgrade", "base"], capture_output=True, text=True
    )
    assert verbose.returncode == 0 and "Running downgrade" in verbose.stderr, verbose.stderr
