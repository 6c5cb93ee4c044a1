"""Helpers of the fleet tests: projects whose revisions log themselves, and reading that log.

Every revision ``k`` of a project made by :func:`make_project` creates table ``t_k`` and
inserts its own id into ``applied_log`` in the same transaction, so after any number of
runs the log of a database says how many times each revision was applied there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

__all__ = [
    "applied_counts",
    "cli",
    "make_project",
    "query",
    "write_targets",
]

PROGRAM = str(Path(sys.executable).parent / "pydapter-migrate")


def make_project(
    kind: str, directory: Path, n: int, *, sleep: float = 0.0, fail_on: str | None = None
) -> list[str]:
    """A migration directory of ``kind`` (``alembic`` or ``yoyo``) with ``n`` revisions,
    each logging itself in ``applied_log``; returns their ids. ``sleep`` (Alembic) makes
    each revision take that long; ``fail_on`` (a table name) makes revision 2 fail on a
    database that already has that table."""
    if kind == "alembic":
        from pydapter_migrations_alembic import AlembicAdapter as adapter
        from pydapter_migrations_alembic.testing import write_revision, write_revision_bodies
    else:
        from pydapter_migrations_yoyo import YoyoAdapter as adapter
        from pydapter_migrations_yoyo.testing import write_revision
    adapter.init_migrations(directory)
    ids: list[str] = []
    for k in range(1, n + 1):
        rev = adapter.create_migration(f"step {k}", autogenerate=False, directory=directory)
        up = [f"CREATE TABLE t_{k} (id INTEGER)"]
        if k == 1:
            up.insert(0, "CREATE TABLE applied_log (revision VARCHAR(64))")
        up.append(f"INSERT INTO applied_log VALUES ('{rev}')")
        down = [f"DELETE FROM applied_log WHERE revision = '{rev}'", f"DROP TABLE t_{k}"]
        if k == 1:
            down.append("DROP TABLE applied_log")
        if kind == "alembic" and sleep:
            body = f"    import time\n\n    time.sleep({sleep!r})\n"
            body += "".join(f"    op.execute(sa.text({s!r}))\n" for s in up)
            undo = "".join(f"    op.execute(sa.text({s!r}))\n" for s in down)
            write_revision_bodies(directory, rev, body, undo)
        else:
            write_revision(directory, rev, up, down)
        ids.append(rev)
    return ids


def query(url: str | DatabaseURL, sql: str) -> list[tuple[Any, ...]]:
    return KitDatabase(DatabaseURL.parse(url)).query(sql)


def applied_counts(url: str | DatabaseURL) -> Counter[str]:
    """How many times each revision was applied to the database at ``url``."""
    return Counter(str(row[0]) for row in query(url, "SELECT revision FROM applied_log"))


def write_targets(path: Path, targets: Mapping[str, str]) -> Path:
    path.write_text("".join(f"{name} {url}\n" for name, url in targets.items()))
    return path


def cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """``pydapter-migrate ARGS`` in a subprocess (no terminal: plain output)."""
    return subprocess.run(
        [PROGRAM, *args],
        cwd=cwd,
        env=environ(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(COLUMNS="200", NO_COLOR="1")
    env.update(extra or {})
    return env


def popen(*args: str, cwd: Path, **kwargs: Any) -> subprocess.Popen[str]:
    """``pydapter-migrate ARGS`` started in the background, its output in pipes."""
    return subprocess.Popen(
        [PROGRAM, *args],
        cwd=cwd,
        env=environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def no_secret(texts: Sequence[str], secrets: Sequence[str]) -> None:
    """Assert that none of ``secrets`` (in any encoding) shows in ``texts``."""
    from urllib.parse import quote

    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            for text in texts:
                assert form not in text, f"a secret ({form[:3]}...) leaked"
