"""Settings of the ``pydapter-migrate`` command: config file discovery and precedence.

The config lives in ``[tool.pydapter-migrations]`` of the nearest ``pyproject.toml``, or
at the top level of a standalone ``pydapter-migrations.toml`` (searched upward from the
working directory; in one folder the standalone file wins). Keys: ``backend``,
``directory``, ``url``, and one table per named environment under ``envs``.

Precedence, highest first: command-line flags, the environment chosen with ``-e``, the
top-level table, then the ``DATABASE_URL`` environment variable (for the URL only).
Values may hold ``${VAR}`` (or ``${VAR:-default}``) references to environment variables,
expanded only for the values actually used; ``$$`` is a literal ``$``. Relative paths
written in a config file (``directory``, a SQLite database file) are relative to that
file's folder; paths given on the command line or in ``DATABASE_URL`` are relative to the
working directory.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .urls import DatabaseURL, InvalidURLError

__all__ = [
    "CONFIG_FILE_NAME",
    "DEFAULT_BACKEND",
    "DEFAULT_DIRECTORY",
    "ConfigError",
    "ConfigFile",
    "Settings",
    "expand_variables",
    "find_config_file",
    "load_config_file",
    "resolve_settings",
]

CONFIG_FILE_NAME = "pydapter-migrations.toml"
PYPROJECT_TABLE = "pydapter-migrations"
DEFAULT_BACKEND = "alembic"
DEFAULT_DIRECTORY = "migrations"
KEYS = ("backend", "directory", "url")

_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


class ConfigError(ValueError):
    """The configuration is wrong or incomplete; the message says where and how to fix it."""


@dataclass(frozen=True)
class ConfigFile:
    """One config file's ``[tool.pydapter-migrations]`` content, validated."""

    path: Path
    values: Mapping[str, str]
    envs: Mapping[str, Mapping[str, str]]

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def label(self) -> str:
        """Where the settings live, for messages."""
        if self.path.name == "pyproject.toml":
            return f"[tool.{PYPROJECT_TABLE}] in {self.path}"
        return str(self.path)


@dataclass(frozen=True)
class Settings:
    """What a command runs with. ``sources`` says where each value came from."""

    backend: str
    directory: Path
    url: str | None
    env: str | None = None
    config_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    #: Values of ``${VAR}`` references that went into the URL where a secret goes (its
    #: password, a secret query parameter): masked in all output.
    url_secrets: tuple[str, ...] = ()


def find_config_file(start: Path) -> Path | None:
    """The nearest config file at or above ``start``.

    A ``pyproject.toml`` without a ``[tool.pydapter-migrations]`` table is skipped.
    """
    import tomllib

    for folder in (start, *start.parents):
        standalone = folder / CONFIG_FILE_NAME
        if standalone.is_file():
            return standalone
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                # A broken pyproject that does not mention us is somebody else's problem.
                if f"tool.{PYPROJECT_TABLE}" in _read_quietly(pyproject):
                    return pyproject
                continue
            if PYPROJECT_TABLE in data.get("tool", {}):
                return pyproject
    return None


def _read_quietly(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def load_config_file(path: Path) -> ConfigFile:
    """Read and validate ``path`` (a ``pyproject.toml`` or a standalone config file)."""
    import tomllib

    path = path.absolute()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get(PYPROJECT_TABLE, {})
        where = f"[tool.{PYPROJECT_TABLE}] in {path}"
    else:
        table, where = data, str(path)
    return parse_config(table, path=path, where=where)


def parse_config(table: Any, *, path: Path, where: str | None = None) -> ConfigFile:
    """Validate the content of the config table found in ``path``."""
    where = where or str(path)
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    values = _check_values(table, where, allow_envs=True)
    raw_envs = table.get("envs", {})
    if not isinstance(raw_envs, dict):
        raise ConfigError(f"{where}: envs must be a table of tables, e.g. [...envs.prod]")
    envs: dict[str, dict[str, str]] = {}
    for name, env_table in raw_envs.items():
        if not isinstance(env_table, dict):
            raise ConfigError(f"{where}: envs.{name} must be a table")
        envs[name] = _check_values(env_table, f"{where}, envs.{name}", allow_envs=False)
    return ConfigFile(path=path, values=values, envs=envs)


def _check_values(table: dict[str, Any], where: str, *, allow_envs: bool) -> dict[str, str]:
    allowed = (*KEYS, "envs") if allow_envs else KEYS
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)} (known keys: {', '.join(allowed)})"
        )
    values: dict[str, str] = {}
    for key in KEYS:
        if key not in table:
            continue
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {key} must be a non-empty string")
        values[key] = value
    return values


def expand_variables(text: str, environ: Mapping[str, str], *, where: str) -> str:
    """Replace ``${VAR}`` / ``${VAR:-default}`` with values from ``environ``; ``$$`` -> ``$``.

    An unset variable without a default raises :class:`ConfigError`.
    """

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            return "$"
        value = environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        raise ConfigError(
            f"{where} refers to ${{{name}}}, which is not set or empty; "
            f"export {name} (or pass the value as a command-line option)"
        )

    return _VARIABLE.sub(substitute, text)


# The value of a secret query parameter (the names urls.py masks) starts here.
_SECRET_SLOT = re.compile(
    r"[?&][^=&]*(?:pass|pwd|secret|token|credential|api_?key)[^=&]*=$", re.IGNORECASE
)


def url_variable_secrets(template: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The values of the ``${VAR}`` references of a URL ``template`` that sit where a
    secret goes: in the password of its user part (before its last ``@``), or as the value
    of a secret query parameter (``?password=${PW}``). A value is inserted as it is (not
    percent-encoded), so an ``@`` in it makes the URL ambiguous, which the URL parser
    refuses; these values are masked in every output all the same."""
    found: list[str] = []
    userinfo_end = template.rfind("@", 0, _authority_end(template))
    for match in _VARIABLE.finditer(template):
        name = match.group(1)
        if name is None:
            continue
        value = environ.get(name) or match.group(2) or ""
        before = template[: match.start()]
        user_part = before.partition("://")[2] if match.start() < userinfo_end else ""
        in_password = ":" in user_part
        if value and (in_password or _SECRET_SLOT.search(before)):
            found.append(value)
    return tuple(found)


def _authority_end(template: str) -> int:
    """Where the template's authority ends: its first ``/``, ``?`` or ``#`` after ``://``
    that follows no ``${`` left open (a reference's default may hold them)."""
    start = template.find("://")
    if start < 0:
        return 0
    text = _VARIABLE.sub(lambda m: "x" * len(m.group(0)), template)
    ends = [i for i in (text.find(c, start + 3) for c in "/?#") if i >= 0]
    return min(ends, default=len(template))


def resolve_settings(
    config: ConfigFile | None,
    *,
    backend: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    url: str | None = None,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Merge flags, the chosen environment, the config table and ``DATABASE_URL``.

    The keyword arguments are the command-line flags (``None`` when not given).
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    layers: list[tuple[str, Mapping[str, str]]] = []
    if env is not None:
        if config is None:
            raise ConfigError(
                f"no config file found, so there is no environment {env!r}; add "
                f"[tool.{PYPROJECT_TABLE}.envs.{env}] to pyproject.toml or create "
                f"{CONFIG_FILE_NAME}"
            )
        if env not in config.envs:
            known = ", ".join(sorted(config.envs)) or "none"
            raise ConfigError(
                f"unknown environment {env!r} in {config.label} (known environments: {known})"
            )
        layers.append((f"env {env!r} of {config.label}", config.envs[env]))
    if config is not None:
        layers.append((config.label, config.values))

    flags = {"backend": backend, "directory": directory, "url": url}
    chosen: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for key in KEYS:
        flag = flags[key]
        if flag is not None and str(flag) != "":
            chosen[key], sources[key] = str(flag), "command line"
            continue
        for label, values in layers:
            if key in values:
                assert config is not None
                text = expand_variables(values[key], environ, where=f"{label}: {key}")
                chosen[key], sources[key] = _relative_to(config, key, text), label
                break
    url_secrets: tuple[str, ...] = ()
    if "url" in sources and sources["url"] != "command line":
        for label, values in layers:
            if label == sources["url"]:
                url_secrets = url_variable_secrets(values["url"], environ)
    if chosen.get("url") is None and environ.get("DATABASE_URL"):
        chosen["url"], sources["url"] = environ["DATABASE_URL"], "DATABASE_URL"
    if chosen.get("backend") is None:
        chosen["backend"], sources["backend"] = DEFAULT_BACKEND, "default"
    if chosen.get("directory") is None:
        base = config.folder if config is not None else cwd
        chosen["directory"] = str(base / DEFAULT_DIRECTORY)
        sources["directory"] = "default"

    backend_key = chosen["backend"]
    directory_text = chosen["directory"]
    assert backend_key is not None and directory_text is not None
    return Settings(
        backend=backend_key.strip(),
        directory=Path(directory_text),
        url=chosen.get("url"),
        env=env,
        config_file=config.path if config is not None else None,
        sources=sources,
        url_secrets=url_secrets,
    )


def _relative_to(config: ConfigFile, key: str, value: str) -> str:
    """Anchor a relative path written in ``config`` at the config file's folder."""
    if key == "directory":
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else config.folder / path)
    if key == "url":
        return _anchor_sqlite_url(value, config.folder)
    return value


def _anchor_sqlite_url(value: str, folder: Path) -> str:
    try:
        parsed = DatabaseURL.parse(value)
    except InvalidURLError:
        return value  # the adapter reports a bad URL with its own error
    if parsed.backend != "sqlite":
        return value
    database = parsed.sqlite_path
    if database is None or database.is_absolute() or str(database).startswith("file:"):
        return value
    return dataclasses.replace(parsed, database=str(folder / database)).render(hide_password=False)
