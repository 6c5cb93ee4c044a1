"""Quick commands stay quick: no backend library and no rich for --help and backends."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testing import base_environ, executable

HEAVY = ("alembic", "sqlalchemy", "yoyo", "rich")


def _imported(args: list[str], site: Path, cwd: Path) -> tuple[int, set[str]]:
    """Run the installed script under ``-X importtime``; return its exit code and modules."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", executable(), *args],
        cwd=cwd,
        env=base_environ(PYTHONPATH=str(site)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", proc.stderr, re.M))
    assert "click" in modules, proc.stderr[-2000:]  # the timing output was read
    return proc.returncode, modules


@pytest.mark.parametrize(
    "args",
    [["--help"], ["backends"], ["backends", "--json"], ["upgrade", "--help"], ["--version"]],
)
def test_quick_commands_import_no_backend_library(
    args: list[str], ref_site: Path, tmp_path: Path
) -> None:
    code, modules = _imported(args, ref_site, tmp_path)
    assert code == 0
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], f"{args} imported {heavy}"


def test_backends_loads_the_adapter_classes_but_not_their_engines(
    ref_site: Path, tmp_path: Path
) -> None:
    code, modules = _imported(["backends"], ref_site, tmp_path)
    assert code == 0
    # the shipped plugins' adapter modules were imported to read their capabilities
    from pydapter_migrations import available_adapters

    for key, module in (
        ("alembic", "pydapter_migrations_alembic"),
        ("yoyo", "pydapter_migrations_yoyo"),
    ):
        if key in available_adapters():
            assert f"{module}.adapter" in modules
    assert not any(m.split(".")[0] in HEAVY for m in modules)


def test_help_does_not_start_asyncio(ref_site: Path, tmp_path: Path) -> None:
    # asyncio is a large share of start-up; only async backends need it, when they run.
    code, modules = _imported(["--help"], ref_site, tmp_path)
    assert code == 0
    assert "asyncio" not in modules


def test_help_reads_no_settings_and_no_installed_metadata(ref_site: Path, tmp_path: Path) -> None:
    # Listing the commands needs click alone: settings (config, URLs) and the entry-point
    # scan (importlib.metadata, most of what `backends` costs) wait for the commands.
    code, modules = _imported(["--help"], ref_site, tmp_path)
    assert code == 0
    loaded = {
        "pydapter_migrations.config",
        "pydapter_migrations.urls",
        "pydapter_migrations.registry",
        "importlib.metadata",
    }
    assert loaded & modules == set()
