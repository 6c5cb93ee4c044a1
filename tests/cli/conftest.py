"""Fixtures of the CLI tests: the installed ``pydapter-migrate`` run as a subprocess.

Throwaway distributions (a ``.dist-info`` folder next to plain modules, put on
``PYTHONPATH``) give the subprocess extra entry points: a small reference adapter, and
broken plugins for the failure listings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from cli_testing import Result, Run, base_environ, executable, make_site


@pytest.fixture(scope="session")
def ref_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference adapters (keys ``ref``, ``async_ref``, ``raw``) as distribution ``cli-ref``."""
    return make_site(
        tmp_path_factory.mktemp("ref-site"),
        "cli-ref",
        ["cli_ref_adapter"],
        {
            "ref": "cli_ref_adapter:RefAdapter",
            "async_ref": "cli_ref_adapter:AsyncRefAdapter",
            "raw": "cli_ref_adapter:RawAdapter",
        },
    )


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adapter whose import fails and a hook plugin with a misspelt hook."""
    return make_site(
        tmp_path_factory.mktemp("broken-site"),
        "cli-broken",
        ["cli_broken_adapter", "cli_broken_hooks"],
        {"broken": "cli_broken_adapter:BrokenAdapter", "typo_hooks": "cli_broken_hooks"},
        version="0.0.1",
    )


@pytest.fixture
def run(tmp_path: Path, ref_site: Path) -> Run:
    """``run(*args, cwd=tmp_path, env={...}, sites=[ref_site])`` runs the CLI, returns a Result."""
    program = executable()

    def runner(
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        sites: Iterable[Path] | None = None,
        module: bool = False,
        timeout: float = 120,
    ) -> Result:
        paths = [str(p) for p in (sites if sites is not None else [ref_site])]
        environ = base_environ(**dict(env or {}))
        if paths:
            environ["PYTHONPATH"] = os.pathsep.join(paths)
        command = (
            [sys.executable, "-m", "pydapter_migrations", *args] if module else [program, *args]
        )
        proc = subprocess.run(
            command,
            cwd=cwd or tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)

    return runner
