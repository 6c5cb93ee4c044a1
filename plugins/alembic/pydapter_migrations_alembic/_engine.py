"""The Alembic side of :class:`~pydapter_migrations_alembic.adapter.AlembicAdapter`.

Imported lazily by the adapter's steps, so importing the adapter class stays cheap.
Everything that touches Alembic's module-global ``context``/``op`` proxies runs under
:data:`ALEMBIC_GUARD`; the core's database lock, when held, is always taken first.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import os
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError

from pydapter_migrations.backend import (
    DatabaseURL,
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationNotFoundError,
    MigrationRun,
    MigrationUpgradeError,
    Operation,
    Session,
    ahead_of_directory,
)

from . import _compat
from . import _graph as graph_cache
from ._environment import ATTRIBUTE, Reporter, RunOptions, recorded_models
from ._graph import RevisionGraph
from ._models import find_metadata, load_models, models_ref
from ._quick import cached_graph, current, is_initialised
from ._quick import heads as _heads

__all__ = [
    "ALEMBIC_GUARD",
    "apply",
    "create",
    "current",
    "history",
    "init",
    "is_initialised",
    "plan",
    "render_sql",
    "stamp",
]

#: Serialises every use of Alembic's global proxies within this process.
ALEMBIC_GUARD = threading.RLock()

_TEMPLATE_FILES = ("env.py", "script.py.mako")


# -- layout ----------------------------------------------------------------


def _ini_value(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"cannot record {value!r} in alembic.ini: it spans lines")
    return value.replace("%", "%%")


def init(directory: Path, models_module: ModuleType | str | None) -> None:
    """Write alembic.ini, env.py, script.py.mako and versions/ into ``directory``."""
    module_name = models_file = ""
    if models_module is not None:
        ref, module = models_ref(models_module)
        find_metadata(module)  # refuse models without metadata before writing anything
        module_name, models_file = ref.module or "", ref.file or ""
    templates = files("pydapter_migrations_alembic") / "templates"
    ini = (templates / "alembic.ini").read_text(encoding="utf-8")
    ini = ini.format(models_module=_ini_value(module_name), models_file=_ini_value(models_file))
    for name in _TEMPLATE_FILES:
        (directory / name).write_text((templates / name).read_text(encoding="utf-8"))
    (directory / "versions").mkdir()
    # Written last: its presence marks the directory as initialised.
    (directory / "alembic.ini").write_text(ini, encoding="utf-8")


def _config(directory: Path, options: RunOptions | None = None, **kwargs: Any) -> Config:
    """A Config read from the directory's alembic.ini, quiet, with ``options`` attached."""
    config = Config(
        str(directory / "alembic.ini"),
        stdout=io.StringIO(),
        cmd_opts=argparse.Namespace(quiet=True, x=None),
        **kwargs,
    )
    # Absolute and escaped: the ini's %(here)s would break on a '%' in the path.
    config.set_main_option("script_location", str(directory.resolve()).replace("%", "%%"))
    if options is not None:
        config.attributes[ATTRIBUTE] = options
    return config


def _load_script(directory: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(directory))


@contextlib.contextmanager
def _scripts_lock(directory: Path, *, exclusive: bool = False) -> Iterator[None]:
    """Hold the directory's scripts lock: exclusive while a revision is written (Alembic
    writes it in place, then we rename it), shared while the scripts are read, so a reader
    never sees a revision half-made."""
    path = directory / "__pycache__" / "pydapter_scripts.lock"
    try:
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield  # a read-only directory: nobody can be writing a revision into it either
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


# -- the revision graph ----------------------------------------------------


@dataclass
class _PlanState:
    """What planning leaves for the run: the scripts, if planning had to load them."""

    script: ScriptDirectory | None


def _graph(directory: Path) -> tuple[RevisionGraph, ScriptDirectory]:
    """The graph from Alembic, with the loaded ScriptDirectory (so a caller about to run
    it need not load it again); cached if nothing moved while Alembic read the files."""
    scanned = graph_cache.now_ns()
    stats = graph_cache.fingerprint(directory)
    unsure = graph_cache.racy(stats, scanned)
    before = graph_cache.digests(directory, unsure)
    with _scripts_lock(directory):
        script = _load_script(directory)
        graph = _checked_graph(script)
    # Cached only if nothing moved while Alembic read the files.
    if (
        graph_cache.fingerprint(directory) == stats
        and graph_cache.digests(directory, unsure) == before
    ):
        graph_cache.write_cache(directory, graph, stats, scanned, before)
    return graph, script


# "Revision X referenced from X -> Y (head), message is not present"
_MISSING_PARENT = re.compile(r"Revision (\S+) referenced from (?:\S+ -> )?(\S+)")


def _checked_graph(script: ScriptDirectory) -> RevisionGraph:
    """The graph of ``script``; a revision naming a parent no file defines is refused with
    both named (Alembic only warns, then fails on a bare ``KeyError``)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            graph = RevisionGraph.from_script(script)
        except KeyError as error:
            missing = [
                match.groups()
                for warning in caught
                if (match := _MISSING_PARENT.search(str(warning.message)))
            ]
            if not missing:
                raise
            parent, child = missing[0]
            raise MigrationError(
                f"revision {child} names {parent} as its down_revision (or in depends_on), "
                "but no file of this directory defines it; fix that revision's "
                "down_revision",
                revision=child,
            ) from error
    return graph


@contextlib.contextmanager
def _revision_errors(target: str) -> Iterator[None]:
    """An unknown revision is :class:`MigrationNotFoundError`."""
    try:
        yield
    except ResolutionError as exc:
        raise MigrationNotFoundError(
            f"revision {exc.argument!r} not found: {exc}", revision=str(exc.argument)
        ) from exc
    except (AssertionError, ValueError) as exc:
        # Alembic asserts on some malformed targets ("@"): still a revision it cannot find.
        raise MigrationNotFoundError(
            f"no revision matches {target!r} (Alembic: {str(exc) or type(exc).__name__})",
            revision=target,
        ) from exc


def plan(
    directory: Path,
    operation: str,
    target: str,
    heads: tuple[str, ...],
    *,
    cached: RevisionGraph | None = None,
) -> tuple[list[str], Any]:
    """The revisions to run from ``heads`` to ``target``, planned on the ``cached`` graph
    when the caller has a fresh one, else on the scripts Alembic loads."""
    script: ScriptDirectory | None = None
    graph = cached
    if graph is None:
        graph, script = _graph(directory)
    unknown = [head for head in heads if head not in graph.revisions]
    if unknown:
        error = (
            MigrationDowngradeError if operation == Operation.DOWNGRADE else MigrationUpgradeError
        )
        raise error(ahead_of_directory(unknown[0]), revision=unknown[0])
    with _revision_errors(target):
        revisions = graph.plan(operation, target, heads)
    return revisions, _PlanState(script)


# -- running ---------------------------------------------------------------


def apply(run: MigrationRun, state: Any, revisions: list[str]) -> None:
    """Run the whole plan in one Alembic environment on the run's session, one
    transaction per revision."""
    if not revisions:
        return  # nothing to do: no need to load the scripts or start Alembic
    assert isinstance(state, _PlanState)
    directory, operation, target = run.directory, str(run.operation), run.target
    reporter = Reporter(run)
    with ALEMBIC_GUARD:
        script = state.script
        if script is None:
            with _scripts_lock(directory):
                script = _load_script(directory)
                script.revision_map.get_revisions("heads")  # reads every script now
        config = _config(directory, RunOptions(url=run.url, session=run.session, reporter=reporter))

        def steps(heads: Any, context: Any) -> list[Any]:
            return _compat.revision_steps(script, operation, target, heads, reporter.applied)

        with EnvironmentContext(config, script, fn=steps, destination_rev=target):
            script.run_env()
    reporter.committed()


def stamp(run: MigrationRun) -> None:
    """Record the database as being at ``run.target`` (Alembic's own stamp, through the
    environment, on the run's session), then report the revisions it now records."""
    directory = run.directory
    with ALEMBIC_GUARD:
        with _scripts_lock(directory), _revision_errors(run.target):
            script = _load_script(directory)
            graph = _checked_graph(script)
            graph.revision_map.get_revisions(run.target)  # an unknown target fails here
        config = _config(directory, RunOptions(url=run.url, session=run.session))
        command.stamp(config, run.target)
    for head in _heads(run.session):
        run.revision_done(head)


def render_sql(directory: Path, session: Session, operation: Operation, target: str) -> str:
    """The SQL of an upgrade or downgrade from the database's current revision."""
    heads = _heads(session)
    if len(heads) > 1:
        raise ValueError(f"the database has several heads ({', '.join(heads)})")
    buffer = io.StringIO()
    with ALEMBIC_GUARD:
        with _scripts_lock(directory):
            script = _load_script(directory)
            graph = _checked_graph(script)
        with _revision_errors(target):
            # Validates the target first, as the online run would.
            graph.plan(operation, target, heads)
        url = DatabaseURL.parse(f"{session.family}://")
        config = _config(directory, RunOptions(url=url), output_buffer=buffer)

        def steps(heads: Any, context: Any) -> list[Any]:
            return _compat.revision_steps(script, str(operation), target, heads)

        with EnvironmentContext(
            config,
            script,
            fn=steps,
            as_sql=True,
            starting_rev=heads[0] if heads else None,
            destination_rev=target,
        ):
            script.run_env()
    return buffer.getvalue()


# -- revisions -------------------------------------------------------------


def create(
    directory: Path,
    message: str,
    *,
    autogenerate: bool | None,
    slug: str,
    url: DatabaseURL | None,
) -> str:
    config = _config(directory)
    models = recorded_models(config)
    if autogenerate is None:
        autogenerate = bool(models) and url is not None
    options = None
    if autogenerate:
        if url is None:
            raise MigrationCreationError(
                "autogenerate compares models with a database: pass connection_string"
            )
        if not models:
            raise MigrationCreationError(
                "autogenerate needs models: run init_migrations with models_module=..."
            )
        options = RunOptions(url=url, target_metadata=find_metadata(load_models(models)))
    with ALEMBIC_GUARD, _scripts_lock(directory, exclusive=True):
        config = _config(directory, options)
        script = command.revision(config, message=message, autogenerate=autogenerate)
        if script is None or isinstance(script, list):
            raise MigrationCreationError("Alembic did not write a single revision")
        path = Path(script.path)
        target = path.with_name(f"{script.revision}_{slug}.py")
        if path != target:
            os.replace(path, target)
            # The bytecode Alembic wrote while loading the file under its old name.
            pycache = path.parent / "__pycache__"
            for stale in pycache.glob(f"{path.stem}.*.pyc") if pycache.is_dir() else ():
                stale.unlink(missing_ok=True)
    return str(script.revision)


def applied(directory: Path, session: Session) -> frozenset[str]:
    """The revisions a database has applied: its heads and their ancestry, and heads this
    directory does not know."""
    heads = _heads(session)
    graph = cached_graph(directory) or _graph(directory)[0]
    return frozenset(graph.applied(heads)) | {h for h in heads if h not in graph.revisions}


def history(directory: Path, session: Session | None) -> list[dict[str, Any]]:
    graph = cached_graph(directory) or _graph(directory)[0]
    applied = graph.applied(_heads(session)) if session is not None else None
    return [
        {
            "revision": info.revision,
            "description": info.description,
            "down_revision": _scalar(info.down_revision),
            "applied": None if applied is None else info.revision in applied,
        }
        for info in graph.oldest_first()
    ]


def _scalar(revisions: tuple[str, ...]) -> str | tuple[str, ...] | None:
    if not revisions:
        return None
    return revisions[0] if len(revisions) == 1 else revisions
