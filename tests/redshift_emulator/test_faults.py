"""Fault switches over the wire: set from one session, they hit statements of every other session."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg2
import psycopg2.errors
import pytest

from tests.redshift_emulator.conftest import connect, one

ROLE = "arn:aws:iam::123456789012:role/r2a-unload"


@pytest.fixture
def control(redshift):
    """The test's control session; every fault is cleared afterwards."""
    conn = connect(redshift)
    yield conn
    with conn.cursor() as cur:
        cur.execute("select r2a_emulator_fault_clear()")
    conn.close()


@pytest.fixture
def victim(redshift):
    conn = connect(redshift)
    yield conn
    if not conn.closed:
        conn.close()


@pytest.fixture
def table(control, schema):
    with control.cursor() as cur:
        cur.execute(f"create table {schema}.target (id int)")
        cur.execute(f"insert into {schema}.target values (1), (2), (3)")
    return f"{schema}.target"


def unload(table: str, devstack: dict) -> str:
    prefix = f"s3://{devstack['s3']['bucket']}/faults/{uuid.uuid4().hex[:12]}/"
    return f"UNLOAD ('select * from {table}') TO '{prefix}' IAM_ROLE '{ROLE}'"


def test_query_fail_hits_other_sessions_until_cleared(control, victim, table):
    assert one(control, "select r2a_emulator_fault('query_fail', %s, 'injected query failure')", (table,)) \
        == f"query_fail on {table}"
    with pytest.raises(psycopg2.Error) as failed:
        one(victim, f"select count(*) from {table}")
    assert failed.value.pgcode == "XX000" and "injected query failure" in failed.value.pgerror
    assert one(victim, "select 1") == 1                        # other statements are untouched
    assert one(control, "select r2a_emulator_fault_clear()") == "cleared 1 fault(s)"
    assert one(victim, f"select count(*) from {table}") == 3


def test_unload_fail(control, victim, table, devstack):
    one(control, "select r2a_emulator_fault('unload_fail', %s, 'injected UNLOAD failure')", (table,))
    with pytest.raises(psycopg2.Error) as failed, victim.cursor() as cur:
        cur.execute(unload(table, devstack))
    assert "injected UNLOAD failure" in failed.value.pgerror
    assert one(victim, f"select count(*) from {table}") == 3


def test_unload_stall_is_cancellable(control, victim, table, devstack):
    one(control, "select r2a_emulator_fault('unload_stall', %s, '30')", (table,))
    timer = threading.Timer(0.5, victim.cancel)
    started = time.monotonic()
    timer.start()
    with pytest.raises(psycopg2.errors.QueryCanceled), victim.cursor() as cur:
        cur.execute(unload(table, devstack))
    assert time.monotonic() - started < 10
    assert one(victim, "select 2") == 2


def test_cancel_command_from_another_session_stops_the_stalled_unload(control, victim, table, devstack):
    """Redshift's CANCEL process_id: what a client uses when it cannot send a protocol cancel request."""
    one(control, "select r2a_emulator_fault('unload_stall', %s, '30')", (table,))
    pid = victim.get_backend_pid()

    def cancel_from_the_control_session() -> None:
        with control.cursor() as cur:
            cur.execute(f"cancel {pid}")

    timer = threading.Timer(0.5, cancel_from_the_control_session)
    started = time.monotonic()
    timer.start()
    with pytest.raises(psycopg2.errors.QueryCanceled), victim.cursor() as cur:
        cur.execute(unload(table, devstack))
    timer.join()
    assert time.monotonic() - started < 10
    assert one(victim, "select 2") == 2


def test_cancel_command_names_an_unknown_session(control):
    with pytest.raises(psycopg2.Error) as refused, control.cursor() as cur:
        cur.execute("cancel 999999")
    assert "Session 999999 does not exist" in refused.value.pgerror


def test_disconnect_cuts_the_connection_mid_unload(control, victim, table, devstack):
    one(control, "select r2a_emulator_fault('disconnect', %s, '1')", (table,))
    with pytest.raises(psycopg2.OperationalError), victim.cursor() as cur:
        cur.execute(unload(table, devstack))
    assert one(control, "select 3") == 3


def test_unload_writes_utc_whatever_the_session_time_zone(victim, table, devstack):
    import boto3
    s3env = devstack["s3"]
    s3 = boto3.client("s3", endpoint_url=s3env["endpoint_url"], region_name=s3env["region"],
                      aws_access_key_id=s3env["access_key_id"], aws_secret_access_key=s3env["secret_access_key"])
    prefix = f"faults/{uuid.uuid4().hex[:12]}/"
    with victim.cursor() as cur:
        cur.execute("set timezone to 'America/New_York'")
        cur.execute("set extra_float_digits to 3")
        cur.execute(f"UNLOAD ('select ''2024-01-02 03:04:05+00''::timestamptz, 0.1::float8') "
                    f"TO 's3://{s3env['bucket']}/{prefix}' IAM_ROLE '{ROLE}' PARALLEL OFF")
        cur.execute("select '2024-01-02 03:04:05+00'::timestamptz::text")
        assert cur.fetchone()[0] == "2024-01-01 22:04:05-05"       # the session keeps its own setting
    body = s3.get_object(Bucket=s3env["bucket"], Key=f"{prefix}000")["Body"].read()
    s3.delete_object(Bucket=s3env["bucket"], Key=f"{prefix}000")
    assert body == b"2024-01-02 03:04:05+00|0.1\n"


def test_bad_fault_commands_are_refused(control):
    with pytest.raises(psycopg2.Error) as unknown:
        one(control, "select r2a_emulator_fault('melt', 'public.x', '')")
    assert "usage: select r2a_emulator_fault(" in unknown.value.pgerror
    with pytest.raises(psycopg2.Error) as not_a_number:
        one(control, "select r2a_emulator_fault('unload_stall', 'public.x', 'soon')")
    assert "is not a number" in not_a_number.value.pgerror
