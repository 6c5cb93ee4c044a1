"""The migration projects the contenders run: N revisions, revision ``i`` creating table
``t_i``, once in each contender's own directory and format; and a real project run as its
package ships it (MLflow's, :func:`mlflow_project`).

* raw Alembic: ``alembic init`` (generic template) whose env.py adds
  ``transaction_per_migration=True``, revisions from Alembic's own generator;
* raw yoyo: ``<id>.sql`` + ``<id>.rollback.sql`` files chained with ``-- depends:``, as
  yoyo documents its SQL migrations;
* the adapters: ``init_migrations`` + ``create_migration`` for every revision, filled
  with the plugins' own ``testing.write_revision``.

Alembic revisions (raw or the adapter's) get their SQL through the Alembic plugin's
``write_revision``, so both run the same ``upgrade()`` / ``downgrade()`` bodies. An
adapter's directory of a given size is made once per process and copied when asked for
again (``create_migration`` re-reads every earlier revision: N of them cost O(N^2)).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from timing import progress, quiet


def create_sql(i: int) -> str:
    return f"CREATE TABLE t_{i} (id integer primary key)"


def drop_sql(i: int) -> str:
    return f"DROP TABLE t_{i}"


# -- one directory per contender kind ---------------------------------------------------

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
    and a DATABASE_URL fallback for the whole-process runs; then ``n`` revisions written
    by Alembic's generator, each after the previous one."""
    from alembic import command, util
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from pydapter_migrations_alembic.testing import write_revision

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
    config = Config(str(ini))
    config.set_main_option("script_location", str(directory))
    # One ScriptDirectory for all: each new revision joins its map, nothing is re-read.
    script = ScriptDirectory.from_config(config)
    ids: list[str] = []
    head = "base"
    for i in range(1, n + 1):
        rev = util.rev_id()
        written = script.generate_revision(rev, f"create t_{i}", head=head)
        assert written is not None
        write_revision(directory, rev, [create_sql(i)], [drop_sql(i)])
        ids.append(rev)
        head = rev
    return ids


def make_alembic_adapter(directory: Path, n: int) -> list[str]:
    """``AlembicAdapter.init_migrations``, then ``create_migration`` + the plugin's
    ``write_revision`` for each revision."""
    from pydapter_migrations_alembic import AlembicAdapter
    from pydapter_migrations_alembic.testing import write_revision

    return _adapter_revisions(AlembicAdapter, write_revision, directory, n)


def make_yoyo_adapter(directory: Path, n: int) -> list[str]:
    """``YoyoAdapter.init_migrations``, then ``create_migration`` + the plugin's
    ``write_revision`` for each revision."""
    from pydapter_migrations_yoyo import YoyoAdapter
    from pydapter_migrations_yoyo.testing import write_revision

    return _adapter_revisions(YoyoAdapter, write_revision, directory, n)


def _adapter_revisions(adapter: Any, write_revision: Any, directory: Path, n: int) -> list[str]:
    adapter.init_migrations(directory)
    ids: list[str] = []
    for i in range(1, n + 1):
        rev = adapter.create_migration(f"create t_{i}", autogenerate=False, directory=directory)
        write_revision(directory, rev, [create_sql(i)], [drop_sql(i)])
        ids.append(rev)
    return ids


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


# -- the four directories of one size ----------------------------------------------------


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

    def to_spec(self) -> dict[str, Any]:
        """The directories as JSON, for another process (:meth:`from_spec`)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Projects:
        paths = {k: Path(v) for k, v in spec.items() if k not in ("n", "made_at")}
        return cls(n=int(spec["n"]), made_at=float(spec["made_at"]), **paths)


def make_projects(n: int, root: Path) -> Projects:
    """Generate the four directories of ``n`` revisions under ``root`` (not timed)."""
    progress(f"generating {n} revisions per backend format... ")
    dirs = {name: root / f"{name}-{n}" for name in ("raw_alembic", "alembic", "raw_yoyo", "yoyo")}
    for d in dirs.values():
        d.mkdir(parents=True)
    with quiet():  # Alembic prints "Generating <file> ... done" per revision
        make_raw_alembic(dirs["raw_alembic"], n)
        _made_once("alembic", n, make_alembic_adapter, dirs["alembic"])
    make_raw_yoyo(dirs["raw_yoyo"], n)
    _made_once("yoyo", n, make_yoyo_adapter, dirs["yoyo"])
    progress("done\n")
    return Projects(
        n, root, dirs["raw_alembic"], dirs["alembic"], dirs["raw_yoyo"], dirs["yoyo"], time.time()
    )


#: The adapters' directories this process has made, by kind and size. Every
#: ``create_migration`` reads all earlier revisions (Alembic loads each script), so making
#: N of them costs O(N^2), about two minutes at N=1000; run_all.py asks for N=1000 three
#: times. Later requests get a copy (``%(here)s`` paths: a copy works where it lands).
_MADE: dict[tuple[str, int], Path] = {}


def _made_once(kind: str, n: int, make: Callable[[Path, int], object], directory: Path) -> None:
    """Make ``kind``'s directory of ``n`` revisions once per process; copy it to
    ``directory``."""
    if (kind, n) not in _MADE:
        made = _store() / f"{kind}-{n}"
        make(made, n)
        _MADE[(kind, n)] = made
    shutil.copytree(_MADE[(kind, n)], directory, dirs_exist_ok=True)


@functools.cache
def _store() -> Path:
    """Where :func:`_made_once` keeps what it made, removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix="pydm-bench-made-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


# -- a real project, as its wheel ships it ------------------------------------------------


@dataclass(frozen=True)
class ShippedProject:
    """An Alembic project inside an installed package, run unchanged (bench/adopted.py)."""

    name: str
    script_location: Path
    ini: Path
    head: str
    revisions: int


def mlflow_project() -> ShippedProject | None:
    """MLflow's tracking-store migrations (``mlflow-skinny``), or ``None`` when MLflow is
    not installed. Found through its spec: importing mlflow takes seconds."""
    import importlib.util

    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "store" / "db_migrations"
    if not (folder / "env.py").is_file():
        return None
    return ShippedProject("mlflow", folder, folder / "alembic.ini", "dc11669786a5", 67)


def create_mlflow_base_tables(sqlalchemy_url: str) -> None:
    """What MLflow creates before its first revision runs (that revision alters these
    tables): its pre-Alembic models, as ``mlflow.store.db.utils._initialize_tables`` does."""
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.initial_models import Base

    engine = sa.create_engine(sqlalchemy_url, poolclass=sa.pool.NullPool)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def settled_projects(sizes: Sequence[int], prefix: str) -> Iterator[list[Projects]]:
    """The projects of each size in a scratch directory (removed at exit), settled."""
    with scratch_dir(prefix) as root:
        projects = [make_projects(n, root) for n in sizes]
        for p in projects:
            p.settle()
        yield projects
