"""Typed calls of the migration hooks for one run; the rest of the code never touches pluggy.

A run fires through the registry it was given (by default the process registry, with the
installed hook plugins) and through its own *observers*: objects with ``@hookimpl``
methods that see this run only, such as the command line's progress bar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from .events import MigrationEvent

__all__ = ["HookFailedError", "MigrationHooks"]

logger = logging.getLogger("pydapter_migrations")

_HOOKS = ("before_migrate", "after_revision", "after_migrate", "on_migration_error")


class HookFailedError(Exception):
    """A hook implementation raised; ``hook`` names it, the original is ``__cause__``."""

    def __init__(self, hook: str, error: BaseException) -> None:
        super().__init__(f"the {hook} hook raised {type(error).__name__}: {error}")
        self.hook = hook


class MigrationHooks:
    """The hooks of one run: the registry's plugins, then the run's observers."""

    def __init__(self, manager: pluggy.PluginManager | None, observers: Iterable[object] = ()):
        self._hook = manager.hook if manager is not None else None
        self._observers = list(observers)
        for observer in self._observers:
            unknown = [
                name
                for name in dir(observer)
                if not name.startswith("_")
                and callable(getattr(observer, name, None))
                and _is_hookimpl(getattr(observer, name))
                and name not in _HOOKS
            ]
            if unknown:
                raise TypeError(f"{observer!r} implements no such hook: {', '.join(unknown)}")

    def _call(self, name: str, **kwargs: Any) -> None:
        try:
            if self._hook is not None:
                getattr(self._hook, name)(**kwargs)
            for observer in self._observers:
                method: Callable[..., Any] | None = getattr(observer, name, None)
                if method is not None and _is_hookimpl(method):
                    method(**kwargs)
        except Exception as error:
            raise HookFailedError(name, error) from error

    def before_migrate(self, event: MigrationEvent) -> None:
        self._call("before_migrate", event=event)

    def after_revision(self, event: MigrationEvent) -> None:
        self._call("after_revision", event=event)

    def after_migrate(self, event: MigrationEvent) -> None:
        self._call("after_migrate", event=event)

    def on_migration_error(self, event: MigrationEvent, error: BaseException) -> None:
        # The run has failed already: a broken error hook must not hide why.
        try:
            self._call("on_migration_error", event=event, error=error)
        except HookFailedError as failure:
            logger.warning("%s (while reporting: %s)", failure, error)


def _is_hookimpl(method: object) -> bool:
    from .hookspecs import PROJECT_NAME

    return hasattr(method, f"{PROJECT_NAME}_impl")
