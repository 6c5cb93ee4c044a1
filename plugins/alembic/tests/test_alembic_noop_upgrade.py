"""The no-op upgrade (every deploy's case) answers without importing Alembic, and never
from a graph cache that cannot prove itself fresh."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic_helpers import table_revision
from pydapter_migrations_alembic import AlembicAdapter

from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

_NOOP_UPGRADE = """
import json, sys
from pydapter_migrations_alembic import AlembicAdapter
AlembicAdapter.upgrade("head", directory=sys.argv[1], connection_string=sys.argv[2])
AlembicAdapter.get_current_revision(directory=sys.argv[1], connection_string=sys.argv[2])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "sqlalchemy"))))
"""


def _tables(url: str) -> set[str]:
    return KitDatabase(DatabaseURL.parse(url)).tables()


def test_upgrade_with_nothing_pending_imports_neither_alembic_nor_sqlalchemy(
    tmp_path: Path, sqlite_url: str
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    table_revision(directory, "a")
    table_revision(directory, "b")
    AlembicAdapter.upgrade("head", directory=directory, connection_string=sqlite_url)
    # Builds the graph cache (as any call through Alembic does).
    AlembicAdapter.get_migration_history(directory=directory)
    out = subprocess.run(
        [sys.executable, "-c", _NOOP_UPGRADE, str(directory), sqlite_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == []


def test_a_new_revision_is_applied_even_right_after_a_noop_upgrade(
    tmp_path: Path, sqlite_url: str
) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    table_revision(directory, "a")
    AlembicAdapter.upgrade("head", directory=directory, connection_string=sqlite_url)
    AlembicAdapter.upgrade("head", directory=directory, connection_string=sqlite_url)
    # Within the clock's granularity of the cache: the new file must still be seen.
    second = table_revision(directory, "b")
    AlembicAdapter.upgrade("head", directory=directory, connection_string=sqlite_url)
    assert {"a", "b"} <= _tables(sqlite_url)
    current = AlembicAdapter.get_current_revision(directory=directory, connection_string=sqlite_url)
    assert current == second


def test_a_database_off_the_tip_is_upgraded(tmp_path: Path, sqlite_url: str) -> None:
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    first = table_revision(directory, "a")
    table_revision(directory, "b")
    AlembicAdapter.upgrade(first, directory=directory, connection_string=sqlite_url)
    AlembicAdapter.get_migration_history(directory=directory)
    assert "b" not in _tables(sqlite_url)
    AlembicAdapter.upgrade("head", directory=directory, connection_string=sqlite_url)
    assert {"a", "b"} <= _tables(sqlite_url)


def test_revisions_outside_versions_are_never_answered_from_the_cache(
    tmp_path: Path, sqlite_url: str
) -> None:
    # The cache fingerprints versions/ only: with version_locations it cannot prove itself.
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    first = table_revision(directory, "a")
    ini = directory / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "[alembic]\n", "[alembic]\nversion_locations = %(here)s/versions:%(here)s/extra\n"
        )
    )
    (directory / "extra").mkdir()
    AlembicAdapter.upgrade("head", directory=directory, connection_string=sqlite_url)
    AlembicAdapter.get_migration_history(directory=directory)
    (directory / "extra" / "bbbb_create_b.py").write_text(
        f'"""create b"""\nfrom alembic import op\n\nrevision = "bbbb"\n'
        f"down_revision = {first!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        'def upgrade() -> None:\n    op.execute("CREATE TABLE b (id integer)")\n\n\n'
        'def downgrade() -> None:\n    op.execute("DROP TABLE b")\n'
    )
    history = AlembicAdapter.get_migration_history(directory=directory)
    assert [h["revision"] for h in history] == [first, "bbbb"]
    AlembicAdapter.upgrade("head", directory=directory, connection_string=sqlite_url)
    assert "b" in _tables(sqlite_url)
