"""Alembic environment of this migration directory, written by pydapter-migrations.

Through pydapter-migrations, the database URL (and the recorded models, when
autogenerating) arrive at run time in ``config.attributes``. With the plain ``alembic``
command the URL comes from the ``DATABASE_URL`` environment variable, for example::

    DATABASE_URL=sqlite:///app.db alembic -c migrations/alembic.ini upgrade head

No URL, and so no password, is ever stored in this directory.
"""

from logging.config import fileConfig

from alembic import context
from pydapter_migrations_alembic.env import is_managed, run_migrations

config = context.config

# Logging setup belongs to the host application when pydapter-migrations runs us.
if config.config_file_name is not None and not is_managed(config):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Pass target_metadata=... here to compare other models than the recorded ones.
run_migrations(context)
