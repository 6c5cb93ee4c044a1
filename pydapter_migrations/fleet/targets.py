"""The targets of a fleet: where they come from and which share a runner takes.

* :class:`Target`: a name and a database URL (for a PostgreSQL tenant schema, a URL whose
  ``search_path`` names the schema; ``Target(name, url, schema=...)`` writes it).
* :func:`read_targets`: a targets file, one ``name URL`` per line, ``# comments``,
  ``${VAR}`` / ``${VAR:-default}`` taken from the environment, and an optional third field
  ``schema=NAME``. Relative SQLite paths are relative to the file's folder, as in a config
  file.
* :func:`targets_from_envs`: the named environments of the config file whose names match
  a glob (``tenant_*``).
* :func:`select_shard`: the stable share ``I/N`` of the targets (``I`` counts from 1, as
  ``CI_NODE_INDEX`` does), by a hash of each name, so every runner computes the same
  split whatever the order of its list.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from ..config import (
    ConfigError,
    ConfigFile,
    Settings,
    expand_variables,
    find_config_file,
    load_config_file,
    resolve_settings,
)
from ..urls import DatabaseURL, InvalidURLError

__all__ = [
    "EnvTargets",
    "Target",
    "TargetsError",
    "TargetsLike",
    "as_targets",
    "is_env_pattern",
    "parse_shard",
    "parse_targets",
    "read_targets",
    "select_shard",
    "shard_of",
    "targets_from_envs",
]


class TargetsError(ConfigError):
    """A targets file, an environment pattern or a shard is wrong; the message says where.
    (The command line exits 2 for it, as for any configuration error.)"""


class Target:
    """One database of a fleet: a ``name`` (unique in the fleet; it names the target in
    results, progress and shards) and its ``url``. ``schema`` (PostgreSQL) makes it one
    schema of that database: its ``search_path`` is set to that schema alone, where the
    backends keep its version table, and its lock is that schema's."""

    __slots__ = ("name", "url")

    name: str
    url: DatabaseURL

    def __init__(self, name: str, url: str | DatabaseURL, *, schema: str | None = None) -> None:
        if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
            raise ValueError(f"a target's name must be non-empty, without spaces: {name!r}")
        parsed = DatabaseURL.parse(url)
        if schema is not None:
            parsed = parsed.with_schema(schema)
        self.name = name
        self.url = parsed

    def __repr__(self) -> str:
        return f"Target({self.name!r}, {str(self.url)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target):
            return NotImplemented
        return self.name == other.name and self.url == other.url

    def __hash__(self) -> int:
        return hash((self.name, self.url.identity()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_target, (self.name, self.url))


def _rebuild_target(name: str, url: DatabaseURL) -> Target:
    return Target(name, url)


#: What the fleet functions take as targets: :class:`Target` objects, ``(name, url)``
#: pairs, a mapping of names to URLs, or bare URLs (each then named by its masked URL).
TargetsLike: TypeAlias = (
    Mapping[str, "str | DatabaseURL"] | Iterable["Target | tuple[str, str | DatabaseURL] | str"]
)


def as_targets(targets: TargetsLike) -> list[Target]:
    """``targets`` as a list of :class:`Target`, refusing two targets of one name or two
    names for one database (schema)."""
    if isinstance(targets, str | bytes | os.PathLike):
        raise TypeError(
            "targets must be a list of targets, not a string; read a targets file with "
            "pydapter_migrations.fleet.read_targets(path)"
        )
    items: Iterable[Any] = targets.items() if isinstance(targets, Mapping) else targets
    found: list[Target] = []
    for item in items:
        if isinstance(item, Target):
            found.append(item)
        elif isinstance(item, str | DatabaseURL):
            url = DatabaseURL.parse(item)
            found.append(Target(str(url).replace(" ", "%20"), url))
        elif isinstance(item, tuple) and len(item) == 2:
            found.append(Target(item[0], item[1]))
        else:
            raise TypeError(f"not a target: {item!r} (a Target, a (name, url) pair or a URL)")
    _check_unique(found)
    return found


def _check_unique(targets: list[Target]) -> None:
    names: set[str] = set()
    databases: dict[tuple[Any, ...], str] = {}
    for target in targets:
        if target.name in names:
            raise ValueError(f"two targets are named {target.name!r}")
        names.add(target.name)
        identity = target.url.identity()
        if identity in databases:
            raise ValueError(
                f"targets {databases[identity]!r} and {target.name!r} are the same database"
                + (f" (schema {target.url.schema})" if target.url.schema else "")
            )
        databases[identity] = target.name


# -- targets files -------------------------------------------------------------

_COMMENT = re.compile(r"(?:^|\s)#.*$")


def read_targets(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> list[Target]:
    """The targets listed in the file at ``path`` (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        why = error.strerror or error
        raise TargetsError(f"cannot read the targets file {path}: {why}") from None
    except UnicodeDecodeError:
        raise TargetsError(f"the targets file {path} is not UTF-8 text") from None
    return parse_targets(text, source=str(path), environ=environ, folder=path.absolute().parent)


def parse_targets(
    text: str,
    *,
    source: str = "targets",
    environ: Mapping[str, str] | None = None,
    folder: Path | None = None,
) -> list[Target]:
    """The targets in ``text``, a targets file's content (``source`` names it in errors;
    relative SQLite paths are anchored at ``folder`` when given). Errors name the line,
    never its text: it may hold a secret."""
    from ..config import _anchor_sqlite_url

    environ = os.environ if environ is None else environ
    found: list[Target] = []
    for number, raw in enumerate(text.splitlines(), 1):
        where = f"{source}, line {number}"
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) not in (2, 3):
            raise TargetsError(
                f"{where}: expected 'NAME URL' (and optionally 'schema=NAME'), found "
                f"{len(fields)} fields"
            )
        name, url_text = fields[0], _expand(fields[1], environ, where)
        schema = None
        if len(fields) == 3:
            key, sep, value = fields[2].partition("=")
            if key != "schema" or not sep or not value:
                raise TargetsError(f"{where}: the third field must be schema=NAME")
            schema = _expand(value, environ, where)
        if folder is not None:
            url_text = _anchor_sqlite_url(url_text, folder)
        try:
            found.append(Target(name, url_text, schema=schema))
        except (InvalidURLError, ValueError) as error:
            raise TargetsError(f"{where}: {_masked(error, url_text)}") from None
    try:
        _check_unique(found)
    except ValueError as error:
        raise TargetsError(f"{source}: {error}") from None
    return found


def _expand(text: str, environ: Mapping[str, str], where: str) -> str:
    try:
        return expand_variables(text, environ, where=where)
    except ConfigError as error:
        raise TargetsError(str(error)) from None


def _masked(error: Exception, url_text: str) -> str:
    from ..urls import mask_secrets, url_secrets

    return mask_secrets(str(error), url_secrets(url_text))


# -- named environments -----------------------------------------------------------

_GLOB = re.compile(r"[*?\[]")


def is_env_pattern(name: str | None) -> bool:
    """Whether an ``-e`` value is a glob over environment names rather than one name."""
    return bool(name) and _GLOB.search(str(name)) is not None


@dataclass(frozen=True)
class EnvTargets:
    """What an environment glob resolved to: the targets (named after their environments)
    and the backend and directory they share."""

    targets: list[Target]
    backend: str
    directory: Path
    config_file: Path


def targets_from_envs(
    pattern: str,
    *,
    config: ConfigFile | str | os.PathLike[str] | None = None,
    backend: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> EnvTargets:
    """The named environments whose names match ``pattern`` (``fnmatch``, case-sensitive)
    in ``config`` (a config file, its path, or by default the nearest one), each resolved
    as ``-e NAME`` would be: its ``url`` (required), with ``backend`` and ``directory`` from
    the arguments, the environment or the top-level table. They must share one backend
    and one directory: a fleet runs one migration directory."""
    if config is None:
        found = find_config_file(Path.cwd())
        if found is None:
            raise TargetsError(
                f"no config file found, so no environment matches {pattern!r}; add "
                "[tool.pydapter-migrations.envs.NAME] tables to pyproject.toml"
            )
        config = found
    if not isinstance(config, ConfigFile):
        config = load_config_file(Path(config))
    names = sorted(name for name in config.envs if fnmatch.fnmatchcase(name, pattern))
    if not names:
        known = ", ".join(sorted(config.envs)) or "none"
        raise TargetsError(
            f"no environment of {config.label} matches {pattern!r} (known environments: {known})"
        )
    targets: list[Target] = []
    chosen: list[Settings] = []
    for name in names:
        settings = resolve_settings(
            config, backend=backend, directory=directory, env=name, environ=environ
        )
        if settings.url is None or settings.sources.get("url") == "DATABASE_URL":
            raise TargetsError(f"environment {name!r} of {config.label} sets no url")
        try:
            targets.append(Target(name, settings.url))
        except (InvalidURLError, ValueError) as error:
            raise TargetsError(
                f"environment {name!r} of {config.label}: {_masked(error, settings.url)}"
            ) from None
        chosen.append(settings)
    for key, plural in (("backend", "backends"), ("directory", "directories")):
        values = {str(getattr(s, key)) for s in chosen}
        if len(values) > 1:
            raise TargetsError(
                f"the environments matching {pattern!r} name different {plural} "
                f"({', '.join(sorted(values))}); a fleet runs one backend and one directory: "
                f"pass --{key}, or narrow the pattern"
            )
    try:
        _check_unique(targets)
    except ValueError as error:
        raise TargetsError(f"{config.label}: {error}") from None
    return EnvTargets(targets, chosen[0].backend, chosen[0].directory, config.path)


# -- shards ----------------------------------------------------------------------


def parse_shard(text: str | tuple[int, int]) -> tuple[int, int]:
    """``"I/N"`` (or ``(I, N)``) as ``(I, N)``, checked: ``1 <= I <= N``."""
    if isinstance(text, tuple):
        index, count = text
    else:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if match is None:
            raise TargetsError(
                f"a shard is written I/N, e.g. 2/4 (the second of four), not {text!r}"
            )
        index, count = int(match[1]), int(match[2])
    if not (isinstance(index, int) and isinstance(count, int)) or not 1 <= index <= count:
        raise TargetsError(
            f"shard {index}/{count}: I counts from 1 to N (as CI_NODE_INDEX does; "
            "Kubernetes' JOB_COMPLETION_INDEX counts from 0, so add 1)"
        )
    return index, count


def shard_of(name: str, count: int) -> int:
    """Which of ``count`` shards (1-based) the target ``name`` belongs to: a hash of the
    name, the same on every machine and in every run."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(targets: Iterable[Target], shard: str | tuple[int, int]) -> list[Target]:
    """The targets of ``shard`` (``"I/N"``), in their given order."""
    index, count = parse_shard(shard)
    return [target for target in targets if shard_of(target.name, count) == index]
