"""The contenders' names, which raw tool and floor each is compared with, and which of them
this run compares (``--only``).

Every other module names contenders through these constants, so the tables, the targets
and ``--only`` agree on them.
"""

from __future__ import annotations

RAW_ALEMBIC = "raw alembic"
RAW_YOYO = "raw yoyo"
FLOOR = "floor (driver)"
ALEMBIC_ADAPTER = "alembic adapter"
YOYO_ADAPTER = "yoyo adapter"
CLI_ALEMBIC = "pydapter-migrate -b alembic upgrade"
CLI_YOYO = "pydapter-migrate -b yoyo upgrade"
RAW_ALEMBIC_CLI = "alembic upgrade head"
RAW_YOYO_CLI = "yoyo apply --batch"
#: The interpreter doing nothing: the floor of a whole process.
PYTHON = "python -c pass"

#: The least possible, per question: the driver alone, an interpreter that does nothing.
FLOORS = (FLOOR, PYTHON)
#: Which raw tool each contender is compared with ("vs raw" in the tables).
RAW_OF = {
    ALEMBIC_ADAPTER: RAW_ALEMBIC,
    YOYO_ADAPTER: RAW_YOYO,
    CLI_ALEMBIC: RAW_ALEMBIC_CLI,
    CLI_YOYO: RAW_YOYO_CLI,
}

#: Contender names chosen with ``--only`` (empty: all).
ONLY: set[str] = set()


def choose(names: str) -> None:
    """Compare only the contenders named in ``names`` (comma-separated; empty: all)."""
    ONLY.clear()
    ONLY.update(name.strip() for name in names.split(",") if name.strip())


def chosen(name: str) -> bool:
    """Whether this run compares contender ``name``."""
    return not ONLY or name in ONLY
