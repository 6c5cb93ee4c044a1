"""The options every command shares, and the settings they resolve to.

Global options are accepted before or after the command name and gathered in one
``State`` per run; the settings (config file, environment, URL) are read on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..config import Settings

# config, urls and pathlib are imported by the commands that read settings, not at
# start-up: `--help` and `backends` need none of them.

__all__ = [
    "PROG_NAME",
    "State",
    "current_state",
    "display_url",
    "global_options",
    "json_option",
    "lock_timeout_option",
    "require_url",
    "sql_option",
]

PROG_NAME = "pydapter-migrate"
F = TypeVar("F", bound=Callable[..., Any])


class State:
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
        """The resolved settings, read once; ``--verbose`` prints them on stderr."""
        if self._settings is None:
            from pathlib import Path

            from ..config import find_config_file, load_config_file, resolve_settings

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
        from ..urls import url_secrets

        urls = [self.url, os.environ.get("DATABASE_URL")]
        if self._settings is not None:
            urls.append(self._settings.url)
        found: set[str] = set()
        if self._settings is not None:
            found.update(self._settings.url_secrets)
        for url in urls:
            if url:
                found.update(url_secrets(url))
        return tuple(sorted(found, key=len, reverse=True))

    def mask(self, text: str) -> str:
        """``text`` with every known password replaced."""
        from ..urls import mask_secrets

        return mask_secrets(text, self.secrets())


def current_state() -> State:
    """The ``State`` of the running command."""
    return click.get_current_context().ensure_object(State)


def display_url(url: str | None, state: State) -> str:
    """``url`` as it may be shown: its password masked, ``(none)`` when unset."""
    from ..urls import DatabaseURL, InvalidURLError

    if url is None:
        return "(none)"
    try:
        return str(DatabaseURL.parse(url))
    except InvalidURLError:
        return state.mask(url)


def _describe_settings(settings: Settings, state: State) -> None:
    def source(key: str) -> str:
        return settings.sources.get(key, "unset")

    lines = [
        f"config file: {settings.config_file or '(none found)'}",
        f"environment: {settings.env or '(none)'}",
        f"backend:     {settings.backend} (from {source('backend')})",
        f"directory:   {settings.directory} (from {source('directory')})",
        f"url:         {display_url(settings.url, state)} (from {source('url')})",
    ]
    for line in lines:
        click.echo(line, err=True)


def require_url(settings: Settings, command: str) -> str:
    """The database URL, or a configuration error naming every way to give one."""
    from ..config import ConfigError

    if settings.url is None:
        raise ConfigError(
            f"`{command}` needs a database URL: pass --url, set url in "
            "[tool.pydapter-migrations] or an environment, or export DATABASE_URL"
        )
    return settings.url


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(State), name, value)

    return callback


def global_options(func: F) -> F:
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


def json_option(func: F) -> F:
    """``--json``, passed to the command as ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON data only.")(func)


class _Seconds(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """A finite, non-negative number of seconds (``nan`` and ``inf`` are usage errors, as
    ``-1`` is)."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        import math

        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds < 0:
            self.fail(f"{value!r} is not a finite number of seconds >= 0", param, ctx)
        return seconds


lock_timeout_option = click.option(
    "--lock-timeout",
    type=_Seconds(),
    metavar="SECONDS",
    help="Give up after waiting this long for the database's migration lock (default: 60).",
)
sql_option = click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
