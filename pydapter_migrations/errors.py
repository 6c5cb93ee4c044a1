"""The error hierarchy: every failure of a migration call is a :class:`MigrationError`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = [
    "AdapterConflictError",
    "AdapterLoadError",
    "AdapterNotFoundError",
    "MigrationCreationError",
    "MigrationDowngradeError",
    "MigrationError",
    "MigrationInitError",
    "MigrationLockError",
    "MigrationNotFoundError",
    "MigrationUpgradeError",
    "MissingParentError",
]


class MigrationError(Exception):
    """Base class of every error this package raises.

    ``adapter`` is the ``migration_key`` of the backend that failed and ``revision``
    the revision involved, where known. The original exception is ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        adapter: str | None = None,
        revision: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.adapter = adapter
        self.revision = revision

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword-only state across pickling (multiprocessing, pytest-xdist).
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[MigrationError], message: str, state: dict[str, object]) -> MigrationError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class MigrationInitError(MigrationError):
    """``init_migrations`` failed (for example, the directory is not empty)."""


class MigrationCreationError(MigrationError):
    """``create_migration`` failed."""


class MigrationUpgradeError(MigrationError):
    """``upgrade`` failed; ``revision`` names the revision that did not apply."""


class MigrationDowngradeError(MigrationError):
    """``downgrade`` failed; ``revision`` names the revision that was not reverted."""


class MigrationNotFoundError(MigrationError):
    """A revision named by the caller does not exist; ``revision`` holds it."""


class MissingParentError(MigrationError):
    """A revision of the directory follows one no file defines; ``revision`` is the
    revision that names it, ``parent`` the missing one. ``verify`` reports it as a
    ``missing_parent`` problem."""

    def __init__(self, message: str, *, revision: str, parent: str, adapter: str | None = None):
        super().__init__(message, adapter=adapter, revision=revision)
        self.parent = parent


class MigrationLockError(MigrationError):
    """The database's migration lock could not be taken within ``lock_timeout``, or a run
    lost it while migrating (then ``lost`` is true and the run committed nothing more, but
    on MySQL where it migrated on a connection of its own: the message then says so)."""

    lost: bool = False


class AdapterNotFoundError(MigrationError, LookupError):
    """No adapter is registered under the requested ``migration_key``."""


class AdapterLoadError(MigrationError, ImportError):
    """An installed adapter could not be imported; the message names its distribution."""


class AdapterConflictError(MigrationError):
    """Two different adapters claim the same ``migration_key``."""


def scrub_secrets(error: BaseException, secrets: tuple[str, ...]) -> None:
    """Mask ``secrets`` in the messages of ``error`` and every exception chained to it.

    Driver errors quote connection parameters; a traceback printed later must not leak.
    """
    if not secrets:
        return
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        exc.args = tuple(_mask(a, secrets) if isinstance(a, str) else a for a in exc.args)
        for attr in ("message", "statement", "detail"):
            value = getattr(exc, attr, None)
            if isinstance(value, str) and any(s in value for s in secrets):
                # Some C exceptions have read-only attributes.
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(exc, attr, _mask(value, secrets))
        todo += [exc.__cause__, exc.__context__, getattr(exc, "orig", None)]


def _mask(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def describe(error: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """One readable line (or a few) for ``error``, with ``secrets`` masked."""
    text = str(error).strip()
    # SQLAlchemy appends a link to its FAQ; it tells a migration user nothing.
    text = text.split("\n(Background on this error at:")[0].strip()
    name = type(error).__name__
    return _mask(f"{name}: {text}" if text else name, secrets)


@contextlib.contextmanager
def wrap_errors(
    error_type: type[MigrationError],
    *,
    adapter: str | None,
    action: str,
    revision: str | None = None,
    secrets: tuple[str, ...] = (),
) -> Iterator[None]:
    """Turn any exception raised inside into ``error_type``, cause kept, secrets masked.

    A :class:`MigrationError` passes through (gaining ``adapter`` if it had none), but
    the plain base class becomes ``error_type``, so every call raises its documented type.
    """
    try:
        yield
    except MigrationError as error:
        scrub_secrets(error, secrets)
        error.message = _mask(error.message, secrets)
        if error.adapter is None:
            error.adapter = adapter
        # A plain MigrationError (or a missing parent, which any call may meet) becomes
        # the operation's own type, keeping the original as its cause.
        if type(error) in (MigrationError, MissingParentError) and error_type not in (
            MigrationError,
            type(error),
        ):
            raise error_type(
                error.message, adapter=error.adapter, revision=error.revision
            ) from error
        raise
    except Exception as error:
        scrub_secrets(error, secrets)
        raise error_type(
            f"{action} failed: {describe(error, secrets)}", adapter=adapter, revision=revision
        ) from error
