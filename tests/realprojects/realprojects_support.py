"""Helpers of the real-project tests: where each project's migrations live, fresh
databases, the raw tools run as each project runs them, schema snapshots, the CLI.

Nothing here imports a project at module level: finding a folder uses the import system's
spec, which does not run the package (importing mlflow takes seconds).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: Set by ``tox -e realprojects``: collect these tests and fail when a project is missing.
ENV_FLAG = "PYDAPTER_REALPROJECTS"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def collected_by_default() -> bool:
    return _flag(ENV_FLAG)


def package_dir(distribution: str, module: str) -> Path:
    """The folder of installed package ``module`` (from ``distribution``), not imported.

    Missing: a failure under ``CI=true`` or in the realprojects environment, else a skip."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        message = f"{distribution} is not installed (tox -e realprojects installs it)"
        if _flag("CI") or _flag(ENV_FLAG):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Path(next(iter(spec.submodule_search_locations)))


# -- the projects --------------------------------------------------------------------


@dataclass(frozen=True)
class AlembicProject:
    name: str
    script_location: Path
    ini: Path
    revisions: int
    head: str

    def raw_config(self, url: str) -> Any:
        """The project's ini with the URL and an absolute script location set in memory,
        as MLflow (``_get_alembic_config``) and Optuna (``_create_alembic_config``) do."""
        from alembic.config import Config

        config = Config(str(self.ini))
        config.set_main_option("script_location", str(self.script_location))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        return config


def mlflow() -> AlembicProject:
    folder = package_dir("mlflow-skinny", "mlflow") / "store" / "db_migrations"
    return AlembicProject("mlflow", folder, folder / "alembic.ini", 67, "dc11669786a5")


def optuna() -> AlembicProject:
    rdb = package_dir("optuna", "optuna") / "storages" / "_rdb"
    return AlembicProject("optuna", rdb / "alembic", rdb / "alembic.ini", 10, "v3.2.0.a")


def seqrepo_folders() -> dict[str, Path]:
    """seqrepo's two yoyo folders; they use the same ids and live in separate databases."""
    root = package_dir("biocommons.seqrepo", "biocommons.seqrepo")
    return {part: root / part / "_data" / "migrations" for part in ("fastadir", "seqaliasdb")}


def riego_folder() -> Path:
    return package_dir("riego", "riego") / "migrations"


# -- databases -----------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """One fresh database, with the URL each tool takes."""

    url: str  # what the adapters and the CLI take
    sqlalchemy_url: str  # raw Alembic, SQLAlchemy's inspector, Optuna
    yoyo_url: str  # raw yoyo
    path: Path | None = None

    @classmethod
    def sqlite(cls, path: Path) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
        return cls(url, url, url, path)

    @classmethod
    def postgresql(cls, server: Any, name: str) -> Database:
        explicit = server.url(name, driver="postgresql+psycopg")
        return cls(server.url(name), explicit, explicit)

    @classmethod
    def mariadb(cls, server: Any, name: str) -> Database:
        # yoyo's own scheme for PyMySQL is plain mysql://.
        return cls(server.url(name, driver="mysql"), server.url(name), server.url(name, "mysql"))

    def engine(self) -> Any:
        import sqlalchemy as sa

        return sa.create_engine(self.sqlalchemy_url, poolclass=sa.pool.NullPool)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        import sqlalchemy as sa

        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()

    def execute(self, *statements: str) -> None:
        import sqlalchemy as sa

        engine = self.engine()
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        finally:
            engine.dispose()

    def tables(self) -> set[str]:
        import sqlalchemy as sa

        engine = self.engine()
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()


# -- what a schema is ----------------------------------------------------------------

#: Tables this library may keep in a database, left out when schemas are compared.
LIBRARY_TABLE_PREFIXES = ("pydapter",)
#: yoyo's own bookkeeping (raw yoyo also makes ``yoyo_lock`` and may leave a scratch table).
YOYO_TABLE_PREFIXES = ("_yoyo", "yoyo_", "yoyo_tmp")


def schema(db: Database, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """Tables, columns, keys, indexes and constraints of ``db``, as SQLAlchemy's inspector
    reads them, in a form two databases can be compared by (tables whose name starts with
    the library's prefixes or ``leave_out`` are left out)."""
    import sqlalchemy as sa

    def text(value: Any) -> Any:
        return None if value is None else str(value)

    engine = db.engine()
    try:
        inspector = sa.inspect(engine)
        # The multi-table calls: one query per kind on PostgreSQL, not one per table.
        columns = inspector.get_multi_columns()
        keys = inspector.get_multi_pk_constraint()
        indexes = inspector.get_multi_indexes()
        uniques = inspector.get_multi_unique_constraints()
        foreign = inspector.get_multi_foreign_keys()
        checks = inspector.get_multi_check_constraints()
        found: dict[str, Any] = {}
        for key in sorted(columns, key=lambda k: k[1]):
            table = key[1]
            if table.startswith(LIBRARY_TABLE_PREFIXES + leave_out):
                continue
            found[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], text(c.get("default")))
                    for c in columns[key]
                ],
                "primary_key": keys.get(key, {}).get("constrained_columns"),
                "indexes": sorted(
                    (
                        str(i["name"]),
                        tuple(str(c) for c in (i.get("expressions") or i["column_names"])),
                        bool(i["unique"]),
                    )
                    for i in indexes.get(key, [])
                ),
                "unique": sorted(
                    (str(u["name"]), tuple(u["column_names"])) for u in uniques.get(key, [])
                ),
                "foreign_keys": sorted(
                    (
                        str(f["name"]),
                        tuple(f["constrained_columns"]),
                        f["referred_table"],
                        tuple(f["referred_columns"]),
                    )
                    for f in foreign.get(key, [])
                ),
                "checks": sorted((str(c["name"]), str(c["sqltext"])) for c in checks.get(key, [])),
            }
        found["<views>"] = sorted(inspector.get_view_names())
        return found
    finally:
        engine.dispose()


def differences(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    """What differs between two :func:`schema` snapshots, one line per table part."""
    lines = [f"only in the first: {t}" for t in sorted(set(left) - set(right))]
    lines += [f"only in the second: {t}" for t in sorted(set(right) - set(left))]
    for table in sorted(set(left) & set(right)):
        if left[table] == right[table]:
            continue
        if not isinstance(left[table], dict):
            lines.append(f"{table}: {left[table]} != {right[table]}")
            continue
        for part in left[table]:
            if left[table][part] != right[table].get(part):
                lines.append(f"{table}.{part}: {left[table][part]} != {right[table].get(part)}")
    return lines


# -- raw tools -------------------------------------------------------------------------


def raw_alembic(project: AlembicProject, db: Database, operation: str, target: str) -> None:
    """``alembic.command`` as the project itself drives it."""
    from alembic import command

    config = project.raw_config(db.sqlalchemy_url)
    getattr(command, operation)(config, target)


def raw_yoyo(folder: Path, db: Database, operation: str) -> None:
    """yoyo's own API, as seqrepo and riego call it: apply everything or roll back all."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(db.yoyo_url)
    try:
        migrations = read_migrations(str(folder))
        with backend.lock():
            if operation == "apply":
                backend.apply_migrations(backend.to_apply(migrations))
            else:
                backend.rollback_migrations(backend.to_rollback(migrations))
    finally:
        backend.connection.close()


def create_mlflow_base_tables(db: Database) -> None:
    """What MLflow does before its first revision (``_initialize_tables``): that revision
    alters tables the pre-Alembic models create."""
    from mlflow.store.tracking.dbmodels.initial_models import Base

    engine = db.engine()
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


# -- the command line ------------------------------------------------------------------


@dataclass
class CliResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, str(self)
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return (
            f"pydapter-migrate {' '.join(self.args)} -> {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def cli(*args: str, url: str, cwd: Path, expect: int = 0) -> CliResult:
    """The installed ``pydapter-migrate`` in a process of its own; the URL travels in
    ``DATABASE_URL`` (as a deployment passes it), not on the command line."""
    beside = Path(sys.executable).parent / "pydapter-migrate"
    program = [str(beside)] if beside.exists() else [sys.executable, "-m", "pydapter_migrations"]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATABASE_URL=url, COLUMNS="200", NO_COLOR="1")
    done = subprocess.run(
        [*program, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    result = CliResult(tuple(args), done.returncode, done.stdout, done.stderr)
    assert result.returncode == expect, str(result)
    return result
