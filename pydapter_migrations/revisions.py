"""Revision targets and file names, the same for every backend."""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "BASE",
    "HEAD",
    "ahead_of_directory",
    "find_transaction_control",
    "plan_linear",
    "relative_steps",
    "resolve_linear",
    "slugify",
]

HEAD = "head"
BASE = "base"
_RELATIVE = re.compile(r"^[+-]\d+$")


# Comments before a statement; MySQL runs the text of /*! ... */ and MariaDB of /*M! ... */
# (a version number may follow the mark), so those are unwrapped, not skipped.
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*(?!M?!).*?\*/|/\*M?!\d*)*", re.DOTALL)
# Statements that end (or start) a transaction. SAVEPOINT work stays inside one, and
# MariaDB's BEGIN NOT ATOMIC opens a compound statement, not a transaction. A SET that
# turns autocommit on commits the open transaction, whichever way it names the variable
# (SET autocommit, SET SESSION autocommit, SET @@session.autocommit, SET a=1, autocommit=1,
# SET `autocommit`).
_TRANSACTION_CONTROL = re.compile(
    r"""(?ix)
    (COMMIT|END|ABORT|START\s+TRANSACTION|ROLLBACK(?!\s+(?:WORK\s+|TRANSACTION\s+)?TO\b)
     |BEGIN(?!\s+NOT\s+ATOMIC)
     |SET\s(?:[^'"`;]|'[^']*'|"[^"]*"|`[^`]*`)*?`?\bAUTOCOMMIT(?=`?\s*:?=))\b
    """
)


def ahead_of_directory(revision: str) -> str:
    """What to say of a database that records ``revision`` when the directory lacks it."""
    return (
        f"the database is at revision {revision}, which this migration directory does not "
        "contain (was it migrated from newer code, or from another directory sharing its "
        "version table?); deploy the code that has it, or downgrade with that code first"
    )


def find_transaction_control(statements: list[str]) -> str | None:
    """The first statement of ``statements`` that would end or start a transaction
    (``COMMIT``, ``ROLLBACK``, ``BEGIN``, ``END``...), upper-cased; ``None`` when none does.

    A revision that runs one inside the transaction the backend opened for it would commit
    part of itself; SQL backends refuse such revisions before running anything.
    """
    for statement in statements:
        text = _LEADING_COMMENTS.sub("", statement, count=1)
        match = _TRANSACTION_CONTROL.match(text)
        if match is not None:
            return " ".join(match.group(1).upper().replace("`", "").split())
    return None


def relative_steps(target: str) -> int | None:
    """``-1`` -> -1, ``+2`` -> 2; ``None`` when ``target`` is not relative."""
    return int(target) if _RELATIVE.match(target) else None


def slugify(message: str, max_length: int = 40) -> str:
    """A file-name-safe slug of ``message``: lowercase ASCII letters, digits and ``_``."""
    text = unicodedata.normalize("NFKD", message).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug[:max_length].rstrip("_") or "revision"


def resolve_linear(order: list[str], target: str) -> str | None:
    """The revision ``target`` names in a linear history (``order``, oldest first):
    ``head`` is the newest, ``base`` none (``None``), an id itself."""
    from .errors import MigrationNotFoundError

    if target == HEAD:
        return order[-1] if order else None
    if target == BASE:
        return None
    if target not in order:
        raise MigrationNotFoundError(f"no revision {target!r} in this directory", revision=target)
    return target


def plan_linear(order: list[str], current: str | None, operation: str, target: str) -> list[str]:
    """The revisions an upgrade or downgrade runs over a linear history, in run order.

    ``order`` is every revision oldest first and ``current`` the applied one (``None`` for
    none). ``target`` is ``head``, ``base``, an id or a relative ``+N`` / ``-N``.
    """
    from .errors import MigrationNotFoundError

    applied = order.index(current) + 1 if current is not None else 0
    steps = relative_steps(target)
    if target == HEAD:
        goal = len(order)
    elif target == BASE:
        goal = 0
    elif steps is not None:
        goal = applied + steps
        if not 0 <= goal <= len(order):
            raise ValueError(
                f"relative target {target} goes past the {'first' if goal < 0 else 'last'} "
                f"revision ({applied} of {len(order)} applied)"
            )
    elif target in order:
        goal = order.index(target) + 1
    else:
        raise MigrationNotFoundError(f"no revision {target!r} in this directory", revision=target)
    if operation == "upgrade":
        if goal < applied:
            raise ValueError(f"{target} is older than the current revision {current}; downgrade")
        return order[applied:goal]
    if goal > applied:
        raise ValueError(f"{target} is newer than the current revision {current}; upgrade")
    return order[goal:applied][::-1]
