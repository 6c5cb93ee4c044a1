"""Config discovery, validation, ${VAR} expansion and precedence (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pydapter_migrations.config import (
    ConfigError,
    expand_variables,
    find_config_file,
    load_config_file,
    resolve_settings,
)

PYPROJECT = """\
[project]
name = "app"

[tool.pydapter-migrations]
backend = "yoyo"
directory = "db/migrations"
url = "sqlite:///dev.db"

[tool.pydapter-migrations.envs.prod]
backend = "alembic"
url = "${PROD_DATABASE_URL}"

[tool.pydapter-migrations.envs.test]
url = "sqlite:////tmp/abs.db"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    return tmp_path


def test_finds_pyproject_upward_from_a_subfolder(project: Path) -> None:
    assert find_config_file(project / "src" / "pkg") == project / "pyproject.toml"


def test_skips_a_pyproject_without_our_table(project: Path) -> None:
    inner = project / "src" / "pkg"
    (inner / "pyproject.toml").write_text("[project]\nname = 'inner'\n")
    assert find_config_file(inner) == project / "pyproject.toml"


def test_standalone_file_wins_in_the_same_folder(project: Path) -> None:
    (project / "pydapter-migrations.toml").write_text('backend = "yoyo"\n')
    assert find_config_file(project) == project / "pydapter-migrations.toml"


def test_no_config_file(tmp_path: Path) -> None:
    assert find_config_file(tmp_path) is None


def test_top_level_values_with_paths_relative_to_the_config_folder(project: Path) -> None:
    config = load_config_file(project / "pyproject.toml")
    settings = resolve_settings(config, environ={}, cwd=project / "src")
    assert settings.backend == "yoyo"
    assert settings.directory == project / "db" / "migrations"
    assert settings.url == f"sqlite:///{project}/dev.db"
    assert settings.config_file == project / "pyproject.toml"
    assert settings.sources["url"].startswith("[tool.pydapter-migrations] in ")


def test_environment_overrides_top_level_and_expands_variables(project: Path) -> None:
    config = load_config_file(project / "pyproject.toml")
    environ = {"PROD_DATABASE_URL": "postgresql://app:s3cret@db/prod"}
    settings = resolve_settings(config, env="prod", environ=environ)
    assert settings.backend == "alembic"
    assert settings.url == "postgresql://app:s3cret@db/prod"
    # not overridden by the environment: from the top level
    assert settings.directory == project / "db" / "migrations"
    assert settings.env == "prod"


def test_flags_override_everything(project: Path) -> None:
    config = load_config_file(project / "pyproject.toml")
    settings = resolve_settings(
        config,
        env="prod",
        backend="yoyo",
        directory="here",
        url="sqlite:///flag.db",
        environ={"PROD_DATABASE_URL": "postgresql://x@y/z", "DATABASE_URL": "sqlite:///e.db"},
    )
    assert (settings.backend, settings.directory, settings.url) == (
        "yoyo",
        Path("here"),  # relative to the working directory, as typed
        "sqlite:///flag.db",
    )
    assert set(settings.sources.values()) == {"command line"}


def test_database_url_is_the_last_resort(tmp_path: Path) -> None:
    settings = resolve_settings(None, environ={"DATABASE_URL": "sqlite:///x.db"}, cwd=tmp_path)
    assert settings.url == "sqlite:///x.db"  # relative to the working directory, untouched
    assert settings.sources["url"] == "DATABASE_URL"
    assert settings.backend == "alembic"
    assert settings.directory == tmp_path / "migrations"


def test_config_url_beats_database_url(project: Path) -> None:
    config = load_config_file(project / "pyproject.toml")
    settings = resolve_settings(config, environ={"DATABASE_URL": "sqlite:///other.db"})
    assert settings.url == f"sqlite:///{project}/dev.db"


def test_no_url_anywhere(tmp_path: Path) -> None:
    assert resolve_settings(None, environ={}, cwd=tmp_path).url is None


def test_unset_variable_is_a_clear_error(project: Path) -> None:
    config = load_config_file(project / "pyproject.toml")
    with pytest.raises(ConfigError, match=r"\$\{PROD_DATABASE_URL\}, which is not set") as info:
        resolve_settings(config, env="prod", environ={})
    assert str(info.value).startswith("env 'prod' of [tool.pydapter-migrations] in ")
    assert "export PROD_DATABASE_URL" in str(info.value)


def test_unused_variables_are_not_required(project: Path) -> None:
    config = load_config_file(project / "pyproject.toml")
    # prod's url is not used when --url is given, so PROD_DATABASE_URL may be unset
    settings = resolve_settings(config, env="prod", url="sqlite:///x.db", environ={})
    assert settings.url == "sqlite:///x.db"


def test_unknown_environment_names_the_known_ones(project: Path) -> None:
    config = load_config_file(project / "pyproject.toml")
    with pytest.raises(
        ConfigError, match=r"unknown environment 'staging'.*known environments: prod, test"
    ):
        resolve_settings(config, env="staging", environ={})


def test_environment_without_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config file found"):
        resolve_settings(None, env="prod", environ={}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "one"),
        ("x${A}y${B}", "xoneytwo"),
        ("${MISSING:-fallback}", "fallback"),
        ("${A:-fallback}", "one"),
        ("$$HOME and $${A}", "$HOME and ${A}"),
        ("$A stays", "$A stays"),
    ],
)
def test_expand_variables(text: str, expected: str) -> None:
    assert expand_variables(text, {"A": "one", "B": "two"}, where="test") == expected


def test_standalone_file_is_the_same_table(tmp_path: Path) -> None:
    (tmp_path / "pydapter-migrations.toml").write_text(
        'backend = "yoyo"\nurl = "sqlite:///app.db"\n[envs.ci]\nurl = "sqlite:///ci.db"\n'
    )
    config = load_config_file(tmp_path / "pydapter-migrations.toml")
    settings = resolve_settings(config, env="ci", environ={})
    assert settings.backend == "yoyo"
    assert settings.url == f"sqlite:///{tmp_path}/ci.db"
    assert settings.directory == tmp_path / "migrations"


def test_absolute_and_memory_sqlite_urls_are_untouched(project: Path) -> None:
    config = load_config_file(project / "pyproject.toml")
    assert resolve_settings(config, env="test", environ={}).url == "sqlite:////tmp/abs.db"
    (project / "pyproject.toml").write_text('[tool.pydapter-migrations]\nurl = "sqlite://"\n')
    config = load_config_file(project / "pyproject.toml")
    assert resolve_settings(config, environ={}).url == "sqlite://"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('directry = "x"', r"unknown key directry \(known keys: backend, directory, url, envs\)"),
        ("backend = 3", "backend must be a non-empty string"),
        ('url = ""', "url must be a non-empty string"),
        ('envs = "prod"', "envs must be a table of tables"),
        ("[tool.pydapter-migrations.envs.prod]\nenvs = {}", r"envs\.prod: unknown key envs"),
        ("[tool.pydapter-migrations.envs]\nprod = 1", r"envs\.prod must be a table"),
    ],
)
def test_invalid_config_is_rejected(tmp_path: Path, body: str, message: str) -> None:
    header = "" if body.startswith("[") else "[tool.pydapter-migrations]\n"
    (tmp_path / "pyproject.toml").write_text(header + body + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config_file(tmp_path / "pyproject.toml")


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pydapter-migrations.toml").write_text("backend = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config_file(tmp_path / "pydapter-migrations.toml")
