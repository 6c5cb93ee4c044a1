"""The checksum cache never hides an edit: a file that keeps its size and mtime (``cp -p``,
``touch -r``, ``tar x``) is still read again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter

from pydapter_migrations import checksums


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYDAPTER_MIGRATIONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(checksums, "_RACY_NS", 0)  # cache even what was just written
    folder = tmp_path / "migrations"
    folder.mkdir()
    sql = folder / "0001.sql"
    sql.write_text("CREATE TABLE t1 (id integer);\n")
    (folder / "0001.rollback.sql").write_text("DROP TABLE t1;\n")
    kw = {"directory": folder, "connection_string": sqlite_url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.verify(**kw) == []  # and the checksums are now cached
    assert list((tmp_path / "cache").iterdir())

    before = sql.stat()
    sql.write_text("CREATE TABLE t2 (id integer);\n")  # the same size
    os.utime(sql, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime
    assert (sql.stat().st_size, sql.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert [problem["problem"] for problem in YoyoAdapter.verify(**kw)] == ["changed"]


def test_a_file_changed_within_the_clocks_resolution_is_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "0001.sql"
    path.write_text("SELECT 1;\n")
    assert checksums._racy(checksums._stamp(path))
