"""Error mapping: one documented type, the cause kept, no password anywhere."""

from __future__ import annotations

import pickle
import traceback

import pytest

from pydapter_migrations import (
    AdapterLoadError,
    AdapterNotFoundError,
    MigrationError,
    MigrationLockError,
    MigrationNotFoundError,
    MigrationUpgradeError,
)
from pydapter_migrations.errors import wrap_errors


def test_hierarchy() -> None:
    for error_type in (MigrationUpgradeError, MigrationNotFoundError, MigrationLockError):
        assert issubclass(error_type, MigrationError)
    assert issubclass(AdapterNotFoundError, LookupError)
    assert issubclass(AdapterLoadError, ImportError)


def test_wrap_errors_keeps_the_cause_and_masks_the_chain() -> None:
    secret = "pa%ss@word"

    def driver_call() -> None:
        try:
            raise OSError(f"connection to postgresql://u:{secret}@h/db refused")
        except OSError as inner:
            raise RuntimeError(f"login with password {secret} failed") from inner

    wrapper = wrap_errors(
        MigrationUpgradeError, adapter="alembic", action="upgrade", revision="abc",
        secrets=(secret,),
    )  # fmt: skip
    with pytest.raises(MigrationUpgradeError) as info, wrapper:
        driver_call()
    error = info.value
    assert (error.adapter, error.revision) == ("alembic", "abc")
    assert isinstance(error.__cause__, RuntimeError)
    assert str(error).startswith("upgrade failed: RuntimeError: login with password ***")
    assert secret not in "".join(traceback.format_exception(error))


def test_migration_errors_pass_through_with_the_adapter_filled_in() -> None:
    wrapper = wrap_errors(MigrationUpgradeError, adapter="yoyo", action="upgrade")
    with pytest.raises(MigrationNotFoundError) as info, wrapper:
        raise MigrationNotFoundError("no revision 'x'", revision="x")
    assert (info.value.adapter, info.value.revision) == ("yoyo", "x")


def test_errors_survive_pickling() -> None:
    error = MigrationUpgradeError("boom", adapter="alembic", revision="r1")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.adapter, copy.revision) == (
        MigrationUpgradeError, "boom", "alembic", "r1",
    )  # fmt: skip
