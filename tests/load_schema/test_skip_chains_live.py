"""pre-data on PostgreSQL through the one apply engine (shared/applyengine.py): what depends on a failure, directly
or through another object, is skipped with the chain down to the root cause, independent objects are applied."""

from __future__ import annotations

import psycopg2
import pytest

from shared.sqlblocks import SqlObject
from steps.load_schema.predata import apply_pre_data
from tests.load_schema.conftest import query


def block(kind: str, name: str, statement: str, *depends_on: str) -> SqlObject:
    return SqlObject(kind, name, statement, name, tuple(depends_on))


@pytest.fixture
def conn(fresh_db):
    connection = psycopg2.connect(fresh_db)
    yield connection
    connection.close()


def test_pre_data_skips_a_failed_schemas_table_and_its_comment_with_the_chain(conn, fresh_db):
    failure = 'role "no_such_owner" does not exist (SQLSTATE 42704)'
    objects = [block("schema", "s", "CREATE SCHEMA s AUTHORIZATION no_such_owner;"),
               block("table", "s.t", "CREATE TABLE s.t (x int);", "s"),
               block("comment", "s.t", "COMMENT ON TABLE s.t IS 'three links';", "s.t"),
               block("schema", "ok", "CREATE SCHEMA ok;"),
               block("table", "ok.t", "CREATE TABLE ok.t (x int);", "ok")]
    reports = apply_pre_data(conn, objects, "fail")
    assert [(r.kind, r.name, r.status, r.reason) for r in reports] == [
        ("schema", "s", "failed", failure),
        ("table", "s.t", "skipped", f"depends on schema s, which failed: {failure}"),
        ("comment", "s.t", "skipped", f"depends on table s.t, which depends on schema s, which failed: {failure}"),
        ("schema", "ok", "applied", None),
        ("table", "ok.t", "applied", None),
    ]
    assert query(fresh_db, "select count(*) from pg_tables where schemaname = 'ok'") == [(1,)]
