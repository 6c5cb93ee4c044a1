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

import re
from pathlib import Path

from ._files import ROLLBACK_SUFFIX, locate, revision_paths

__all__ = ["write_revision"]

# yoyo's directive syntax: "-- name: value" (yoyo.migrations.parse_metadata_from_sql_comments).
_DIRECTIVE = re.compile(r"^--\s*[\w-]+\s*:")


def write_revision(
    directory: Path | str, revision: str, upgrade: list[str], downgrade: list[str]
) -> None:
    """Give ``revision`` these upgrade and downgrade statements, keeping the directives of
    its header (``-- message:``, ``-- depends:``, ``-- transactional:``...) and nothing
    else: no explanatory comment for yoyo to parse on every run."""
    folder = locate(Path(directory))
    if folder is None:
        raise FileNotFoundError(f"{directory} is not a yoyo migrations folder")
    path = revision_paths(folder)[revision]
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        if _DIRECTIVE.match(line):
            header.append(line)
    body = [f"{statement};" for statement in upgrade]
    path.write_text("\n".join([*header, "", *body]) + "\n", encoding="utf-8")
    rollback = path.with_name(f"{revision}{ROLLBACK_SUFFIX}")
    rollback.write_text("".join(f"{statement};\n" for statement in downgrade), encoding="utf-8")
