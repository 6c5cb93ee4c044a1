"""Fleets on the command line: several runners at once, failures, kill -9, environment globs.

Each runner is a real ``pydapter-migrate`` process, as it would be on its own machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from fleet_helpers import applied_counts, cli, no_secret, popen, query, write_targets

from pydapter_migrations.urls import DatabaseURL


def _sqlite(folder: Path, count: int, prefix: str = "db") -> dict[str, str]:
    folder.mkdir(exist_ok=True)
    return {f"{prefix}{i:02d}": f"sqlite:///{folder / f'{prefix}{i:02d}.db'}" for i in range(count)}


def _each_migrated_once(
    outputs: list[str], targets: dict[str, str], ids: list[str]
) -> list[dict[str, Any]]:
    """Every target migrated by exactly one of the runs, which applied every revision;
    every database applied each revision once. Returns all the runs' results."""
    results = [result for out in outputs for result in json.loads(out)]
    assert all(result["ok"] for result in results), [r for r in results if not r["ok"]]
    migrated = Counter(r["name"] for r in results if r["status"] == "migrated")
    assert migrated == Counter(dict.fromkeys(targets, 1))
    for name in targets:
        applied = [rev for r in results if r["name"] == name for rev in r["revisions"]]
        assert applied == ids, name
    for url in targets.values():
        assert applied_counts(url) == dict.fromkeys(ids, 1)
    return results


@pytest.mark.postgresql
def test_three_runners_at_once_with_skip_locked_migrate_each_target_once(
    project: Project, tmp_path: Path, postgresql_url: str
) -> None:
    directory, ids = project("alembic", 4)
    targets = _sqlite(tmp_path / "dbs", 40)
    base = DatabaseURL.parse(postgresql_url)
    for i in range(10):
        targets[f"schema{i}"] = base.with_schema(f"tenant_{i}").render(hide_password=False)
    path = write_targets(tmp_path / "targets.txt", targets)
    args = ["-d", str(directory), "upgrade", "--targets", str(path), "--parallel", "2"]
    runners = [popen(*args, "--skip-locked", "--json", cwd=tmp_path) for _ in range(3)]
    outputs = []
    for runner in runners:
        out, err = runner.communicate(timeout=240)
        assert runner.returncode == 0, err
        outputs.append(out)
        no_secret([out, err], [DatabaseURL.parse(postgresql_url).password or ""])
    results = _each_migrated_once(outputs, targets, ids)
    # The runs that found a target taken either waited for it or came after: nothing to do.
    assert {r["status"] for r in results} <= {"migrated", "unchanged"}


def test_three_shards_at_once_take_disjoint_shares_of_the_fleet(
    project: Project, tmp_path: Path
) -> None:
    directory, ids = project("yoyo", 3)
    targets = _sqlite(tmp_path / "dbs", 50)
    path = write_targets(tmp_path / "targets.txt", targets)
    args = ["-b", "yoyo", "-d", str(directory), "upgrade", "--targets", str(path), "--json"]
    runners = [popen(*args, "--shard", f"{i}/3", cwd=tmp_path) for i in (1, 2, 3)]
    outputs = []
    for runner in runners:
        out, err = runner.communicate(timeout=240)
        assert runner.returncode == 0, err
        outputs.append(out)
    shares = [{r["name"] for r in json.loads(out)} for out in outputs]
    assert all(shares) and sum(len(s) for s in shares) == 50
    _each_migrated_once(outputs, targets, ids)


@pytest.mark.postgresql
def test_a_failing_target_is_reported_and_the_exit_status_says_so(
    project: Project, tmp_path: Path, postgresql_server: Any
) -> None:
    directory, ids = project("yoyo", 2)
    targets = _sqlite(tmp_path / "dbs", 4)
    query(targets["db01"], "CREATE TABLE t_2 (id INTEGER)")
    url = DatabaseURL.parse(postgresql_server.url(postgresql_server.create_database()))
    targets["pg"] = url.render(hide_password=False)
    # The file names secrets through the environment, as it should.
    lines = [f"{n} {u}" for n, u in targets.items() if n != "pg"]
    lines += [f"pg postgresql://postgres:${{PG_PW}}@127.0.0.1:{url.port}/{url.database}"]
    lines += [f"intruder postgresql://postgres:${{BAD_PW}}@127.0.0.1:{url.port}/postgres"]
    (tmp_path / "targets.txt").write_text("# tenants\n" + "\n".join(lines) + "\n")
    env = {"PG_PW": postgresql_server.password.replace("%", "%25").replace("@", "%40"),
           "BAD_PW": "hunter2-wr0ng%40x"}  # fmt: skip
    args = ["-b", "yoyo", "-d", str(directory), "upgrade", "--targets", "targets.txt"]
    text = cli(*args, "--parallel", "2", cwd=tmp_path, env=env)
    assert text.returncode == 1, text.stderr
    out = text.stdout
    assert "FAILED   db01" in out and "FAILED   intruder" in out
    assert f"ok       db00      2 revisions applied (base -> {ids[-1]})" in out
    assert "upgrade to head: 4 of 6 targets succeeded" in out
    assert "failed: db01, intruder" in out
    assert " target " in out and " revisions " in out  # the closing table
    no_secret([out, text.stderr], [postgresql_server.password, "hunter2-wr0ng@x"])

    query(targets["db01"], "DROP TABLE t_2")
    again = cli(*args, "--json", cwd=tmp_path, env=env)
    assert again.returncode == 1
    results = {r["name"]: r for r in json.loads(again.stdout)}
    assert results["db01"]["status"] == "migrated"  # retried, and finished
    assert results["db01"]["revisions"] == ids[1:]
    assert results["db00"]["status"] == "unchanged"
    assert results["intruder"]["ok"] is False
    assert "password authentication failed" in results["intruder"]["error"]
    no_secret([again.stdout, again.stderr], [postgresql_server.password, "hunter2-wr0ng@x"])


def _wait_for_migrated(proc: subprocess.Popen[str], count: int) -> None:
    """Read the fleet's lines until ``count`` targets were migrated by it."""
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 120
    while seen < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, "the fleet ended before the kill"
        seen += line.startswith("ok ") and "revisions applied" in line


def _gone(group: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_kill_9_of_a_fleet_then_a_rerun_converges(project: Project, tmp_path: Path) -> None:
    directory, ids = project("alembic", 3, sleep=0.2)
    targets = _sqlite(tmp_path / "dbs", 12)
    path = write_targets(tmp_path / "targets.txt", targets)
    args = ["-d", str(directory), "upgrade", "--targets", str(path), "--parallel", "2"]

    # Everything killed at once (a node lost): revisions in flight roll back.
    first = popen(*args, cwd=tmp_path, start_new_session=True)
    _wait_for_migrated(first, 2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert _gone(first.pid)

    # Only the fleet's own process killed: its workers finish the target in hand and go.
    second = popen(*args, cwd=tmp_path, start_new_session=True)
    _wait_for_migrated(second, 1)
    os.kill(second.pid, signal.SIGKILL)
    second.wait()
    assert _gone(second.pid), "worker processes outlived their fleet"

    done = [url for url in targets.values() if sum(applied_counts_or_none(url).values()) == 3]
    assert 3 <= len(done) < len(targets)
    final = cli(*args, "--json", cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    results = json.loads(final.stdout)
    assert {r["status"] for r in results} == {"migrated", "unchanged"}
    assert sum(r["status"] == "unchanged" for r in results) >= len(done)
    for url in targets.values():
        assert applied_counts(url) == dict.fromkeys(ids, 1)


def applied_counts_or_none(url: str) -> Counter[str]:
    try:
        return applied_counts(url)
    except Exception:  # no applied_log yet
        return Counter()


def test_an_environment_glob_and_the_usage_errors(project: Project, tmp_path: Path) -> None:
    directory, ids = project("yoyo", 2)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pydapter-migrations]\n"
        'backend = "yoyo"\n'
        f'directory = "{directory.name}"\n'
        + "".join(
            f'[tool.pydapter-migrations.envs.tenant_{c}]\nurl = "sqlite:///tenant_{c}.db"\n'
            for c in "abc"
        )
        + '[tool.pydapter-migrations.envs.prod]\nurl = "sqlite:///prod.db"\n'
    )
    up = cli("-e", "tenant_*", "upgrade", "--parallel", "2", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert "upgrade to head: 3 of 3 targets succeeded" in up.stdout
    assert not (tmp_path / "prod.db").exists()
    current = cli("current", "-e", "tenant_[ab]", "--json", cwd=tmp_path)
    assert [(r["name"], r["revision"]) for r in json.loads(current.stdout)] == [
        ("tenant_a", ids[-1]),
        ("tenant_b", ids[-1]),
    ]
    status = cli("status", "-e", "tenant_*", cwd=tmp_path)
    assert status.returncode == 0 and "up_to_date" in status.stdout
    one = cli("-e", "prod", "upgrade", "--json", cwd=tmp_path)  # a fleet of one, for its JSON
    assert [(r["name"], r["revisions"]) for r in json.loads(one.stdout)] == [("prod", ids)]

    for args, says in [
        (["upgrade", "--parallel", "2"], "--parallel applies to a fleet"),
        (["-e", "tenant_*", "upgrade", "--shard", "0/2"], "I counts from 1"),
        (["-e", "staging_*", "upgrade"], "no environment of"),
        (["upgrade", "--targets", "missing.txt"], "cannot read the targets file"),
        (["-e", "tenant_*", "upgrade", "--sql"], "does not take a fleet"),
        (["-e", "tenant_*", "downgrade", "--bogus"], "No such option: --bogus"),
    ]:
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert says in result.stderr, (args, result.stderr)
    down = cli("-e", "tenant_*", "downgrade", "-1", cwd=tmp_path)
    assert down.returncode == 0 and "1 revision reverted" in down.stdout


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """``pydapter-migrate ARGS`` with its standard output on a pseudo-terminal of 40x120;
    its exit status and what the terminal received, escape sequences and all."""
    import fcntl
    import pty
    import struct
    import termios

    from fleet_helpers import PROGRAM, environ

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in environ().items() if k not in ("NO_COLOR", "COLUMNS", "CI")}
    proc = subprocess.Popen(
        [PROGRAM, *args], cwd=cwd, env=env, stdout=secondary, stderr=subprocess.PIPE
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO once the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(primary)
    assert proc.stderr is not None
    return proc.returncode, b"".join(chunks).decode() + proc.stderr.read().decode()


def test_on_a_terminal_a_line_per_target_in_flight_an_overall_bar_and_a_table(
    project: Project, tmp_path: Path
) -> None:
    import re

    directory, ids = project("alembic", 3, sleep=0.1)
    targets = _sqlite(tmp_path / "dbs", 5)
    path = write_targets(tmp_path / "targets.txt", targets)
    args = ["-d", str(directory), "upgrade", "--targets", str(path), "--parallel", "2"]
    code, screen = _on_a_terminal(args, tmp_path)
    assert code == 0, screen
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    frames = plain.replace("\r\n", "\n").replace("\r", "\n").splitlines()
    # The overall bar, counting the targets done.
    assert any("upgrade fleet (5 targets)" in f and "0/5" in f for f in frames), plain
    assert any("upgrade fleet (5 targets)" in f and "4/5" in f for f in frames), plain
    # A line per target in flight, with its own count of revisions.
    assert any(re.search(r"^\S\s+db0\d\s.*[0-3]/3", f) for f in frames), plain
    assert "\x1b[2K" in screen  # redrawn in place, not printed line after line
    # A permanent line per target as it finishes, then the table and the closing line.
    for name in targets:
        assert any(
            f.startswith(f"ok       {name}  3 revisions applied (base -> {ids[-1]})")
            for f in frames
        ), name
    header = next(f for f in frames if " target " in f)
    assert all(column in header for column in ("status", "from", "to", "revisions", "seconds"))
    assert sum(bool(re.match(rf"^ {n}\s+migrated\s", f)) for n in targets for f in frames) == 5
    assert "upgrade to head: 5 of 5 targets succeeded" in plain

    # Failing targets: the exit status says so, the table names why.
    query(targets["db03"], "DROP TABLE applied_log")
    code, screen = _on_a_terminal([*args[:2], "downgrade", "base", *args[3:]], tmp_path)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert code == 1, plain
    assert "downgrade to base: 4 of 5 targets succeeded" in plain
    assert "failed: db03" in plain


def test_upgrade_options_are_never_dropped_on_the_way_to_a_fleet(
    project: Project, tmp_path: Path
) -> None:
    # --dry-run with a fleet or --json is refused (it once migrated them for real), and
    # --allow-changed reaches every target, as it does one database.
    directory, ids = project("yoyo", 2)
    targets = _sqlite(tmp_path / "dbs", 2)
    write_targets(tmp_path / "targets.txt", targets)
    common = ["-b", "yoyo", "-d", str(directory)]
    one = ["--url", targets["db00"]]
    for args in (["upgrade", "--targets", "targets.txt", "--dry-run"],
                 [*one, "upgrade", "--dry-run", "--json"]):  # fmt: skip
        dry = cli(*common, *args, cwd=tmp_path)
        assert dry.returncode == 2 and "--dry-run previews one database" in dry.stderr
    assert not any((tmp_path / "dbs").iterdir())  # no database even created

    assert cli(*common, "upgrade", "--targets", "targets.txt", cwd=tmp_path).returncode == 0
    first = directory / "versions" / f"{ids[0]}.sql"
    for n, args in enumerate(
        (["upgrade", "--targets", "targets.txt"], [*one, "upgrade", "--json"])
    ):
        first.write_text(first.read_text() + f"\nSELECT {n};\n")  # an applied revision changed
        refused = cli(*common, *args, cwd=tmp_path)
        assert refused.returncode == 1 and "--allow-changed" in refused.stdout + refused.stderr
        accepted = cli(*common, *args, "--allow-changed", ids[0], cwd=tmp_path)
        assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    for url in targets.values():
        assert applied_counts(url) == dict.fromkeys(ids, 1)
    from pydapter_migrations.fleet import upgrade_many

    first.write_text(first.read_text() + "\nSELECT 2;\n")
    kw: dict[str, Any] = {"directory": directory, "backend": "yoyo"}
    assert not upgrade_many(targets, **kw).ok
    assert upgrade_many(targets, allow_changed=[ids[0]], **kw).ok
    with pytest.raises(TypeError, match="collection of revision ids"):
        upgrade_many(targets, allow_changed=ids[0], **kw)


def test_targets_and_timeouts_that_would_mislead_are_usage_errors(
    project: Project, tmp_path: Path
) -> None:
    directory, _ = project("yoyo", 1)
    common = ["-b", "yoyo", "-d", str(directory)]
    (tmp_path / "empty.txt").write_text("# rendered from an empty list\n\n")
    long = "t" * 64  # PostgreSQL would cut it to 63 bytes: two such tenants, one schema
    (tmp_path / "long.txt").write_text(f"a postgresql://u@h/db schema={long}\n")
    for args, says in [
        (["upgrade", "--targets", "empty.txt"], "lists no target"),
        (["status", "--targets", "empty.txt"], "lists no target"),
        (["upgrade", "--targets", "long.txt"], "PostgreSQL keeps 63"),
        (["--url", "sqlite:///x.db", "upgrade", "--lock-timeout", "nan"], "finite number"),
        (["--url", "sqlite:///x.db", "upgrade", "--lock-timeout", "inf"], "finite number"),
        (["--url", "sqlite:///x.db", "upgrade", "--lock-timeout", "-1"], "finite number"),
    ]:
        result = cli(*common, *args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert says in result.stderr, (args, result.stderr)
    assert not (tmp_path / "x.db").exists()
