"""What a fleet run reports: one :class:`TargetResult` per target, in a :class:`FleetResult`.

Every field is plain data (the URL masked, the error a one-line message with every
secret masked), so results cross process boundaries and print as JSON as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from ..errors import MigrationError

#: How a fleet runs its targets (``workers=``): the executor imports multiprocessing,
#: so it is loaded only when a fleet runs.
WORKER_KINDS = ("auto", "process", "thread", "inline")

__all__ = [
    "FAILED",
    "NOT_RUN",
    "WORKER_KINDS",
    "FleetError",
    "FleetEvent",
    "FleetResult",
    "TargetResult",
]

#: Statuses of a target that did not succeed.
FAILED = "failed"
NOT_RUN = "not_run"
#: Internal: the first attempt found the lock held (``skip_locked``); tried again later.
LOCKED = "locked"

_MIGRATING = ("upgrade", "downgrade")


@dataclass(frozen=True)
class TargetResult:
    """How one target went.

    ``status`` is ``"migrated"`` (revisions applied or reverted) or ``"unchanged"``
    (nothing to do) for upgrades and downgrades, ``"up_to_date"`` or ``"pending"`` for
    ``status``, ``"ok"`` for ``current``; ``"failed"`` (``error`` says why) or ``"not_run"``
    (``fail_fast`` stopped the fleet first) otherwise. ``revisions`` lists what this run
    applied (reverted), in order; ``from_revision`` and ``to_revision`` are the database's
    revision before and after (both the current revision for reads; a failed run's
    revisions are those that committed before its failure). ``waited`` is true
    when another runner held the target's lock when its turn came (``skip_locked``), so it
    was done last, after that runner finished.
    """

    name: str
    url: str
    operation: str
    status: str
    from_revision: str | None = None
    to_revision: str | None = None
    revisions: tuple[str, ...] = ()
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    waited: bool = False
    #: ``status`` only: the head revisions, the pending ones and what ``verify`` found.
    heads: tuple[str, ...] = ()
    pending: tuple[str, ...] | None = None
    problems: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the target succeeded."""
        return self.status not in (FAILED, NOT_RUN, LOCKED)

    @property
    def head(self) -> str | None:
        """The head revision (``status``), when the directory has exactly one."""
        return self.heads[0] if len(self.heads) == 1 else None

    @property
    def revision(self) -> str | None:
        """The database's revision after the run (what ``current`` reports)."""
        return self.to_revision

    def to_json(self) -> dict[str, Any]:
        """The result as JSON data (the ``--json`` output of the command line)."""
        data: dict[str, Any] = {
            "name": self.name,
            "url": self.url,
            "operation": self.operation,
            "ok": self.ok,
            "status": self.status,
        }
        if self.operation in _MIGRATING:
            data.update(
                from_revision=self.from_revision,
                to_revision=self.to_revision,
                revisions=list(self.revisions),
                waited=self.waited,
            )
        elif self.operation == "current":
            data["revision"] = self.to_revision
        else:
            data.update(
                current=self.to_revision,
                # As ``status --json`` of one database: the head, or the list of heads.
                head=self.head if len(self.heads) <= 1 else list(self.heads),
                heads=list(self.heads),
                pending=list(self.pending) if self.pending is not None else None,
                problems=list(self.problems),
            )
        data.update(seconds=round(self.seconds, 4), error=self.error, error_type=self.error_type)
        return data


@dataclass(frozen=True)
class FleetEvent:
    """Progress of a fleet run, for a ``progress`` callback (called in the caller's
    thread). ``kind`` is ``"started"`` (a worker took the target), ``"planned"``
    (``total`` revisions to run), ``"revision"`` (``revision`` committed), ``"waiting"``
    (another runner holds its lock: it comes back to it at the end) or ``"finished"``
    (``result`` set)."""

    kind: str
    index: int
    name: str
    revision: str | None = None
    total: int | None = None
    result: TargetResult | None = None


class FleetError(MigrationError):
    """Some targets of a fleet did not succeed (:meth:`FleetResult.raise_on_failure`);
    ``results`` is the whole :class:`FleetResult`."""

    results: FleetResult


@dataclass(frozen=True)
class FleetResult(Sequence[TargetResult]):
    """The results of a fleet run, one per target in the order given; a sequence of
    :class:`TargetResult`. ``ok`` is true only when every target succeeded."""

    operation: str
    revision: str | None
    results: tuple[TargetResult, ...] = ()
    seconds: float = 0.0
    parallel: int = 1

    @overload
    def __getitem__(self, index: int) -> TargetResult: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[TargetResult]: ...
    def __getitem__(self, index: int | slice) -> TargetResult | Sequence[TargetResult]:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[TargetResult]:
        return iter(self.results)

    def get(self, name: str) -> TargetResult | None:
        """The result of the target named ``name``."""
        return next((result for result in self.results if result.name == name), None)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def failed(self) -> list[TargetResult]:
        """The targets that did not succeed (failed, or not run), in order."""
        return [result for result in self.results if not result.ok]

    def summary(self) -> str:
        """One line: how many targets succeeded, and which did not."""
        what = f"{self.operation}" + (f" to {self.revision}" if self.revision else "")
        done = len(self.results) - len(self.failed)
        line = f"{what}: {done} of {len(self.results)} targets succeeded in {self.seconds:.2f}s"
        failed = [r.name for r in self.results if r.status == FAILED]
        skipped = [r.name for r in self.results if r.status == NOT_RUN]
        if failed:
            line += f"; failed: {', '.join(failed)}"
        if skipped:
            line += f"; not run: {', '.join(skipped)}"
        return line

    def raise_on_failure(self) -> FleetResult:
        """Raise :class:`FleetError` unless every target succeeded; return ``self``."""
        if not self.ok:
            first = self.failed[0]
            error = FleetError(
                f"{self.summary()} (first: {first.name}: {first.error or first.status})"
            )
            error.results = self
            raise error
        return self

    def to_json(self) -> list[dict[str, Any]]:
        """The per-target results as JSON data, in order."""
        return [result.to_json() for result in self.results]
