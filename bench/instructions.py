"""Upgrade and downgrade of N revisions in instructions executed (callgrind), not seconds.

On a shared machine the seconds of one contender can fall into two clusters a third apart
from one repetition to the next, so a 3% target cannot be judged from them. Valgrind's
callgrind counts the instructions the client process executes, which stay the same for
the same work whatever else the machine is doing. Each contender runs in a process of its
own under callgrind: one untimed round trip on a small project (imports, caches), then
the round trip of ``upgrade.py`` on N revisions, counting only its upgrade and its
downgrade phases.

What a count leaves out: waiting (the disk, the scheduler) and, on PostgreSQL, all the
server's work. There it shows the client's share only; yoyo's extra connections and
transactions cost the server mostly, so upgrade.py's wall clock stays the measure there.

    python bench/instructions.py [--sizes 500] [--backends sqlite,postgresql] [--jobs 2]

(--repeat is ignored: a count does not vary. ~2 minutes per contender at N=500.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import callgrind
import cli
import names
import upgrade
from databases import Databases, databases
from names import ALEMBIC_ADAPTER, RAW_ALEMBIC, RAW_YOYO, YOYO_ADAPTER
from projects import Projects, make_projects, scratch_dir
from report import INSTRUCTIONS_SUFFIX, Report, Target, finish
from timing import progress, reset_logging

UPGRADE = upgrade.UPGRADE + INSTRUCTIONS_SUFFIX
DOWNGRADE = upgrade.DOWNGRADE + INSTRUCTIONS_SUFFIX
#: Revisions of the project each process warms up on before the counted round trip.
WARM_N = 10
_SPEC = "PYDM_BENCH_INSTRUCTIONS"


def targets(backends: list[str]) -> list[Target]:
    return [
        Target(question, backend, upgrade.TARGET_N, subject, baseline, ratio)
        for backend in backends
        for question in (UPGRADE, DOWNGRADE)
        for subject, baseline, ratio in (
            (ALEMBIC_ADAPTER, RAW_ALEMBIC, 1.03),
            (YOYO_ADAPTER, RAW_YOYO, 0.8),
        )
    ]


def measure(sizes: list[int], backends: list[str], sqlite_dir: Path | None, jobs: int) -> Report:
    callgrind.require_valgrind()
    report = Report(targets=targets(backends))
    with scratch_dir("pydm-bench-instructions-") as root:
        warm = make_projects(WARM_N, root / "warm")
        projects = [make_projects(n, root) for n in sizes]
        for p in (warm, *projects):
            p.settle()
        for backend in backends:
            with databases(backend, sqlite_dir) as dbs:
                chosen = [n for n in upgrade.contenders(warm, dbs) if names.chosen(n)]
                runs = [(p, name) for p in projects for name in chosen]
                progress(f"{backend}: {len(runs)} processes under callgrind, {jobs} at a time\n")

                def count(item: tuple[int, tuple[Projects, str]]) -> tuple[int, int]:
                    index, (project, name) = item
                    return _count(name, project, warm, dbs, root, index)

                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    counts = list(pool.map(count, enumerate(runs)))
                for p in projects:
                    for question, phase in ((UPGRADE, 0), (DOWNGRADE, 1)):
                        report.add(
                            question,
                            backend,
                            p.n,
                            {
                                name: [float(found[phase])]
                                for (project, name), found in zip(runs, counts, strict=True)
                                if project is p
                            },
                        )
    report.checks["measured in"] = "instructions executed by the client process (callgrind)"
    return report


def _count(
    name: str, project: Projects, warm: Projects, dbs: Databases, root: Path, index: int
) -> tuple[int, int]:
    """Run one contender's round trip under callgrind; its (upgrade, downgrade) counts."""
    spec = {
        "contender": name,
        "projects": project.to_spec(),
        "warm": warm.to_spec(),
        "databases": dbs.spec(prefix=f"c{index}_"),
    }
    # The spec travels in the environment: it holds the throwaway server's password,
    # which a command line would show to every user of the machine.
    env = {**os.environ, "PYTHONHASHSEED": "0", _SPEC: json.dumps(spec)}
    began = time.monotonic()
    found, outside = callgrind.count(
        [sys.executable, str(Path(__file__).resolve())],
        root / f"callgrind-{dbs.backend}-{index}.out",
        env,
        what=f"{name} on {dbs.backend} (N={project.n})",
    )
    if len(found) != 2 or outside != 0:
        raise RuntimeError(
            f"{name}: expected two counted phases (upgrade, downgrade), got {found} "
            f"and {outside} outside them; does something else call operator.call?"
        )
    progress(
        f"  {dbs.backend} N={project.n} {name}: upgrade {found[0] / 1e6:,.0f} M, "
        f"downgrade {found[1] / 1e6:,.0f} M ({time.monotonic() - began:.0f} s)\n"
    )
    return found[0], found[1]


# -- the process under callgrind -------------------------------------------------------


def _uncounted(phase: Callable[[], Any]) -> tuple[float, float]:
    phase()
    return 0.0, 0.0


def _counted(phase: Callable[[], Any]) -> tuple[float, float]:
    callgrind.counted(phase)
    return 0.0, 0.0


def child(spec: dict[str, Any]) -> None:
    dbs = Databases.from_spec(spec["databases"])
    try:
        name = spec["contender"]
        reset_logging()
        upgrade.contenders(Projects.from_spec(spec["warm"]), dbs, measure=_uncounted)[name]()
        reset_logging()
        upgrade.contenders(Projects.from_spec(spec["projects"]), dbs, measure=_counted)[name]()
    finally:
        dbs.close()


def main() -> None:
    if _SPEC in os.environ:
        child(json.loads(os.environ[_SPEC]))
        return
    p = cli.parser(__doc__.splitlines()[0], str(upgrade.TARGET_N), 1)
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes under callgrind at a time (counts do not depend on it)",
    )
    args: argparse.Namespace = p.parse_args()
    cli.choose(args)
    report = measure(cli.sizes_of(args), cli.backends_of(args), args.sqlite_dir, args.jobs)
    finish(report, args.json)


if __name__ == "__main__":
    main()
