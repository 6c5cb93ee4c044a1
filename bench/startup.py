"""Process start: ``pydapter-migrate --help`` / ``backends`` vs ``alembic --help``,
``yoyo --help`` and ``python -c pass``.

Targets: ``pydapter-migrate --help`` and ``backends`` <= 100 ms median, and neither
imports a backend (alembic, sqlalchemy, yoyo), checked in a separate run.

    python bench/startup.py [--repeat 10]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli
from contenders import script
from names import PYTHON
from projects import scratch_dir
from report import Report, Target, finish
from timing import Run, interleave, progress, run_process, wall_and_cpu

QUESTION = "process start"
NO_SITE = "python -S -c pass (no site)"
HELP = "pydapter-migrate --help"
BACKENDS = "pydapter-migrate backends"
#: The libraries the command line is built on, imported and nothing else: what `backends`
#: cannot do without on this interpreter (click for the CLI, importlib.metadata for the
#: entry points, pluggy for hook plugins).
LIBRARIES = "import click+metadata+pluggy"


def contenders(cwd: Path) -> dict[str, Run]:
    def one(argv: list[str]) -> Run:
        return lambda: wall_and_cpu(QUESTION, run_process(argv, cwd=cwd))

    pydm = script("pydapter-migrate")
    return {
        PYTHON: one([sys.executable, "-c", "pass"]),
        # What this interpreter's site-packages .pth files add to every start above.
        NO_SITE: one([sys.executable, "-S", "-c", "pass"]),
        LIBRARIES: one([sys.executable, "-c", "import click, importlib.metadata, pluggy"]),
        HELP: one([pydm, "--help"]),
        BACKENDS: one([pydm, "backends"]),
        "alembic --help": one([script("alembic"), "--help"]),
        "yoyo --help": one([script("yoyo"), "--help"]),
    }


def backend_imports(cli_args: Sequence[str]) -> list[str]:
    """Top-level backend packages (alembic, sqlalchemy, yoyo) imported by a CLI run."""
    code = (
        "import atexit, sys\n"
        "def report():\n"
        "    found = sorted({m.split('.')[0] for m in sys.modules"
        " if m.split('.')[0] in ('alembic', 'sqlalchemy', 'yoyo')})\n"
        "    sys.stderr.write('IMPORTED=' + ','.join(found) + '\\n')\n"
        "atexit.register(report)\n"
        "from pydapter_migrations.cli import main\n"
        f"main({list(cli_args)!r})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    for line in proc.stderr.splitlines():
        if line.startswith("IMPORTED="):
            return [m for m in line.removeprefix("IMPORTED=").split(",") if m]
    raise RuntimeError(f"could not tell what {cli_args} imported: {proc.stderr[-500:]}")


def measure(repeat: int) -> Report:
    report = Report(
        targets=[
            Target(QUESTION, "-", 0, HELP, None, 0.1),
            Target(QUESTION, "-", 0, BACKENDS, None, 0.1),
        ]
    )
    with scratch_dir("pydm-bench-start-") as cwd:
        progress("process start: ")
        times = interleave(contenders(cwd), repeat, warmup=1)
    for question, by_contender in times.items():
        report.add(question, "-", 0, by_contender)
    # What this project adds to an interpreter start, whatever that start costs here (the
    # site-packages .pth files of a machine can make `python -c pass` alone 50 ms or more).
    floor = statistics.median(times[QUESTION][PYTHON]) if PYTHON in times[QUESTION] else None
    for name in (HELP, BACKENDS):
        if floor is not None and name in times[QUESTION]:
            over = statistics.median(times[QUESTION][name]) - floor
            report.checks[f"{name} over `{PYTHON}`"] = f"{over * 1000:.0f} ms"
    if LIBRARIES in times[QUESTION] and BACKENDS in times[QUESTION]:
        own = statistics.median(times[QUESTION][BACKENDS]) - statistics.median(
            times[QUESTION][LIBRARIES]
        )
        report.checks[f"{BACKENDS} over importing its libraries"] = f"{own * 1000:.0f} ms"
    for args, name in ((["--help"], HELP), (["backends"], BACKENDS)):
        imported = backend_imports(args)
        report.checks[f"{name} imports no backend"] = (
            "yes" if not imported else f"NO: imports {', '.join(imported)}"
        )
        if imported:
            for t in report.targets:
                if t.contender == name:
                    t.extra = f"but imports {', '.join(imported)}"
    return report


def main() -> None:
    args = cli.parser(__doc__.splitlines()[0], "0", 10).parse_args()
    cli.choose(args)
    finish(measure(args.repeat), args.json)


if __name__ == "__main__":
    main()
