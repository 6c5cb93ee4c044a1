"""MLflow's and Optuna's Alembic migrations, as their wheels ship them, through this
library's public API and its command line, on SQLite, PostgreSQL and MariaDB.

Their env.py and alembic.ini run unchanged: MLflow's ini names no database (``sqlalchemy.url
= ""``) and a ``script_location`` relative to the working directory; Optuna's ini names
``sqlite:///alembic.db`` (a file in the working directory) and its env.py calls
``fileConfig`` on the ini. Every test checks the database it was given against one that
raw Alembic built the way the project itself drives Alembic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from realprojects_support import (
    Database,
    cli,
    create_mlflow_base_tables,
    differences,
    mlflow,
    optuna,
    raw_alembic,
    schema,
)

from pydapter_migrations import AlembicAdapter, MigrationEvent, hookimpl

NewDatabase = Callable[[str], Database]


class Seen:
    """The revisions a run reports, in order."""

    def __init__(self) -> None:
        self.revisions: list[str] = []

    @hookimpl
    def after_revision(self, event: MigrationEvent) -> None:
        assert event.revision is not None
        self.revisions.append(event.revision)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory: nothing the projects' inis name may appear in it."""
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


def _version_rows(db: Database, table: str = "alembic_version") -> list[tuple[object, ...]]:
    return db.rows(f"SELECT version_num FROM {table}")


def _same_schema(ours: Database, theirs: Database) -> None:
    found = differences(schema(ours), schema(theirs))
    assert found == [], "\n".join(found)


# -- MLflow ------------------------------------------------------------------------------


def test_mlflow_upgrades_through_its_own_env_py_like_raw_alembic(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    project = mlflow()
    directory = project.ini if backend == "sqlite" else project.script_location
    ours = new_database("ours")
    create_mlflow_base_tables(ours)  # MLflow's own first step, before Alembic
    kw = {"directory": directory, "connection_string": ours.url}

    history = AlembicAdapter.get_migration_history(**kw)
    revisions = [entry["revision"] for entry in history]
    assert len(revisions) == project.revisions and revisions[-1] == project.head
    assert history[0]["down_revision"] is None
    assert all(entry["applied"] is False for entry in history)
    assert AlembicAdapter.get_current_revision(**kw) is None

    # Part of the way through the API, then the rest through the command line.
    middle = revisions[9]
    seen = Seen()
    AlembicAdapter.upgrade(middle, **kw, observers=[seen])
    assert seen.revisions == revisions[:10]
    assert AlembicAdapter.get_current_revision(**kw) == middle
    assert _version_rows(ours) == [(middle,)]
    status = cli("-d", str(directory), "status", "--json", url=ours.url, cwd=workdir).json()
    assert status["current"] == middle and status["head"] == project.head
    assert status["pending"] == revisions[10:]

    cli("-d", str(project.script_location), "upgrade", url=ours.url, cwd=workdir)
    current = cli("-d", str(project.ini), "current", "--json", url=ours.url, cwd=workdir)
    assert current.json() == {"revision": project.head}
    listed = cli("-d", str(directory), "history", "--json", url=ours.url, cwd=workdir).json()
    assert [entry["revision"] for entry in listed] == revisions
    assert all(entry["applied"] is True for entry in listed)
    status = cli("-d", str(directory), "status", "--json", url=ours.url, cwd=workdir).json()
    assert status["pending"] == [] and status["current"] == project.head
    assert AlembicAdapter.verify(**kw) == []
    assert _version_rows(ours) == [(project.head,)]

    theirs = new_database("raw")
    create_mlflow_base_tables(theirs)
    raw_alembic(project, theirs, "upgrade", "heads")
    assert _version_rows(theirs) == [(project.head,)]
    _same_schema(ours, theirs)
    # The ini's URL ("") names no database; a relative one would land here.
    assert list(workdir.iterdir()) == []


def test_mlflow_database_built_elsewhere_is_stamped_not_migrated(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    project = mlflow()
    built = new_database("built")
    create_mlflow_base_tables(built)
    raw_alembic(project, built, "upgrade", "heads")
    before = schema(built)
    # A copy of MLflow's tables without Alembic's record (a dump of the tables alone).
    built.execute("DROP TABLE alembic_version")
    kw = {"directory": project.script_location, "connection_string": built.url}
    assert AlembicAdapter.get_current_revision(**kw) is None
    status = cli("-d", str(project.ini), "status", "--json", url=built.url, cwd=workdir).json()
    assert status["current"] is None and len(status["pending"]) == project.revisions

    revisions = [entry["revision"] for entry in AlembicAdapter.get_migration_history(**kw)]
    seen = Seen()
    AlembicAdapter.stamp(revisions[20], **kw, observers=[seen])
    assert AlembicAdapter.get_current_revision(**kw) == revisions[20]
    cli("-d", str(project.ini), "stamp", "head", url=built.url, cwd=workdir)
    assert _version_rows(built) == [(project.head,)]
    history = AlembicAdapter.get_migration_history(**kw)
    assert all(entry["applied"] is True for entry in history)

    AlembicAdapter.upgrade(**kw)  # nothing to run: the schema is already at head
    assert schema(built) == before
    assert AlembicAdapter.verify(**kw) == []
    assert list(workdir.iterdir()) == []


def test_mlflow_own_database_is_at_head_for_the_adapter(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    """A database MLflow built itself (its tracking store's own start-up) is adopted as is."""
    from mlflow.store.db.utils import _initialize_tables

    project = mlflow()
    db = new_database("mlflow")
    engine = db.engine()
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()
    before = schema(db)
    kw = {"directory": project.ini, "connection_string": db.url}
    assert AlembicAdapter.get_current_revision(**kw) == project.head
    seen = Seen()
    AlembicAdapter.upgrade(**kw, observers=[seen])
    assert seen.revisions == []
    assert schema(db) == before
    assert AlembicAdapter.verify(**kw) == []


# -- Optuna ------------------------------------------------------------------------------


# On MariaDB Optuna's v2.4.0.a fails halfway, under raw Alembic too: the next test.
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_optuna_upgrades_from_empty_and_optuna_uses_the_result(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    project = optuna()
    ours = new_database("ours")
    kw = {"directory": project.ini, "connection_string": ours.url}
    history = AlembicAdapter.get_migration_history(**kw)
    revisions = [entry["revision"] for entry in history]
    assert len(revisions) == project.revisions and revisions[-1] == project.head

    done = cli("-d", str(project.ini), "upgrade", url=ours.url, cwd=workdir)
    assert project.head in done.stdout + done.stderr, str(done)
    assert AlembicAdapter.get_current_revision(**kw) == project.head
    assert not (workdir / "alembic.db").exists(), "the ini's URL was used"
    assert list(workdir.iterdir()) == []

    theirs = new_database("raw")
    raw_alembic(project, theirs, "upgrade", "heads")
    _same_schema(ours, theirs)

    # Optuna's downgrades work down to v3.0.0.c (the next one fails upstream).
    AlembicAdapter.downgrade("v3.0.0.c", **kw)
    assert AlembicAdapter.get_current_revision(**kw) == "v3.0.0.c"
    applied = [e["applied"] for e in AlembicAdapter.get_migration_history(**kw)]
    index = revisions.index("v3.0.0.c")
    assert applied == [True] * (index + 1) + [False] * (len(revisions) - index - 1)
    status = cli("-d", str(project.ini), "status", "--json", url=ours.url, cwd=workdir).json()
    assert status["pending"] == revisions[index + 1 :]
    AlembicAdapter.upgrade(**kw)
    _same_schema(ours, theirs)
    assert AlembicAdapter.verify(**kw) == []

    # Optuna checks the schema version itself before it uses a storage.
    import optuna as optuna_package

    optuna_package.logging.set_verbosity(optuna_package.logging.WARNING)
    study = optuna_package.create_study(storage=ours.sqlalchemy_url, study_name="adopted")
    study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=3)
    assert len(study.trials) == 3


@pytest.mark.parametrize("backend", [pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_optuna_revision_that_fails_halfway_on_mariadb_is_marked_not_run_again(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    """Optuna's v2.4.0.a drops a column that a unique key still names: MySQL takes the
    column out of the key, MariaDB refuses, after the revision's earlier DDL committed.
    Raw Alembic then says nothing and runs the revision again on the next upgrade, which
    fails on what the first attempt already changed. Here the revision is recorded as
    incomplete, and nothing runs until someone says what is true."""
    project = optuna()
    theirs = new_database("raw")
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="Key column 'step' doesn't exist"):
        raw_alembic(project, theirs, "upgrade", "heads")
    assert _version_rows(theirs) == [("v1.3.0.a",)]
    with pytest.raises(OperationalError, match=r"Unknown column 'studies\.direction'"):
        raw_alembic(project, theirs, "upgrade", "heads")  # the half-done revision again

    ours = new_database("ours")
    kw = {"directory": project.ini, "connection_string": ours.url}
    failed = cli("-d", str(project.ini), "upgrade", url=ours.url, cwd=workdir, expect=1)
    assert "Part of revision v2.4.0.a may be committed" in failed.stderr, str(failed)
    assert "repair" in failed.stderr
    assert AlembicAdapter.get_current_revision(**kw) == "v1.3.0.a"
    # What the revision committed before it failed is what raw Alembic's first try left.
    _same_schema(ours, theirs)
    problems = AlembicAdapter.verify(**kw)
    assert [(p["problem"], p["revision"]) for p in problems] == [("dirty", "v2.4.0.a")]
    shown = cli("-d", str(project.ini), "status", "--json", url=ours.url, cwd=workdir, expect=1)
    status = json.loads(shown.stdout)  # exit 1: a problem
    assert status["current"] == "v1.3.0.a"
    assert [(p["problem"], p["revision"]) for p in status["problems"]] == [("dirty", "v2.4.0.a")]

    refused = cli("-d", str(project.ini), "upgrade", url=ours.url, cwd=workdir, expect=1)
    assert "v2.4.0.a" in refused.stderr and "started" in refused.stderr, str(refused)
    assert "Unknown column" not in refused.stderr  # it did not run again
    _same_schema(ours, theirs)


def test_optuna_database_made_from_its_models_is_stamped(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    """Optuna makes a new database from its models and stamps it; here the stamp is ours."""
    import optuna as optuna_package
    from optuna.storages._rdb.models import BaseModel

    project = optuna()
    db = new_database("models")
    engine = db.engine()
    try:
        BaseModel.metadata.create_all(engine)
    finally:
        engine.dispose()
    kw = {"directory": project.ini, "connection_string": db.url}
    assert AlembicAdapter.get_current_revision(**kw) is None
    revisions = [entry["revision"] for entry in AlembicAdapter.get_migration_history(**kw)]
    # Optuna reads the recorded version and refuses a schema it takes for an older one.
    cli("-d", str(project.script_location), "stamp", revisions[-2], url=db.url, cwd=workdir)
    assert _version_rows(db) == [(revisions[-2],)]
    with pytest.raises(RuntimeError, match="optuna storage upgrade"):
        optuna_package.storages.RDBStorage(db.sqlalchemy_url)
    AlembicAdapter.stamp("head", **kw)
    assert AlembicAdapter.get_current_revision(**kw) == project.head
    assert _version_rows(db) == [(project.head,)]
    storage = optuna_package.storages.RDBStorage(db.sqlalchemy_url)
    assert storage.get_current_version() == project.head
    storage.engine.dispose()
    assert list(workdir.iterdir()) == []
