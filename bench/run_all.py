"""Run every benchmark, print one report and write ``bench/results/latest.json``.

MLflow's migrations (bench/adopted.py) are measured where ``mlflow`` is importable; elsewhere
the report says they were left out.

python bench/run_all.py [--repeat 5] [--backends sqlite,postgresql]
    [--upgrade-sizes 100,500,1000] [--sizes 1000]   # N for current / no-op upgrade
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adopted
import cli
import current
import noop_upgrade
import startup
import upgrade
from report import RESULTS_DIR, Report, finish


def main() -> None:
    p = cli.parser(__doc__.splitlines()[0], "1000", 5)
    p.add_argument("--upgrade-sizes", default="100,500,1000", help="N for upgrade/downgrade")
    p.add_argument("--startup-repeat", type=int, default=10, help="repetitions of process start")
    p.set_defaults(json=RESULTS_DIR / "latest.json")
    args = p.parse_args()
    cli.choose(args)
    backends = cli.backends_of(args)
    sizes = cli.sizes_of(args)
    upgrade_sizes = [int(s) for s in args.upgrade_sizes.split(",") if s.strip()]
    began = time.monotonic()
    report = Report()
    report.merge(startup.measure(args.startup_repeat))
    report.merge(current.measure(sizes, args.repeat, backends, args.sqlite_dir))
    report.merge(noop_upgrade.measure(sizes, args.repeat, backends, args.sqlite_dir))
    report.merge(upgrade.measure(upgrade_sizes, args.repeat, backends, args.sqlite_dir))
    report.merge(adopted.measure(args.repeat, backends, args.sqlite_dir))
    report.checks["total run time"] = f"{time.monotonic() - began:.0f} s"
    report.checks["command"] = "python " + " ".join(["bench/run_all.py", *sys.argv[1:]])
    finish(report, args.json)


if __name__ == "__main__":
    main()
