"""A real project adopted unchanged: MLflow's 67 Alembic revisions with its own env.py and
ini, through this library vs raw Alembic, in one process and as whole processes.

* In one process: ``AlembicAdapter.upgrade`` vs ``alembic.command.upgrade`` on MLflow's ini
  with the script location and URL set in memory, the way MLflow drives Alembic.
* As whole processes: ``pydapter-migrate -d <MLflow's folder> upgrade`` (URL in
  ``DATABASE_URL``) vs ``alembic -c <ini> upgrade head``, where the ini is MLflow's with
  the two lines the alembic command needs filled in (an absolute ``script_location`` and
  the URL: MLflow ships ``sqlalchemy.url = ""`` and its env.py reads nothing else).

Each repetition gives every contender a fresh database holding MLflow's pre-Alembic tables
(made untimed, as MLflow makes them before its first revision), times its upgrade to head,
checks the version row and the tables, then times an upgrade with nothing pending on the
same database. Targets: full upgrade <= 1.05x raw Alembic (both ways); nothing pending
<= 0.2x ``alembic upgrade head`` as processes, and <= 0.5x in one process (where raw
Alembic has MLflow imported already and a connection's login is most of the work).
Runs only where ``mlflow`` is importable (``pip install mlflow-skinny``); ``--sizes`` does
not apply (the project has the revisions it has).

    python bench/adopted.py [--repeat 5] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli
from contenders import adapter, raw_alembic_shipped, script
from databases import Database, Databases, databases
from names import ALEMBIC_ADAPTER, CLI_ALEMBIC, RAW_ALEMBIC, RAW_ALEMBIC_CLI
from projects import ShippedProject, create_mlflow_base_tables, mlflow_project
from report import CPU_SUFFIX, Report, Target, finish
from timing import Run, interleave, progress, run_process, timed_cpu, wall_and_cpu

UPGRADE = "MLflow upgrade from its base tables (in process)"
NOOP = "MLflow upgrade, nothing pending (in process)"
UPGRADE_PROCESS = "MLflow upgrade from its base tables (whole process)"
NOOP_PROCESS = "MLflow upgrade, nothing pending (whole process)"
NOT_INSTALLED = "mlflow is not installed (pip install mlflow-skinny): MLflow questions not run"


def check(project: ShippedProject, db: Database, tables: int | None) -> int:
    """The version row says head and (after the first run) the same tables exist."""
    from pydapter_migrations.connections import connect

    with connect(db.url, purpose="bench check") as session:
        version = session.execute("SELECT version_num FROM alembic_version")
        if db.path is not None:
            sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        else:
            sql = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        found = int(session.scalar(sql))
    if [tuple(row) for row in version] != [(project.head,)]:
        raise RuntimeError(f"version rows {version}, expected {project.head}")
    if tables is not None and found != tables:
        raise RuntimeError(f"{found} tables, expected {tables}")
    return found


def contenders(project: ShippedProject, dbs: Databases) -> dict[str, Run]:
    alembic = adapter("alembic")
    tables: dict[str, int] = {}

    def round_trip(
        name: str,
        run_up: Callable[[Database], tuple[float, float]],
        questions: tuple[str, str],
    ) -> Run:
        def trip() -> dict[str, float]:
            db = dbs.fresh()
            try:
                create_mlflow_base_tables(db.sqlalchemy_url)
                up_s = run_up(db)
                tables[name] = check(project, db, tables.get(name))
                noop_s = run_up(db)
                check(project, db, tables[name])
            finally:
                db.drop()
            return {**wall_and_cpu(questions[0], up_s), **wall_and_cpu(questions[1], noop_s)}

        return trip

    in_process = (UPGRADE, NOOP)
    whole_process = (UPGRADE_PROCESS, NOOP_PROCESS)

    def raw_process(db: Database) -> tuple[float, float]:
        ini = filled_ini(project, db, dbs.scratch)
        argv = [script("alembic"), "-c", str(ini), "upgrade", "head"]
        return run_process(argv, cwd=dbs.scratch)

    def cli_process(db: Database) -> tuple[float, float]:
        argv = [script("pydapter-migrate"), "-d", str(project.script_location), "upgrade"]
        return run_process(argv, env={"DATABASE_URL": db.url}, cwd=dbs.scratch)

    return {
        RAW_ALEMBIC: round_trip(
            RAW_ALEMBIC,
            lambda db: timed_cpu(lambda: raw_alembic_shipped("upgrade", project, db, "heads")),
            in_process,
        ),
        ALEMBIC_ADAPTER: round_trip(
            ALEMBIC_ADAPTER,
            lambda db: timed_cpu(
                lambda: alembic.upgrade(
                    "head", directory=project.script_location, connection_string=db.url
                )
            ),
            in_process,
        ),
        RAW_ALEMBIC_CLI: round_trip(RAW_ALEMBIC_CLI, raw_process, whole_process),
        CLI_ALEMBIC: round_trip(CLI_ALEMBIC, cli_process, whole_process),
    }


def filled_ini(project: ShippedProject, db: Database, where: Path) -> Path:
    """MLflow's ini with what the ``alembic`` command needs to run it from anywhere: an
    absolute ``script_location`` and the URL (a throwaway database's, in a scratch folder
    removed after the run)."""
    lines = []
    for line in project.ini.read_text().splitlines():
        if line.startswith("script_location"):
            line = f"script_location = {project.script_location}"
        elif line.startswith("sqlalchemy.url"):
            line = "sqlalchemy.url = " + db.sqlalchemy_url.replace("%", "%%")
        lines.append(line)
    ini = where / f"{db.name}-alembic.ini"
    ini.write_text("\n".join(lines) + "\n")
    ini.chmod(0o600)
    return ini


def targets(backends: list[str], n: int) -> list[Target]:
    found = []
    questions = (
        (UPGRADE, ALEMBIC_ADAPTER, RAW_ALEMBIC, 1.05),
        (NOOP, ALEMBIC_ADAPTER, RAW_ALEMBIC, 0.5),
        (UPGRADE_PROCESS, CLI_ALEMBIC, RAW_ALEMBIC_CLI, 1.05),
        (NOOP_PROCESS, CLI_ALEMBIC, RAW_ALEMBIC_CLI, 0.2),
    )
    for backend in backends:
        for question, contender, baseline, ratio in questions:
            for phase in (question, question + CPU_SUFFIX):
                found.append(Target(phase, backend, n, contender, baseline, ratio))
    return found


def measure(repeat: int, backends: list[str], sqlite_dir: Path | None = None) -> Report:
    project = mlflow_project()
    if project is None:
        progress(NOT_INSTALLED + "\n")
        return Report(checks={"MLflow": NOT_INSTALLED})
    report = Report(targets=targets(backends, project.revisions))
    for backend in backends:
        with databases(backend, sqlite_dir) as dbs:
            progress(f"{backend} MLflow ({project.revisions} revisions): ")
            times = interleave(contenders(project, dbs), repeat, warmup=1)
            for question, by_contender in times.items():
                report.add(question, backend, project.revisions, by_contender)
    import mlflow.version

    report.checks["MLflow"] = f"mlflow-skinny {mlflow.version.VERSION}, {project.script_location}"
    return report


def main() -> None:
    args = cli.parser(__doc__.splitlines()[0], "67", 5).parse_args()
    cli.choose(args)
    if mlflow_project() is None:
        raise SystemExit(NOT_INSTALLED)
    report = measure(args.repeat, cli.backends_of(args), args.sqlite_dir)
    finish(report, args.json)


if __name__ == "__main__":
    main()
