"""load_schema's SavepointApplier on a real database: statement errors are values, a lost connection is transient."""

import psycopg2
import pytest

from shared.errors import TransientError
from steps.load_schema.applier import SavepointApplier
from tests.conftest import admin_connection


def test_errors_are_values_and_earlier_work_stays(fresh_db):
    conn = psycopg2.connect(fresh_db)
    try:
        applier = SavepointApplier(conn, commit_every=1)
        assert applier.run("create table t (x int primary key)", ("insert into t values (%s)", (1,))) is None
        error = applier.run("insert into t values (2)", "insert into t values (1)")  # all or nothing
        assert error.sqlstate == "23505" and not error.already_exists
        assert applier.run("create table t (y int)").already_exists
        assert applier.query("select array_agg(x) from t") == [([1],)]
        assert applier.query("select * from missing").message == 'relation "missing" does not exist (SQLSTATE 42P01)'
    finally:
        conn.close()


def test_lost_connection_is_transient(fresh_db, devstack):
    conn = psycopg2.connect(fresh_db)
    try:
        applier = SavepointApplier(conn)
        pid = applier.query("select pg_backend_pid()")[0][0]
        applier.commit()
        admin = admin_connection(devstack)
        try:
            with admin.cursor() as cur:
                cur.execute("select pg_terminate_backend(%s)", (pid,))
        finally:
            admin.close()
        with pytest.raises(TransientError, match="lost the AlloyDB connection"):
            applier.run("select 1")
    finally:
        conn.close()
