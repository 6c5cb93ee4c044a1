"""Where a fleet's targets come from: targets files, environment globs, shards, schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from pydapter_migrations.config import load_config_file
from pydapter_migrations.fleet import (
    Target,
    TargetsError,
    parse_shard,
    parse_targets,
    read_targets,
    select_shard,
    shard_of,
    targets_from_envs,
)
from pydapter_migrations.fleet.targets import as_targets, is_env_pattern
from pydapter_migrations.locking import advisory_keys, lock_holder_query
from pydapter_migrations.urls import DatabaseURL

SECRET = "s3cr%40t-pw"  # percent-encoded '@' inside


def test_a_targets_file_names_urls_with_comments_variables_and_schemas(tmp_path: Path) -> None:
    text = (
        "# the fleet\n"
        "\n"
        "a    sqlite:///a.db\n"
        "b\tsqlite:////abs/b.db   # trailing comment\n"
        "   c sqlite:///${DATA:-data}/c.db\n"
        "d postgresql://app:${PW}@db.internal/shop schema=tenant_d\n"
        "e postgresql://app:${PW}@db.internal/shop?options=-csearch_path%3DTenant_E\n"
        "f postgresql://app@db.internal/other#not-a-comment\n"
    )
    targets = parse_targets(text, environ={"PW": SECRET}, folder=tmp_path)
    assert [t.name for t in targets] == ["a", "b", "c", "d", "e", "f"]
    assert targets[0].url.sqlite_path == tmp_path / "a.db"  # relative to the file's folder
    assert str(targets[1].url.sqlite_path) == "/abs/b.db"
    assert targets[2].url.sqlite_path == tmp_path / "data" / "c.db"
    assert targets[3].url.schema == "tenant_d" and targets[4].url.schema == "tenant_e"
    assert targets[3].url.password == "s3cr@t-pw"
    assert targets[5].url.database == "other#not-a-comment"
    assert "s3cr" not in repr(targets) and "s3cr" not in str(targets[3].url)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a\n", "line 1: expected 'NAME URL'"),
        ("a sqlite:///a.db b c\n", "line 1: expected 'NAME URL'"),
        ("# x\na sqlite:///a.db\na sqlite:///b.db\n", "two targets are named 'a'"),
        ("a sqlite:///x.db\nb sqlite:///./x.db\n", "targets 'a' and 'b' are the same database"),
        ("a not-a-url\n", "line 1: not a database URL"),
        ("a sqlite:///a.db colour=blue\n", "third field must be schema=NAME"),
        ("a sqlite:///a.db schema=t\n", "schemas are a PostgreSQL feature"),
        ("a postgresql://u:${MISSING}@h/db\n", "line 1 refers to ${MISSING}, which is not set"),
        (f"a postgresql://u:{SECRET}@h:notaport/db\n", "line 1: invalid port"),
    ],
)
def test_a_wrong_targets_file_names_the_line_never_its_secret(text: str, says: str) -> None:
    with pytest.raises(TargetsError) as info:
        parse_targets(text, source="fleet.txt", environ={})
    message = str(info.value)
    assert says in message and message.startswith("fleet.txt")
    assert "s3cr" not in message


def test_read_targets_reads_a_file_and_says_when_it_cannot(tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_text("one sqlite:///one.db\n")
    assert read_targets(path) == [Target("one", f"sqlite:///{tmp_path / 'one.db'}")]
    with pytest.raises(TargetsError, match="cannot read the targets file"):
        read_targets(tmp_path / "missing.txt")


def test_targets_from_mappings_pairs_and_urls() -> None:
    assert as_targets({"a": "sqlite:///a.db"}) == [Target("a", "sqlite:///a.db")]
    assert as_targets([("b", "sqlite:///b.db")])[0].name == "b"
    [bare] = as_targets(["postgresql://u:pw@h/db"])
    assert bare.name == "postgresql://u:***@h/db"
    with pytest.raises(TypeError, match="read_targets"):
        as_targets("targets.txt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="without spaces"):
        Target("a b", "sqlite:///a.db")


def test_environment_globs_resolve_each_environment(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pydapter-migrations]\n"
        'backend = "yoyo"\n'
        'directory = "db/migrations"\n'
        "[tool.pydapter-migrations.envs.tenant_a]\n"
        'url = "sqlite:///tenants/a.db"\n'
        "[tool.pydapter-migrations.envs.tenant_b]\n"
        'url = "postgresql://app:${PW}@h/shop?options=-csearch_path%3Dtenant_b"\n'
        "[tool.pydapter-migrations.envs.prod]\n"
        'url = "postgresql://app@h/prod"\n'
        "[tool.pydapter-migrations.envs.tenant_odd]\n"
        'url = "sqlite:///odd.db"\n'
        'directory = "elsewhere"\n'
    )
    config = load_config_file(tmp_path / "pyproject.toml")
    assert is_env_pattern("tenant_*") and not is_env_pattern("prod")
    found = targets_from_envs("tenant_[ab]", config=config, environ={"PW": SECRET})
    assert [t.name for t in found.targets] == ["tenant_a", "tenant_b"]
    assert found.backend == "yoyo" and found.directory == tmp_path / "db" / "migrations"
    assert found.targets[0].url.sqlite_path == tmp_path / "tenants" / "a.db"
    assert found.targets[1].url.schema == "tenant_b"
    with pytest.raises(TargetsError, match="different directories"):
        targets_from_envs("tenant_*", config=config, environ={"PW": SECRET})
    overridden = targets_from_envs("tenant_*", config=config, directory="x", environ={"PW": "p"})
    assert len(overridden.targets) == 3 and overridden.directory == Path("x")
    with pytest.raises(TargetsError, match=r"no environment .* matches 'staging_\*'.*prod"):
        targets_from_envs("staging_*", config=config)


def test_shards_are_stable_disjoint_and_complete() -> None:
    targets = [Target(f"tenant_{i:03d}", f"sqlite:///t{i}.db") for i in range(200)]
    shards = [select_shard(targets, f"{i}/3") for i in (1, 2, 3)]
    names = [t.name for shard in shards for t in shard]
    assert sorted(names) == sorted(t.name for t in targets)  # each target in exactly one
    assert all(40 <= len(shard) <= 95 for shard in shards)
    # The same on every machine and whatever the order of the list.
    assert select_shard(list(reversed(targets)), "2/3") == list(reversed(shards[1]))
    assert shard_of("tenant_007", 3) == shard_of("tenant_007", 3)
    assert [shard_of("tenant_007", 1)] == [1]
    assert parse_shard(" 2 / 4 ") == (2, 4)
    for bad in ("0/3", "4/3", "3", "a/b", "1/0"):
        with pytest.raises(TargetsError):
            parse_shard(bad)


def test_a_schema_is_part_of_a_postgresql_url_and_of_its_lock() -> None:
    url = DatabaseURL.parse("postgresql://app:pw@h/shop")
    assert url.schema is None and url.server_settings() == {}
    tenant = url.with_schema("tenant_a")
    assert tenant.schema == "tenant_a"
    assert tenant.query["options"] == "-csearch_path=tenant_a"
    odd = url.with_schema("Tenant A")
    assert odd.schema == "Tenant A"
    assert DatabaseURL.parse(odd.render(hide_password=False)).schema == "Tenant A"
    spaced = DatabaseURL.parse(
        "postgresql://h/db?options=-c%20statement_timeout%3D5s%20-c%20search_path%3Dt1,public"
    )
    assert spaced.schema == "t1"
    assert spaced.server_settings() == {"statement_timeout": "5s", "search_path": "t1,public"}
    assert spaced.with_schema("t2").server_settings()["statement_timeout"] == "5s"
    default_path = 'postgresql://h/db?options=--search_path%3D"$user",public'
    assert DatabaseURL.parse(default_path).schema is None
    # Another schema is another database to a fleet, and another lock.
    assert tenant.identity() != url.identity() != odd.identity()
    keys = {advisory_keys(u) for u in (url, tenant, odd, url.with_schema("public"))}
    assert len(keys) == 3  # public is the database's own scope
    assert "classid" in lock_holder_query("tenant_a") != lock_holder_query()
    with pytest.raises(ValueError, match="PostgreSQL"):
        DatabaseURL.parse("sqlite:///a.db").with_schema("x")
