"""A hook plugin implementing a hook that does not exist (a typo)."""

from pydapter_migrations import hookimpl


@hookimpl
def after_revisoin(event: object) -> None:
    pass
