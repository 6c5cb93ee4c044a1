"""``pydapter-migrate``: the command line over any installed migration backend.

Exit status: 0 on success, 1 on a migration error (one line on stderr), 2 on a usage or
configuration error. ``--verbose`` adds the resolved settings and, on failure, the
traceback. Heavy imports (backends, rich) happen only in the commands that need them.

``options`` holds the global options and settings, ``failures`` the error handling,
``output`` what is drawn; the commands live in ``backends``, ``authoring`` (init, new),
``migrate`` (upgrade, downgrade, stamp, repair) and ``inspection`` (current, history,
status, verify, check);
``fleet`` runs upgrade, downgrade, current and status over many databases.
"""

from __future__ import annotations

import click

from .authoring import init, new
from .backends import backends
from .failures import Group
from .fleet import with_fleet
from .inspection import check, current, history, status, verify
from .migrate import downgrade, repair, stamp, upgrade
from .options import PROG_NAME, current_state, global_options

__all__ = ["cli", "main"]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="pydapter-migrations", prog_name=PROG_NAME)
def cli() -> None:
    """Run database schema migrations with any installed pydapter-migrations backend.

    Settings come from the command line, then the environment chosen with -e, then
    [tool.pydapter-migrations] in the nearest pyproject.toml (or pydapter-migrations.toml),
    then $DATABASE_URL.
    """
    current_state()


for _command in (
    backends,
    init,
    new,
    upgrade,
    downgrade,
    stamp,
    repair,
    current,
    history,
    status,
    verify,
    check,
):
    cli.add_command(_command)
# --targets FILE / -e 'GLOB', --parallel, --shard, --skip-locked: many databases at once.
for _command, _operation in (
    (upgrade, "upgrade"),
    (downgrade, "downgrade"),
    (current, "current"),
    (status, "status"),
):
    with_fleet(_command, _operation)


def main(args: list[str] | None = None, prog_name: str = PROG_NAME) -> None:
    """Entry point of ``pydapter-migrate`` and ``python -m pydapter_migrations``."""
    from .output import tolerate_closed_stdout

    tolerate_closed_stdout()
    cli.main(args=args, prog_name=prog_name)
