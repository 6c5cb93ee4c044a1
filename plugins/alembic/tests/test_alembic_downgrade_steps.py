"""The adapter's downgrade skips Alembic's per-revision walk of the history where the
answer is known (one head, one down revision); on every other shape of graph it must
leave the version table exactly as plain Alembic does."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from pydapter_migrations_alembic import AlembicAdapter

from pydapter_migrations.errors import MigrationError
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

# revision -> (down revision(s), depends_on)
GRAPH: dict[str, tuple[str | tuple[str, ...] | None, str | None]] = {
    "a0": (None, None),
    "b1": ("a0", None),
    "c1": ("a0", None),
    "d2": (("b1", "c1"), None),  # a merge
    "e3": ("d2", None),
    "r0": (None, None),  # a second base
    "r1": ("r0", "b1"),  # depends on the other branch
}


def _write_graph(directory: Path) -> None:
    AlembicAdapter.init_migrations(directory)
    for revision, (down, depends_on) in GRAPH.items():
        (directory / "versions" / f"{revision}_t.py").write_text(
            f'"""{revision}"""\nfrom alembic import op\n\n'
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            f"branch_labels = None\ndepends_on = {depends_on!r}\n\n\n"
            f"def upgrade():\n    op.execute('CREATE TABLE t_{revision} (id integer)')\n\n\n"
            f"def downgrade():\n    op.execute('DROP TABLE t_{revision}')\n"
        )


def _state(db: Path) -> tuple[list[str], list[str]]:
    kit = KitDatabase(DatabaseURL.parse(f"sqlite:///{db}"))
    versions = sorted(r[0] for r in kit.query("SELECT version_num FROM alembic_version"))
    tables = sorted(t for t in kit.tables() if t.startswith("t_"))
    return versions, tables


@pytest.mark.parametrize(
    "targets",
    [
        ["e3", "d2", "b1", "a0", "base"],
        ["d2", "c1", "base"],
        ["r0", "a0", "base"],
        ["-1", "-1", "base"],
        ["b1", "r0@base", "base"],
    ],
)
def test_downgrades_leave_the_same_versions_as_plain_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, targets: list[str]
) -> None:
    directory = tmp_path / "migrations"
    _write_graph(directory)
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    config = Config(str(directory / "alembic.ini"))
    # The generated env.py reads DATABASE_URL when run by plain Alembic.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{theirs}")

    AlembicAdapter.upgrade("heads", directory=directory, connection_string=f"sqlite:///{ours}")
    command.upgrade(config, "heads")
    assert _state(ours) == _state(theirs)
    assert _state(ours)[0] == ["e3", "r1"]

    for target in targets:
        alembic_error: Exception | None = None
        try:
            command.downgrade(config, target)
        except Exception as error:
            alembic_error = error
        if alembic_error is None:
            AlembicAdapter.downgrade(
                target, directory=directory, connection_string=f"sqlite:///{ours}"
            )
        else:
            with pytest.raises(MigrationError):
                AlembicAdapter.downgrade(
                    target, directory=directory, connection_string=f"sqlite:///{ours}"
                )
        assert _state(ours) == _state(theirs), f"after downgrade {target}"
    assert _state(ours) == ([], [])
