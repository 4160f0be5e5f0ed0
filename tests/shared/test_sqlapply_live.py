"""shared.sqlapply on a real database: statement errors are values that keep earlier work, a lost connection is
transient and names the database."""

import psycopg2
import pytest

from shared.errors import TransientError
from shared.sqlapply import SavepointApplier, has_statement
from shared.sqlblocks import SqlObject
from tests.conftest import admin_connection


@pytest.fixture
def conn(fresh_db):
    connection = psycopg2.connect(fresh_db)
    yield connection
    connection.close()


def test_errors_are_values_and_earlier_work_stays(conn):
    applier = SavepointApplier(conn, commit_every=1)
    assert applier.run("create table t (x int primary key)", ("insert into t values (%s)", (1,))) is None
    error = applier.run("insert into t values (2)", "insert into t values (1)")  # all or nothing
    assert error.sqlstate == "23505" and not error.already_exists
    assert error.message.startswith("duplicate key value violates unique constraint")
    assert applier.run("create table t (y int)").already_exists
    assert applier.query("select array_agg(x) from t") == [([1],)]
    assert applier.query("select * from missing").message == 'relation "missing" does not exist (SQLSTATE 42P01)'


def test_work_is_committed_every_n_successes(conn, fresh_db):
    commits = []
    applier = SavepointApplier(conn, commit_every=2, on_commit=lambda: commits.append(1))
    assert applier.run("create table t (x int)") is None
    assert applier.run("insert into t values ('not a number')").message == \
        'invalid input syntax for type integer: "not a number" (SQLSTATE 22P02)'
    other = psycopg2.connect(fresh_db)
    try:
        with other.cursor() as cur:
            cur.execute("select to_regclass('public.t') is not null")
            assert cur.fetchone() == (False,)  # one success so far: not committed yet
            assert applier.run("insert into t values (1)") is None  # second success: committed
            cur.execute("select array_agg(x) from t")
            assert cur.fetchone() == ([1],)
    finally:
        other.close()
    assert commits == [1]


@pytest.mark.parametrize("system", ["AlloyDB", "scratch PostgreSQL"])
def test_lost_connection_is_transient(conn, devstack, system):
    applier = SavepointApplier(conn, system=system)
    pid = applier.query("select pg_backend_pid()")[0][0]
    applier.commit()
    admin = admin_connection(devstack)
    try:
        with admin.cursor() as cur:
            cur.execute("select pg_terminate_backend(%s)", (pid,))
    finally:
        admin.close()
    with pytest.raises(TransientError, match=f"^lost the {system} connection: "):
        applier.run("select 1")


def test_a_block_of_comments_has_no_statement():
    assert not has_statement(SqlObject("function", "s.f", "-- unsupported: LANGUAGE plpythonu\n\n--"))
    assert has_statement(SqlObject("table", "s.t", "-- a note\nCREATE TABLE s.t (x int);"))
