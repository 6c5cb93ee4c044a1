"""The event object handed to hooks, and the one place that fires the migration hooks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .registry import HookRelay

__all__ = ["MigrationEvent"]


@dataclass(frozen=True)
class MigrationEvent:
    """What a hook learns about a run.

    ``pending`` lists the revisions the run will apply (upgrade) or revert (downgrade), in
    order. ``revision``, ``index`` (1-based) and ``elapsed`` (seconds) are set for
    ``after_revision``; ``elapsed`` is the whole run's duration for ``after_migrate``.
    """

    migration_key: str
    operation: str
    directory: str
    target: str
    pending: tuple[str, ...] = ()
    revision: str | None = None
    index: int | None = None
    elapsed: float | None = None

    @property
    def total(self) -> int:
        """How many revisions the run will apply or revert."""
        return len(self.pending)


@dataclass
class MigrationRun:
    """One upgrade or downgrade as hooks see it; backends call :meth:`revision_done`.

    Backends report each revision once it committed; the run keeps count, so the core
    knows which revision a failure belongs to.
    """

    hooks: HookRelay
    event: MigrationEvent
    started: float = field(default_factory=time.perf_counter)
    done: list[str] = field(default_factory=list)
    _last_mark: float = 0.0

    def begin(self, pending: Sequence[str]) -> None:
        """Fire ``before_migrate`` with the planned revisions."""
        self.event = replace(self.event, pending=tuple(pending))
        self._last_mark = time.perf_counter()
        self.hooks.before_migrate(self.event)

    def revision_done(self, revision: str) -> None:
        """Fire ``after_revision``: ``revision`` committed."""
        now = time.perf_counter()
        self.done.append(revision)
        elapsed, self._last_mark = now - (self._last_mark or self.started), now
        self.hooks.after_revision(
            replace(self.event, revision=revision, index=len(self.done), elapsed=elapsed)
        )

    @property
    def failed_revision(self) -> str | None:
        """The planned revision that was running when the run stopped, if any."""
        pending = self.event.pending
        return pending[len(self.done)] if len(self.done) < len(pending) else None

    def finish(self) -> None:
        """Fire ``after_migrate``."""
        self.hooks.after_migrate(replace(self.event, elapsed=time.perf_counter() - self.started))

    def fail(self, error: BaseException) -> None:
        """Fire ``on_migration_error``."""
        self.hooks.on_migration_error(
            replace(self.event, elapsed=time.perf_counter() - self.started), error
        )
