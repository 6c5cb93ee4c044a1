"""What ``verify`` finds between a migration directory, its database and the history table.

Each problem is a dict: ``problem`` (its kind), ``revision``, ``message``, and for a changed
revision ``file``, ``recorded_checksum`` and ``current_checksum``. Kinds:

* ``changed``: an applied revision's files differ from when it ran (comments and layout
  aside; with ``cosmetic=True`` an edit of those alone is reported too, as ``reformatted``);
* ``missing_file``: the database records a revision the directory has no file for;
* ``missing_parent``: a revision follows one the directory does not have;
* ``multiple_heads``: the revisions end in several heads where one is expected;
* ``dirty``: a revision started and never finished (see :mod:`~pydapter_migrations.ledger`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from .checksums import Checksum, RevisionPath
from .ledger import APPLIED, LedgerRow
from .revisions import ahead_of_directory

__all__ = [
    "changed_refusal",
    "changed_revisions",
    "dirty_problems",
    "graph_problems",
    "recorded_checksums",
    "unknown_accepted",
    "upgrade_refusal",
]

Problem = dict[str, Any]


def recorded_checksums(rows: Iterable[LedgerRow]) -> dict[str, LedgerRow]:
    """Revision -> the row of its latest apply (or stamp, adoption, acceptance)."""
    latest: dict[str, LedgerRow] = {}
    for row in rows:
        if row.outcome in APPLIED:
            latest[row.revision] = row
    return latest


def changed_revisions(
    recorded: Mapping[str, LedgerRow],
    current: Mapping[str, Checksum],
    applied: Collection[str],
    files: Mapping[str, Sequence[RevisionPath]],
    *,
    cosmetic: bool = False,
) -> list[Problem]:
    """Applied revisions whose files changed since the checksum their row recorded."""
    problems = []
    for revision in sorted(applied):
        row, now = recorded.get(revision), current.get(revision)
        if row is None or row.checksum is None or now is None or row.checksum == now.exact:
            continue
        real = row.content_checksum != now.content
        if not real and not cosmetic:
            continue
        where = ", ".join(str(path) for path in files.get(revision, ()))
        when = f"when it was {row.outcome} ({row.finished_at or row.started_at})"
        problems.append(
            {
                "problem": "changed" if real else "reformatted",
                "revision": revision,
                "file": where,
                "recorded_checksum": row.checksum,
                "current_checksum": now.exact,
                "message": (
                    f"revision {revision} changed since it was applied: {where} has "
                    f"checksum {now.exact[:12]}, not {row.checksum[:12]} as {when}"
                    if real
                    else f"revision {revision}: only comments or layout changed in {where} "
                    f"since it was applied (checksum {now.exact[:12]}, was {row.checksum[:12]})"
                ),
            }
        )
    return problems


def graph_problems(
    history: Sequence[Mapping[str, Any]], applied: Collection[str], *, single_head: bool = True
) -> list[Problem]:
    """Applied revisions without a file, revisions whose parent is missing, and several
    heads where the backend expects one (``single_head``)."""
    known = {str(entry["revision"]) for entry in history}
    problems: list[Problem] = [
        {"problem": "missing_file", "revision": revision, "message": ahead_of_directory(revision)}
        for revision in sorted(set(applied) - known)
    ]
    parents: set[str] = set()
    for entry in history:
        down = entry.get("down_revision")
        listed = [down] if isinstance(down, str) else list(down or ())
        parents.update(listed)
        for parent in listed:
            if parent not in known:
                problems.append(
                    {
                        "problem": "missing_parent",
                        "revision": entry["revision"],
                        "message": f"revision {entry['revision']} follows {parent}, which is "
                        "not in the directory",
                    }
                )
    heads = [str(entry["revision"]) for entry in history if entry["revision"] not in parents]
    if single_head and len(heads) > 1:
        problems.append(
            {
                "problem": "multiple_heads",
                "revision": None,
                "heads": heads,
                "message": f"the revisions end in {len(heads)} heads ({', '.join(heads)}) "
                "where one is expected: merge them",
            }
        )
    return problems


def dirty_problems(rows: Iterable[LedgerRow], *, running: Collection[str] = ()) -> list[Problem]:
    """A ``dirty`` problem per row; a ``started`` row of a run in ``running`` (run ids of
    runs that hold the migration lock right now) is that run's revision at work:
    ``in_progress``, not a run that died."""
    return [
        {"problem": "in_progress", "revision": row.revision, "message": in_progress_message(row)}
        if row.outcome == "started" and row.run_id in running
        else {"problem": "dirty", "revision": row.revision, "message": dirty_message(row)}
        for row in rows
    ]


def in_progress_message(row: LedgerRow) -> str:
    """What to say of a ``started`` row while a run holds the migration lock."""
    return f"{_started(row)} and is in progress (that run holds the migration lock)"


def _started(row: LedgerRow) -> str:
    """Which revision started, when, by whom and in which run."""
    who = f"{row.os_user or '?'}@{row.host or '?'}"
    return (
        f"revision {row.revision}: its {row.operation} started at {row.started_at} "
        f"({who}, run {row.run_id})"
    )


def changed_refusal(problems: Iterable[Problem], allow_changed: Collection[str]) -> Problem | None:
    """Why an upgrade refuses to start: the first ``changed`` problem not accepted by
    ``allow_changed``, its ``message`` naming every such one and what to do; ``None`` when
    there is none."""
    refused = [
        p for p in problems if p["problem"] == "changed" and p["revision"] not in allow_changed
    ]
    if not refused:
        return None
    names = " ".join(f"--allow-changed {p['revision']}" for p in refused)
    message = (
        "; ".join(p["message"] for p in refused)
        + ". Changing a revision that already ran leaves databases migrated before the "
        "change different from those migrated after it: put the change in a new "
        f"revision. If the edit is intended, accept it with {names} "
        "(allow_changed=[...]); comment and layout edits never need that"
    )
    return {**refused[0], "message": message}


def unknown_accepted(allow_changed: Collection[str], known: Collection[str]) -> str | None:
    """Why ``allow_changed`` is refused: it names ids that are no revision of the directory
    or the database (a typo would otherwise pass unnoticed); ``None`` when every id is one.
    An id this database has not applied yet is not refused: a fleet's targets may stand at
    different revisions, and there is simply nothing to accept on those."""
    unknown = sorted(set(allow_changed) - set(known))
    if not unknown:
        return None
    listed = ", ".join(unknown)
    return (
        f"allow_changed names {listed}, which {'is' if len(unknown) == 1 else 'are'} no "
        "revision of this directory (unknown); name the applied revisions whose change you "
        "accept"
    )


def upgrade_refusal(
    problems: Sequence[Problem],
    allow_changed: Collection[str] = (),
    known: Collection[str] = (),
) -> Problem | None:
    """The problem (of :func:`verify`'s list) an upgrade refuses to start on, in the order
    the upgrade checks them, its ``message`` the upgrade's error: a revision that never
    finished, a database ahead of the directory, an ``allow_changed`` id that is no
    ``known`` revision, a changed revision not accepted."""
    dirty = [p for p in problems if p["problem"] == "dirty"]
    if dirty:
        return dirty[-1]
    ahead = [p for p in problems if p["problem"] == "missing_file"]
    if ahead:
        return ahead[-1]
    unknown = unknown_accepted(allow_changed, known)
    if unknown is not None:
        return {"problem": "unknown_accepted", "revision": None, "message": unknown}
    return changed_refusal(problems, allow_changed)


def dirty_message(row: LedgerRow) -> str:
    """What happened to a dirty row's revision, and what to do about it."""
    what = (
        "failed"
        if row.outcome == "incomplete"
        else "never finished (its run died, or lost the migration lock)"
    )
    failure = f": {row.note}" if row.note and row.outcome == "incomplete" else ""
    return (
        f"{_started(row)} and {what}{failure}. Part of it may be committed: "
        "where the database commits DDL as it runs (MySQL, MariaDB), each DDL statement it "
        "ran and everything before that one, data changes included; for a revision run "
        "outside a transaction, everything up to where it stopped. Check the schema and the "
        "data, then record what is true: pydapter-migrate repair --applied, or --not-applied"
    )
