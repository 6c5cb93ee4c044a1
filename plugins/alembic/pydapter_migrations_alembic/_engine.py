"""The Alembic side of :class:`~pydapter_migrations_alembic.adapter.AlembicAdapter`.

Imported lazily by the adapter's steps, so importing the adapter class stays cheap.
Everything that touches Alembic's module-global ``context``/``op`` proxies runs under
:data:`ALEMBIC_GUARD`; the core's database lock, when held, is always taken first.

A project's ``env.py`` is either the one ``init_migrations`` writes (its settings are
known, and it reports each revision through a fast path) or a project's own. An own
``env.py`` runs unchanged: it gets the URL through both standard channels (the
``sqlalchemy.url`` option, set in memory only, and ``config.attributes["connection"]``,
a connection on the core's session, as Alembic's cookbook shares one), and it is heard
through Alembic's public ``on_version_apply``, added to whatever it configures.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError

from pydapter_migrations.backend import (
    DatabaseURL,
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationNotFoundError,
    MigrationRun,
    MigrationUpgradeError,
    MissingParentError,
    Operation,
    Session,
    ahead_of_directory,
)

from . import _compat
from . import _graph as graph_cache
from ._environment import (
    ATTRIBUTE,
    Reporter,
    RunOptions,
    create_engine,
    recorded_models,
    session_of,
    without_history_table,
)
from ._facts import Facts, known, remember
from ._graph import RevisionGraph
from ._models import find_metadata, load_models, models_ref
from ._project import INI, Project
from ._quick import cached_graph
from ._quick import heads as _heads

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = [
    "ALEMBIC_GUARD",
    "applied",
    "apply",
    "create",
    "facts_of",
    "history",
    "init",
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
    (directory / INI).write_text(ini, encoding="utf-8")


def _config(
    project: Project,
    options: RunOptions | None = None,
    *,
    url: DatabaseURL | None = None,
    connection: Connection | None = None,
    **kwargs: Any,
) -> Config:
    """A quiet Config of ``project`` with ``options`` attached, and for a project's own
    env.py, the URL and the connection through Alembic's two standard channels."""
    config = Config(
        str(project.ini) if project.ini is not None else None,
        stdout=io.StringIO(),
        cmd_opts=argparse.Namespace(quiet=True, x=None),
        **kwargs,
    )
    # Absolute and escaped: the ini's %(here)s would break on a '%' in the path.
    location = str(project.script_location).replace("%", "%%")
    config.set_main_option("script_location", location)
    if options is not None:
        config.attributes[ATTRIBUTE] = options
    if url is not None:
        # env.py may build its own engine of it (engine_from_config): a bare URL names the
        # driver this project picks, not SQLAlchemy's default (psycopg2, mysqlclient), as
        # docs/configuration.md says; Alembic's async template makes an asyncio engine of
        # it, so it gets the family's asyncio driver, as its own ini would name it.
        asyncio_env = not project.managed and project.asyncio_env
        url = url.asynchronous() if asyncio_env else url.sync()
        # In memory only; '%' escaped, since configparser interpolates (alembic#1279).
        config.set_main_option("sqlalchemy.url", url.render(hide_password=False).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _load_script(project: Project, facts: Facts) -> ScriptDirectory:
    script = ScriptDirectory.from_config(_config(project))
    if facts.version_locations:
        # Where env.py itself points Alembic (env.py may set it, as some projects do).
        script.version_locations = list(facts.version_locations)
    return script


@contextlib.contextmanager
def _scripts_lock(project: Project, *, exclusive: bool = False) -> Iterator[None]:
    """Hold the project's scripts lock: exclusive while a revision is written (Alembic
    writes it in place, then we may rename it), shared while the scripts are read, so a
    reader never sees a revision half-made."""
    path = project.cache_dir / "pydapter_scripts.lock"
    try:
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield  # a read-only project: nobody can be writing a revision into it either
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


# -- what env.py configures --------------------------------------------------


@dataclass
class _Observer:
    """What a project's own env.py configures, and each step it runs."""

    script: ScriptDirectory
    run: MigrationRun | None = None
    reporter: Reporter | None = None
    options: dict[str, Any] = field(default_factory=dict)
    _listened: set[int] = field(default_factory=set)
    _mark: float = field(default_factory=time.perf_counter)

    def configured(self, options: dict[str, Any]) -> None:
        self.options = options

    def facts(self) -> Facts:
        return Facts(
            version_table=str(self.options.get("version_table") or "alembic_version"),
            version_table_schema=self.options.get("version_table_schema"),
            version_locations=tuple(str(p) for p in self.script.version_locations or ()),
            transaction_per_migration=bool(self.options.get("transaction_per_migration")),
        )

    def on_version_apply(self, *, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        """Alembic's public hook: ``step``'s work and version row are done, inside its
        transaction, not yet committed."""
        reporter = self.reporter
        if self.run is None or reporter is None or step.up_revision_id is None:
            return
        connection = ctx.connection
        self.run.before_commit(step.up_revision_id, session_of(connection))
        now = time.perf_counter()
        reporter.pending.append(step.up_revision_id)
        reporter.durations.append(now - self._mark)
        self._mark = now
        if id(connection) not in self._listened:
            # The moment the transaction commits (one per revision, or one for the
            # whole run, as env.py decided) is when its revisions count as done.
            from sqlalchemy import event

            event.listen(connection, "commit", lambda _connection: reporter.committed())
            self._listened.add(id(connection))


def _observed_context(
    config: Config, script: ScriptDirectory, observer: _Observer, **kw: Any
) -> EnvironmentContext:
    """Alembic's environment context, keeping what env.py passes to ``configure`` and
    adding an ``on_version_apply`` callback to its own (public API only).

    The instance's ``configure`` is wrapped rather than subclassed: ``alembic.context``
    proxies only an ``EnvironmentContext`` itself, not a subclass.
    """
    context = EnvironmentContext(config, script, **kw)
    configure = context.configure

    def observed_configure(connection: Any = None, **options: Any) -> None:
        observer.configured(options)
        callbacks = options.get("on_version_apply") or []
        callbacks = [callbacks] if callable(callbacks) else list(callbacks)
        options["on_version_apply"] = [*callbacks, observer.on_version_apply]
        options["include_name"] = without_history_table(options.get("include_name"))
        configure(connection=connection, **options)

    setattr(context, "configure", observed_configure)  # noqa: B010 - mypy forbids method assignment
    return context


def facts_of(project: Project, session: Session | None) -> Facts:
    """What env.py configures: known, remembered, or learnt now by running env.py the way
    ``alembic current`` does (nothing is written) on ``session``'s database."""
    facts = known(project)
    if facts is not None:
        return facts
    if session is None:
        return Facts()  # no database to run env.py against: the ini's answers
    return remember(project, _observe_env(project, session).facts())


def _observe_env(project: Project, session: Session) -> _Observer:
    """Run env.py as ``alembic current`` does (nothing is written) on ``session``'s
    database, keeping what it passes to ``configure``."""
    with ALEMBIC_GUARD:
        engine = create_engine(session.url or DatabaseURL.parse("sqlite://"), lent=session)
        try:
            with engine.connect() as connection:
                config = _config(project, url=session.url, connection=connection)
                script = ScriptDirectory.from_config(config)
                observer = _Observer(script)

                def nothing(heads: Any, context: Any) -> list[Any]:
                    return []

                with _observed_context(config, script, observer, fn=nothing, dont_mutate=True):
                    script.run_env()
        finally:
            engine.dispose()
    return observer


def model_differences(project: Project, facts: Facts, session: Session) -> list[dict[str, Any]]:
    """How the database differs from the project's models, as ``alembic check`` finds it:
    the models ``init_migrations`` recorded, or the ``target_metadata`` a project's own
    env.py configures. None when there are no models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    if project.managed:
        models = recorded_models(_config(project))
        metadata = find_metadata(load_models(models)) if models else None
    else:
        metadata = _observe_env(project, session).options.get("target_metadata")
    if metadata is None:
        return []
    with ALEMBIC_GUARD:
        engine = create_engine(session.url or DatabaseURL.parse("sqlite://"), lent=session)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection,
                    opts={
                        "include_name": without_history_table(),
                        "compare_type": True,
                        "version_table": facts.version_table,
                        "version_table_schema": facts.version_table_schema,
                    },
                )
                found = compare_metadata(context, metadata)
        finally:
            engine.dispose()
    return [
        _difference(entry)
        for diff in found
        for entry in (diff if isinstance(diff, list) else [diff])
    ]


def _difference(entry: Any) -> dict[str, Any]:
    """One of autogenerate's differences (``("add_table", Table)``, ``("modify_type",
    schema, table, column, ...)``...) as a plain dict."""
    kind = str(entry[0])
    subject = entry[1]
    if kind.startswith("modify_"):
        table, detail = str(entry[2]), str(entry[3])
    elif kind in ("add_column", "remove_column"):
        table, detail = str(entry[2]), str(entry[3].name)
    elif kind in ("add_table", "remove_table"):
        table, detail = str(subject.name), ""
    else:  # indexes, constraints: they know their table
        # ``is None``, not ``or``: a Table refuses to be a boolean.
        owner = getattr(subject, "table", None)
        if owner is None:
            owner = getattr(subject, "parent", None)
        table = str(getattr(owner, "name", "") or "")
        detail = str(getattr(subject, "name", "") or "")
    where = f"{table}.{detail}" if detail else table
    side = (
        "the models have"
        if kind.startswith("add_")
        else (
            "the database has"
            if kind.startswith("remove_")
            else "the models and the database differ on"
        )
    )
    return {
        "kind": kind,
        "table": table,
        "detail": detail,
        "message": f"{side} {kind.split('_', 1)[1]} {where}",
    }


# -- the revision graph ----------------------------------------------------


@dataclass
class _PlanState:
    """What planning leaves for the run: the project, what env.py configures, and the
    scripts if planning had to load them."""

    project: Project
    facts: Facts
    script: ScriptDirectory | None


def _graph(project: Project, facts: Facts) -> tuple[RevisionGraph, ScriptDirectory]:
    """The graph from Alembic, with the loaded ScriptDirectory (so a caller about to run
    it need not load it again); cached if nothing moved while Alembic read the files."""
    recursive = (project.ini_option("recursive_version_locations") or "").lower() == "true"
    scanned = graph_cache.now_ns()
    stats = graph_cache.fingerprint(project, facts.locations(project), recursive)
    unsure = graph_cache.racy(stats, scanned)
    before = graph_cache.digests(unsure)
    with _scripts_lock(project):
        script = _load_script(project, facts)
        graph = _checked_graph(script)
    # Cached only if nothing moved while Alembic read the files.
    locations = facts.locations(project)
    if (
        graph_cache.fingerprint(project, locations, recursive) == stats
        and graph_cache.digests(unsure) == before
    ):
        graph_cache.write_cache(project, graph, stats, scanned, before)
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
            raise MissingParentError(
                f"revision {child} names {parent} as its down_revision (or in depends_on), "
                "but no file of this directory defines it; fix that revision's "
                "down_revision",
                revision=child,
                parent=parent,
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


def graph_of(project: Project, facts: Facts) -> RevisionGraph:
    """The project's graph: from the cache when fresh, else from the scripts."""
    return cached_graph(project, facts) or _graph(project, facts)[0]


def plan(
    project: Project,
    facts: Facts,
    operation: str,
    target: str,
    heads: tuple[str, ...],
    *,
    cached: RevisionGraph | None = None,
) -> tuple[list[str], _PlanState]:
    """The revisions to run from ``heads`` to ``target``, planned on the ``cached`` graph
    when the caller has a fresh one, else on the scripts Alembic loads."""
    script: ScriptDirectory | None = None
    graph = cached
    if graph is None:
        graph, script = _graph(project, facts)
    unknown = [head for head in heads if head not in graph.revisions]
    if unknown:
        error = (
            MigrationDowngradeError if operation == Operation.DOWNGRADE else MigrationUpgradeError
        )
        raise error(ahead_of_directory(unknown[0]), revision=unknown[0])
    with _revision_errors(target):
        revisions = graph.plan(operation, target, heads)
    return revisions, _PlanState(project, facts, script)


# -- running ---------------------------------------------------------------


def apply(run: MigrationRun, state: _PlanState, revisions: list[str]) -> None:
    """Run the whole plan in one Alembic environment on the run's session."""
    if not revisions:
        return  # nothing to do: no need to load the scripts or start Alembic
    project, operation, target = state.project, str(run.operation), run.target
    reporter = Reporter(run)
    with ALEMBIC_GUARD:
        script = state.script
        if script is None:
            with _scripts_lock(project):
                script = _load_script(project, state.facts)
                script.revision_map.get_revisions("heads")  # reads every script now
        if project.managed:
            # The generated env.py: one transaction per revision, reported through the
            # fast path (each step's migration function, each transaction's end).
            config = _config(
                project, RunOptions(url=run.url, session=run.session, reporter=reporter)
            )

            def steps(heads: Any, context: Any) -> list[Any]:
                return _compat.revision_steps(script, operation, target, heads, reporter.applied)

            with EnvironmentContext(config, script, fn=steps, destination_rev=target):
                script.run_env()
        else:
            _run_own_env(run, project, script, reporter)
    reporter.committed()


def _run_own_env(
    run: MigrationRun, project: Project, script: ScriptDirectory, reporter: Reporter
) -> None:
    """Run a project's own env.py, unchanged, on the run's session."""
    operation, target = str(run.operation), run.target
    engine = create_engine(run.url, lent=run.session)
    try:
        with engine.connect() as connection:
            config = _config(project, url=run.url, connection=connection)
            observer = _Observer(script, run, reporter)

            def steps(heads: Any, context: Any) -> list[Any]:
                # On the connection env.py chose, which may be one of its own engine's.
                def started(revision: str) -> None:
                    run.revision_started(revision, session_of(context.connection))

                def failed(revision: str) -> None:
                    run.revision_failed(revision, session_of(context.connection))

                # Computed now: env.py may have pointed script.version_locations elsewhere.
                return _compat.revision_steps(
                    script, operation, target, heads, on_started=started, on_failed=failed
                )

            with _observed_context(config, script, observer, fn=steps, destination_rev=target):
                script.run_env()
            remember(project, observer.facts())
    finally:
        engine.dispose()


def stamp(run: MigrationRun, project: Project, facts: Facts) -> None:
    """Record the database as being at ``run.target`` (Alembic's own stamp, through the
    environment, on the run's session), then report the revisions it now records."""
    with ALEMBIC_GUARD:
        with _scripts_lock(project), _revision_errors(run.target):
            script = _load_script(project, facts)
            graph = _checked_graph(script)
            graph.revision_map.get_revisions(run.target)  # an unknown target fails here
        if project.managed:
            command.stamp(
                _config(project, RunOptions(url=run.url, session=run.session)), run.target
            )
        else:
            engine = create_engine(run.url, lent=run.session)
            try:
                with engine.connect() as connection:
                    config = _config(project, url=run.url, connection=connection)
                    command.stamp(config, run.target)
            finally:
                engine.dispose()
    for head in _heads(run.session, facts):
        run.revision_done(head)


def render_sql(
    project: Project, facts: Facts, session: Session, operation: Operation, target: str
) -> str:
    """The SQL of an upgrade or downgrade from the database's current revision."""
    heads = _heads(session, facts)
    if len(heads) > 1:
        raise ValueError(f"the database has several heads ({', '.join(heads)})")
    buffer = io.StringIO()
    with ALEMBIC_GUARD:
        with _scripts_lock(project):
            script = _load_script(project, facts)
            graph = _checked_graph(script)
        with _revision_errors(target):
            # Validates the target first, as the online run would.
            graph.plan(operation, target, heads)
        url = session.url or DatabaseURL.parse(f"{session.family}://")
        if project.managed:
            config = _config(project, RunOptions(url=url), output_buffer=buffer)
        else:
            config = _config(project, url=url, output_buffer=buffer)

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
    project: Project,
    message: str,
    *,
    autogenerate: bool | None,
    slug: str,
    url: DatabaseURL | None,
) -> tuple[str, Path]:
    """Write a new revision; return its id and its file. In a project of its own making
    the file is named by the project's ``file_template`` and goes where Alembic puts it."""
    models = recorded_models(_config(project))
    if autogenerate is None:
        autogenerate = bool(models) and url is not None
    options = None
    if autogenerate:
        if url is None:
            raise MigrationCreationError(
                "autogenerate compares models with a database: pass connection_string"
            )
        if not models and project.managed:
            raise MigrationCreationError(
                "autogenerate needs models: run init_migrations with models_module=..."
            )
        metadata = find_metadata(load_models(models)) if models else None
        options = RunOptions(url=url, target_metadata=metadata)
    with ALEMBIC_GUARD, _scripts_lock(project, exclusive=True):
        if project.managed or url is None:
            config = _config(project, options)
        else:
            # An own env.py (autogenerate, or revision_environment) gets the URL its way.
            config = _config(project, url=url)
        script = command.revision(config, message=message, autogenerate=bool(autogenerate))
        if script is None or isinstance(script, list):
            raise MigrationCreationError("Alembic did not write a single revision")
        path = Path(script.path)
        if project.managed:
            target = path.with_name(f"{script.revision}_{slug}.py")
            if path != target:
                os.replace(path, target)
                # The bytecode Alembic wrote while loading the file under its old name.
                pycache = path.parent / "__pycache__"
                for stale in pycache.glob(f"{path.stem}.*.pyc") if pycache.is_dir() else ():
                    stale.unlink(missing_ok=True)
                path = target
    return str(script.revision), path


def applied(project: Project, facts: Facts, session: Session) -> frozenset[str]:
    """The revisions a database has applied: its heads and their ancestry, and heads the
    project does not know."""
    heads = _heads(session, facts)
    graph = graph_of(project, facts)
    return frozenset(graph.applied(heads)) | {h for h in heads if h not in graph.revisions}


def history(project: Project, facts: Facts, session: Session | None) -> list[dict[str, Any]]:
    graph = graph_of(project, facts)
    applied = graph.applied(_heads(session, facts)) if session is not None else None
    return [
        {
            "revision": info.revision,
            "description": info.description,
            "down_revision": _scalar(info.down_revision),
            "applied": None if applied is None else info.revision in applied,
            "path": info.path,
        }
        for info in graph.oldest_first()
    ]


def _scalar(revisions: tuple[str, ...]) -> str | tuple[str, ...] | None:
    if not revisions:
        return None
    return revisions[0] if len(revisions) == 1 else revisions
