"""The adapter class the settings name, and calling its API whether it is sync or async."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["adapter_for", "call"]


def adapter_for(settings: Settings) -> type[Any]:
    """The class of the configured backend (the registry is imported only now)."""
    from ..registry import get_adapter

    return get_adapter(settings.backend)


def call(adapter: type[Any], method: str, *args: Any, **kwargs: Any) -> Any:
    """Call one of the adapter's API methods; async adapters run on a fresh loop."""
    func = getattr(adapter, method)
    if getattr(adapter, "is_async", False):
        from ..bridge import run_async

        return run_async(lambda: func(*args, **kwargs))
    return func(*args, **kwargs)
