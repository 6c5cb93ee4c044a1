"""Recording a models module at init time, and finding its metadata in any later process."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydapter_migrations.backend import MigrationError

__all__ = [
    "ModelsRef",
    "ModelsScriptStopped",
    "find_metadata",
    "load_models",
    "models_ref",
    "refuse_while_loading_models",
]

# Set while a models file runs for its models (contextvars follow asyncio.to_thread).
_LOADING: ContextVar[bool] = ContextVar("pydapter_alembic_loading_models", default=False)


@dataclass(frozen=True)
class ModelsRef:
    """Where the models live: an import path, a source file, or both."""

    module: str | None = None
    file: str | None = None

    def __bool__(self) -> bool:
        return bool(self.module or self.file)

    def __str__(self) -> str:
        return self.module or self.file or "no models"


def models_ref(models_module: ModuleType | str) -> tuple[ModelsRef, ModuleType]:
    """The reference to record for ``models_module``, and the module itself.

    A script run as ``__main__`` is recorded by its file only: another process has a
    different ``__main__``.
    """
    if isinstance(models_module, str):
        name = models_module.strip()
        if not name:
            raise ValueError("models_module is an empty string")
        module = importlib.import_module(name)
    elif isinstance(models_module, ModuleType):
        module = models_module
    else:
        raise TypeError(
            f"models_module must be a module or a dotted import path, "
            f"not {type(models_module).__name__}"
        )
    source = getattr(module, "__file__", None)
    file = str(Path(source).resolve()) if source else None
    name = module.__name__
    if name == "__main__":
        if file is None:
            raise ValueError(
                "models_module is __main__ without a source file (an interactive session?); "
                "put the models in a module and pass its import path"
            )
        return ModelsRef(None, file), module
    return ModelsRef(name, file), module


def load_models(ref: ModelsRef) -> ModuleType:
    """Import the recorded models: the live module in this process when there is one,
    else by import path, else from the recorded file (the file wins when both exist and
    differ: it is what was passed to ``init_migrations``)."""
    file = ref.file if ref.file and Path(ref.file).is_file() else None
    if ref.module and ref.module in sys.modules:
        live = sys.modules[ref.module]
        if file is None or _same_file(getattr(live, "__file__", None), file):
            return live
    if file is not None:
        main = sys.modules.get("__main__")
        if main is not None and _same_file(getattr(main, "__file__", None), file):
            return main
        if ref.module and ref.module not in sys.modules:
            try:
                spec = importlib.util.find_spec(ref.module)
            except (ImportError, ValueError):
                spec = None
            if spec is not None and _same_file(spec.origin, file):
                return importlib.import_module(ref.module)
        return _load_file(Path(file))
    if ref.module:
        return importlib.import_module(ref.module)
    raise ModuleNotFoundError(f"cannot load the recorded models ({ref}): the file is gone")


def _same_file(a: str | None, b: str) -> bool:
    if not a:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise ModuleNotFoundError(f"the recorded models file {path} does not exist")
    digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:12]
    name = f"_pydapter_models_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"cannot load models from {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as the import system does (SQLAlchemy resolves
    # relationship() strings through sys.modules).
    sys.modules[name] = module
    token = _LOADING.set(True)
    try:
        spec.loader.exec_module(module)
    except (ModelsScriptStopped, MigrationError):
        # A script that passes ``sys.modules[__name__]`` runs again here, as a module.
        # Its first Alembic call stops it (see refuse_while_loading_models); the models
        # defined above that call are what we came for.
        try:
            find_metadata(module)
        except LookupError:
            sys.modules.pop(name, None)
            raise
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        _LOADING.reset(token)
    return module


class ModelsScriptStopped(BaseException):
    """Stops a models script, re-run for its models, at its first Alembic call.

    A ``BaseException``, so that the script's own ``except Exception`` does not go on.
    """


def refuse_while_loading_models() -> None:
    """Called first by every adapter step: a script being re-run only for its models
    must not migrate anything (its relative paths would not even mean the same here)."""
    if _LOADING.get():
        raise ModelsScriptStopped("a models script calls the adapter while being loaded")


def find_metadata(module: ModuleType) -> Any:
    """The SQLAlchemy ``MetaData`` of ``module``: a declarative ``Base`` (or any
    ``DeclarativeBase`` subclass) or a ``MetaData`` instance. Several distinct ones are
    returned as a list, which Alembic accepts as ``target_metadata``."""
    from sqlalchemy import MetaData

    found: list[MetaData] = []

    def add(candidate: object) -> None:
        if isinstance(candidate, MetaData) and not any(candidate is m for m in found):
            found.append(candidate)

    for name in ("target_metadata", "metadata", "Base"):
        value = getattr(module, name, None)
        add(getattr(value, "metadata", None) if isinstance(value, type) else value)
    for value in list(vars(module).values()):
        if isinstance(value, MetaData):
            add(value)
        elif (
            isinstance(value, type)
            and not value.__module__.startswith("sqlalchemy.")
            and hasattr(value, "registry")
        ):
            add(getattr(value, "metadata", None))
    if not found:
        raise LookupError(
            f"no SQLAlchemy metadata found in module {module.__name__!r}: it needs a "
            "declarative Base, a DeclarativeBase subclass or a MetaData instance"
        )
    return found[0] if len(found) == 1 else found
