"""pre-data and post-data on PostgreSQL through the one apply engine (shared/applyengine.py): what depends on a
failure, directly or through another object, is skipped with the chain down to the root cause, independent objects
are applied, and post-data in two sessions reads the same as in one."""

from __future__ import annotations

import psycopg2
import pytest

from shared.sqlblocks import SqlObject
from steps.load_schema.postdata import apply_post_data
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


POST_DATA = [
    block("index", "p.t.t_x", "CREATE INDEX t_x ON p.t (x);", "p.t"),
    block("index", "p.t.t_y", "CREATE INDEX t_y ON p.t (y);", "p.t"),  # fails: no column y
    block("view", "p.v1", "CREATE VIEW p.v1 AS SELECT no_such_column FROM p.t;", "p.t"),
    block("view", "p.v2", "CREATE VIEW p.v2 AS SELECT * FROM p.v1;", "p.v1"),
    block("view", "p.v3", "CREATE VIEW p.v3 AS SELECT * FROM p.v2;", "p.v2"),
    block("view", "p.ok", "CREATE VIEW p.ok AS SELECT x FROM p.t;", "p.t"),
    block("comment", "p.v3", "COMMENT ON VIEW p.v3 IS 'four links';", "p.v3"),
]


@pytest.mark.parametrize("sessions", [1, 2])
def test_post_data_skips_the_chain_above_a_failed_view_in_one_or_more_sessions(conn, fresh_db, sessions):
    with conn.cursor() as cur:
        cur.execute("CREATE SCHEMA p; CREATE TABLE p.t (x int)")
    conn.commit()
    result = apply_post_data(conn, POST_DATA, [], index_jobs=sessions, connect=lambda: psycopg2.connect(fresh_db))
    failure = 'column "no_such_column" does not exist (SQLSTATE 42703)'
    root = f"view p.v1, which failed: {failure}"
    assert [(r.name, r.status, r.reason) for r in result.objects] == [
        ("p.t.t_x", "applied", None),
        ("p.t.t_y", "failed", 'column "y" does not exist (SQLSTATE 42703)'),
        ("p.v1", "failed", failure),
        ("p.v2", "skipped", f"depends on {root}"),
        ("p.v3", "skipped", f"depends on view p.v2, which depends on {root}"),
        ("p.ok", "applied", None),
        ("p.v3", "skipped", f"depends on view p.v3, which depends on view p.v2, which depends on {root}"),
    ]
    assert {t.name for t in result.timings} == {"p.t.t_x", "p.t.t_y", "p.v1", "p.ok"}  # the skipped never ran
    assert {t.session for t in result.timings} <= set(range(1, sessions + 1))
    assert query(fresh_db, "select relname from pg_class where relnamespace = 'p'::regnamespace order by 1") == [
        ("ok",), ("t",), ("t_x",)]
