"""``pydapter-migrate``: the command line over any installed migration backend.

Exit status: 0 on success, 1 on a migration error (one line on stderr), 2 on a usage or
configuration error. ``--verbose`` adds the resolved settings and, on failure, the
traceback. Heavy imports (backends, rich) happen only in the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from .errors import (
    AdapterNotFoundError,
    MigrationDowngradeError,
    MigrationError,
    MigrationLockError,
    MigrationNotFoundError,
    MigrationUpgradeError,
)
from .revisions import HEAD, relative_steps

if TYPE_CHECKING:
    from .config import Settings

# config, urls and pathlib are imported by the commands that read settings, not at
# start-up: `--help` and `backends` need none of them.

__all__ = ["cli", "main"]

PROG_NAME = "pydapter-migrate"
F = TypeVar("F", bound=Callable[..., Any])


class _State:
    """The global options, merged from the group and the subcommand."""

    # A plain class: importing dataclasses would cost `--help` a few milliseconds.
    def __init__(self) -> None:
        self.backend: str | None = None
        self.directory: str | None = None
        self.url: str | None = None
        self.env: str | None = None
        self.verbose = False
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            from pathlib import Path

            from .config import find_config_file, load_config_file, resolve_settings

            config_path = find_config_file(Path.cwd())
            config = load_config_file(config_path) if config_path is not None else None
            self._settings = resolve_settings(
                config,
                backend=self.backend,
                directory=self.directory,
                url=self.url,
                env=self.env,
            )
            if self.verbose:
                _describe_settings(self._settings, self)
        return self._settings

    def secrets(self) -> tuple[str, ...]:
        """Every password form that could reach the terminal."""
        from .urls import url_secrets

        urls = [self.url, os.environ.get("DATABASE_URL")]
        if self._settings is not None:
            urls.append(self._settings.url)
        found: set[str] = set()
        for url in urls:
            if url:
                found.update(url_secrets(url))
        return tuple(sorted(found, key=len, reverse=True))

    def mask(self, text: str) -> str:
        from .urls import mask_secrets

        return mask_secrets(text, self.secrets())


def _display_url(url: str | None, state: _State) -> str:
    from .urls import DatabaseURL, InvalidURLError

    if url is None:
        return "(none)"
    try:
        return str(DatabaseURL.parse(url))
    except InvalidURLError:
        return state.mask(url)


def _describe_settings(settings: Settings, state: _State) -> None:
    def source(key: str) -> str:
        return settings.sources.get(key, "unset")

    lines = [
        f"config file: {settings.config_file or '(none found)'}",
        f"environment: {settings.env or '(none)'}",
        f"backend:     {settings.backend} (from {source('backend')})",
        f"directory:   {settings.directory} (from {source('directory')})",
        f"url:         {_display_url(settings.url, state)} (from {source('url')})",
    ]
    for line in lines:
        click.echo(line, err=True)


def _state() -> _State:
    return click.get_current_context().ensure_object(_State)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(_State), name, value)

    return callback


def _global_options(func: F) -> F:
    """The options every command accepts, before or after the command name."""
    options = [
        click.option(
            "-b",
            "--backend",
            metavar="KEY",
            expose_value=False,
            callback=_store("backend"),
            help="Migration backend key (default: alembic); see `backends`.",
        ),
        click.option(
            "-d",
            "--directory",
            metavar="DIR",
            expose_value=False,
            callback=_store("directory"),
            help="Migration directory (default: migrations).",
        ),
        click.option(
            "--url",
            metavar="URL",
            expose_value=False,
            callback=_store("url"),
            help="Database URL (default: from the config, then $DATABASE_URL).",
        ),
        click.option(
            "-e",
            "--env",
            metavar="ENV",
            expose_value=False,
            callback=_store("env"),
            help="Named environment from the config file's envs table.",
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_store("verbose"),
            help="Show the resolved settings, and the traceback of a failure.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON data only.")(func)


class _Group(click.Group):
    """Turns errors into one masked line on stderr and the documented exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except MigrationError as error:
            _fail(ctx, error, 1)
        except Exception as error:
            from .config import ConfigError

            if isinstance(error, ConfigError):
                _fail(ctx, error, 2)
            _fail(ctx, error, 1, unexpected=True)


# What to do next, for errors whose message names only the problem.
_HINTS: tuple[tuple[type[MigrationError], str], ...] = (
    (MigrationNotFoundError, "list the revisions with `pydapter-migrate history`"),
    (AdapterNotFoundError, "pick one with -b/--backend; see `pydapter-migrate backends`"),
    (MigrationLockError, "another migration is running; retry, or wait longer with --lock-timeout"),
)


def _fail(
    ctx: click.Context, error: BaseException, code: int, *, unexpected: bool = False
) -> NoReturn:
    state = ctx.ensure_object(_State)
    if state.verbose:
        import traceback

        text = "".join(traceback.format_exception(error))
        click.echo(state.mask(text.rstrip()), err=True)
    text = str(error).strip()
    # One line: multi-line driver messages are joined rather than cut.
    message = " ".join(line.strip() for line in text.splitlines()) or type(error).__name__
    for error_type, hint in _HINTS:
        if isinstance(error, error_type):
            message = f"{message} ({hint})"
            break
    if unexpected:
        message = f"unexpected {type(error).__name__}: {message}"
        if not state.verbose:
            message += " (run with --verbose for the traceback)"
    click.echo(f"Error: {state.mask(message)}", err=True)
    ctx.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@_global_options
@click.version_option(package_name="pydapter-migrations", prog_name=PROG_NAME)
def cli() -> None:
    """Run database schema migrations with any installed pydapter-migrations backend.

    Settings come from the command line, then the environment chosen with -e, then
    [tool.pydapter-migrations] in the nearest pyproject.toml (or pydapter-migrations.toml),
    then $DATABASE_URL.
    """
    _state()


# -- helpers shared by the commands --------------------------------------------


def _adapter(settings: Settings) -> type[Any]:
    from .registry import get_adapter

    return get_adapter(settings.backend)


def _call(adapter: type[Any], method: str, *args: Any, **kwargs: Any) -> Any:
    """Call one of the adapter's API methods; async adapters run on a fresh loop."""
    func = getattr(adapter, method)
    if getattr(adapter, "is_async", False):
        from .bridge import run_async

        return run_async(lambda: func(*args, **kwargs))
    return func(*args, **kwargs)


def _require_url(settings: Settings, command: str) -> str:
    from .config import ConfigError

    if settings.url is None:
        raise ConfigError(
            f"`{command}` needs a database URL: pass --url, set url in "
            "[tool.pydapter-migrations] or an environment, or export DATABASE_URL"
        )
    return settings.url


def _check_target(target: str) -> str:
    # Targets like -1 are let through click's option parser; anything else that
    # starts with a dash is a mistyped option.
    if target.startswith("-") and relative_steps(target) is None:
        raise click.UsageError(f"No such option: {target}")
    return target


@contextmanager
def _project_on_path() -> Iterator[None]:
    """Let ``--models myapp.models`` import from the working directory, as ``python -m`` does."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


# -- commands ------------------------------------------------------------------


@cli.command()
@_json_option
@_global_options
def backends(as_json: bool) -> None:
    """List installed backends, their distributions and capabilities."""
    from ._cli_output import echo_json, render_backends
    from .registry import default_registry

    registry = default_registry()
    infos = {info.key: info for info in registry.infos()}
    rows: list[dict[str, Any]] = []
    for key in registry.available():
        info = infos.get(key)
        row: dict[str, Any] = {
            "kind": "adapter",
            "key": key,
            "distribution": info.distribution if info else None,
            "version": info.version if info else None,
            "async": None,
            "capabilities": [],
            "databases": [],
            "error": None,
        }
        try:
            adapter = registry.get(key)
        except MigrationError as error:
            row["error"] = str(error)
        else:
            row["async"] = bool(getattr(adapter, "is_async", False))
            row["capabilities"] = sorted(_capabilities(adapter))
            row["databases"] = sorted(getattr(adapter, "supported_databases", ()))
        rows.append(row)
    for failure in registry.failures():
        rows.append(
            {
                "kind": "plugin",
                "key": failure.name,
                "distribution": failure.distribution,
                "version": None,
                "async": None,
                "capabilities": [],
                "databases": [],
                "error": failure.reason,
            }
        )
    if as_json:
        echo_json(rows)
    else:
        render_backends(rows)


def _capabilities(adapter: type[Any]) -> frozenset[str]:
    capabilities = getattr(adapter, "capabilities", None)
    if callable(capabilities):
        return frozenset(capabilities())
    flags = {
        "autogenerate": getattr(adapter, "supports_autogenerate", False),
        "sql": getattr(adapter, "supports_sql", False),
        "async": getattr(adapter, "is_async", False),
    }
    return frozenset(name for name, on in flags.items() if on)


@cli.command()
@click.option(
    "--models",
    metavar="MODULE",
    help="Module holding the SQLAlchemy models (metadata) for autogenerate.",
)
@_global_options
def init(models: str | None) -> None:
    """Create the migration environment in the migration directory."""
    settings = _state().settings()
    adapter = _adapter(settings)
    with _project_on_path():
        _call(
            adapter,
            "init_migrations",
            settings.directory,
            connection_string=settings.url,
            models_module=models,
        )
    click.echo(f"initialised {settings.backend} migrations in {settings.directory}")


@cli.command()
@click.argument("message")
@click.option(
    "--autogenerate/--no-autogenerate",
    default=None,
    help="Compare the models with the database (default: where the backend can).",
)
@_global_options
def new(message: str, autogenerate: bool | None) -> None:
    """Create a revision; its id is printed alone on the last line."""
    settings = _state().settings()
    adapter = _adapter(settings)
    with _project_on_path():
        revision = _call(
            adapter,
            "create_migration",
            message,
            autogenerate,
            directory=settings.directory,
            connection_string=settings.url,
        )
    click.echo(f"created revision {revision} in {settings.directory / 'versions'}", err=True)
    click.echo(revision)


_LOCK_TIMEOUT = click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Give up after waiting this long for the database's migration lock (default: 60).",
)
_SQL = click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
_MIGRATE_SETTINGS = {"ignore_unknown_options": True}  # so that `downgrade -1` parses


def _migrate(operation: str, target: str, sql: bool, lock_timeout: float | None) -> None:
    state = _state()
    settings = state.settings()
    target = _check_target(target)
    url = _require_url(settings, operation)
    adapter = _adapter(settings)
    kwargs: dict[str, Any] = {"directory": settings.directory, "connection_string": url}
    if lock_timeout is not None:
        kwargs["lock_timeout"] = lock_timeout
    if sql:
        if not getattr(adapter, "supports_sql", False):
            error = MigrationUpgradeError if operation == "upgrade" else MigrationDowngradeError
            raise error(
                f"the {settings.backend} backend cannot print SQL; run without --sql",
                adapter=settings.backend,
            )
        text = _call(adapter, operation, target, sql=True, **kwargs)
        click.echo(state.mask(str(text or "")).rstrip("\n"))
        return

    from ._cli_output import RunReporter
    from .registry import register_plugin, unregister_plugin

    reporter = RunReporter(operation)
    register_plugin(reporter, name=f"{PROG_NAME}-progress")
    try:
        _call(adapter, operation, target, **kwargs)
    finally:
        reporter.close()
        unregister_plugin(reporter)
    click.echo(reporter.summary(target))


@cli.command(context_settings=_MIGRATE_SETTINGS)
@click.argument("revision", default=HEAD)
@_SQL
@_LOCK_TIMEOUT
@_global_options
def upgrade(revision: str, sql: bool, lock_timeout: float | None) -> None:
    """Apply revisions up to REVISION (default: head)."""
    _migrate("upgrade", revision, sql, lock_timeout)


@cli.command(context_settings=_MIGRATE_SETTINGS)
@click.argument("revision")
@_SQL
@_LOCK_TIMEOUT
@_global_options
def downgrade(revision: str, sql: bool, lock_timeout: float | None) -> None:
    """Revert revisions down to REVISION (an id, -1, or base)."""
    _migrate("downgrade", revision, sql, lock_timeout)


@cli.command()
@_json_option
@_global_options
def current(as_json: bool) -> None:
    """Show the revision the database is at."""
    settings = _state().settings()
    url = _require_url(settings, "current")
    revision = _call(
        _adapter(settings),
        "get_current_revision",
        directory=settings.directory,
        connection_string=url,
    )
    if as_json:
        from ._cli_output import echo_json

        echo_json({"revision": revision})
    else:
        click.echo(revision if revision is not None else "(nothing applied)")


@cli.command()
@_json_option
@_global_options
def history(as_json: bool) -> None:
    """List every revision, oldest first (applied or not, given a database URL)."""
    from ._cli_output import echo_json, render_history

    settings = _state().settings()
    entries = _call(
        _adapter(settings),
        "get_migration_history",
        directory=settings.directory,
        connection_string=settings.url,
    )
    if as_json:
        echo_json(entries)
    else:
        render_history(entries)


@cli.command()
@_json_option
@_global_options
def status(as_json: bool) -> None:
    """Show applied and pending revisions, the current revision and the head."""
    from ._cli_output import echo_json, render_status

    state = _state()
    settings = state.settings()
    url = _require_url(settings, "status")
    adapter = _adapter(settings)
    common = {"directory": settings.directory, "connection_string": url}
    entries = _call(adapter, "get_migration_history", **common)
    revision = _call(adapter, "get_current_revision", **common)
    pending = [entry["revision"] for entry in entries if not entry.get("applied")]
    report = {
        "backend": settings.backend,
        "directory": str(settings.directory),
        "database": _display_url(url, state),
        "current": revision,
        "head": entries[-1]["revision"] if entries else None,
        "pending": pending,
        "applied": [entry["revision"] for entry in entries if entry.get("applied")],
        "up_to_date": not pending,
    }
    if as_json:
        echo_json(report)
    else:
        render_status(report, entries)


def main(args: list[str] | None = None, prog_name: str = PROG_NAME) -> None:
    """Entry point of ``pydapter-migrate`` and ``python -m pydapter_migrations``."""
    cli.main(args=args, prog_name=prog_name)
