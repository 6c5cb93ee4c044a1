"""What a migration directory's ``env.py`` calls: the plugin's stable public API for it.

The ``env.py`` that ``init_migrations`` writes is::

    from alembic import context
    from pydapter_migrations_alembic.env import is_managed, run_migrations

    config = context.config
    if config.config_file_name is not None and not is_managed(config):
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    run_migrations(context)

These two names and their signatures are kept stable across releases, since every
generated directory imports them:

``run_migrations(context, target_metadata=None) -> None``
    Run the current Alembic command online or offline: through pydapter-migrations, on the
    connection and with the options it hands over in ``context.config.attributes``; under
    the plain ``alembic`` command, on the URL in ``DATABASE_URL``. ``target_metadata``
    (a ``MetaData`` or a list of them) overrides the models recorded by
    ``init_migrations`` for autogenerate.

``is_managed(config) -> bool``
    Whether pydapter-migrations (rather than the ``alembic`` command) runs this
    environment; an ``env.py`` leaves logging alone then.
"""

from __future__ import annotations

from ._environment import is_managed, run_migrations

__all__ = ["is_managed", "run_migrations"]
