"""Writing revisions by hand, for tests and benchmarks: the conformance kit's
``write_revision`` for this backend.

>>> from pydapter_migrations.testing import BaseMigrationSuite
>>> from pydapter_migrations_yoyo import YoyoAdapter
>>> from pydapter_migrations_yoyo.testing import write_revision
>>> class TestMine(BaseMigrationSuite):
...     adapter = YoyoAdapter
...     write_revision = staticmethod(write_revision)
"""

from __future__ import annotations

from pathlib import Path

from ._files import ROLLBACK_SUFFIX, render_rollback

__all__ = ["write_revision"]


def write_revision(
    directory: Path | str, revision: str, upgrade: list[str], downgrade: list[str]
) -> None:
    """Give ``revision`` these upgrade and downgrade statements, keeping its header lines
    (``-- message:``, ``-- depends:``, ``-- transactional:``)."""
    versions = Path(directory) / "versions"
    path = versions / f"{revision}.sql"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("--"):
            break
        header.append(line)
    body = [f"{statement};" for statement in upgrade]
    path.write_text("\n".join([*header, "", *body]) + "\n", encoding="utf-8")
    rollback = versions / f"{revision}{ROLLBACK_SUFFIX}"
    statements = "".join(f"{statement};\n" for statement in downgrade)
    rollback.write_text(render_rollback() + statements, encoding="utf-8")
