"""The command line every question script takes: ``--sizes``, ``--repeat``,
``--backends``, ``--only``, ``--sqlite-dir`` and ``--json``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import names
from databases import BACKENDS, DEFAULT_BACKENDS
from timing import compile_project


def parser(description: str, sizes: str, repeat: int) -> argparse.ArgumentParser:
    """The flags every question script takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--sizes", default=sizes, help=f"revision counts (default {sizes})")
    p.add_argument("--repeat", type=int, default=repeat, help=f"repetitions (default {repeat})")
    p.add_argument(
        "--backends",
        default=",".join(DEFAULT_BACKENDS),
        help=f"some of {','.join(BACKENDS)} (default {','.join(DEFAULT_BACKENDS)})",
    )
    p.add_argument("--json", type=Path, default=None, help="write the results here too")
    p.add_argument(
        "--only",
        default="",
        help="contenders to run, comma-separated (default all): 'raw alembic,alembic adapter'",
    )
    p.add_argument(
        "--sqlite-dir",
        type=Path,
        default=default_sqlite_dir(),
        help="where the SQLite files live (default: tmpfs /dev/shm when present, so that "
        "the disk's fsync latency, 20-30 ms on this shared VM, does not drown the work "
        "being compared; pass a disk directory to include it)",
    )
    return p


def default_sqlite_dir() -> Path | None:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def sizes_of(args: argparse.Namespace) -> list[int]:
    return [int(s) for s in str(args.sizes).split(",") if s.strip()]


def backends_of(args: argparse.Namespace) -> list[str]:
    chosen = [b.strip() for b in str(args.backends).split(",") if b.strip()]
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return chosen


def choose(args: argparse.Namespace) -> None:
    """Apply ``--only``, and compile this project's modules first."""
    names.choose(str(args.only))
    compile_project()
