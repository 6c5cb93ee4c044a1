"""Helpers shared by the plugin's tests."""

from __future__ import annotations

from pathlib import Path


def revision_file(directory: Path, revision: str) -> Path:
    """The file of ``revision`` in ``directory/versions``."""
    [path] = (directory / "versions").glob(f"{revision}_*.py")
    return path


def write_revision(
    directory: Path, revision: str, upgrade: list[str], downgrade: list[str]
) -> None:
    """Make ``revision`` run the SQL statements ``upgrade`` / ``downgrade`` with op.execute."""

    def body(statements: list[str]) -> str:
        lines = [f"    op.execute(sa.text({s!r}))" for s in statements]
        return "\n".join(lines) or "    pass"

    write_revision_bodies(directory, revision, body(upgrade), body(downgrade))


def write_revision_bodies(directory: Path, revision: str, upgrade: str, downgrade: str) -> None:
    """Replace the bodies of ``revision``'s upgrade() and downgrade() (indented source)."""
    path = revision_file(directory, revision)
    text = path.read_text()
    header = text[: text.index("def upgrade()")]
    path.write_text(
        f"{header}def upgrade() -> None:\n{upgrade}\n\n\ndef downgrade() -> None:\n{downgrade}\n"
    )


def table_revision(directory: Path, table: str) -> str:
    """A new revision of ``directory`` that creates ``table`` (and drops it going down)."""
    from pydapter_migrations_alembic import AlembicAdapter

    rev = AlembicAdapter.create_migration(f"create {table}", False, directory=directory)
    write_revision(directory, rev, [f"CREATE TABLE {table} (id integer)"], [f"DROP TABLE {table}"])
    return rev
