"""The name the ``env.py`` files written by release 0.1 import; :mod:`.env` is the stable one.

Kept so that directories initialised by that release keep working unchanged.
"""

from __future__ import annotations

from ._environment import is_managed, run_migrations

__all__ = ["is_managed", "run_migrations"]
