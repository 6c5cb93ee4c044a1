"""Upgrade from empty to head, then downgrade to base: adapters vs raw tools vs the floor.

Each repetition gives every contender a fresh database, times its upgrade of all N
revisions, checks the N tables exist, times its downgrade to base and checks they are
gone. Targets (N=500): Alembic adapter <= 1.03x raw Alembic, yoyo adapter <= 0.8x raw
yoyo, for both operations; on MariaDB (N=300): <= 1.05x and <= 0.8x.

    python bench/upgrade.py [--sizes 100,500] [--repeat 5] [--backends sqlite,postgresql]
    python bench/upgrade.py --sizes 300 --backends mariadb

(run_all.py adds N=1000; on PostgreSQL raw yoyo alone takes ~7-25 s per run there.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli
from contenders import adapter, floor, raw_alembic, raw_yoyo
from databases import Database, Databases, count_tables, databases
from names import ALEMBIC_ADAPTER, FLOOR, RAW_ALEMBIC, RAW_YOYO, YOYO_ADAPTER
from projects import Projects, settled_projects
from report import CPU_SUFFIX, Report, Target, finish
from timing import Run, interleave, progress, timed_cpu, wall_and_cpu

UPGRADE = "upgrade from empty"
DOWNGRADE = "downgrade to base"
TARGET_N = 500
#: Where a database's targets differ: (N, Alembic adapter / raw Alembic, yoyo adapter /
#: raw yoyo). MariaDB's DDL is slow (each CREATE TABLE writes its own files and commits):
#: N=300 there.
TARGETS = {"mariadb": (300, 1.05, 0.8)}


def contenders(
    projects: Projects,
    dbs: Databases,
    measure: Callable[[Callable[[], Any]], tuple[float, float]] = timed_cpu,
) -> dict[str, Run]:
    """Each contender's round trip; ``measure`` runs a phase and returns its wall and CPU
    seconds (``instructions.py`` passes one that counts instructions instead)."""
    n = projects.n

    def round_trip(up: Callable[[Database], None], down: Callable[[Database], None]) -> Run:
        def trip() -> dict[str, float]:
            db = dbs.fresh()
            try:
                up_s = measure(lambda: up(db))
                if (made := count_tables(db)) != n:
                    raise RuntimeError(f"upgrade made {made} tables, expected {n}")
                down_s = measure(lambda: down(db))
                if (left := count_tables(db)) != 0:
                    raise RuntimeError(f"downgrade left {left} tables")
            finally:
                db.drop()
            return {**wall_and_cpu(UPGRADE, up_s), **wall_and_cpu(DOWNGRADE, down_s)}

        return trip

    alembic = adapter("alembic")
    yoyo = adapter("yoyo")
    return {
        RAW_ALEMBIC: round_trip(
            lambda db: raw_alembic("upgrade", projects.raw_alembic, db),
            lambda db: raw_alembic("downgrade", projects.raw_alembic, db, "base"),
        ),
        ALEMBIC_ADAPTER: round_trip(
            lambda db: alembic.upgrade(
                "head", directory=projects.alembic_adapter, connection_string=db.url
            ),
            lambda db: alembic.downgrade(
                "base", directory=projects.alembic_adapter, connection_string=db.url
            ),
        ),
        RAW_YOYO: round_trip(
            lambda db: raw_yoyo("upgrade", projects.raw_yoyo, db),
            lambda db: raw_yoyo("downgrade", projects.raw_yoyo, db),
        ),
        YOYO_ADAPTER: round_trip(
            lambda db: yoyo.upgrade(
                "head", directory=projects.yoyo_adapter, connection_string=db.url
            ),
            lambda db: yoyo.downgrade(
                "base", directory=projects.yoyo_adapter, connection_string=db.url
            ),
        ),
        FLOOR: round_trip(
            lambda db: floor("upgrade", db, n),
            lambda db: floor("downgrade", db, n),
        ),
    }


def targets(backends: list[str]) -> list[Target]:
    found = []
    for backend in backends:
        n, alembic, yoyo = TARGETS.get(backend, (TARGET_N, 1.03, 0.8))
        # Wall clock is the target; client CPU time (no waiting) is the steadier view.
        for question in (UPGRADE, DOWNGRADE, UPGRADE + CPU_SUFFIX, DOWNGRADE + CPU_SUFFIX):
            found.append(Target(question, backend, n, ALEMBIC_ADAPTER, RAW_ALEMBIC, alembic))
            found.append(Target(question, backend, n, YOYO_ADAPTER, RAW_YOYO, yoyo))
    return found


def measure(
    sizes: list[int], repeat: int, backends: list[str], sqlite_dir: Path | None = None
) -> Report:
    report = Report(targets=targets(backends))
    with settled_projects(sizes, "pydm-bench-upgrade-") as projects:
        for backend in backends:
            with databases(backend, sqlite_dir) as dbs:
                for i, p in enumerate(projects):
                    progress(f"{backend} N={p.n}: ")
                    times = interleave(contenders(p, dbs), repeat, warmup=1 if i == 0 else 0)
                    for question, by_contender in times.items():
                        report.add(question, backend, p.n, by_contender)
    return report


def main() -> None:
    args = cli.parser(__doc__.splitlines()[0], "100,500", 5).parse_args()
    cli.choose(args)
    report = measure(cli.sizes_of(args), args.repeat, cli.backends_of(args), args.sqlite_dir)
    finish(report, args.json)


if __name__ == "__main__":
    main()
