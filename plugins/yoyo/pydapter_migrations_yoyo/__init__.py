"""yoyo-migrations backend for pydapter-migrations: raw SQL revisions, keys ``yoyo`` and
``async_yoyo``.

>>> from pydapter_migrations_yoyo import YoyoAdapter
>>> YoyoAdapter.migration_key
'yoyo'
"""

from .adapter import AsyncYoyoAdapter, YoyoAdapter

__all__ = ["AsyncYoyoAdapter", "YoyoAdapter"]
