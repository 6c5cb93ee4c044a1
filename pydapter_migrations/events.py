"""What a hook learns about a run: the :class:`MigrationEvent`, and the run's :class:`Operation`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MigrationEvent", "Operation"]


class Operation(StrEnum):
    """What a run does; compares equal to its plain string (``"upgrade"``...)."""

    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    #: Record the database as being at a revision without running anything.
    STAMP = "stamp"

    @property
    def verb(self) -> str:
        """The past tense people read in progress lines: applied, reverted, stamped."""
        return {"upgrade": "applied", "downgrade": "reverted", "stamp": "stamped"}[self.value]


@dataclass(frozen=True)
class MigrationEvent:
    """What a hook learns about a run.

    ``pending`` lists the revisions the run will apply (upgrade), revert (downgrade) or
    record (stamp), in order. ``revision``, ``index`` (1-based) and ``elapsed`` (seconds)
    are set for ``after_revision``; ``elapsed`` is the whole run's duration for
    ``after_migrate`` and ``on_migration_error``.
    """

    migration_key: str
    operation: Operation
    directory: str
    target: str
    pending: tuple[str, ...] = ()
    revision: str | None = None
    index: int | None = None
    elapsed: float | None = None

    @property
    def total(self) -> int:
        """How many revisions the run will apply, revert or record."""
        return len(self.pending)
