"""A reader that goes away (``pydapter-migrate upgrade | head -1``) never stops a run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pydapter_migrations_yoyo import YoyoAdapter


def _folder(root: Path, count: int) -> Path:
    folder = root / "migrations"
    folder.mkdir()
    for n in range(1, count + 1):
        depends = f"-- depends: {n - 1:04d}\n" if n > 1 else ""
        (folder / f"{n:04d}.sql").write_text(f"{depends}CREATE TABLE t{n} (id integer);\n")
        (folder / f"{n:04d}.rollback.sql").write_text(f"DROP TABLE t{n};\n")
    return folder


def _with_one_line_read(args: list[str]) -> tuple[int, str, str]:
    """Run the command, read one line of its output, close the pipe, let it finish."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pydapter_migrations", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    code = proc.wait(timeout=120)
    return code, first, proc.stderr.read()


def test_upgrade_and_reads_finish_when_the_reader_goes_away(
    tmp_path: Path, sqlite_url: str
) -> None:
    folder = _folder(tmp_path, 40)
    common = ["-b", "yoyo", "-d", str(folder), "--url", sqlite_url]
    code, first, errors = _with_one_line_read([*common, "upgrade"])
    assert (code, errors) == (0, "") and first.startswith("applied 0001")
    current = YoyoAdapter.get_current_revision(directory=folder, connection_string=sqlite_url)
    assert current == "0040"  # every revision, not the first alone
    for command in (["history"], ["status", "--json"], ["backends"]):
        code, first, errors = _with_one_line_read([*common, *command])
        assert (code, errors) == (0, "") and first, command
    code, _, errors = _with_one_line_read([*common, "downgrade", "base"])
    assert (code, errors) == (0, "")
    assert YoyoAdapter.get_current_revision(directory=folder, connection_string=sqlite_url) is None
