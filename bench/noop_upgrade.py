"""Upgrade with nothing pending (what every deploy and app start runs), in one process and
as a whole process.

In one process: the adapters vs ``alembic.command.upgrade`` and yoyo's apply on databases
already at head, and the floor (connect, read the version). As whole processes:
``pydapter-migrate upgrade`` vs ``alembic upgrade head`` (and ``yoyo apply``).
Targets (N=1000): Alembic adapter <= 0.5x raw Alembic in one process, and
``pydapter-migrate upgrade`` <= 0.5x ``alembic upgrade head`` as processes; on MariaDB
(N=300) both adapters <= 0.2x raw Alembic in one process.

    python bench/noop_upgrade.py [--sizes 1000] [--repeat 5] [--backends sqlite,postgresql]
    python bench/noop_upgrade.py --sizes 300 --backends mariadb
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli
from contenders import adapter, floor, raw_alembic, raw_yoyo, script
from databases import Database, Databases, count_tables, databases
from names import (
    ALEMBIC_ADAPTER,
    CLI_ALEMBIC,
    CLI_YOYO,
    FLOOR,
    RAW_ALEMBIC,
    RAW_ALEMBIC_CLI,
    RAW_YOYO,
    RAW_YOYO_CLI,
    YOYO_ADAPTER,
)
from projects import Projects, settled_projects
from report import Report, Target, finish
from timing import Run, interleave, progress, run_process, timed, wall_and_cpu

IN_PROCESS = "upgrade, nothing pending (in process)"
WHOLE_PROCESS = "upgrade, nothing pending (whole process)"
TARGET_N = 1000
#: Where a database's targets differ: (N, in process, whole process), each adapter vs raw
#: Alembic.
TARGETS = {"mariadb": (300, 0.2, 0.5)}


def prepare(projects: Projects, dbs: Databases) -> dict[str, Database]:
    """One database per contender, brought to head by that contender (not timed)."""
    n = projects.n
    alembic = adapter("alembic")
    yoyo = adapter("yoyo")
    made = {name: dbs.fresh() for name in ("raw_alembic", "alembic", "raw_yoyo", "yoyo", "floor")}
    raw_alembic("upgrade", projects.raw_alembic, made["raw_alembic"])
    alembic.upgrade(
        "head", directory=projects.alembic_adapter, connection_string=made["alembic"].url
    )
    raw_yoyo("upgrade", projects.raw_yoyo, made["raw_yoyo"])
    yoyo.upgrade("head", directory=projects.yoyo_adapter, connection_string=made["yoyo"].url)
    floor("upgrade", made["floor"], n)
    for db in made.values():
        if (tables := count_tables(db)) != n:
            raise RuntimeError(f"preparation made {tables} tables, expected {n}")
    return made


def in_process(projects: Projects, made: dict[str, Database]) -> dict[str, Run]:
    alembic = adapter("alembic")
    yoyo = adapter("yoyo")
    n = projects.n

    def one(fn: Callable[[], object], db: Database) -> Run:
        def run() -> dict[str, float]:
            took = timed(fn)
            if (tables := count_tables(db)) != n:  # nothing dropped or re-run
                raise RuntimeError(f"{tables} tables after a no-op upgrade, expected {n}")
            return {IN_PROCESS: took}

        return run

    return {
        RAW_ALEMBIC: one(
            lambda: raw_alembic("upgrade", projects.raw_alembic, made["raw_alembic"]),
            made["raw_alembic"],
        ),
        ALEMBIC_ADAPTER: one(
            lambda: alembic.upgrade(
                "head", directory=projects.alembic_adapter, connection_string=made["alembic"].url
            ),
            made["alembic"],
        ),
        RAW_YOYO: one(
            lambda: raw_yoyo("upgrade", projects.raw_yoyo, made["raw_yoyo"]), made["raw_yoyo"]
        ),
        YOYO_ADAPTER: one(
            lambda: yoyo.upgrade(
                "head", directory=projects.yoyo_adapter, connection_string=made["yoyo"].url
            ),
            made["yoyo"],
        ),
        FLOOR: one(lambda: floor("noop", made["floor"], n), made["floor"]),
    }


def whole_process(projects: Projects, made: dict[str, Database]) -> dict[str, Run]:
    """The URL travels in DATABASE_URL (read by both CLIs' environments), not argv."""

    def one(argv: list[str], db: Database, url: str) -> Run:
        def run() -> dict[str, float]:
            took = run_process(argv, env={"DATABASE_URL": url}, cwd=projects.root)
            if (tables := count_tables(db)) != projects.n:
                raise RuntimeError(f"{tables} tables after a no-op upgrade")
            return wall_and_cpu(WHOLE_PROCESS, took)

        return run

    pydm = script("pydapter-migrate")
    return {
        RAW_ALEMBIC_CLI: one(
            [script("alembic"), "-c", str(projects.raw_alembic / "alembic.ini"), "upgrade", "head"],
            made["raw_alembic"],
            made["raw_alembic"].sqlalchemy_url,
        ),
        CLI_ALEMBIC: one(
            [pydm, "-b", "alembic", "-d", str(projects.alembic_adapter), "upgrade"],
            made["alembic"],
            made["alembic"].url,
        ),
        RAW_YOYO_CLI: one(
            # yoyo's CLI takes the URL on its command line only (a throwaway server).
            [
                script("yoyo"),
                "apply",
                "--batch",
                "--no-config-file",
                "--database",
                made["raw_yoyo"].yoyo_url,
                str(projects.raw_yoyo / "migrations"),
            ],
            made["raw_yoyo"],
            made["raw_yoyo"].yoyo_url,
        ),
        CLI_YOYO: one(
            [pydm, "-b", "yoyo", "-d", str(projects.yoyo_adapter), "upgrade"],
            made["yoyo"],
            made["yoyo"].url,
        ),
    }


def targets(backends: list[str]) -> list[Target]:
    found = []
    for backend in backends:
        n, one, whole = TARGETS.get(backend, (TARGET_N, 0.5, 0.5))
        found.append(Target(IN_PROCESS, backend, n, ALEMBIC_ADAPTER, RAW_ALEMBIC, one))
        found.append(Target(IN_PROCESS, backend, n, YOYO_ADAPTER, RAW_ALEMBIC, one))
        found.append(Target(WHOLE_PROCESS, backend, n, CLI_ALEMBIC, RAW_ALEMBIC_CLI, whole))
        found.append(Target(WHOLE_PROCESS, backend, n, CLI_YOYO, RAW_ALEMBIC_CLI, whole))
    return found


def measure(
    sizes: list[int], repeat: int, backends: list[str], sqlite_dir: Path | None = None
) -> Report:
    report = Report(targets=targets(backends))
    with settled_projects(sizes, "pydm-bench-noop-") as projects:
        for backend in backends:
            with databases(backend, sqlite_dir) as dbs:
                for p in projects:
                    progress(f"{backend} N={p.n}: ")
                    measure_one(report, backend, p, dbs, repeat)
    return report


def measure_one(report: Report, backend: str, p: Projects, dbs: Databases, repeat: int) -> None:
    """The no-op questions for one project size, in one process and as whole processes,
    on databases brought to head first (dropped after)."""
    made = prepare(p, dbs)
    try:
        for runs in (in_process(p, made), whole_process(p, made)):
            times = interleave(runs, repeat, warmup=1)
            for question, by_contender in times.items():
                report.add(question, backend, p.n, by_contender)
    finally:
        for db in made.values():
            db.drop()


def main() -> None:
    args = cli.parser(__doc__.splitlines()[0], "1000", 5).parse_args()
    cli.choose(args)
    report = measure(cli.sizes_of(args), args.repeat, cli.backends_of(args), args.sqlite_dir)
    finish(report, args.json)


if __name__ == "__main__":
    main()
