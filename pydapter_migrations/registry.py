"""Finds adapters by ``migration_key`` through entry points, and runs the pluggy hooks.

Entry point group ``pydapter_migrations``:

* ``key = "pkg.module:AdapterClass"`` registers an adapter under ``key``; the module is
  imported only when that key is asked for.
* ``name = "pkg.hooks"`` (a module, no attribute) is a pluggy plugin implementing the
  hooks of :mod:`pydapter_migrations.hookspecs`; it is loaded with the registry.

A user can block hook plugins by name: ``PYDAPTER_MIGRATIONS_BLOCK_PLUGINS=acme_events,other``
in the environment, or :meth:`Registry.block_plugin` (pluggy's ``set_blocked``).
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

import pluggy

from . import hookspecs
from .errors import AdapterConflictError, AdapterLoadError, AdapterNotFoundError

__all__ = [
    "ENTRY_POINT_GROUP",
    "AdapterInfo",
    "Registry",
    "available_adapters",
    "block_plugin",
    "default_registry",
    "get_adapter",
    "register_adapter",
    "register_plugin",
    "unregister_plugin",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
#: Environment variable naming hook plugins (entry-point names) never to load.
BLOCK_VARIABLE = "PYDAPTER_MIGRATIONS_BLOCK_PLUGINS"


@dataclass(frozen=True)
class AdapterInfo:
    """What the registry knows about one key, before importing anything."""

    key: str
    target: str
    distribution: str | None
    version: str | None
    conflict: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginFailure:
    """A hook plugin or adapter that could not be loaded, and why."""

    name: str
    distribution: str | None
    reason: str


def _distribution(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = ep.dist
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _describe_dist(info: AdapterInfo) -> str:
    if info.distribution is None:
        return "an unknown distribution"
    return f"{info.distribution} {info.version}" if info.version else info.distribution


class Registry:
    """Adapters by key and the hook plugins; one per process is the default."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self._group = group
        self._lock = threading.RLock()
        self._manager: pluggy.PluginManager | None = None
        self._entry_points: list[EntryPoint] | None = None
        self._infos: dict[str, AdapterInfo] | None = None
        self._loaded: dict[str, type] = {}
        self._in_process: dict[str, type] = {}
        self._failures: list[PluginFailure] = []

    # -- discovery ---------------------------------------------------------

    def _group_entry_points(self) -> list[EntryPoint]:
        """The group's entry points, read once: scanning every installed distribution's
        metadata is most of what a quick command like ``backends`` costs."""
        if self._entry_points is None:
            self._entry_points = list(entry_points(group=self._group))
        return self._entry_points

    def _scan(self) -> dict[str, AdapterInfo]:
        """Read adapter entry points from metadata, importing nothing."""
        if self._infos is not None:
            return self._infos
        by_key: dict[str, dict[tuple[str | None, str], EntryPoint]] = defaultdict(dict)
        for ep in self._group_entry_points():
            if ep.attr:
                dist, _ = _distribution(ep)
                by_key[ep.name][(dist, ep.value)] = ep
        infos: dict[str, AdapterInfo] = {}
        for key, eps in sorted(by_key.items()):
            first = next(iter(eps.values()))
            dist, version = _distribution(first)
            others = tuple(
                f"{d or 'unknown distribution'} ({value})" for (d, value) in list(eps)[1:]
            )
            conflict = (f"{dist or 'unknown distribution'} ({first.value})", *others)
            infos[key] = AdapterInfo(
                key=key,
                target=first.value,
                distribution=dist,
                version=version,
                conflict=conflict if others else (),
            )
        self._infos = infos
        return infos

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The pluggy manager, with every installed hook plugin loaded."""
        return self._ensure_plugins()

    def _ensure_plugins(self) -> pluggy.PluginManager:
        with self._lock:
            if self._manager is None:
                manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
                manager.add_hookspecs(hookspecs)
                self._manager = manager
                for name in os.environ.get(BLOCK_VARIABLE, "").replace(",", " ").split():
                    manager.set_blocked(self._plugin_name(name))
                self._load_hook_plugins(manager)
            return self._manager

    def _plugin_name(self, entry_point_name: str) -> str:
        return f"{self._group}:{entry_point_name}"

    def block_plugin(self, name: str) -> None:
        """Unregister the hook plugin ``name`` (its entry-point name, or the name it was
        registered under) and never load it again in this registry."""
        manager = self._ensure_plugins()
        manager.set_blocked(self._plugin_name(name))
        manager.set_blocked(name)

    def _load_hook_plugins(self, manager: pluggy.PluginManager) -> None:
        for ep in self._group_entry_points():
            if ep.attr or manager.is_blocked(self._plugin_name(ep.name)):
                continue
            dist, _ = _distribution(ep)
            try:
                module = ep.load()
                manager.register(module, name=self._plugin_name(ep.name))
            except Exception as exc:
                self._failures.append(PluginFailure(ep.name, dist, _reason(exc)))
                continue
            try:
                manager.check_pending()
            except pluggy.PluginValidationError as exc:
                manager.unregister(module)
                self._failures.append(PluginFailure(ep.name, dist, _reason(exc)))
        for contributed in manager.hook.register_adapters():
            for cls in contributed or ():
                self.register(cls)

    # -- lookups -----------------------------------------------------------

    def available(self) -> list[str]:
        """Installed and in-process keys, sorted, importing no adapter code."""
        self._ensure_plugins()
        with self._lock:
            return sorted(set(self._scan()) | set(self._in_process))

    def infos(self) -> list[AdapterInfo]:
        """Entry-point metadata of every installed adapter key."""
        return list(self._scan().values())

    def failures(self) -> list[PluginFailure]:
        """Hook plugins that failed to load (adapters fail when their key is asked for)."""
        self._ensure_plugins()
        return list(self._failures)

    def get(self, key: str) -> type:
        """The adapter class registered under ``key``; load its entry point if needed."""
        self._ensure_plugins()
        with self._lock:
            if key in self._in_process:
                return self._in_process[key]
            if key in self._loaded:
                return self._loaded[key]
            info = self._scan().get(key)
            if info is None:
                installed = ", ".join(self.available()) or "none"
                raise AdapterNotFoundError(
                    f"no migration adapter with key {key!r}; installed keys: {installed}",
                    adapter=key,
                )
            if info.conflict:
                raise AdapterConflictError(
                    f"migration key {key!r} is claimed by several distributions: "
                    + ", ".join(info.conflict)
                    + "; uninstall all but one",
                    adapter=key,
                )
            cls = self._load(info)
            self._loaded[key] = cls
            return cls

    def _load(self, info: AdapterInfo) -> type:
        ep = EntryPoint(name=info.key, value=info.target, group=self._group)
        where = f"adapter {info.key!r} from {_describe_dist(info)} ({info.target})"
        try:
            cls = ep.load()
        except Exception as exc:
            raise AdapterLoadError(
                f"{where} failed to import: {_reason(exc)}", adapter=info.key
            ) from exc
        declared = getattr(cls, "migration_key", None)
        if not isinstance(cls, type) or declared != info.key:
            raise AdapterLoadError(
                f"{where} is not an adapter class with migration_key {info.key!r} "
                f"(found {cls!r} with migration_key {declared!r})",
                adapter=info.key,
            )
        return cls

    # -- in-process registration ------------------------------------------

    def register(self, cls: type, *, replace: bool = False) -> type:
        """Register ``cls`` under its ``migration_key`` for this process."""
        key = getattr(cls, "migration_key", None)
        if not isinstance(cls, type) or not isinstance(key, str) or not key:
            raise TypeError(f"{cls!r} is not an adapter class with a string migration_key")
        with self._lock:
            existing = self._in_process.get(key) or self._loaded.get(key)
            installed = self._scan().get(key)
            owner = None
            if existing is not None and existing is not cls:
                owner = f"{existing.__module__}.{existing.__qualname__}"
            elif existing is None and installed is not None:
                owner = f"{installed.target} from {_describe_dist(installed)}"
            if owner is not None and not replace:
                raise AdapterConflictError(
                    f"migration key {key!r} is already taken by {owner}; "
                    "pass replace=True to override it in this process",
                    adapter=key,
                )
            self._in_process[key] = cls
        return cls

    def register_plugin(self, plugin: object, name: str | None = None) -> None:
        """Register a hook plugin (an object or module with ``@hookimpl`` functions).

        Hooks that do not exist (a misspelt name) are refused with pluggy's
        ``PluginValidationError``; adapters from its ``register_adapters`` are registered.
        """
        manager = self._ensure_plugins()
        manager.register(plugin, name=name)
        try:
            manager.check_pending()
        except pluggy.PluginValidationError:
            manager.unregister(plugin)
            raise
        for impl in manager.hook.register_adapters.get_hookimpls():
            if impl.plugin is plugin:
                contributed = cast("list[type]", impl.function() or [])
                for cls in contributed:
                    self.register(cls)

    def unregister_plugin(self, plugin: object) -> None:
        """Remove a plugin registered with :meth:`register_plugin`."""
        self.plugin_manager.unregister(plugin)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def isolated_registry() -> Registry:
    """A registry that loads no installed plugin: for runs the library makes on its own
    (``check`` replaying revisions on a scratch database), which are nobody's business."""
    return Registry(group="pydapter_migrations.isolated")


def available_adapters() -> list[str]:
    """The installed adapter keys, sorted, found without importing any adapter's code."""
    return default_registry().available()


def get_adapter(key: str) -> type[Any]:
    """The adapter class for ``key``; :class:`AdapterNotFoundError` lists the known keys."""
    return default_registry().get(key)


def register_adapter(cls: type[Any], *, replace: bool = False) -> type[Any]:
    """Register an adapter class in-process (tests, applications). Usable as a decorator."""
    return default_registry().register(cls, replace=replace)


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a hook plugin in-process."""
    default_registry().register_plugin(plugin, name)


def unregister_plugin(plugin: object) -> None:
    """Unregister a hook plugin registered with :func:`register_plugin`."""
    default_registry().unregister_plugin(plugin)


def block_plugin(name: str) -> None:
    """Unload the hook plugin ``name`` (its entry-point name) and never load it again."""
    default_registry().block_plugin(name)
