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
import operator
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import upgrade

UPGRADE = upgrade.UPGRADE + c.INSTRUCTIONS_SUFFIX
DOWNGRADE = upgrade.DOWNGRADE + c.INSTRUCTIONS_SUFFIX
#: Revisions of the project each process warms up on before the counted round trip.
WARM_N = 10
#: Callgrind counts only inside this C function, and writes a count each time it returns:
#: the measured phase runs as ``operator.call(phase)``.
_MARK = "_operator_call"
_SPEC = "PYDM_BENCH_INSTRUCTIONS"


def targets(backends: list[str]) -> list[c.Target]:
    return [
        c.Target(question, backend, upgrade.TARGET_N, subject, baseline, ratio)
        for backend in backends
        for question in (UPGRADE, DOWNGRADE)
        for subject, baseline, ratio in (
            (c.ALEMBIC_ADAPTER, c.RAW_ALEMBIC, 1.03),
            (c.YOYO_ADAPTER, c.RAW_YOYO, 0.8),
        )
    ]


def measure(sizes: list[int], backends: list[str], sqlite_dir: Path | None, jobs: int) -> c.Report:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    report = c.Report(targets=targets(backends))
    with c.scratch_dir("pydm-bench-instructions-") as root:
        warm = c.make_projects(WARM_N, root / "warm")
        projects = [c.make_projects(n, root) for n in sizes]
        for p in (warm, *projects):
            p.settle()
        for backend in backends:
            with c.databases(backend, sqlite_dir) as dbs:
                names = [n for n in upgrade.contenders(warm, dbs) if not c.ONLY or n in c.ONLY]
                runs = [(p, name) for p in projects for name in names]
                c.progress(f"{backend}: {len(runs)} processes under callgrind, {jobs} at a time\n")

                def count(item: tuple[int, tuple[c.Projects, str]]) -> tuple[int, int]:
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
    name: str, project: c.Projects, warm: c.Projects, dbs: c.Databases, root: Path, index: int
) -> tuple[int, int]:
    """Run one contender's round trip under callgrind; its (upgrade, downgrade) counts."""
    out = root / f"callgrind-{dbs.backend}-{index}.out"
    server = dbs.server
    spec = {
        "contender": name,
        "backend": dbs.backend,
        "projects": _project_spec(project),
        "warm": _project_spec(warm),
        "scratch": str(dbs.scratch),
        "prefix": f"c{index}_",
        "server": None
        if server is None
        else {"port": server.port, "user": server.user, "password": server.password},
    }
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--quiet",
        f"--callgrind-out-file={out}",
        "--collect-atstart=no",
        f"--toggle-collect={_MARK}",
        f"--dump-after={_MARK}",
        sys.executable,
        str(Path(__file__).resolve()),
    ]
    # The spec travels in the environment: it holds the throwaway server's password,
    # which a command line would show to every user of the machine.
    env = {**os.environ, "PYTHONHASHSEED": "0", _SPEC: json.dumps(spec)}
    began = time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{name} on {dbs.backend} (N={project.n}) failed:\n{tail}")
    dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda d: int(d.suffix[1:]))
    found = [_totals(d) for d in dumps]
    if len(found) != 2 or _totals(out) != 0:
        raise RuntimeError(
            f"{name}: expected two counted phases (upgrade, downgrade), got {found} "
            f"and {_totals(out)} outside them; does something else call operator.call?"
        )
    c.progress(
        f"  {dbs.backend} N={project.n} {name}: upgrade {found[0] / 1e6:,.0f} M, "
        f"downgrade {found[1] / 1e6:,.0f} M ({time.monotonic() - began:.0f} s)\n"
    )
    return found[0], found[1]


def _totals(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def _project_spec(project: c.Projects) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(project).items()}


def _projects(spec: dict[str, Any]) -> c.Projects:
    paths = {k: Path(v) for k, v in spec.items() if k not in ("n", "made_at")}
    return c.Projects(n=int(spec["n"]), made_at=float(spec["made_at"]), **paths)


# -- the process under callgrind -------------------------------------------------------


def _uncounted(phase: Callable[[], Any]) -> tuple[float, float]:
    phase()
    return 0.0, 0.0


def _counted(phase: Callable[[], Any]) -> tuple[float, float]:
    c.collect_garbage()  # as the timed bench does, outside the counted phase
    operator.call(phase)
    return 0.0, 0.0


def child(spec: dict[str, Any]) -> None:
    server = None
    if spec["server"] is not None:
        from pydapter_migrations.testing.postgres import PostgresServer

        server = PostgresServer()  # not started: the parent's server, by its address
        server.port = spec["server"]["port"]
        server.user = spec["server"]["user"]
        server.password = spec["server"]["password"]
    dbs = c.Databases(spec["backend"], Path(spec["scratch"]), server, prefix=spec["prefix"])
    try:
        name = spec["contender"]
        c.reset_logging()
        upgrade.contenders(_projects(spec["warm"]), dbs, measure=_uncounted)[name]()
        c.reset_logging()
        upgrade.contenders(_projects(spec["projects"]), dbs, measure=_counted)[name]()
    finally:
        dbs.close()


def main() -> None:
    if _SPEC in os.environ:
        child(json.loads(os.environ[_SPEC]))
        return
    p = c.parser(__doc__.splitlines()[0], str(upgrade.TARGET_N), 1)
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes under callgrind at a time (counts do not depend on it)",
    )
    args: argparse.Namespace = p.parse_args()
    c.choose(args)
    report = measure(c.sizes_of(args), c.backends_of(args), args.sqlite_dir, args.jobs)
    c.finish(report, args.json)


if __name__ == "__main__":
    main()
