"""Runs one adapter call in a separate process, for the kit's multi-process tests.

``python -m pydapter_migrations.testing._worker``, given in the environment variable
``PYDAPTER_KIT_WORKER`` (not on the command line, which ``ps`` shows to every user: its
URL may hold a password) a JSON object with keys ``adapter``
(``module:qualname``), ``method``, ``args``, ``kwargs`` and optionally ``hold``: a
directory in which the worker, after the first revision committed, creates ``held`` and
waits until ``release`` appears. Exit 0 on success, 3 on a MigrationError (its type and
message on stderr), 4 on anything else.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

from .. import MigrationError, hookimpl
from ..events import MigrationEvent


class _Hold:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.done = False

    @hookimpl
    def after_revision(self, event: MigrationEvent) -> None:
        if self.done:
            return
        self.done = True
        (self.directory / "held").touch()
        deadline = time.monotonic() + 120
        while not (self.directory / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)


def main(spec: dict[str, Any]) -> int:
    module_name, _, qualname = spec["adapter"].partition(":")
    adapter: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        adapter = getattr(adapter, part)
    kwargs = dict(spec.get("kwargs", {}))
    if spec.get("hold"):
        kwargs["observers"] = [_Hold(Path(spec["hold"]))]
    try:
        result = getattr(adapter, spec["method"])(*spec.get("args", ()), **kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except MigrationError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 4
    print(json.dumps(result))
    return 0


async def _await(awaitable: Any) -> Any:
    return await awaitable


#: The environment variable holding the call.
SPEC_VARIABLE = "PYDAPTER_KIT_WORKER"

if __name__ == "__main__":
    import os

    sys.exit(main(json.loads(os.environ.pop(SPEC_VARIABLE))))
