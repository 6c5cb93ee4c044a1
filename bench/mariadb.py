"""MariaDB in one run: upgrade from empty (and downgrade to base) and upgrade with nothing
pending, the adapters against raw Alembic and raw yoyo on one throwaway MariaDB server.

Targets (N=300): Alembic adapter <= 1.05x raw Alembic and yoyo adapter <= 0.8x raw yoyo
for the full upgrade and the downgrade; both adapters <= 0.2x raw Alembic for the no-op
upgrade in one process (and ``pydapter-migrate upgrade`` <= 0.5x ``alembic upgrade head``
as whole processes). The server is started once, for both questions, and stopped at exit.

    python bench/mariadb.py [--sizes 300] [--repeat 5] [--json bench/results/mariadb.json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli
import noop_upgrade
import upgrade
from databases import databases
from projects import settled_projects
from report import RESULTS_DIR, Report, finish
from timing import interleave, progress

BACKEND = "mariadb"


def measure(sizes: list[int], repeat: int) -> Report:
    report = Report(targets=upgrade.targets([BACKEND]) + noop_upgrade.targets([BACKEND]))
    with settled_projects(sizes, "pydm-bench-mariadb-") as projects, databases(BACKEND) as dbs:
        for i, p in enumerate(projects):
            progress(f"{BACKEND} N={p.n}, upgrade from empty: ")
            times = interleave(upgrade.contenders(p, dbs), repeat, warmup=1 if i == 0 else 0)
            for question, by_contender in times.items():
                report.add(question, BACKEND, p.n, by_contender)
            progress(f"{BACKEND} N={p.n}, nothing pending: ")
            noop_upgrade.measure_one(report, BACKEND, p, dbs, repeat)
    return report


def main() -> None:
    p = cli.parser(__doc__.splitlines()[0], "300", 5)
    p.set_defaults(json=RESULTS_DIR / "mariadb.json", backends=BACKEND)
    args = p.parse_args()
    cli.choose(args)
    if cli.backends_of(args) != [BACKEND]:
        raise SystemExit("bench/mariadb.py runs on MariaDB only")
    began = time.monotonic()
    report = measure(cli.sizes_of(args), args.repeat)
    report.checks["total run time"] = f"{time.monotonic() - began:.0f} s"
    report.checks["command"] = "python " + " ".join(["bench/mariadb.py", *sys.argv[1:]])
    finish(report, args.json)


if __name__ == "__main__":
    main()
