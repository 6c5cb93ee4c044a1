"""Shared machinery of the benchmarks: revision generation, contenders, timing, tables.

Every question script (``upgrade.py``, ``current.py``, ``noop_upgrade.py``,
``startup.py``) builds on this module: it generates the same revisions (revision ``i``
creates table ``t_i``) in each backend's own format, times the contenders interleaved
(each repetition runs every contender once, in a rotating order, so drift on a shared
machine hits them alike) and prints / stores the medians and their ratios.

Contenders:
* ``raw alembic``: a directory made by ``alembic init`` (generic template) whose env.py
  adds ``transaction_per_migration=True``; driven through ``alembic.command``.
* ``raw yoyo``: ``yoyo.get_backend`` + ``read_migrations`` + ``backend.lock()`` +
  ``apply_migrations`` / ``rollback_migrations``.
* ``floor``: the driver alone (sqlite3 / psycopg), one transaction per revision holding
  the DDL and one version-row update.
* ``alembic adapter`` / ``yoyo adapter``: this project's public API.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
#: Console scripts of this interpreter (not pyenv shims, which add ~50 ms per start).
SCRIPTS_DIR = Path(sysconfig.get_path("scripts"))

RAW_ALEMBIC = "raw alembic"
RAW_YOYO = "raw yoyo"
FLOOR = "floor (driver)"
ALEMBIC_ADAPTER = "alembic adapter"
YOYO_ADAPTER = "yoyo adapter"
CLI_ALEMBIC = "pydapter-migrate -b alembic upgrade"
CLI_YOYO = "pydapter-migrate -b yoyo upgrade"
RAW_ALEMBIC_CLI = "alembic upgrade head"
RAW_YOYO_CLI = "yoyo apply --batch"

BACKENDS = ("sqlite", "postgresql")


def create_sql(i: int) -> str:
    return f"CREATE TABLE t_{i} (id integer primary key)"


def drop_sql(i: int) -> str:
    return f"DROP TABLE t_{i}"


# -- command line ---------------------------------------------------------------


def parser(description: str, sizes: str, repeat: int) -> argparse.ArgumentParser:
    """The flags every question script takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--sizes", default=sizes, help=f"revision counts (default {sizes})")
    p.add_argument("--repeat", type=int, default=repeat, help=f"repetitions (default {repeat})")
    p.add_argument(
        "--backends", default=",".join(BACKENDS), help="sqlite,postgresql (default both)"
    )
    p.add_argument("--json", type=Path, default=None, help="write the results here too")
    p.add_argument(
        "--only",
        default="",
        help="contenders to run, comma-separated (default all): 'raw alembic,alembic adapter'",
    )
    p.add_argument(
        "--sqlite-dir",
        type=Path,
        default=default_sqlite_dir(),
        help="where the SQLite files live (default: tmpfs /dev/shm when present, so that "
        "the disk's fsync latency, 20-30 ms on this shared VM, does not drown the work "
        "being compared; pass a disk directory to include it)",
    )
    return p


def default_sqlite_dir() -> Path | None:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def sizes_of(args: argparse.Namespace) -> list[int]:
    return [int(s) for s in str(args.sizes).split(",") if s.strip()]


def backends_of(args: argparse.Namespace) -> list[str]:
    chosen = [b.strip() for b in str(args.backends).split(",") if b.strip()]
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return chosen


# -- results ----------------------------------------------------------------------


@dataclass
class Result:
    """The timings of one contender on one question / backend / size."""

    question: str
    backend: str
    n: int
    contender: str
    times: list[float]
    median: float = 0.0
    min: float = 0.0
    note: str = ""

    def __post_init__(self) -> None:
        self.median = statistics.median(self.times)
        self.min = min(self.times)


@dataclass
class Target:
    """``contender`` / ``baseline`` (ratio of medians) must be at most ``ratio``; with no
    baseline, ``contender``'s median must be at most ``ratio`` seconds."""

    question: str
    backend: str
    n: int
    contender: str
    baseline: str | None
    ratio: float
    measured: float | None = None
    holds: bool | None = None
    extra: str = ""


@dataclass
class Report:
    """Everything one script (or ``run_all``) measured."""

    results: list[Result] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    def add(self, question: str, backend: str, n: int, times: dict[str, list[float]]) -> None:
        for contender, values in times.items():
            self.results.append(Result(question, backend, n, contender, values))

    def find(self, question: str, backend: str, n: int, contender: str) -> Result | None:
        for r in self.results:
            if (r.question, r.backend, r.n, r.contender) == (question, backend, n, contender):
                return r
        return None

    def evaluate(self) -> None:
        for t in self.targets:
            subject = self.find(t.question, t.backend, t.n, t.contender)
            if subject is None:
                continue
            if t.baseline is None:
                t.measured = subject.median
            else:
                base = self.find(t.question, t.backend, t.n, t.baseline)
                if base is None:
                    continue
                t.measured = subject.median / base.median
            t.holds = t.measured <= t.ratio

    def merge(self, other: Report) -> None:
        self.results += other.results
        self.targets += other.targets
        self.checks.update(other.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "results": [asdict(r) for r in self.results],
            "targets": [asdict(t) for t in self.targets],
            "checks": self.checks,
        }


def machine() -> dict[str, Any]:
    import alembic
    import sqlalchemy
    import yoyo

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "alembic": alembic.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "yoyo": getattr(yoyo, "__version__", "?"),
        "sqlite": sqlite3.sqlite_version,
    }


#: Questions whose values are instruction counts (bench/instructions.py), not seconds.
INSTRUCTIONS_SUFFIX = ", instructions"


def _fmt_value(question: str, value: float) -> str:
    if question.endswith(INSTRUCTIONS_SUFFIX):
        return f"{value / 1e6:,.0f} M"
    return _fmt_time(value)


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


# Which raw tool each contender is compared with, per question.
#: The least possible, per question: the driver alone, an interpreter that does nothing.
FLOORS = (FLOOR, "python -c pass")
RAW_OF = {
    ALEMBIC_ADAPTER: RAW_ALEMBIC,
    YOYO_ADAPTER: RAW_YOYO,
    CLI_ALEMBIC: RAW_ALEMBIC_CLI,
    CLI_YOYO: RAW_YOYO_CLI,
}


def render(report: Report) -> str:
    """The results as text tables, one per question / backend / size, then the targets."""
    lines: list[str] = []
    groups: dict[tuple[str, str, int], list[Result]] = {}
    for r in report.results:
        groups.setdefault((r.question, r.backend, r.n), []).append(r)
    for (question, backend, n), rows in groups.items():
        title = f"{question} [{backend}" + (f", N={n}]" if n else "]")
        lines += ["", title]
        header = f"  {'contender':<34} {'median':>10} {'min':>10} {'vs raw':>8} {'vs floor':>9}"
        lines += [header, "  " + "-" * (len(header) - 2)]
        by_name = {r.contender: r for r in rows}
        floor = next((by_name[f] for f in FLOORS if f in by_name), None)
        for r in rows:
            raw = by_name.get(RAW_OF.get(r.contender, ""))
            vs_raw = f"{r.median / raw.median:.2f}x" if raw else ""
            vs_floor = f"{r.median / floor.median:.2f}x" if floor and r is not floor else ""
            lines.append(
                f"  {r.contender:<34} {_fmt_value(question, r.median):>10}"
                f" {_fmt_value(question, r.min):>10}"
                f" {vs_raw:>8} {vs_floor:>9}" + (f"  {r.note}" if r.note else "")
            )
    if report.targets:
        lines += ["", "targets (ratio of medians in this run)"]
        for t in report.targets:
            if t.measured is None and ONLY:
                continue  # a contender left out with --only
            if t.measured is None:
                state, value = "not measured", ""
            else:
                state = "HOLDS" if t.holds else "MISSES"
                value = (
                    f"{t.measured:.2f}x" if t.baseline else _fmt_time(t.measured)
                ) + f" (target <= {t.ratio:g}{'x' if t.baseline else ' s'})"
            against = f" vs {t.baseline}" if t.baseline else ""
            size = f" N={t.n}" if t.n else ""
            lines.append(
                f"  {state:<12} {t.question} [{t.backend}{size}]: {t.contender}{against}: "
                f"{value}{('  ' + t.extra) if t.extra else ''}"
            )
    for key, value in report.checks.items():
        lines.append(f"  check {key}: {value}")
    return "\n".join(lines)


def finish(report: Report, json_path: Path | None) -> None:
    """Evaluate targets, print the tables and write the JSON."""
    report.evaluate()
    print(render(report))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        print(f"\nwrote {json_path}")


# -- timing -------------------------------------------------------------------------

#: A contender's round: untimed preparation, then timed phases; returns seconds per phase.
Run = Callable[[], dict[str, float]]


def timed(fn: Callable[[], Any]) -> float:
    collect_garbage()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def collect_garbage() -> None:
    """Collect the garbage of earlier runs before a timed one starts.

    A migration run leaves tens of thousands of objects in reference cycles (loaded
    revision modules, SQLAlchemy metadata). Left alone, they are freed by whichever later
    run happens to trigger a full collection, which then pays 0.15-0.25 s for work that
    was not its own: at N=500 that swung a contender's time by a quarter from one
    repetition to the next. Each run still pays for collecting its own garbage.
    """
    gc.collect()


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of this process (all threads) spent in ``fn``.

    The CPU time leaves out waiting (for a busy machine's scheduler, for the PostgreSQL
    server), so it isolates the client-side work that differs between contenders."""
    collect_garbage()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


CPU_SUFFIX = ", CPU time"


#: Contender names chosen with ``--only`` (empty: all).
ONLY: set[str] = set()


def choose(args: argparse.Namespace) -> None:
    """Apply ``--only``, and compile this project's modules first."""
    ONLY.clear()
    ONLY.update(name.strip() for name in str(args.only).split(",") if name.strip())
    compile_project()


def compile_project() -> None:
    """Write the bytecode of the core and both plugins, as installing a wheel does.

    An editable install under ``PYTHONDONTWRITEBYTECODE=1`` (set on some machines) never
    writes it, so every process would recompile our modules from source, a cost that no
    user with an installed package pays and that Alembic's and yoyo's own modules (compiled
    when pip installed them) are spared.
    """
    import compileall
    import importlib.util

    for package in (
        "pydapter_migrations",
        "pydapter_migrations_alembic",
        "pydapter_migrations_yoyo",
    ):
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(location, quiet=1)


def interleave(
    contenders: dict[str, Run], repeat: int, warmup: int = 1
) -> dict[str, dict[str, list[float]]]:
    """Run every contender once per repetition, rotating who goes first, after ``warmup``
    untimed rounds (imports, bytecode, caches). Returns phase -> contender -> seconds."""
    names = [name for name in contenders if not ONLY or name in ONLY]
    for _ in range(warmup):
        for name in names:
            reset_logging()
            contenders[name]()
    times: dict[str, dict[str, list[float]]] = {}
    for i in range(repeat):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            reset_logging()
            for phase, seconds in contenders[name]().items():
                times.setdefault(phase, {}).setdefault(name, []).append(seconds)
        progress(".")
    progress("\n")
    # Keep the contenders' order (not the rotated one) in the tables.
    return {phase: {n: by[n] for n in names if n in by} for phase, by in times.items()}


def progress(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


_LOGGING_SNAPSHOT: dict[str, Any] = {}


def reset_logging() -> None:
    """Undo what a previous contender's ``fileConfig`` (Alembic's env.py) did, so that
    each contender starts from the logging state of a fresh process."""
    root = logging.getLogger()
    if not _LOGGING_SNAPSHOT:
        _LOGGING_SNAPSHOT.update(level=root.level, handlers=list(root.handlers))
    root.setLevel(_LOGGING_SNAPSHOT["level"])
    root.handlers[:] = _LOGGING_SNAPSHOT["handlers"]
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(("alembic", "sqlalchemy")):
            logger.setLevel(logging.NOTSET)
            logger.handlers.clear()
            logger.disabled = False
            logger.propagate = True


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Alembic's log lines and yoyo's prints go to memory, not the terminal: the work of
    producing them is measured, the terminal's speed is not."""
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        yield


# -- databases ------------------------------------------------------------------------


class Databases:
    """Fresh databases per run: SQLite files in a scratch dir, or PostgreSQL databases
    on a throwaway server (created and dropped with an admin connection)."""

    def __init__(self, backend: str, scratch: Path, server: Any = None, prefix: str = "b") -> None:
        self.backend = backend
        self.scratch = scratch
        self.server = server
        #: Starts every database name: processes sharing one server each need their own.
        self.prefix = prefix
        self._count = 0
        self._admin: Any = None
        if backend == "postgresql":
            import psycopg

            self._admin = psycopg.connect(**self.psycopg_kwargs("postgres"), autocommit=True)

    def psycopg_kwargs(self, database: str) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.server.port,
            "user": self.server.user,
            "password": self.server.password,
            "dbname": database,
        }

    def fresh(self) -> Database:
        self._count += 1
        name = f"{self.prefix}{self._count}"
        if self.backend == "sqlite":
            path = self.scratch / f"{name}.db"
            for leftover in (path, path.with_name(path.name + "-journal")):
                leftover.unlink(missing_ok=True)
            return Database(self, name, path)
        self._admin.execute(f'CREATE DATABASE "{name}"')
        return Database(self, name, None)

    def drop(self, db: Database) -> None:
        if db.path is not None:
            for leftover in db.path.parent.glob(db.path.name + "*"):
                leftover.unlink(missing_ok=True)
        else:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()


@dataclass
class Database:
    owner: Databases
    name: str
    path: Path | None

    @property
    def url(self) -> str:
        """The URL our adapters take (``postgresql://`` is psycopg 3 for them)."""
        if self.path is not None:
            return f"sqlite:///{self.path}"
        return self.owner.server.url(self.name)

    @property
    def sqlalchemy_url(self) -> str:
        """The URL raw Alembic takes (psycopg 3 named explicitly)."""
        if self.path is not None:
            return f"sqlite:///{self.path}"
        return self.owner.server.url(self.name, driver="postgresql+psycopg")

    @property
    def yoyo_url(self) -> str:
        if self.path is not None:
            return f"sqlite:///{self.path}"
        return self.owner.server.url(self.name, driver="postgresql+psycopg")

    def connect(self) -> Any:
        """A plain driver connection in autocommit mode (we issue BEGIN/COMMIT)."""
        if self.path is not None:
            return sqlite3.connect(self.path, isolation_level=None)
        import psycopg

        return psycopg.connect(**self.owner.psycopg_kwargs(self.name), autocommit=True)

    def drop(self) -> None:
        self.owner.drop(self)


@contextlib.contextmanager
def databases(backend: str, sqlite_dir: Path | None = None) -> Iterator[Databases]:
    """Databases of ``backend``; PostgreSQL runs on a throwaway server stopped at exit."""
    scratch = Path(tempfile.mkdtemp(prefix="pydm-bench-db-", dir=sqlite_dir))
    try:
        if backend == "sqlite":
            dbs = Databases(backend, scratch)
            yield dbs
            return
        from pydapter_migrations.testing.postgres import PostgresServer

        with PostgresServer() as server:
            dbs = Databases(backend, scratch, server)
            try:
                yield dbs
            finally:
                dbs.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- revision sets ------------------------------------------------------------------------

_REVISION_BODY = """def upgrade() -> None:
    op.execute("{up}")


def downgrade() -> None:
    op.execute("{down}")
"""


def _alembic_revisions(ini: Path, first: int, last: int, head: str | None = None) -> list[str]:
    """Write revisions ``first``..``last`` with Alembic's own generator and the
    directory's template, each after the previous one, then give them their DDL."""
    from alembic import util
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(ini))
    config.set_main_option("script_location", str(ini.parent))
    script = ScriptDirectory.from_config(config)
    ids: list[str] = []
    for i in range(first, last + 1):
        rev = util.rev_id()
        written = script.generate_revision(rev, f"create t_{i}", head=head or "base")
        assert written is not None
        _fill_revision(Path(written.path), i)
        ids.append(rev)
        head = rev
    return ids


def _fill_revision(path: Path, i: int) -> None:
    """Keep the generated header, give the revision the DDL of table ``t_i``."""
    text = path.read_text()
    body = _REVISION_BODY.format(up=create_sql(i), down=drop_sql(i))
    path.write_text(text[: text.index("def upgrade()")] + body)


_ENV_URL_FALLBACK = """import os

from alembic import context

# The URL comes from alembic.ini, or from DATABASE_URL when that is set.
if os.environ.get("DATABASE_URL"):
    context.config.set_main_option(
        "sqlalchemy.url", os.environ["DATABASE_URL"].replace("%", "%%")
    )
"""


def make_raw_alembic(directory: Path, n: int) -> list[str]:
    """``alembic init`` (generic template); env.py gets ``transaction_per_migration=True``
    and a DATABASE_URL fallback for the whole-process runs; then ``n`` revisions."""
    from alembic import command
    from alembic.config import Config

    ini = directory / "alembic.ini"
    with quiet():
        command.init(Config(str(ini)), str(directory), template="generic")
    env = directory / "env.py"
    text = env.read_text()
    configured = "connection=connection, target_metadata=target_metadata"
    assert configured in text, "unexpected Alembic env.py template"
    text = text.replace(configured, configured + ", transaction_per_migration=True")
    text = text.replace("from alembic import context\n", _ENV_URL_FALLBACK, 1)
    env.write_text(text)
    # alembic.ini's sample URL stays; runs set the real one (or DATABASE_URL does).
    return _alembic_revisions(ini, 1, n)


def make_alembic_adapter(directory: Path, n: int) -> list[str]:
    """``AlembicAdapter.init_migrations`` + one revision through ``create_migration``,
    then the rest with Alembic's generator and the directory's own template."""
    from pydapter_migrations_alembic import AlembicAdapter

    AlembicAdapter.init_migrations(directory)
    first = AlembicAdapter.create_migration("create t_1", autogenerate=False, directory=directory)
    [path] = (directory / "versions").glob(f"{first}_*.py")
    _fill_revision(path, 1)
    rest = _alembic_revisions(directory / "alembic.ini", 2, n, head=first)
    return [first, *rest]


def make_raw_yoyo(directory: Path, n: int) -> list[str]:
    """Files as ``yoyo new`` lays them out: ``<id>.sql`` + ``<id>.rollback.sql``, each
    depending on the previous one."""
    versions = directory / "migrations"
    versions.mkdir(parents=True)
    ids = []
    previous = None
    for i in range(1, n + 1):
        rev = f"{i:05d}_create_t_{i}"
        depends = f"-- depends: {previous}\n" if previous else ""
        (versions / f"{rev}.sql").write_text(f"-- create t_{i}\n{depends}\n{create_sql(i)};\n")
        (versions / f"{rev}.rollback.sql").write_text(f"{drop_sql(i)};\n")
        ids.append(rev)
        previous = rev
    return ids


def make_yoyo_adapter(directory: Path, n: int) -> list[str]:
    """``YoyoAdapter.init_migrations`` + one revision through ``create_migration``, then
    the rest written in the same format (ids are timestamps, in creation order)."""
    from pydapter_migrations_yoyo import YoyoAdapter

    YoyoAdapter.init_migrations(directory)
    first = YoyoAdapter.create_migration("create t_1", autogenerate=False, directory=directory)
    versions = directory / "versions"
    header = [
        line
        for line in (versions / f"{first}.sql").read_text().splitlines()
        if line.startswith(("-- message:", "-- depends:"))
    ]
    (versions / f"{first}.sql").write_text("\n".join([*header, "", create_sql(1) + ";"]) + "\n")
    (versions / f"{first}.rollback.sql").write_text(drop_sql(1) + ";\n")
    stamp = datetime.strptime(first, "%Y%m%d_%H%M%S_%f")
    ids = [first]
    for i in range(2, n + 1):
        rev = (stamp + timedelta(microseconds=i)).strftime("%Y%m%d_%H%M%S_%f")
        (versions / f"{rev}.sql").write_text(
            f"-- message: create t_{i}\n-- depends: {ids[-1]}\n\n{create_sql(i)};\n"
        )
        (versions / f"{rev}.rollback.sql").write_text(drop_sql(i) + ";\n")
        ids.append(rev)
    return ids


@dataclass
class Projects:
    """One migration directory per contender kind, all holding the same ``n`` revisions."""

    n: int
    root: Path
    raw_alembic: Path
    alembic_adapter: Path
    raw_yoyo: Path
    yoyo_adapter: Path
    made_at: float

    def settle(self) -> None:
        """Wait until the files are older than the adapter's graph cache demands (a file
        changed within 2 s of a scan cannot prove itself unchanged), then warm every
        directory once: bytecode of the Alembic scripts, the adapter's graph cache."""
        left = self.made_at + 2.2 - time.time()
        if left > 0:
            time.sleep(left)
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from pydapter_migrations_alembic import AlembicAdapter
        from pydapter_migrations_yoyo import YoyoAdapter

        for directory in (self.raw_alembic, self.alembic_adapter):
            config = Config(str(directory / "alembic.ini"))
            config.set_main_option("script_location", str(directory))
            assert len(list(ScriptDirectory.from_config(config).walk_revisions())) == self.n
        assert len(AlembicAdapter.get_migration_history(directory=self.alembic_adapter)) == self.n
        assert len(YoyoAdapter.get_migration_history(directory=self.yoyo_adapter)) == self.n


def make_projects(n: int, root: Path) -> Projects:
    """Generate the four directories of ``n`` revisions under ``root`` (not timed)."""
    progress(f"generating {n} revisions per backend format... ")
    dirs = {name: root / f"{name}-{n}" for name in ("raw_alembic", "alembic", "raw_yoyo", "yoyo")}
    for d in dirs.values():
        d.mkdir(parents=True)
    with quiet():  # Alembic prints "Generating <file> ... done" per revision
        make_raw_alembic(dirs["raw_alembic"], n)
        make_alembic_adapter(dirs["alembic"], n)
    make_raw_yoyo(dirs["raw_yoyo"], n)
    make_yoyo_adapter(dirs["yoyo"], n)
    progress("done\n")
    projects = Projects(
        n, root, dirs["raw_alembic"], dirs["alembic"], dirs["raw_yoyo"], dirs["yoyo"], time.time()
    )
    return projects


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- the contenders' operations ---------------------------------------------------------


def raw_alembic_config(directory: Path, db: Database) -> Any:
    """How a program drives Alembic: Config from the ini, URL set on it."""
    from alembic.config import Config

    config = Config(str(directory / "alembic.ini"), stdout=io.StringIO())
    config.set_main_option("sqlalchemy.url", db.sqlalchemy_url.replace("%", "%%"))
    return config


def raw_alembic(operation: str, directory: Path, db: Database, target: str = "head") -> None:
    from alembic import command

    config = raw_alembic_config(directory, db)
    with quiet():
        if operation == "upgrade":
            command.upgrade(config, target)
        elif operation == "downgrade":
            command.downgrade(config, target)
        elif operation == "current":
            command.current(config)
        else:
            raise ValueError(operation)


def raw_yoyo(operation: str, directory: Path, db: Database) -> None:
    from yoyo import get_backend, read_migrations

    backend = get_backend(db.yoyo_url)
    try:
        migrations = read_migrations(str(directory / "migrations"))
        with quiet(), backend.lock():
            if operation == "upgrade":
                backend.apply_migrations(backend.to_apply(migrations))
            elif operation == "downgrade":
                backend.rollback_migrations(backend.to_rollback(migrations))
            else:
                raise ValueError(operation)
    finally:
        backend.connection.close()


def adapter(kind: str) -> Any:
    if kind == "alembic":
        from pydapter_migrations_alembic import AlembicAdapter

        return AlembicAdapter
    from pydapter_migrations_yoyo import YoyoAdapter

    return YoyoAdapter


_FLOOR_TABLE = "floor_version"


def floor(operation: str, db: Database, n: int) -> None:
    """The least a migration tool must do: one transaction per revision holding its DDL
    and a version-row update (upgrade), or just read the version (``current``/``noop``)."""
    conn = db.connect()
    try:
        if operation in ("current", "noop"):
            conn.execute(f"SELECT num FROM {_FLOOR_TABLE}").fetchone()
            return
        conn.execute(f"CREATE TABLE IF NOT EXISTS {_FLOOR_TABLE} (num integer)")
        if conn.execute(f"SELECT num FROM {_FLOOR_TABLE}").fetchone() is None:
            conn.execute(f"INSERT INTO {_FLOOR_TABLE} VALUES (0)")
        mark = "?" if db.path is not None else "%s"
        steps: Sequence[tuple[str, int]]
        if operation == "upgrade":
            steps = [(create_sql(i), i) for i in range(1, n + 1)]
        elif operation == "downgrade":
            steps = [(drop_sql(i), i - 1) for i in range(n, 0, -1)]
        else:
            raise ValueError(operation)
        update = f"UPDATE {_FLOOR_TABLE} SET num = {mark}"
        for ddl, version in steps:
            conn.execute("BEGIN")
            conn.execute(ddl)
            conn.execute(update, (version,))
            conn.execute("COMMIT")
    finally:
        conn.close()


def count_tables(db: Database) -> int:
    """How many ``t_i`` tables exist (to check each contender really did the work)."""
    conn = db.connect()
    try:
        if db.path is not None:
            sql = (
                "SELECT count(*) FROM sqlite_master "
                "WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\'"
            )
        else:
            sql = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 't\\_%'"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


# -- processes ----------------------------------------------------------------------------


def script(name: str) -> str:
    """The real console script of this interpreter (``alembic``, ``yoyo``, ...)."""
    path = SCRIPTS_DIR / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise SystemExit(f"{name} is not installed")
        return found
    return str(path)


def run_process(
    argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of a whole process, which must exit 0.

    CPU time is what the process itself spent; on a busy machine it moves far less than
    the wall clock does."""
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv), env=full_env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        text = err.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(argv[:3])}... exited {proc.returncode}: {text}")
    return took, usage.ru_utime + usage.ru_stime


def wall_and_cpu(question: str, wall_cpu: tuple[float, float]) -> dict[str, float]:
    """A process run as two phases: its wall-clock time and its CPU time."""
    return {question: wall_cpu[0], question + CPU_SUFFIX: wall_cpu[1]}


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
