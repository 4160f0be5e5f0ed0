"""validate_restore's use of the apply engine (shared/applyengine.py) on a real database: retries, cycles, chains
(the SAVEPOINT applier itself: tests/shared/test_sqlapply_live.py)."""

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
    outcomes = [(o.name, o.status, o.reason, n) for o, n in zip(result.reports, result.attempts, strict=True)]
    assert outcomes == [
        ("s.a", "failed", 'relation "s.b" does not exist (SQLSTATE 42P01)', 2),  # retried: c made progress
        ("s.b", "failed", "dependency cycle through s.a", 0),
        ("s.c", "applied", None, 1),
    ]
    assert result.passes == 2


def test_a_failed_table_skips_the_chain_above_it_and_the_rest_applies(applier):
    objects = [SqlObject("table", "s.broken", "CREATE TABLE s.broken (g geometry);", "s.broken"),
               view("v1", "broken", ["s.broken"]), view("v2", "v1", ["s.v1"]), view("c", "t")]
    result = apply_objects(objects, lambda obj: applier.run(obj.sql))
    failure = 'type "geometry" does not exist (SQLSTATE 42704)'
    outcomes = [(o.name, o.status, o.reason, n) for o, n in zip(result.reports, result.attempts, strict=True)]
    assert outcomes == [
        ("s.broken", "failed", failure, 2),  # tried again after c made progress
        ("s.v1", "skipped", f"depends on table s.broken, which failed: {failure}", 0),
        ("s.v2", "skipped", f"depends on view s.v1, which depends on table s.broken, which failed: {failure}", 0),
        ("s.c", "applied", None, 1),
    ]
    applier.commit()
    assert applier.query("select relname from pg_class where relnamespace = 's'::regnamespace order by 1") == [
        ("c",), ("t",)]
