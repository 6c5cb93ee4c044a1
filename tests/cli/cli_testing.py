"""Helpers of the CLI tests: run the installed ``pydapter-migrate``, fake installed plugins.

Throwaway distributions (a ``.dist-info`` folder next to plain modules, put on
``PYTHONPATH``) give the subprocess extra entry points: a small reference adapter, and
broken plugins for the failure listings.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return (
            f"pydapter-migrate {' '.join(self.args)} -> {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


Run = Callable[..., Result]


def executable() -> str:
    # The script next to this interpreter: pyenv shims would re-resolve it (slowly).
    beside = Path(sys.executable).parent / "pydapter-migrate"
    found = str(beside) if beside.exists() else shutil.which("pydapter-migrate")
    if found is None:
        pytest.fail("pydapter-migrate is not installed: pip install -e /work/main", pytrace=False)
    return found


def make_site(
    root: Path,
    distribution: str,
    modules: Iterable[str],
    entry_points: Mapping[str, str],
    version: str = "1.2.3",
) -> Path:
    """A folder holding ``modules`` (from ``support/``) and an installed-distribution record."""
    root.mkdir(parents=True, exist_ok=True)
    for module in modules:
        shutil.copy(SUPPORT / f"{module}.py", root / f"{module}.py")
    info = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[pydapter_migrations]\n{lines}")
    return root


def base_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PYTHONPATH"))}
    env.update(COLUMNS="200", NO_COLOR="1")
    env.update(extra)
    return env
