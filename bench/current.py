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

import cli
from contenders import adapter, floor, raw_alembic
from databases import Database, Databases, count_tables, databases
from names import ALEMBIC_ADAPTER, FLOOR, RAW_ALEMBIC, YOYO_ADAPTER
from projects import Projects, settled_projects
from report import Report, Target, finish
from timing import Run, interleave, progress, timed

QUESTION = "current revision"
TARGET_N = 1000


def contenders(projects: Projects, dbs: Databases) -> tuple[dict[str, Run], list[Database]]:
    """One database per contender, upgraded to head by that contender (not timed)."""
    n = projects.n
    alembic = adapter("alembic")
    yoyo = adapter("yoyo")
    made = [dbs.fresh() for _ in range(4)]
    raw_db, alembic_db, yoyo_db, floor_db = made
    raw_alembic("upgrade", projects.raw_alembic, raw_db)
    alembic.upgrade("head", directory=projects.alembic_adapter, connection_string=alembic_db.url)
    yoyo.upgrade("head", directory=projects.yoyo_adapter, connection_string=yoyo_db.url)
    floor("upgrade", floor_db, n)
    for db in made:
        if (tables := count_tables(db)) != n:
            raise RuntimeError(f"preparation made {tables} tables, expected {n}")
    head_alembic = alembic.get_migration_history(directory=projects.alembic_adapter)[-1]
    head_yoyo = yoyo.get_migration_history(directory=projects.yoyo_adapter)[-1]

    def check(got: str | None, expected: str) -> None:
        if got != expected:
            raise RuntimeError(f"current revision {got!r}, expected {expected!r}")

    def one(fn: Callable[[], object]) -> Run:
        return lambda: {QUESTION: timed(fn)}

    runs: dict[str, Run] = {
        RAW_ALEMBIC: one(lambda: raw_alembic("current", projects.raw_alembic, raw_db)),
        ALEMBIC_ADAPTER: one(
            lambda: check(
                alembic.get_current_revision(
                    directory=projects.alembic_adapter, connection_string=alembic_db.url
                ),
                head_alembic["revision"],
            )
        ),
        YOYO_ADAPTER: one(
            lambda: check(
                yoyo.get_current_revision(
                    directory=projects.yoyo_adapter, connection_string=yoyo_db.url
                ),
                head_yoyo["revision"],
            )
        ),
        FLOOR: one(lambda: floor("current", floor_db, n)),
    }
    return runs, made


def targets(backends: list[str]) -> list[Target]:
    return [
        Target(QUESTION, backend, TARGET_N, contender, RAW_ALEMBIC, 0.1)
        for backend in backends
        for contender in (ALEMBIC_ADAPTER, YOYO_ADAPTER)
    ]


def measure(
    sizes: list[int], repeat: int, backends: list[str], sqlite_dir: Path | None = None
) -> Report:
    report = Report(targets=targets(backends))
    with settled_projects(sizes, "pydm-bench-current-") as projects:
        for backend in backends:
            with databases(backend, sqlite_dir) as dbs:
                for p in projects:
                    progress(f"{backend} N={p.n}: ")
                    runs, made = contenders(p, dbs)
                    try:
                        times = interleave(runs, repeat, warmup=1)
                    finally:
                        for db in made:
                            db.drop()
                    for question, by_contender in times.items():
                        report.add(question, backend, p.n, by_contender)
    return report


def main() -> None:
    args = cli.parser(__doc__.splitlines()[0], "1000", 10).parse_args()
    cli.choose(args)
    report = measure(cli.sizes_of(args), args.repeat, cli.backends_of(args), args.sqlite_dir)
    finish(report, args.json)


if __name__ == "__main__":
    main()
