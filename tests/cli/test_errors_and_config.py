"""Exit statuses, one-line errors, --verbose, and settings from config files (subprocess)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from cli_testing import Result, Run

from pydapter_migrations.locking import database_lock
from pydapter_migrations.urls import DatabaseURL


def _one_error_line(result: Result, code: int) -> str:
    assert result.returncode == code, result
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def ref_dir(run: Run, tmp_path: Path) -> list[str]:
    args = ["-b", "ref", "--url", f"sqlite:///{tmp_path / 'app.db'}"]
    assert run(*args, "init").returncode == 0
    assert run(*args, "new", "first").returncode == 0
    return args


def test_unknown_revision_is_exit_1_with_one_line(run: Run, ref_dir: list[str]) -> None:
    line = _one_error_line(run(*ref_dir, "upgrade", "nope"), 1)
    assert "'nope'" in line
    assert "pydapter-migrate history" in line  # what to do next
    assert run(*ref_dir, "current").stdout.strip() == "(nothing applied)"


def test_verbose_shows_settings_and_the_traceback(run: Run, ref_dir: list[str]) -> None:
    result = run(*ref_dir, "--verbose", "upgrade", "nope")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "MigrationNotFoundError" in result.stderr
    assert "backend:     ref (from command line)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")


@pytest.mark.parametrize(
    "args",
    [
        ["downgrade"],  # REV is required
        ["downgrade", "--bogus"],
        ["upgrade", "--lock-timeout", "-3"],
        ["frobnicate"],
        ["history", "--sql"],
    ],
)
def test_usage_errors_exit_2(run: Run, ref_dir: list[str], args: list[str]) -> None:
    result = run(*ref_dir, *args)
    assert result.returncode == 2, result
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_missing_url_is_a_usage_error(run: Run) -> None:
    line = _one_error_line(run("-b", "ref", "upgrade"), 2)
    assert "DATABASE_URL" in line and "--url" in line


def test_unknown_backend_lists_the_installed_ones(run: Run) -> None:
    line = _one_error_line(run("-b", "nosuch", "history"), 1)
    assert "'nosuch'" in line
    assert "ref" in line
    assert "pydapter-migrate backends" in line


def test_init_into_a_non_empty_directory(run: Run, tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "keep.txt").write_text("mine")
    line = _one_error_line(run("-b", "ref", "init"), 1)
    assert "not an empty directory" in line
    assert [p.name for p in (tmp_path / "migrations").iterdir()] == ["keep.txt"]


def test_commands_before_init(run: Run, tmp_path: Path) -> None:
    line = _one_error_line(run("-b", "ref", "--url", "sqlite:///x.db", "status"), 1)
    assert "init" in line


def test_sql_on_a_backend_that_cannot_render_it(run: Run, ref_dir: list[str]) -> None:
    line = _one_error_line(run(*ref_dir, "upgrade", "--sql"), 1)
    assert "cannot print SQL" in line
    assert run(*ref_dir, "current").stdout.strip() == "(nothing applied)"


def test_bad_url_is_exit_1_and_masked(run: Run, ref_dir: list[str]) -> None:
    secret = "Sup3r$ecret"
    url = f"postgresql://me:{secret}@127.0.0.1:1/db"
    for extra in ([], ["--verbose"]):
        result = run(*ref_dir[:2], "--url", url, *extra, "upgrade")
        assert result.returncode == 1, result
        assert secret not in result.output
        assert "postgresql" in result.stderr


def test_unexpected_exception_is_one_masked_line(run: Run) -> None:
    # the password is "p@ss@word": neither form may be printed
    pg_url = "postgresql://me:p%40ss%40word@127.0.0.1/db"
    result = run("-b", "raw", "--url", pg_url, "current")
    line = _one_error_line(result, 1)
    assert line.startswith("Error: unexpected RuntimeError: cannot reach postgresql://me:***@")
    assert "second line" in line  # joined, not cut
    assert "--verbose" in line
    assert "p@ss@word" not in result.output and "p%40ss%40word" not in result.output
    verbose = run("-b", "raw", "--url", pg_url, "-v", "current")
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "RuntimeError" in verbose.stderr
    assert "p@ss@word" not in verbose.output and "p%40ss%40word" not in verbose.output


def test_lock_timeout(run: Run, ref_dir: list[str], tmp_path: Path) -> None:
    url = ref_dir[-1]
    with database_lock(DatabaseURL.parse(url), timeout=5):
        started = time.monotonic()
        result = run(*ref_dir, "upgrade", "--lock-timeout", "0.5")
        took = time.monotonic() - started
    line = _one_error_line(result, 1)
    assert "timed out after 0.5s" in line
    assert "--lock-timeout" in line
    assert took < 30
    assert run(*ref_dir, "current").stdout.strip() == "(nothing applied)"
    # the lock is free again: the same command now succeeds
    assert run(*ref_dir, "upgrade", "--lock-timeout", "0.5").returncode == 0


def test_concurrent_upgrades_serialise(run: Run, ref_dir: list[str]) -> None:
    results: list[Result] = []
    threads = [
        threading.Thread(target=lambda: results.append(run(*ref_dir, "upgrade"))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0, 0], results
    applied = sum(r.stdout.count("applied 0001_first") for r in results)
    assert applied == 1


# -- settings from config files --------------------------------------------------

PYPROJECT = """\
[project]
name = "app"

[tool.pydapter-migrations]
backend = "ref"
directory = "db/migrations"
url = "sqlite:///dev.db"

[tool.pydapter-migrations.envs.ci]
url = "sqlite:///ci.db"

[tool.pydapter-migrations.envs.prod]
url = "${PROD_DATABASE_URL}"
"""


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "src" / "app").mkdir(parents=True)
    return tmp_path


def _current(run: Run, *args: str, cwd: Path, env: dict[str, str] | None = None) -> object:
    result = run(*args, "current", "--json", cwd=cwd, env=env)
    assert result.returncode == 0, result
    return json.loads(result.stdout)["revision"]


def test_config_from_a_subfolder_with_paths_relative_to_the_config(
    run: Run, configured: Path
) -> None:
    sub = configured / "src" / "app"
    assert run("init", cwd=sub).returncode == 0
    assert (configured / "db" / "migrations").is_dir()
    revision = run("new", "first", cwd=sub).stdout.strip()
    assert run("upgrade", cwd=sub).returncode == 0
    assert (configured / "dev.db").is_file()
    assert not (sub / "dev.db").exists()
    assert _current(run, cwd=configured) == revision

    # -e ci picks its own database; the top-level directory still applies
    assert _current(run, "-e", "ci", cwd=sub) is None
    assert run("-e", "ci", "upgrade", cwd=sub).returncode == 0
    assert (configured / "ci.db").is_file()

    # flags beat the environment and the config
    other = configured / "flag.db"
    assert _current(run, "-e", "ci", "--url", f"sqlite:///{other}", cwd=sub) is None


def test_unknown_environment_names_the_known_ones(run: Run, configured: Path) -> None:
    line = _one_error_line(run("-e", "staging", "status", cwd=configured), 2)
    assert "'staging'" in line and "ci, prod" in line


def test_unset_variable_is_a_clear_error(run: Run, configured: Path) -> None:
    assert run("init", cwd=configured).returncode == 0
    line = _one_error_line(run("-e", "prod", "current", cwd=configured), 2)
    assert "${PROD_DATABASE_URL}" in line and "not set" in line
    prod = configured / "prod.db"
    env = {"PROD_DATABASE_URL": f"sqlite:///{prod}"}
    assert run("-e", "prod", "upgrade", cwd=configured, env=env).returncode == 0
    assert prod.is_file()


def test_database_url_is_the_fallback(run: Run, tmp_path: Path) -> None:
    (tmp_path / "pydapter-migrations.toml").write_text('backend = "ref"\n')
    assert run("init").returncode == 0
    revision = run("new", "first").stdout.strip()
    db = tmp_path / "from-env.db"
    env = {"DATABASE_URL": f"sqlite:///{db}"}
    assert run("upgrade", env=env).returncode == 0
    assert db.is_file()
    assert _current(run, cwd=tmp_path, env=env) == revision


def test_broken_config_file_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    (tmp_path / "pydapter-migrations.toml").write_text('backend = "ref"\ndirectry = "x"\n')
    line = _one_error_line(run("history"), 2)
    assert "unknown key directry" in line
    # --help and backends never read the config
    assert run("--help").returncode == 0
    assert run("backends").returncode == 0


def test_options_after_the_command(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'late.db'}"
    assert run("init", "-b", "ref", "-d", "mig").returncode == 0
    assert (tmp_path / "mig").is_dir()
    assert run("new", "x", "-b", "ref", "-d", "mig").returncode == 0
    result = run("upgrade", "--url", url, "-b", "ref", "-d", "mig")
    assert result.returncode == 0, result
    assert (tmp_path / "late.db").is_file()
