"""Two processes moving the same table of the same run must not interleave: the second refuses (exit 6) and
leaves the first's result file and the target alone; a crashed holder's session frees the lock at once."""

from __future__ import annotations

import psycopg2

from shared.runlock import hold_exclusive


def _holder(transfer, scope: str):
    conn = psycopg2.connect(transfer.alloydb_dsn)
    conn.autocommit = True
    hold_exclusive(conn, transfer.run_id, scope)
    return conn


def test_a_second_transfer_of_the_same_table_refuses_and_changes_nothing(transfer):
    source, _ = transfer.table("busy", [("id", "integer")],
                               rows_sql=f"INSERT INTO {transfer.schema}.busy SELECT g FROM generate_series(1, 50) g")
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.busy VALUES (-1)")
    holder = _holder(transfer, f"table_transfer of {source}")  # "the first process", mid-transfer
    try:
        code, output = transfer.run("--table", str(source))
        assert code == 6, output
        assert "is already running in another process" in output
        assert not transfer.store.exists(transfer.layout.result(source))  # the first process owns it
        assert transfer.pg_rows(f"SELECT id FROM {transfer.schema}.busy") == [(-1,)]
    finally:
        holder.close()  # the first process ends (or dies): its session releases the lock
    code, output = transfer.run("--table", str(source))
    assert code == 0, output
    assert transfer.pg_rows(f"SELECT count(*) FROM {transfer.schema}.busy") == [(50,)]


def test_another_table_or_another_run_is_not_blocked(transfer):
    source, _ = transfer.table("free", [("id", "integer")],
                               rows_sql=f"INSERT INTO {transfer.schema}.free VALUES (1)")
    holders = [_holder(transfer, f"table_transfer of {transfer.schema}.other")]
    conn = psycopg2.connect(transfer.alloydb_dsn)
    conn.autocommit = True
    hold_exclusive(conn, "another_run_1", f"table_transfer of {source}")
    holders.append(conn)
    try:
        code, output = transfer.run("--table", str(source))
        assert code == 0, output
    finally:
        for holder in holders:
            holder.close()
