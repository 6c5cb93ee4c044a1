"""``backends``: the installed adapters and hook plugins, and what each can do."""

from __future__ import annotations

from typing import Any

import click

from ..errors import MigrationError
from .options import global_options, json_option

__all__ = ["backends"]


@click.command()
@json_option
@global_options
def backends(as_json: bool) -> None:
    """List installed backends, their distributions and capabilities."""
    from ..registry import default_registry
    from .output import echo_json, render_backends

    registry = default_registry()
    infos = {info.key: info for info in registry.infos()}
    rows: list[dict[str, Any]] = []
    for key in registry.available():
        info = infos.get(key)
        row: dict[str, Any] = {
            "kind": "adapter",
            "key": key,
            "distribution": info.distribution if info else None,
            "version": info.version if info else None,
            "async": None,
            "capabilities": [],
            "databases": [],
            "error": None,
        }
        try:
            adapter = registry.get(key)
        except MigrationError as error:
            row["error"] = str(error)
        else:
            row["async"] = bool(getattr(adapter, "is_async", False))
            row["capabilities"] = _capabilities(adapter)
            row["databases"] = sorted(getattr(adapter, "supported_databases", ()))
        rows.append(row)
    for failure in registry.failures():
        rows.append(
            {
                "kind": "plugin",
                "key": failure.name,
                "distribution": failure.distribution,
                "version": None,
                "async": None,
                "capabilities": [],
                "databases": [],
                "error": failure.reason,
            }
        )
    if as_json:
        echo_json(rows)
    else:
        render_backends(rows)


def _capabilities(adapter: type[Any]) -> list[str]:
    # BaseMigrationAdapter.capabilities() reads the flags; a class that only follows the
    # protocol has no such method, and is listed with no capabilities.
    capabilities = getattr(adapter, "capabilities", None)
    return sorted(capabilities()) if callable(capabilities) else []
