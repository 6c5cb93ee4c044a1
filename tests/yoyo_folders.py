"""A plain yoyo folder for the core's tests of the history table and its checks."""

from __future__ import annotations

from pathlib import Path


def yoyo_folder(root: Path, count: int) -> Path:
    """``root/migrations``, a plain yoyo folder of ``count`` revisions ``0001``... chained
    by ``-- depends:``, each creating ``t<n>`` (and its rollback dropping it)."""
    folder = root / "migrations"
    folder.mkdir(exist_ok=True)
    for n in range(1, count + 1):
        depends = f"-- depends: {n - 1:04d}\n" if n > 1 else ""
        (folder / f"{n:04d}.sql").write_text(
            f"-- revision {n}\n{depends}CREATE TABLE t{n} (id integer);\n"
        )
        (folder / f"{n:04d}.rollback.sql").write_text(f"DROP TABLE t{n};\n")
    return folder
