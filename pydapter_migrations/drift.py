"""Schema drift: a database's tables, columns, indexes and constraints, read from its own
catalog, compared with what its migrations produce on a scratch database of the same kind.

:func:`snapshot` reads a schema (SQLite, PostgreSQL, MySQL/MariaDB) into plain data;
:func:`compare` lists the differences; :func:`scratch_database` gives a throwaway database
beside the target (a temporary SQLite file; on a server a temporary database, or where the
user may not create one, a temporary schema), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .connections import Session, connect
from .errors import MigrationError
from .urls import DatabaseURL, quote_identifier

__all__ = ["STALE_AFTER", "Schema", "compare", "scratch_database", "snapshot"]


@dataclass
class Table:
    columns: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> type, nullable
    primary_key: tuple[str, ...] = ()
    indexes: set[tuple[tuple[str, ...], bool]] = field(default_factory=set)  # columns, unique
    foreign_keys: set[tuple[tuple[str, ...], str, tuple[str, ...]]] = field(default_factory=set)


@dataclass
class Schema:
    """What :func:`compare` compares: tables by name (names only matter for tables and
    columns; an index or constraint is what it covers)."""

    tables: dict[str, Table] = field(default_factory=dict)


def snapshot(session: Session, *, ignore: Collection[str] = ()) -> Schema:
    """The schema ``session``'s database (PostgreSQL: its current schema) holds, less the
    tables in ``ignore`` (bookkeeping)."""
    reader = {"sqlite": _sqlite, "postgresql": _postgresql, "mysql": _mysql}[session.family]
    schema = reader(session)
    for name in ignore:
        schema.tables.pop(name, None)
    return schema


def compare(actual: Schema, expected: Schema) -> list[dict[str, Any]]:
    """The differences of ``actual`` (the database) from ``expected`` (what the revisions
    build), each a dict: ``kind``, ``table``, ``detail`` and ``message``."""
    found: list[dict[str, Any]] = []

    def add(kind: str, table: str, detail: str, message: str) -> None:
        found.append({"kind": kind, "table": table, "detail": detail, "message": message})

    for name in sorted(set(expected.tables) - set(actual.tables)):
        add("missing_table", name, "", f"table {name} is missing")
    for name in sorted(set(actual.tables) - set(expected.tables)):
        add("extra_table", name, "", f"table {name} is not made by any revision")
    for name in sorted(set(actual.tables) & set(expected.tables)):
        for difference in _table_differences(name, actual.tables[name], expected.tables[name]):
            add(*difference)
    return found


def _table_differences(name: str, have: Table, want: Table) -> Iterator[tuple[str, str, str, str]]:
    for column in sorted(set(want.columns) - set(have.columns)):
        yield "missing_column", name, column, f"column {name}.{column} is missing"
    for column in sorted(set(have.columns) - set(want.columns)):
        yield "extra_column", name, column, f"column {name}.{column} is not in the revisions"
    for column in sorted(set(have.columns) & set(want.columns)):
        (have_type, have_null), (want_type, want_null) = have.columns[column], want.columns[column]
        where = f"column {name}.{column}"
        if have_type != want_type:
            yield "column_type", name, column, f"{where} is {have_type}, not {want_type}"
        if have_null != want_null:
            state = "nullable" if have_null else "NOT NULL"
            yield "column_nullable", name, column, f"{where} is {state}, unlike the revisions'"
    if have.primary_key != want.primary_key:
        keys = ", ".join(have.primary_key)
        wanted = ", ".join(want.primary_key)
        yield "primary_key", name, keys, f"{name}'s primary key is ({keys}), not ({wanted})"
    for kind, indexes, note in (
        ("missing_index", want.indexes - have.indexes, "is missing"),
        ("extra_index", have.indexes - want.indexes, "is not in the revisions"),
    ):
        for columns, unique in sorted(indexes):
            listed = ", ".join(columns)
            label = "unique index" if unique else "index"
            yield kind, name, listed, f"{label} on {name} ({listed}) {note}"
    for kind, foreign_keys, note in (
        ("missing_foreign_key", want.foreign_keys - have.foreign_keys, "is missing"),
        ("extra_foreign_key", have.foreign_keys - want.foreign_keys, "is not in the revisions"),
    ):
        for key_columns, target, _ in sorted(foreign_keys):
            listed = ", ".join(key_columns)
            yield kind, name, listed, f"foreign key {name} ({listed}) -> {target} {note}"


# -- a throwaway database of the same kind --------------------------------------


#: Scratch databases (and schemas) are named ``pydapter_check_<unix time>_<random>``; those
#: older than this many seconds were left by a check that was killed, and are dropped by the
#: next check on the same server.
STALE_AFTER = 3600
_PREFIX = "pydapter_check_"
_STAMPED = re.compile(rf"^{_PREFIX}(\d{{10}})_[0-9a-f]+$")
#: Every scratch name, as a LIKE pattern (its underscores escaped).
_LIKE = _PREFIX.replace("_", "\\_") + "%"


@contextlib.contextmanager
def scratch_database(url: DatabaseURL) -> Iterator[DatabaseURL]:
    """A new, empty database of ``url``'s kind, for the length of the ``with`` block.

    On a server it is a database named ``pydapter_check_<unix time>_<random>``; on
    PostgreSQL, where the user may not create one, a schema of that name in ``url``'s
    database (MySQL has no schemas inside a database: there the missing privilege is named).
    A URL whose ``search_path`` names a schema of its own (a tenant's) gets that schema in
    the scratch database, so the comparison is schema against schema. Scratch databases
    and schemas older than :data:`STALE_AFTER` (left by a killed check) are dropped first.
    """
    if url.backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="pydapter-check-")
        try:
            yield replace(url, database=str(Path(folder) / "scratch.db"), query={})
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"{_PREFIX}{int(time.time())}_{secrets.token_hex(6)}"
    tenant = url.schema if url.backend == "postgresql" else None
    with connect(url.sync(), purpose="check") as admin:
        _sweep(admin, url.backend)
        created = _try(admin, f"CREATE DATABASE {name}")
        if not created:
            if url.backend != "postgresql":
                raise MigrationError(
                    f"check replays the revisions on a scratch database ({name}), and this "
                    f"account may not create one: it needs the CREATE and DROP privileges "
                    f"on databases named {_PREFIX}*, for example GRANT ALL ON "
                    f"`{_LIKE}`.* TO <user> (MySQL and "
                    "MariaDB have no schemas inside a database to use instead)"
                )
            admin.execute(f"CREATE SCHEMA {name}")
    try:
        if not created:
            yield url.with_schema(name)
            return
        scratch = replace(url, database=name)
        if tenant is not None and tenant != "public":
            with connect(scratch.sync(), purpose="check") as session:
                session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(tenant)}")
        yield scratch
    finally:
        with connect(url.sync(), purpose="check") as admin:
            if created:
                _drop_database(admin, url.backend, name)
            else:
                admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def _drop_database(admin: Session, backend: str, name: str) -> None:
    if backend == "postgresql":
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = ? AND pid <> pg_backend_pid()",
            (name,),
        )
    admin.execute(f"DROP DATABASE IF EXISTS {name}")


def _sweep(admin: Session, backend: str) -> None:
    """Drop the scratch databases and schemas of checks that were killed: those whose name
    says they were made more than :data:`STALE_AFTER` seconds ago. Whatever the account
    may not see or drop is left alone."""
    if backend == "postgresql":
        queries = [
            ("database", "SELECT datname FROM pg_database WHERE datname LIKE ?"),
            ("schema", "SELECT nspname FROM pg_namespace WHERE nspname LIKE ?"),
        ]
    else:
        queries = [
            (
                "database",
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
            )
        ]
    deadline = time.time() - STALE_AFTER
    for kind, sql in queries:
        with contextlib.suppress(Exception):
            for (found,) in admin.execute(sql, (_LIKE,)):
                stamp = _STAMPED.match(str(found))
                if stamp is None or int(stamp.group(1)) > deadline:
                    continue
                with contextlib.suppress(Exception):
                    if kind == "database":
                        _drop_database(admin, backend, str(found))
                    else:
                        admin.execute(f"DROP SCHEMA IF EXISTS {found} CASCADE")


def _try(session: Session, sql: str) -> bool:
    try:
        session.execute(sql)
    except Exception as error:
        if not re.search(r"permission|denied|privilege", str(error), re.IGNORECASE):
            raise
        return False
    return True


# -- catalogs -------------------------------------------------------------------


def _sqlite(session: Session) -> Schema:
    schema = Schema()
    names = session.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for (name,) in names:
        table = schema.tables[name] = Table()
        quoted = '"' + name.replace('"', '""') + '"'
        pk: list[tuple[int, str]] = []
        for _, column, type_, notnull, _, pk_index in session.execute(
            f"PRAGMA table_info({quoted})"
        ):
            table.columns[column] = (_type(type_), not notnull and not pk_index)
            if pk_index:
                pk.append((pk_index, column))
        table.primary_key = tuple(column for _, column in sorted(pk))
        for row in session.execute(f"PRAGMA index_list({quoted})"):
            index, unique, origin = row[1], bool(row[2]), row[3]
            if origin == "pk":
                continue
            iquoted = '"' + index.replace('"', '""') + '"'
            columns = tuple(r[2] for r in session.execute(f"PRAGMA index_info({iquoted})"))
            table.indexes.add((columns, unique))
        keys: dict[int, list[tuple[str, str, str]]] = {}
        for row in session.execute(f"PRAGMA foreign_key_list({quoted})"):
            keys.setdefault(row[0], []).append((row[3], row[2], row[4]))
        for parts in keys.values():
            table.foreign_keys.add(
                (tuple(p[0] for p in parts), parts[0][1], tuple(p[2] or "" for p in parts))
            )
    return schema


def _postgresql(session: Session) -> Schema:
    schema = Schema()
    for name, column, type_, nullable in session.execute(
        "SELECT c.table_name, c.column_name, c.udt_name, c.is_nullable"
        " FROM information_schema.columns c JOIN information_schema.tables t"
        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position"
    ):
        table = schema.tables.setdefault(name, Table())
        table.columns[column] = (_type(type_), nullable == "YES")
    for name, unique, primary, columns in session.execute(
        "SELECT t.relname, ix.indisunique, ix.indisprimary,"
        " array_to_string(array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY"
        " AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum"
        " ORDER BY k.n), ',')"
        " FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid"
        " JOIN pg_namespace ns ON ns.oid = t.relnamespace"
        " WHERE ns.nspname = current_schema()"
    ):
        if name not in schema.tables:
            continue
        cols = tuple(str(columns).split(",")) if columns else ()
        if primary:
            schema.tables[name].primary_key = cols
        else:
            schema.tables[name].indexes.add((cols, bool(unique)))
    for name, columns, target, refs in session.execute(
        "SELECT c.conrelid::regclass::text, "
        " array_to_string(array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY"
        " AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid"
        " AND a.attnum = k.attnum ORDER BY k.n), ','),"
        " c.confrelid::regclass::text,"
        " array_to_string(array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY"
        " AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.confrelid"
        " AND a.attnum = k.attnum ORDER BY k.n), ',')"
        " FROM pg_constraint c JOIN pg_namespace ns ON ns.oid = c.connamespace"
        " WHERE c.contype = 'f' AND ns.nspname = current_schema()"
    ):
        table_name = str(name).rpartition(".")[2].strip('"')
        if table_name in schema.tables:
            schema.tables[table_name].foreign_keys.add(
                (
                    tuple(str(columns).split(",")),
                    str(target).rpartition(".")[2].strip('"'),
                    tuple(str(refs).split(",")),
                )
            )
    return schema


def _mysql(session: Session) -> Schema:
    schema = Schema()
    for name, column, type_, nullable in session.execute(
        "SELECT c.table_name, c.column_name, c.column_type, c.is_nullable"
        " FROM information_schema.columns c JOIN information_schema.tables t"
        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = DATABASE() AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position"
    ):
        table = schema.tables.setdefault(name, Table())
        table.columns[column] = (_type(type_), nullable == "YES")
    indexes: dict[tuple[str, str], tuple[bool, list[tuple[int, str]]]] = {}
    for name, index, non_unique, position, column in session.execute(
        "SELECT table_name, index_name, non_unique, seq_in_index, column_name"
        " FROM information_schema.statistics WHERE table_schema = DATABASE()"
    ):
        unique, columns = indexes.setdefault((name, index), (not non_unique, []))
        columns.append((int(position), column))
    fks: dict[tuple[str, str], list[tuple[int, str, str, str]]] = {}
    for name, constraint, column, target, ref, position in session.execute(
        "SELECT table_name, constraint_name, column_name, referenced_table_name,"
        " referenced_column_name, ordinal_position FROM information_schema.key_column_usage"
        " WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL"
    ):
        fks.setdefault((name, constraint), []).append((int(position), column, target, ref))
    fk_names = {key for key in fks}
    for (name, index), (unique, columns) in indexes.items():
        if name not in schema.tables:
            continue
        cols = tuple(column for _, column in sorted(columns))
        if index == "PRIMARY":
            schema.tables[name].primary_key = cols
        elif (name, index) not in fk_names:  # MySQL indexes every foreign key itself
            schema.tables[name].indexes.add((cols, unique))
    for (name, _), parts in fks.items():
        if name in schema.tables:
            parts.sort()
            schema.tables[name].foreign_keys.add(
                (tuple(p[1] for p in parts), parts[0][2], tuple(p[3] for p in parts))
            )
    return schema


def _type(text: Any) -> str:
    return " ".join(str(text or "").lower().split())
