"""The registry with real installed distributions: discovery, lazy loading, failures, hooks.

Two small distributions under tests/fixtures/dists are built and pip-installed into the
running environment for this module (and uninstalled after it):

* pydapter-test-acme: adapter ``acme``, a hook plugin module ``acme_events`` and a claim
  on key ``clash``;
* pydapter-test-rival: another claim on ``clash`` and an adapter ``broken`` whose module
  fails to import.

Each check runs in a fresh interpreter, as a user's program would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pydapter_migrations import (
    AdapterConflictError,
    AdapterNotFoundError,
    BaseMigrationAdapter,
    hookimpl,
)
from pydapter_migrations.registry import Registry

DISTS = Path(__file__).parent / "fixtures" / "dists"
BACKEND_MODULES = ("alembic", "sqlalchemy", "yoyo")


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def third_party(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Build and install the two test distributions as real wheels."""
    wheels = tmp_path_factory.mktemp("wheels")
    for name in ("acme", "rival"):
        _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(DISTS / name))
    _pip("install", "--no-deps", "--force-reinstall", *map(str, sorted(wheels.glob("*.whl"))))
    try:
        yield
    finally:
        _pip("uninstall", "-y", "pydapter-test-acme", "pydapter-test-rival")


def run_python(code: str, **env: str) -> Any:
    """Run ``code`` in a fresh interpreter; it prints one JSON value, which is returned."""
    import os

    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_available_adapters_reads_metadata_only(third_party: None) -> None:
    seen = run_python(
        """
        import json, sys
        import pydapter_migrations as m
        keys = m.available_adapters()
        print(json.dumps({"keys": keys, "modules": sorted(sys.modules)}))
        """
    )
    assert {"acme", "acme_extra", "broken", "clash"} <= set(seen["keys"])
    assert seen["keys"] == sorted(seen["keys"])
    top_level = {name.split(".")[0] for name in seen["modules"]}
    assert not top_level & set(BACKEND_MODULES), "listing keys imported a backend"
    assert "acme_migrations.adapter" not in seen["modules"]
    assert "rival_migrations.broken" not in seen["modules"]
    # Hook plugin modules are loaded with the registry.
    assert "acme_migrations.events" in seen["modules"]


def test_import_alone_loads_no_backend() -> None:
    modules = run_python(
        "import json, sys; import pydapter_migrations; print(json.dumps(sorted(sys.modules)))"
    )
    assert not {m.split(".")[0] for m in modules} & set(BACKEND_MODULES)


def test_third_party_adapter_found_by_key_with_hooks(third_party: None, tmp_path: Path) -> None:
    events_file = tmp_path / "events.jsonl"
    result = run_python(
        f"""
        import json
        from pathlib import Path
        from pydapter_migrations import get_adapter
        from pydapter_migrations.testing.reference import write_reference_revision

        Adapter = get_adapter("acme")
        d, url = Path({str(tmp_path / "m")!r}), "sqlite:///{tmp_path / "acme.db"}"
        Adapter.init_migrations(str(d))
        revs = []
        for i in (1, 2):
            rev = Adapter.create_migration(f"t{{i}}", directory=str(d))
            write_reference_revision(
                d, rev, [f"CREATE TABLE t{{i}} (id int)"], [f"DROP TABLE t{{i}}"]
            )
            revs.append(rev)
        Adapter.upgrade(directory=str(d), connection_string=url)
        print(json.dumps({{"cls": Adapter.__module__ + "." + Adapter.__name__, "revs": revs,
                           "current": Adapter.get_current_revision(directory=str(d),
                                                                   connection_string=url)}}))
        """,
        ACME_EVENTS_FILE=str(events_file),
    )
    assert result["cls"] == "acme_migrations.adapter.AcmeAdapter"
    assert result["current"] == result["revs"][-1]
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [e["hook"] for e in events] == [
        "before_migrate",
        "after_revision",
        "after_revision",
        "after_migrate",
    ]
    assert events[0]["pending"] == result["revs"]
    assert [e["revision"] for e in events[1:3]] == result["revs"]
    assert {e["key"] for e in events} == {"acme"}


def test_a_hook_plugin_can_be_blocked_by_name(third_party: None) -> None:
    seen = run_python(
        """
        import json, sys
        import pydapter_migrations as m
        from pydapter_migrations.registry import default_registry
        m.available_adapters()
        names = [n for n, p in default_registry().plugin_manager.list_name_plugin() if p]
        print(json.dumps({"loaded": "acme_migrations.events" in sys.modules, "names": names}))
        """,
        PYDAPTER_MIGRATIONS_BLOCK_PLUGINS="other, acme_events",
    )
    assert seen == {"loaded": False, "names": []}
    unblocked = run_python(
        """
        import json
        from pydapter_migrations.registry import Registry
        registry = Registry()
        before = [n for n, p in registry.plugin_manager.list_name_plugin() if p]
        registry.block_plugin("acme_events")
        after = [n for n, p in registry.plugin_manager.list_name_plugin() if p]
        print(json.dumps([before, after]))
        """
    )
    assert unblocked == [["pydapter_migrations:acme_events"], []]


def test_broken_plugin_breaks_only_its_own_key(third_party: None) -> None:
    result = run_python(
        """
        import json
        import pydapter_migrations as m
        try:
            m.get_adapter("broken")
        except m.AdapterLoadError as exc:
            error = {"type": type(exc).__name__, "message": str(exc),
                     "import_error": isinstance(exc, ImportError),
                     "cause": type(exc.__cause__).__name__}
        print(json.dumps({"error": error, "acme": m.get_adapter("acme").__name__,
                          "keys": m.available_adapters()}))
        """
    )
    error = result["error"]
    assert error["type"] == "AdapterLoadError" and error["import_error"]
    assert "pydapter-test-rival 0.9.0" in error["message"]
    assert "pydapter_rival_missing_dependency" in error["message"]
    assert error["cause"] == "ModuleNotFoundError"
    assert result["acme"] == "AcmeAdapter"
    assert "broken" in result["keys"]


def test_duplicate_key_from_two_distributions_names_both(third_party: None) -> None:
    message = run_python(
        """
        import json
        import pydapter_migrations as m
        try:
            m.get_adapter("clash")
        except m.AdapterConflictError as exc:
            print(json.dumps(str(exc)))
        """
    )
    assert "pydapter-test-acme" in message and "pydapter-test-rival" in message


def test_unknown_key_lists_installed_keys(third_party: None) -> None:
    message = run_python(
        """
        import json
        import pydapter_migrations as m
        try:
            m.get_adapter("nope")
        except LookupError as exc:
            assert isinstance(exc, m.AdapterNotFoundError) and isinstance(exc, m.MigrationError)
            print(json.dumps(str(exc)))
        """
    )
    assert "'nope'" in message and "acme" in message


def test_shipped_class_names_resolve_through_the_registry() -> None:
    result = run_python(
        """
        import json
        import pydapter_migrations as m
        out = {}
        for name, key, module in [
            ("AlembicAdapter", "alembic", "pydapter_migrations_alembic"),
            ("AsyncAlembicAdapter", "async_alembic", "pydapter_migrations_alembic"),
            ("YoyoAdapter", "yoyo", "pydapter_migrations_yoyo"),
            ("AsyncYoyoAdapter", "async_yoyo", "pydapter_migrations_yoyo"),
        ]:
            try:
                cls = getattr(m, name)
            except ImportError as exc:
                out[name] = str(exc)
                continue
            plugin = __import__(module)
            out[name] = cls is m.get_adapter(key) is getattr(plugin, name)
        print(json.dumps(out))
        """
    )
    assert result == dict.fromkeys(
        ["AlembicAdapter", "AsyncAlembicAdapter", "YoyoAdapter", "AsyncYoyoAdapter"], True
    ), "install the plugins: pip install -e plugins/alembic -e plugins/yoyo"


def test_missing_plugin_import_error_names_the_distribution() -> None:
    # The same interpreter, with the plugins' entry points hidden from the registry.
    result = run_python(
        """
        import json
        import importlib.metadata as md
        import pydapter_migrations.registry as registry

        def without_plugins(**kw):
            plugin = "pydapter-migrations-"
            return [ep for ep in md.entry_points(**kw)
                    if not (ep.dist and ep.dist.metadata["Name"].startswith(plugin))]
        registry.entry_points = without_plugins
        out = {}
        try:
            from pydapter_migrations import AlembicAdapter
        except ImportError as exc:
            out["alembic"] = str(exc)
        try:
            from pydapter_migrations import AsyncYoyoAdapter
        except ImportError as exc:
            out["yoyo"] = str(exc)
        print(json.dumps(out))
        """
    )
    assert "pip install pydapter-migrations-alembic" in result["alembic"]
    assert "pip install pydapter-migrations-yoyo" in result["yoyo"]


class _Local(BaseMigrationAdapter):
    migration_key = "local_test"


class _Other(BaseMigrationAdapter):
    migration_key = "local_test"


def test_register_adapter_in_process() -> None:
    registry = Registry()
    assert registry.register(_Local) is _Local
    assert registry.get("local_test") is _Local
    assert "local_test" in registry.available()
    registry.register(_Local)  # the same class again is fine
    with pytest.raises(AdapterConflictError, match="local_test"):
        registry.register(_Other)
    assert registry.get("local_test") is _Local
    registry.register(_Other, replace=True)
    assert registry.get("local_test") is _Other
    with pytest.raises(TypeError):
        registry.register(object)
    with pytest.raises(AdapterNotFoundError):
        registry.get("no_such_key")


def test_hook_plugin_with_a_misspelt_hook_is_refused() -> None:
    registry = Registry()

    class Typo:
        @hookimpl
        def after_revison(self, event: object) -> None:  # misspelt on purpose
            """Never called."""

    with pytest.raises(Exception, match="after_revison"):
        registry.register_plugin(Typo())


def test_hook_plugins_can_contribute_adapters() -> None:
    registry = Registry()

    class Contributes:
        @hookimpl
        def register_adapters(self) -> list[type]:
            return [_Local]

    registry.register_plugin(Contributes())
    assert registry.get("local_test") is _Local
    assert "local_test" in registry.available()
