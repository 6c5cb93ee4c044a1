"""Fleets: ``pydapter-migrate upgrade --targets FILE --parallel 4`` against a shell loop
of raw ``alembic upgrade head`` processes, over many SQLite databases.

Side by side in one run, on the same number of databases with the same revisions (each
contender on databases of its own, made from empty for each repetition):

* upgrade from empty: the fleet, and a bash loop running ``alembic -c alembic.ini upgrade
  head`` once per database (the URL in ``DATABASE_URL``), as people script it today;
* already at head (the daily deploy): both again on the same databases.

Targets (N=200 databases of 20 revisions): the fleet at most 0.15x the loop from empty
and 0.05x at head. Then how the fleet's time grows with its workers (1 to 8, N=200) and
with the number of databases (10 to 1,000, 4 workers), drawn in
``docs/img/fleet-growth.svg`` (matplotlib) for ``docs/benchmarks.md``.

    python bench/fleet.py [--sizes 200] [--repeat 2] [--revisions 20]
        [--workers 1,2,4,8] [--targets 10,100,1000] [--plot docs/img/fleet-growth.svg]
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli
from contenders import script
from projects import make_alembic_adapter, make_raw_alembic, scratch_dir
from report import BENCH_DIR, CPU_SUFFIX, Report, Target, finish, read
from timing import Run, interleave, progress, quiet, run_process, wall_and_cpu

FROM_EMPTY = "fleet upgrade from empty"
AT_HEAD = "fleet upgrade, all at head"
WORKERS = "fleet upgrade from empty, by workers"
WORKERS_AT_HEAD = "fleet upgrade at head, by workers"
SIZES = "fleet upgrade from empty, by databases"
SIZES_AT_HEAD = "fleet upgrade at head, by databases"

LOOP = "shell loop of alembic upgrade head"
PARALLEL = 4
FLEET = f"pydapter-migrate upgrade --parallel {PARALLEL}"
TARGET_N = 200
PLOT = BENCH_DIR.parent / "docs" / "img" / "fleet-growth.svg"

_LOOP_SCRIPT = """\
while read -r name url; do
    DATABASE_URL="$url" "$ALEMBIC" -c "$INI" upgrade head || exit 1
done < "$TARGETS"
"""


class Fleet:
    """``n`` databases for each contender, a targets file of each, and the projects."""

    def __init__(self, root: Path, n: int, raw: Path, adapter: Path, revisions: int) -> None:
        self.root = root
        self.n = n
        self.raw = raw
        self.adapter = adapter
        self.revisions = revisions
        self.raw_targets = self._targets("raw")
        self.fleet_targets = self._targets("fleet")

    def _targets(self, kind: str) -> Path:
        folder = self.root / f"{kind}-{self.n}"
        folder.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{kind}-{self.n}.txt"
        path.write_text(
            "".join(f"db{i:04d} sqlite:///{folder / f'db{i:04d}.db'}\n" for i in range(self.n))
        )
        return path

    def databases(self, targets: Path) -> list[Path]:
        return [Path(line.split()[1].removeprefix("sqlite:///")) for line in targets.open()]

    def empty(self, targets: Path) -> None:
        for db in self.databases(targets):
            for leftover in db.parent.glob(db.name + "*"):
                leftover.unlink()

    def check(self, targets: Path) -> None:
        """Every database has every revision's table."""
        for db in self.databases(targets):
            with sqlite3.connect(db) as conn:
                made = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name LIKE 't\\_%' ESCAPE '\\'"
                ).fetchone()[0]
            if made != self.revisions:
                raise RuntimeError(f"{db} has {made} tables, expected {self.revisions}")

    # -- the contenders ------------------------------------------------------

    def loop(self) -> tuple[float, float]:
        env = {
            "ALEMBIC": script("alembic"),
            "INI": str(self.raw / "alembic.ini"),
            "TARGETS": str(self.raw_targets),
        }
        return run_process(["bash", "-c", _LOOP_SCRIPT], env=env, cwd=self.root)

    def fleet(self, parallel: int = PARALLEL) -> tuple[float, float]:
        argv = [script("pydapter-migrate"), "-d", str(self.adapter), "upgrade"]
        argv += ["--targets", str(self.fleet_targets), "--parallel", str(parallel)]
        return run_process(argv, cwd=self.root)

    def contenders(self) -> dict[str, Run]:
        def both(targets: Path, run: Callable[[], tuple[float, float]]) -> Run:
            def trip() -> dict[str, float]:
                self.empty(targets)
                empty = run()
                self.check(targets)
                head = run()
                self.check(targets)
                return {**wall_and_cpu(FROM_EMPTY, empty), **wall_and_cpu(AT_HEAD, head)}

            return trip

        return {
            LOOP: both(self.raw_targets, self.loop),
            FLEET: both(self.fleet_targets, self.fleet),
        }


def make_projects(root: Path, revisions: int) -> tuple[Path, Path]:
    """The raw Alembic project (``alembic init``, DATABASE_URL read by env.py) and the
    adapter's, with the same revisions; settled for the adapter's graph cache."""
    progress(f"generating {revisions} revisions per project... ")
    raw, adapter = root / "raw-alembic", root / "alembic"
    raw.mkdir()
    adapter.mkdir()
    with quiet():
        make_raw_alembic(raw, revisions)
        make_alembic_adapter(adapter, revisions)
    time.sleep(2.2)  # files older than a scan's resolution prove themselves unchanged
    from pydapter_migrations_alembic import AlembicAdapter

    assert len(AlembicAdapter.get_migration_history(directory=adapter)) == revisions
    progress("done\n")
    return raw, adapter


def targets() -> list[Target]:
    found = []
    for question, ratio in ((FROM_EMPTY, 0.15), (AT_HEAD, 0.05)):
        found.append(Target(question, "sqlite", TARGET_N, FLEET, LOOP, ratio))
        found.append(Target(question + CPU_SUFFIX, "sqlite", TARGET_N, FLEET, LOOP, ratio))
    return found


def measure(
    sizes: list[int],
    repeat: int,
    revisions: int,
    workers: list[int],
    growth: list[int],
    sqlite_dir: Path | None,
) -> Report:
    report = Report(targets=targets())
    with scratch_dir("pydm-bench-fleet-") as root:
        raw, adapter = make_projects(root, revisions)
        data = Path(scratch_dir_in(sqlite_dir))
        try:
            for n in sizes:
                progress(f"sqlite, {n} databases x {revisions} revisions: ")
                fleet = Fleet(data, n, raw, adapter, revisions)
                times = interleave(fleet.contenders(), repeat, warmup=0)
                for question, by_contender in times.items():
                    report.add(question, "sqlite", n, by_contender)
                fleet.empty(fleet.raw_targets)
                fleet.empty(fleet.fleet_targets)
            growth_runs(report, data, raw, adapter, revisions, workers, growth, repeat)
        finally:
            shutil.rmtree(data, ignore_errors=True)
    report.checks["revisions per database"] = revisions
    return report


def scratch_dir_in(parent: Path | None) -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="pydm-bench-fleet-dbs-", dir=parent)


def growth_runs(
    report: Report,
    data: Path,
    raw: Path,
    adapter: Path,
    revisions: int,
    workers: list[int],
    growth: list[int],
    repeat: int,
) -> None:
    """The fleet alone: N=200 by worker count, then by database count at 4 workers (each
    from empty, then at head; wall-clock and CPU seconds, ``repeat`` times)."""

    def record(question: str, at_head: str, n: int, label: str, fleet: Fleet, k: int) -> None:
        runs: dict[str, list[float]] = {}
        for _ in range(repeat):
            fleet.empty(fleet.fleet_targets)
            empty = fleet.fleet(k)
            fleet.check(fleet.fleet_targets)
            head = fleet.fleet(k)
            for name, seconds in (
                (question, empty[0]),
                (question + CPU_SUFFIX, empty[1]),
                (at_head, head[0]),
                (at_head + CPU_SUFFIX, head[1]),
            ):
                runs.setdefault(name, []).append(seconds)
        for name, times in runs.items():
            report.add(name, "sqlite", n, {label: times})
        fleet.empty(fleet.fleet_targets)

    progress(f"growth by workers ({TARGET_N} databases): ")
    fleet = Fleet(data, TARGET_N, raw, adapter, revisions)
    for k in workers:
        record(WORKERS, WORKERS_AT_HEAD, TARGET_N, f"--parallel {k}", fleet, k)
        progress(".")
    progress("\ngrowth by databases (--parallel 4): ")
    for n in growth:
        record(SIZES, SIZES_AT_HEAD, n, FLEET, Fleet(data, n, raw, adapter, revisions), PARALLEL)
        progress(".")
    progress("\n")


# -- the picture ------------------------------------------------------------------


def plot(report: Report, path: Path) -> None:
    """Two panels: seconds by workers (N=200), seconds by databases (log-log), from empty
    and at head, with the shell loop where it was measured."""
    try:
        import matplotlib

        matplotlib.use("svg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no plot written")
        return

    def series(question: str) -> tuple[list[float], list[float]]:
        rows = [r for r in report.results if r.question == question]
        if question.startswith((WORKERS, WORKERS_AT_HEAD)):
            pairs = sorted((int(r.contender.split()[-1]), r.median) for r in rows)
        else:
            # The growth by workers at --parallel 4 is the point of N=200: the fleet alone,
            # run as the other sizes were (the side-by-side runs shared the machine with
            # the shell loop's processes, so they are left out of the curve).
            by_workers = {SIZES: WORKERS, SIZES_AT_HEAD: WORKERS_AT_HEAD}[question]
            extra = [
                r
                for r in report.results
                if r.question == by_workers and r.contender == f"--parallel {PARALLEL}"
            ]
            sizes = {r.n for r in rows}
            rows += [r for r in extra if r.n not in sizes]
            pairs = sorted((r.n, r.median) for r in rows)
        return [float(x) for x, _ in pairs], [y for _, y in pairs]

    plt.rcParams.update({"svg.hashsalt": "pydapter-fleet", "font.size": 9})
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for question, label, style, color in (
        (WORKERS, "from empty", "o-", "tab:blue"),
        (WORKERS + CPU_SUFFIX, "from empty, CPU", "o:", "tab:blue"),
        (WORKERS_AT_HEAD, "at head", "s--", "tab:orange"),
        (WORKERS_AT_HEAD + CPU_SUFFIX, "at head, CPU", "s:", "tab:orange"),
    ):
        xs, ys = series(question)
        left.plot(xs, ys, style, color=color, label=label)
    left.set_xlabel("worker processes (--parallel)")
    left.set_ylabel("seconds")
    left.set_title(f"{TARGET_N} databases, by workers (dotted: CPU seconds)")
    left.set_xticks(sorted({int(x) for q in (WORKERS, WORKERS_AT_HEAD) for x in series(q)[0]}))
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    for question, label, style, color in (
        (SIZES, "fleet, from empty", "o-", "tab:blue"),
        (SIZES_AT_HEAD, "fleet, at head", "s--", "tab:orange"),
    ):
        xs, ys = series(question)
        right.plot(xs, ys, style, color=color, label=label)
    for r in report.results:
        if r.contender == FLEET and r.question in (FROM_EMPTY, AT_HEAD):
            empty = r.question == FROM_EMPTY
            right.plot(
                [r.n],
                [r.median],
                "o" if empty else "s",
                mfc="none",
                color="tab:blue" if empty else "tab:orange",
                label=f"fleet beside the loop, {'from empty' if empty else 'at head'}",
            )
    loop = [
        r for r in report.results if r.contender == LOOP and r.question in (FROM_EMPTY, AT_HEAD)
    ]
    for r in loop:
        marker = "^" if r.question == FROM_EMPTY else "v"
        what = "from empty" if r.question == FROM_EMPTY else "at head"
        right.plot([r.n], [r.median], marker, color="tab:red", label=f"shell loop, {what}")
        per_db = r.median / r.n
        xs, _ = series(SIZES)
        if xs:
            right.plot(xs, [per_db * x for x in xs], ":", color="tab:red", alpha=0.5)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("databases")
    right.set_title(f"by databases, --parallel {PARALLEL} (dotted: loop per database)")
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=7)
    figure.suptitle("pydapter-migrate upgrade --targets (SQLite, 20 revisions each, 2 cores)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Date": None})
    plt.close(figure)
    print(f"wrote {path}")


def main() -> None:
    p = cli.parser(__doc__.splitlines()[0], str(TARGET_N), 2)
    p.add_argument("--revisions", type=int, default=20, help="revisions per database (20)")
    p.add_argument("--workers", default="1,2,4,8", help="worker counts of the growth runs")
    p.add_argument("--targets", default="10,100,1000", help="database counts of the growth runs")
    p.add_argument("--plot", type=Path, default=PLOT, help=f"where the plot goes ({PLOT.name})")
    p.add_argument(
        "--replot",
        type=Path,
        metavar="JSON",
        help="measure nothing: draw the plot of the results in JSON (bench/results/fleet.json)",
    )
    p.set_defaults(json=BENCH_DIR / "results" / "fleet.json")
    args = p.parse_args()
    if args.replot is not None:
        plot(read(args.replot), args.plot)
        return
    cli.choose(args)
    began = time.monotonic()
    report = measure(
        cli.sizes_of(args),
        args.repeat,
        args.revisions,
        [int(k) for k in args.workers.split(",") if k.strip()],
        [int(n) for n in args.targets.split(",") if n.strip()],
        args.sqlite_dir,
    )
    report.checks["total run time"] = f"{time.monotonic() - began:.0f} s"
    report.checks["command"] = "python " + " ".join(["bench/fleet.py", *sys.argv[1:]])
    finish(report, args.json)
    plot(report, args.plot)


if __name__ == "__main__":
    main()
