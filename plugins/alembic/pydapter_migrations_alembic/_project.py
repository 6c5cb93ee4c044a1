"""Where an Alembic project lives, whoever wrote it: its ini file, its script location
(the folder holding ``env.py``) and the folders its revisions live in.

``directory`` may be any of:

* a folder holding ``env.py`` (a script location), with or without an ``alembic.ini``
  beside it (this is what ``init_migrations`` writes, and how a project that ships its
  migrations, such as MLflow's, is best pointed at);
* a folder holding only an ``alembic.ini``, whose ``script_location`` names the folder;
* the path of an ini file anywhere, with its ``script_location`` written as an absolute
  path, as ``%(here)s/...``, as ``package:path``, or relative (to the working directory,
  as Alembic reads it, else to the ini's folder or one above it).

Nothing here imports Alembic: the layout check runs on every call, including the fast ones.
"""

from __future__ import annotations

import configparser
import functools
import importlib.util
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

__all__ = ["INI", "Project", "locate"]

INI = "alembic.ini"
SECTION = "alembic"
# What an env.py written by init_migrations imports (release 0.1 wrote the second).
_MANAGED_IMPORTS = ("pydapter_migrations_alembic.env ", "pydapter_migrations_alembic.environment ")


@dataclass(frozen=True)
class Project:
    """One Alembic project: ``script_location`` (absolute) and its ini file, if any."""

    script_location: Path
    ini: Path | None

    @cached_property
    def managed(self) -> bool:
        """Whether ``env.py`` is the one ``init_migrations`` writes (so its settings are
        known without running it)."""
        try:
            text = (self.script_location / "env.py").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return any(f"from {name}import" in text for name in _MANAGED_IMPORTS)

    @cached_property
    def asyncio_env(self) -> bool:
        """Whether a project's own ``env.py`` makes an asyncio engine from
        ``sqlalchemy.url`` (Alembic's ``async`` template), and so needs an async driver."""
        try:
            text = (self.script_location / "env.py").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return "async_engine_from_config" in text or "create_async_engine" in text

    @property
    def cache_dir(self) -> Path:
        """Where this plugin keeps what it learnt of the project (graph, env.py facts)."""
        return self.script_location / "__pycache__"

    def ini_option(self, name: str) -> str | None:
        """An option of the ini's ``[alembic]`` section, interpolated as Alembic does."""
        parser = _read_ini(self.ini)
        if parser is None:
            return None
        try:
            return parser.get(SECTION, name, fallback=None)
        except configparser.Error:
            return None

    def version_locations(self) -> list[Path]:
        """The folders the ini says revisions live in (``versions/`` by default)."""
        text = self.ini_option("version_locations")
        if not text:
            return [self.script_location / "versions"]
        separator = self.ini_option("path_separator") or self.ini_option("version_path_separator")
        if separator in (None, "", "space"):
            parts = text.replace(",", " ").split()
        else:
            parts = text.split(
                os.pathsep if separator == "os" else _SEPARATORS.get(separator, separator)
            )
        return [_resolve(part.strip(), self.ini) for part in parts if part.strip()]


_SEPARATORS = {"colon": ":", "semicolon": ";", "newline": "\n"}


def _read_ini(ini: Path | None) -> configparser.ConfigParser | None:
    """The ini parsed, once per process while the file stays as it is (a fleet reads the
    same ini for every database). Callers only read it."""
    if ini is None:
        return None
    try:
        stat = ini.stat()
    except OSError:
        return None
    return _parsed_ini(ini, (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino))


@functools.lru_cache(maxsize=32)
def _parsed_ini(ini: Path, stamp: tuple[int, ...]) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent.absolute())})
    try:
        with ini.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    return parser


def locate(path: Path) -> Project | None:
    """The Alembic project at ``path`` (see the module docstring), or ``None``."""
    if path.is_dir():
        if (path / "env.py").is_file():
            ini = path / INI
            return Project(path.absolute(), ini.absolute() if ini.is_file() else None)
        if (path / INI).is_file():
            return _from_ini(path / INI)
        return None
    if path.is_file() and path.suffix in (".ini", ".cfg", ".conf"):
        return _from_ini(path)
    return None


def _from_ini(ini: Path) -> Project | None:
    ini = ini.absolute()
    parser = _read_ini(ini)
    if parser is None or not parser.has_section(SECTION):
        return None
    try:
        value = parser.get(SECTION, "script_location", fallback="").strip()
    except configparser.Error:
        return None
    if not value:
        return None
    folder = _resolve(value, ini)
    if not (folder / "env.py").is_file():
        return None
    return Project(folder.absolute(), ini)


def _resolve(value: str, ini: Path | None) -> Path:
    """A path from an ini: absolute, ``package:path``, or relative to the working directory
    (Alembic's reading), else to the ini's folder or one of its parents (projects that ship
    an ini written to be run from their package's parent folder, such as MLflow's)."""
    if ":" in value and not os.path.isabs(value):
        # Alembic's package resource form: "package:folder:subfolder".
        package, *parts = value.split(":")
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    path = Path(value).expanduser()
    if path.is_absolute() or ini is None:
        return path
    if path.exists():
        return path.absolute()
    for folder in (ini.parent, *ini.parent.parents):
        if (folder / path).exists():
            return folder / path
    return path.absolute()
