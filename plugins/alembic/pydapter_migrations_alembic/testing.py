"""Writing revisions by hand, for tests and benchmarks: the conformance kit's
``write_revision`` for this backend, and a way to find a revision's file.

>>> from pydapter_migrations.testing import BaseMigrationSuite
>>> from pydapter_migrations_alembic import AlembicAdapter
>>> from pydapter_migrations_alembic.testing import write_revision
>>> class TestMine(BaseMigrationSuite):
...     adapter = AlembicAdapter
...     write_revision = staticmethod(write_revision)
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["revision_file", "write_revision", "write_revision_bodies"]


def revision_file(directory: Path | str, revision: str) -> Path:
    """The file of ``revision`` in ``directory/versions``."""
    [path] = (Path(directory) / "versions").glob(f"{revision}_*.py")
    return path


def write_revision(
    directory: Path | str, revision: str, upgrade: list[str], downgrade: list[str]
) -> None:
    """Make ``revision`` run the SQL statements ``upgrade`` / ``downgrade`` with ``op.execute``."""

    def body(statements: list[str]) -> str:
        lines = [f"    op.execute(sa.text({s!r}))" for s in statements]
        return "\n".join(lines) or "    pass"

    write_revision_bodies(directory, revision, body(upgrade), body(downgrade))


def write_revision_bodies(
    directory: Path | str, revision: str, upgrade: str, downgrade: str
) -> None:
    """Replace the bodies of ``revision``'s ``upgrade()`` and ``downgrade()`` (indented
    source), keeping its header (docstring, imports, identifiers)."""
    path = revision_file(directory, revision)
    text = path.read_text(encoding="utf-8")
    header = text[: text.index("def upgrade()")]
    path.write_text(
        f"{header}def upgrade() -> None:\n{upgrade}\n\n\ndef downgrade() -> None:\n{downgrade}\n",
        encoding="utf-8",
    )
