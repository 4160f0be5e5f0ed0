"""The apply engine on a real database: retries, cycles (the SAVEPOINT applier itself: tests/shared/test_sqlapply_live.py)."""

import psycopg2
import pytest

from shared.sqlapply import SavepointApplier
from shared.sqlblocks import SqlObject
from steps.validate_restore.apply import apply_objects


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
    result = apply_objects(objects, lambda obj: applier.run(obj.sql))
    outcomes = [(o.obj.name, o.status, o.reason, o.attempts) for o in result.outcomes]
    assert outcomes == [
        ("s.a", "failed", 'relation "s.b" does not exist (SQLSTATE 42P01)', 2),  # retried: c made progress
        ("s.b", "failed", "dependency cycle through s.a", 0),
        ("s.c", "applied", None, 1),
    ]
    assert result.passes == 2
