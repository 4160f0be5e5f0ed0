"""The apply engine on a real database: cycles, savepoints that keep earlier work, a lost connection."""

import psycopg2
import pytest

from shared.errors import TransientError
from shared.sqlblocks import SqlObject
from steps.validate_restore.apply import SavepointApplier, apply_objects


def view(name: str, reads: str, depends_on=()) -> SqlObject:
    return SqlObject("view", f"s.{name}", f"CREATE VIEW s.{name} AS SELECT * FROM s.{reads};", f"s.{name}",
                     tuple(depends_on))


@pytest.fixture
def applier(fresh_db):
    conn = psycopg2.connect(fresh_db)
    with conn.cursor() as cur:
        cur.execute("create schema s; create table s.t (x int)")
    conn.commit()
    yield SavepointApplier(conn, commit_every=2)
    conn.close()


def test_a_dependency_cycle_is_reported_not_looped(applier):
    objects = [view("a", "b", ["s.b"]), view("b", "a", ["s.a"]), view("c", "t")]
    result = apply_objects(objects, lambda obj: applier.apply(obj.sql))
    outcomes = [(o.obj.name, o.status, o.reason, o.attempts) for o in result.outcomes]
    assert outcomes == [
        ("s.a", "failed", 'relation "s.b" does not exist (SQLSTATE 42P01)', 2),  # retried: c made progress
        ("s.b", "failed", "dependency cycle through s.a", 0),
        ("s.c", "applied", None, 1),
    ]
    assert result.passes == 2


def test_a_failed_statement_keeps_the_work_before_it(applier):
    assert applier.apply("insert into s.t values (1)") is None
    assert applier.apply("insert into s.t values ('not a number')") == \
        'invalid input syntax for type integer: "not a number" (SQLSTATE 22P02)'
    assert applier.apply("insert into s.t values (2)") is None  # second success: committed (commit_every=2)
    with applier.conn.cursor() as cur:
        cur.execute("select array_agg(x order by x) from s.t")
        assert cur.fetchone()[0] == [1, 2]


def test_a_lost_connection_is_transient_not_an_object_failure(applier, devstack):
    from tests.conftest import admin_connection

    with applier.conn.cursor() as cur:
        cur.execute("select pg_backend_pid()")
        pid = cur.fetchone()[0]
    applier.commit()
    admin = admin_connection(devstack)
    try:
        with admin.cursor() as cur:
            cur.execute("select pg_terminate_backend(%s)", (pid,))
    finally:
        admin.close()
    with pytest.raises(TransientError, match="lost the database connection"):
        applier.apply("select 1")
