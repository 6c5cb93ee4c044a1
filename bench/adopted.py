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
same database. The floor of the no-op (in process) is the driver alone: connect, read the
version row. Targets: full upgrade <= 1.05x raw Alembic (both ways); nothing pending
<= 0.2x ``alembic upgrade head`` as processes, and <= 0.5x in one process (where raw
Alembic has MLflow imported already and a connection's login is most of the work).
Runs only where ``mlflow`` is importable (``pip install mlflow-skinny``); ``--sizes`` does
not apply (the project has the revisions it has).

    python bench/adopted.py [--repeat 5] [--backends sqlite,postgresql]
    python bench/adopted.py --instructions   # in-process contenders under callgrind, ~10 min
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import callgrind
import cli
import names
from contenders import adapter, raw_alembic_shipped, script
from databases import Database, Databases, databases
from names import ALEMBIC_ADAPTER, CLI_ALEMBIC, FLOOR, RAW_ALEMBIC, RAW_ALEMBIC_CLI
from projects import ShippedProject, create_mlflow_base_tables, mlflow_project, scratch_dir
from report import CPU_SUFFIX, INSTRUCTIONS_SUFFIX, Report, Target, finish
from timing import (
    Run,
    interleave,
    progress,
    reset_logging,
    run_process,
    timed_cpu,
    wall_and_cpu,
)

UPGRADE = "MLflow upgrade from its base tables (in process)"
NOOP = "MLflow upgrade, nothing pending (in process)"
UPGRADE_PROCESS = "MLflow upgrade from its base tables (whole process)"
NOOP_PROCESS = "MLflow upgrade, nothing pending (whole process)"
NOT_INSTALLED = "mlflow is not installed (pip install mlflow-skinny): MLflow questions not run"


def check(project: ShippedProject, db: Database, tables: int | None) -> int:
    """The version row says head and (after the first run) the same tables exist."""
    import sqlalchemy as sa

    engine = sa.create_engine(db.sqlalchemy_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            version = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM alembic_version"))]
        found = len(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if version != [(project.head,)]:
        raise RuntimeError(f"version rows {version}, expected {project.head}")
    if tables is not None and found != tables:
        raise RuntimeError(f"{found} tables, expected {tables}")
    return found


def contenders(
    project: ShippedProject,
    dbs: Databases,
    measure: Callable[[Callable[[], Any]], tuple[float, float]] = timed_cpu,
    whole_processes: bool = True,
) -> dict[str, Run]:
    """Each contender's round: fresh database, upgrade, no-op upgrade. ``measure`` runs an
    in-process phase and returns its wall and CPU seconds (``--instructions`` passes one
    that counts instructions instead, with ``whole_processes`` off)."""
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

    runs = {
        RAW_ALEMBIC: round_trip(
            RAW_ALEMBIC,
            lambda db: measure(lambda: raw_alembic_shipped("upgrade", project, db, "heads")),
            in_process,
        ),
        ALEMBIC_ADAPTER: round_trip(
            ALEMBIC_ADAPTER,
            lambda db: measure(
                lambda: alembic.upgrade(
                    "head", directory=project.script_location, connection_string=db.url
                )
            ),
            in_process,
        ),
    }
    if whole_processes:
        runs[FLOOR] = floor_round(project, dbs)
        runs[RAW_ALEMBIC_CLI] = round_trip(RAW_ALEMBIC_CLI, raw_process, whole_process)
        runs[CLI_ALEMBIC] = round_trip(CLI_ALEMBIC, cli_process, whole_process)
    return runs


def floor_round(project: ShippedProject, dbs: Databases) -> Run:
    """The least a no-op upgrade must do: connect with the driver alone and read the
    version row (the database brought to head by raw Alembic, untimed)."""

    def trip() -> dict[str, float]:
        db = dbs.fresh()
        try:
            create_mlflow_base_tables(db.sqlalchemy_url)
            raw_alembic_shipped("upgrade", project, db, "heads")
            check(project, db, None)

            def read() -> None:
                conn = db.connect()
                try:
                    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                finally:
                    conn.close()
                if row is None or row[0] != project.head:
                    raise RuntimeError(f"floor read {row}, expected {project.head}")

            return wall_and_cpu(NOOP, timed_cpu(read))
        finally:
            db.drop()

    return trip


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


# -- instructions instead of seconds (--instructions) ---------------------------------------

_SPEC = "PYDM_BENCH_ADOPTED_INSTRUCTIONS"


def instructions(backends: list[str], sqlite_dir: Path | None, jobs: int) -> Report:
    """The in-process contenders' upgrade and no-op upgrade counted in instructions (see
    bench/instructions.py): each in a process of its own under callgrind, after one
    uncounted round (imports, caches). On PostgreSQL the client's share only."""
    callgrind.require_valgrind()
    project = mlflow_project()
    if project is None:
        raise SystemExit(NOT_INSTALLED)
    report = Report(targets=instruction_targets(backends, project.revisions))
    with scratch_dir("pydm-bench-adopted-") as root:
        for backend in backends:
            with databases(backend, sqlite_dir) as dbs:
                chosen = [n for n in (RAW_ALEMBIC, ALEMBIC_ADAPTER) if names.chosen(n)]
                progress(f"{backend}: {len(chosen)} processes under callgrind\n")

                def count(item: tuple[int, str], dbs: Databases = dbs) -> list[int]:
                    return _count(item[1], item[0], dbs, root)

                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    counts = list(pool.map(count, enumerate(chosen)))
                for question, phase in ((UPGRADE, 0), (NOOP, 1)):
                    report.add(
                        question + INSTRUCTIONS_SUFFIX,
                        backend,
                        project.revisions,
                        {
                            name: [float(found[phase])]
                            for name, found in zip(chosen, counts, strict=True)
                        },
                    )
    report.checks["measured in"] = "instructions executed by the client process (callgrind)"
    return report


def _count(name: str, index: int, dbs: Databases, root: Path) -> list[int]:
    """One contender's round under callgrind: its (upgrade, no-op upgrade) counts."""
    spec = {"contender": name, "databases": dbs.spec(prefix=f"c{index}_")}
    # In the environment, not on the command line: the spec holds the server's password.
    env = {**os.environ, "PYTHONHASHSEED": "0", _SPEC: json.dumps(spec)}
    found, outside = callgrind.count(
        [sys.executable, str(Path(__file__).resolve())],
        root / f"callgrind-{dbs.backend}-{index}.out",
        env,
        what=f"{name} on {dbs.backend}",
    )
    if len(found) != 2 or outside != 0:
        raise RuntimeError(f"{name}: expected two counted phases, got {found} and {outside}")
    progress(f"  {dbs.backend} {name}: {', '.join(f'{c / 1e6:,.0f} M' for c in found)}\n")
    return found


def instruction_targets(backends: list[str], n: int) -> list[Target]:
    return [
        Target(question + INSTRUCTIONS_SUFFIX, backend, n, ALEMBIC_ADAPTER, RAW_ALEMBIC, ratio)
        for backend in backends
        for question, ratio in ((UPGRADE, 1.05), (NOOP, 0.5))
    ]


def _counted(phase: Callable[[], Any]) -> tuple[float, float]:
    callgrind.counted(phase)
    return 0.0, 0.0


def _uncounted(phase: Callable[[], Any]) -> tuple[float, float]:
    phase()
    return 0.0, 0.0


def child(spec: dict[str, Any]) -> None:
    """The process under callgrind: one uncounted round, then the counted one."""
    project = mlflow_project()
    assert project is not None
    dbs = Databases.from_spec(spec["databases"])
    try:
        name = spec["contender"]
        for measure_phase in (_uncounted, _counted):
            reset_logging()
            contenders(project, dbs, measure_phase, whole_processes=False)[name]()
    finally:
        dbs.close()


# -- seconds ------------------------------------------------------------------------------


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
    if _SPEC in os.environ:
        child(json.loads(os.environ[_SPEC]))
        return
    p = cli.parser(__doc__.splitlines()[0], "67", 5)
    p.add_argument(
        "--instructions",
        action="store_true",
        help="count the in-process contenders' instructions under callgrind instead",
    )
    p.add_argument("--jobs", type=int, default=2, help="processes under callgrind at a time")
    args = p.parse_args()
    cli.choose(args)
    if mlflow_project() is None:
        raise SystemExit(NOT_INSTALLED)
    if args.instructions:
        report = instructions(cli.backends_of(args), args.sqlite_dir, args.jobs)
    else:
        report = measure(args.repeat, cli.backends_of(args), args.sqlite_dir)
    finish(report, args.json)


if __name__ == "__main__":
    main()
