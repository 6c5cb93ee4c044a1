"""What counts as a statement that ends a revision's transaction (SQL backends refuse a
transactional revision holding one before running anything)."""

from __future__ import annotations

import pytest

from pydapter_migrations.revisions import find_transaction_control


@pytest.mark.parametrize(
    ("statement", "found"),
    [
        ("COMMIT", "COMMIT"),
        ("/* why */ ROLLBACK", "ROLLBACK"),
        ("-- note\nSTART TRANSACTION", "START TRANSACTION"),
        ("SET autocommit=1", "SET AUTOCOMMIT"),
        ("SET SESSION autocommit = 1", "SET SESSION AUTOCOMMIT"),
        ("SET LOCAL autocommit := 1", "SET LOCAL AUTOCOMMIT"),
        ("SET @@session.autocommit=1", "SET @@SESSION.AUTOCOMMIT"),
        ("set sql_mode='', autocommit=1", "SET SQL_MODE='', AUTOCOMMIT"),
        # MySQL runs the text of /*! */ (MariaDB: /*M! */), a version number after the mark.
        ("/*!40000 SET autocommit=1 */", "SET AUTOCOMMIT"),
        ("SET `autocommit`=1", "SET AUTOCOMMIT"),
        ("SET @@SESSION.`autocommit` = 1", "SET @@SESSION.AUTOCOMMIT"),
        ("/*M!100000 COMMIT */", "COMMIT"),
    ],
)
def test_every_spelling_of_ending_the_transaction_is_found(statement: str, found: str) -> None:
    assert find_transaction_control(["CREATE TABLE t (id int)", statement]) == found


@pytest.mark.parametrize(
    "statement",
    [
        "ROLLBACK TO SAVEPOINT s",
        "BEGIN NOT ATOMIC SELECT 1; END",
        "SET @x = 'autocommit=1'",
        "SET autocommit_stats=1",
        "SET @x = '`autocommit`=1'",
        "SET `autocommit_stats`=1",
        "SELECT @@autocommit",
        "INSERT INTO t VALUES ('COMMIT')",
        "/*!40101 SET NAMES utf8 */",
        "/* COMMIT */ SELECT 1",
    ],
)
def test_statements_that_stay_in_the_transaction_are_not_refused(statement: str) -> None:
    assert find_transaction_control([statement]) is None
