"""``get_current_revision`` at N revisions vs Alembic's ``current`` and one SELECT.

Alembic's ``current`` loads every revision script to check the heads it reads; the
adapters answer from the version table. Target (N=1000): each adapter <= 0.1x raw
Alembic's ``current``. yoyo has no ``current`` of its own.

    python bench/current.py [--sizes 1000] [--repeat 5] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

QUESTION = "current revision"
TARGET_N = 1000


def contenders(projects: c.Projects, dbs: c.Databases) -> tuple[dict[str, c.Run], list[c.Database]]:
    """One database per contender, upgraded to head by that contender (not timed)."""
    n = projects.n
    alembic = c.adapter("alembic")
    yoyo = c.adapter("yoyo")
    made = [dbs.fresh() for _ in range(4)]
    raw_db, alembic_db, yoyo_db, floor_db = made
    c.raw_alembic("upgrade", projects.raw_alembic, raw_db)
    alembic.upgrade("head", directory=projects.alembic_adapter, connection_string=alembic_db.url)
    yoyo.upgrade("head", directory=projects.yoyo_adapter, connection_string=yoyo_db.url)
    c.floor("upgrade", floor_db, n)
    for db in made:
        if (tables := c.count_tables(db)) != n:
            raise RuntimeError(f"preparation made {tables} tables, expected {n}")
    head_alembic = alembic.get_migration_history(directory=projects.alembic_adapter)[-1]
    head_yoyo = yoyo.get_migration_history(directory=projects.yoyo_adapter)[-1]

    def check(got: str | None, expected: str) -> None:
        if got != expected:
            raise RuntimeError(f"current revision {got!r}, expected {expected!r}")

    def one(fn: Callable[[], object]) -> c.Run:
        return lambda: {QUESTION: c.timed(fn)}

    runs: dict[str, c.Run] = {
        c.RAW_ALEMBIC: one(lambda: c.raw_alembic("current", projects.raw_alembic, raw_db)),
        c.ALEMBIC_ADAPTER: one(
            lambda: check(
                alembic.get_current_revision(
                    directory=projects.alembic_adapter, connection_string=alembic_db.url
                ),
                head_alembic["revision"],
            )
        ),
        c.YOYO_ADAPTER: one(
            lambda: check(
                yoyo.get_current_revision(
                    directory=projects.yoyo_adapter, connection_string=yoyo_db.url
                ),
                head_yoyo["revision"],
            )
        ),
        c.FLOOR: one(lambda: c.floor("current", floor_db, n)),
    }
    return runs, made


def targets(backends: list[str]) -> list[c.Target]:
    return [
        c.Target(QUESTION, backend, TARGET_N, contender, c.RAW_ALEMBIC, 0.1)
        for backend in backends
        for contender in (c.ALEMBIC_ADAPTER, c.YOYO_ADAPTER)
    ]


def measure(
    sizes: list[int], repeat: int, backends: list[str], sqlite_dir: Path | None = None
) -> c.Report:
    report = c.Report(targets=targets(backends))
    with c.scratch_dir("pydm-bench-current-") as root:
        projects = [c.make_projects(n, root) for n in sizes]
        for p in projects:
            p.settle()
        for backend in backends:
            with c.databases(backend, sqlite_dir) as dbs:
                for p in projects:
                    c.progress(f"{backend} N={p.n}: ")
                    runs, made = contenders(p, dbs)
                    try:
                        times = c.interleave(runs, repeat, warmup=1)
                    finally:
                        for db in made:
                            db.drop()
                    for question, by_contender in times.items():
                        report.add(question, backend, p.n, by_contender)
    return report


def main() -> None:
    args = c.parser(__doc__.splitlines()[0], "1000", 10).parse_args()
    c.choose(args)
    report = measure(c.sizes_of(args), args.repeat, c.backends_of(args), args.sqlite_dir)
    c.finish(report, args.json)


if __name__ == "__main__":
    main()
