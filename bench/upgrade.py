"""Upgrade from empty to head, then downgrade to base: adapters vs raw tools vs the floor.

Each repetition gives every contender a fresh database, times its upgrade of all N
revisions, checks the N tables exist, times its downgrade to base and checks they are
gone. Targets (N=500): Alembic adapter <= 1.03x raw Alembic, yoyo adapter <= 0.8x raw
yoyo, for both operations.

    python bench/upgrade.py [--sizes 100,500] [--repeat 5] [--backends sqlite,postgresql]

(run_all.py adds N=1000; on PostgreSQL raw yoyo alone takes ~7-25 s per run there.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

UPGRADE = "upgrade from empty"
DOWNGRADE = "downgrade to base"
TARGET_N = 500


def contenders(
    projects: c.Projects,
    dbs: c.Databases,
    measure: Callable[[Callable[[], Any]], tuple[float, float]] = c.timed_cpu,
) -> dict[str, c.Run]:
    """Each contender's round trip; ``measure`` runs a phase and returns its wall and CPU
    seconds (``instructions.py`` passes one that counts instructions instead)."""
    n = projects.n

    def round_trip(up: Callable[[c.Database], None], down: Callable[[c.Database], None]) -> c.Run:
        def run() -> dict[str, float]:
            db = dbs.fresh()
            try:
                up_s = measure(lambda: up(db))
                if (made := c.count_tables(db)) != n:
                    raise RuntimeError(f"upgrade made {made} tables, expected {n}")
                down_s = measure(lambda: down(db))
                if (left := c.count_tables(db)) != 0:
                    raise RuntimeError(f"downgrade left {left} tables")
            finally:
                db.drop()
            return {**c.wall_and_cpu(UPGRADE, up_s), **c.wall_and_cpu(DOWNGRADE, down_s)}

        return run

    alembic = c.adapter("alembic")
    yoyo = c.adapter("yoyo")
    return {
        c.RAW_ALEMBIC: round_trip(
            lambda db: c.raw_alembic("upgrade", projects.raw_alembic, db),
            lambda db: c.raw_alembic("downgrade", projects.raw_alembic, db, "base"),
        ),
        c.ALEMBIC_ADAPTER: round_trip(
            lambda db: alembic.upgrade(
                "head", directory=projects.alembic_adapter, connection_string=db.url
            ),
            lambda db: alembic.downgrade(
                "base", directory=projects.alembic_adapter, connection_string=db.url
            ),
        ),
        c.RAW_YOYO: round_trip(
            lambda db: c.raw_yoyo("upgrade", projects.raw_yoyo, db),
            lambda db: c.raw_yoyo("downgrade", projects.raw_yoyo, db),
        ),
        c.YOYO_ADAPTER: round_trip(
            lambda db: yoyo.upgrade(
                "head", directory=projects.yoyo_adapter, connection_string=db.url
            ),
            lambda db: yoyo.downgrade(
                "base", directory=projects.yoyo_adapter, connection_string=db.url
            ),
        ),
        c.FLOOR: round_trip(
            lambda db: c.floor("upgrade", db, n),
            lambda db: c.floor("downgrade", db, n),
        ),
    }


def targets(backends: list[str]) -> list[c.Target]:
    found = []
    for backend in backends:
        # Wall clock is the target; client CPU time (no waiting) is the steadier view.
        for question in (UPGRADE, DOWNGRADE, UPGRADE + c.CPU_SUFFIX, DOWNGRADE + c.CPU_SUFFIX):
            found.append(
                c.Target(question, backend, TARGET_N, c.ALEMBIC_ADAPTER, c.RAW_ALEMBIC, 1.03)
            )
            found.append(c.Target(question, backend, TARGET_N, c.YOYO_ADAPTER, c.RAW_YOYO, 0.8))
    return found


def measure(
    sizes: list[int], repeat: int, backends: list[str], sqlite_dir: Path | None = None
) -> c.Report:
    report = c.Report(targets=targets(backends))
    with c.scratch_dir("pydm-bench-upgrade-") as root:
        projects = [c.make_projects(n, root) for n in sizes]
        for p in projects:
            p.settle()
        for backend in backends:
            with c.databases(backend, sqlite_dir) as dbs:
                for i, p in enumerate(projects):
                    c.progress(f"{backend} N={p.n}: ")
                    times = c.interleave(contenders(p, dbs), repeat, warmup=1 if i == 0 else 0)
                    for question, by_contender in times.items():
                        report.add(question, backend, p.n, by_contender)
    return report


def main() -> None:
    args = c.parser(__doc__.splitlines()[0], "100,500", 5).parse_args()
    c.choose(args)
    report = measure(c.sizes_of(args), args.repeat, c.backends_of(args), args.sqlite_dir)
    c.finish(report, args.json)


if __name__ == "__main__":
    main()
