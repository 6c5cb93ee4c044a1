"""How a failed command ends: one masked line on stderr and the documented exit status.

0 on success, 1 on a migration error, 2 on a usage or configuration error; ``--verbose``
adds the traceback.
"""

from __future__ import annotations

from typing import Any, NoReturn

import click

from ..errors import (
    AdapterNotFoundError,
    MigrationError,
    MigrationLockError,
    MigrationNotFoundError,
)
from .options import State

__all__ = ["Group"]


class Group(click.Group):
    """Turns errors into one masked line on stderr and the documented exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        _route_library_output(ctx.ensure_object(State))
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except MigrationError as error:
            _fail(ctx, error, 1)
        except Exception as error:
            from ..config import ConfigError

            if isinstance(error, ConfigError):
                _fail(ctx, error, 2)
            _fail(ctx, error, 1, unexpected=True)


def _route_library_output(state: State) -> None:
    """Keep what libraries log or warn (SQLAlchemy's pool tracebacks, ``UserWarning``s) off
    the terminal, where a failure is one line; ``--verbose`` shows it, secrets masked."""
    import logging

    logging.captureWarnings(True)
    root = logging.getLogger()
    if state.verbose:
        handler: logging.Handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        handler.addFilter(_Masking(state))
    else:
        # Without a handler, Python prints warnings and errors to stderr itself.
        handler = logging.NullHandler()
        # A project's own env.py may install handlers of its own (fileConfig of its ini,
        # with Alembic's INFO lines): without --verbose nothing logged reaches them.
        logging.disable(logging.CRITICAL)
    root.addHandler(handler)


class _Masking:
    """A logging filter that masks the command's secrets in each record's message."""

    def __init__(self, state: State) -> None:
        self._state = state

    def filter(self, record: Any) -> bool:
        record.msg = self._state.mask(record.getMessage())
        record.args = ()
        if record.exc_info:
            import traceback

            text = "".join(traceback.format_exception(*record.exc_info))
            record.msg = f"{record.msg}\n{self._state.mask(text.rstrip())}"
            record.exc_info = None
        return True


# What to do next, for errors whose message names only the problem.
_HINTS: tuple[tuple[type[MigrationError], str], ...] = (
    (MigrationNotFoundError, "list the revisions with `pydapter-migrate history`"),
    (AdapterNotFoundError, "pick one with -b/--backend; see `pydapter-migrate backends`"),
    (MigrationLockError, "another migration is running; retry, or wait longer with --lock-timeout"),
)


def _fail(
    ctx: click.Context, error: BaseException, code: int, *, unexpected: bool = False
) -> NoReturn:
    state = ctx.ensure_object(State)
    if state.verbose:
        import traceback

        text = "".join(traceback.format_exception(error))
        click.echo(state.mask(text.rstrip()), err=True)
    text = str(error).strip()
    # One line: multi-line driver messages are joined rather than cut.
    message = " ".join(line.strip() for line in text.splitlines()) or type(error).__name__
    if getattr(error, "lost", False):
        # Again: it finishes the migration, or (MySQL, part of a revision committed) it
        # refuses naming the revision to repair.
        message = (
            f"{message} (run the command again: it finishes the migration or says what to repair)"
        )
    else:
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
