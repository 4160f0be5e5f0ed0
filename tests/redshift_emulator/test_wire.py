"""The emulator's protocol side, over the wire: identity, authentication, errors, notices, transactions,
cancel requests, concurrent sessions and the extended query protocol."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time

import psycopg2
import psycopg2.errors
import pytest

from tests.redshift_emulator.conftest import connect, one, psql, rows

VERSION = re.compile(r"^PostgreSQL 8\.0\.2 on i686-pc-linux-gnu, compiled by GCC gcc \(GCC\) 3\.4\.2 20041017 "
                     r"\(Red Hat 3\.4\.2-6\.fc3\), Redshift 1\.0\.\d+$")


def test_version_strings(rs):
    assert VERSION.match(one(rs, "select version()"))
    assert rs.server_version == 80002
    assert rs.get_parameter_status("server_version") == "8.0.2"
    assert one(rs, "select current_database()") == "dev"
    assert one(rs, "show server_version") == "8.0.2"


def test_version_through_psql(devstack, redshift):
    result = psql(devstack, redshift, "-At", "-c", "select version()")
    assert result.returncode == 0, result.stderr
    assert VERSION.match(result.stdout.strip())


def test_pg_dump_refuses_like_it_refuses_redshift(devstack, redshift):
    binary = os.path.join(devstack["postgres"]["bin_dir"], "pg_dump")
    env = dict(os.environ, PGPASSWORD=redshift["password"], PGSSLMODE="disable")
    result = subprocess.run([binary, "-h", redshift["host"], "-p", str(redshift["port"]), "-U", redshift["user"],
                             "-d", redshift["database"], "--schema-only"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode != 0
    assert "server version mismatch" in result.stderr
    assert "server version: 8.0.2" in result.stderr


def test_wrong_password_is_rejected(redshift):
    with pytest.raises(psycopg2.OperationalError) as failed:
        connect(redshift, password="not-the-password")
    assert f'password authentication failed for user "{redshift["user"]}"' in str(failed.value)
    with pytest.raises(psycopg2.OperationalError) as unknown:
        connect(redshift, user="nobody_here")
    assert 'password authentication failed for user "nobody_here"' in str(unknown.value)


def test_wrong_password_through_psql(devstack, redshift):
    result = psql(devstack, redshift, "-c", "select 1", password="wrong")
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr


def test_unknown_database_is_rejected(redshift):
    with pytest.raises(psycopg2.OperationalError) as failed:
        connect(redshift, dbname="nosuchdb")
    assert 'database "nosuchdb" does not exist' in str(failed.value)


def test_errors_carry_sqlstate_and_the_session_survives(rs):
    with pytest.raises(psycopg2.errors.UndefinedTable) as missing, rs.cursor() as cur:
        cur.execute("select * from no_such_table_anywhere")
    assert missing.value.pgcode == "42P01"
    with pytest.raises(psycopg2.errors.DivisionByZero):
        one(rs, "select 1/0")
    assert one(rs, "select 40 + 2") == 42


def test_notices_are_forwarded(rs):
    del rs.notices[:]
    with rs.cursor() as cur:
        cur.execute("drop table if exists never_existed_here")
    assert any("does not exist, skipping" in n for n in rs.notices)


def test_transactions_commit_and_roll_back(redshift, schema):
    conn = connect(redshift)
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute(f"create table {schema}.tx (id int)")
            conn.commit()
            cur.execute(f"insert into {schema}.tx values (1)")
            assert conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
            conn.rollback()
            cur.execute(f"insert into {schema}.tx values (2)")
            conn.commit()
            cur.execute(f"select id from {schema}.tx")
            assert cur.fetchall() == [(2,)]
            with pytest.raises(psycopg2.Error):
                cur.execute("select 1/0")
            assert conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INERROR
            conn.rollback()
    finally:
        conn.close()


def test_multi_statement_query_through_psql(devstack, redshift):
    result = psql(devstack, redshift, "-At", "-c", "select 1; select 'two'; select 3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "two", "3"]


def test_extended_protocol_with_text_parameters(devstack, redshift):
    # psql's \bind sends Parse/Bind/Describe/Execute/Sync for an unnamed statement, like JDBC does
    script = ("select $1::int + 1 as answer, $2 as word \\bind 41 hello \\g\n"
              "select 1/$1::int \\bind 0 \\g\n"
              "select $1 \\bind \\g\n"
              "select nvl(null::text, $1) \\bind fallback \\g\n")
    result = psql(devstack, redshift, "-At", "-f", "-", script=script)
    assert result.stdout.split() == ["42|hello", "fallback"], result.stderr
    assert "division by zero" in result.stderr
    assert "bind message supplies 0 parameters" in result.stderr


def test_cancel_request_stops_a_running_query(redshift):
    conn = connect(redshift)
    try:
        timer = threading.Timer(0.5, conn.cancel)
        started = time.monotonic()
        timer.start()
        with pytest.raises(psycopg2.errors.QueryCanceled), conn.cursor() as cur:
            cur.execute("select pg_sleep(20)")
        assert time.monotonic() - started < 10
        assert one(conn, "select 'still usable'") == "still usable"
    finally:
        conn.close()


def test_many_concurrent_sessions(redshift):
    results: list[object] = []

    def work(n: int) -> None:
        try:
            conn = connect(redshift)
            try:
                results.append(rows(conn, "select %s, pg_sleep(0.5)", (n,))[0][0])
            finally:
                conn.close()
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == list(range(12))
    assert time.monotonic() - started < 12 * 0.5
