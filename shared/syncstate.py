"""Sync watermarks: how far each incrementally synced table has been brought, committed with the rows they cover.

`r2a_meta.sync_state` has one row per AlloyDB target table: the Redshift table, the mode and cursor column of the
last sync, the watermark (the cursor's largest value the last sync loaded, as text in the cursor's type, NULL
when the source was empty), the target's relation OID when it was written (a target dropped and created again by
`--on-existing replace` has another OID, so its watermark no longer describes its rows), the columns synced and
when. The row is written by the same transaction that merges the delta into the target (sync_load.py), so a crash
at any point leaves both as they were: the next run reads the same window again. It lives in r2a_meta beside the
part ledger (shared/partledger.py), created the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

from shared.ddlsession import META_SCHEMA, require_own_schema
from shared.partledger import lock_schema_ddl

SYNC_STATE = sql.Identifier(META_SCHEMA, "sync_state")

_DDL = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {} (target text PRIMARY KEY, source text NOT NULL, mode text NOT NULL,"
    " cursor_column text NOT NULL, cursor_type text NOT NULL, watermark text, target_oid oid NOT NULL,"
    " columns jsonb NOT NULL, run_id text NOT NULL, synced_at timestamptz NOT NULL DEFAULT now())").format(SYNC_STATE)


@dataclass(frozen=True)
class SyncState:
    target: str
    source: str
    mode: str
    cursor_column: str
    cursor_type: str
    watermark: str | None
    target_oid: int
    columns: tuple[str, ...]
    run_id: str
    synced_at: str


def ensure_sync_state(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        lock_schema_ddl(cur)
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(META_SCHEMA)))
    require_own_schema(conn, META_SCHEMA)
    with conn.cursor() as cur:
        cur.execute(_DDL)
    conn.commit()


_COLUMNS = sql.SQL("target, source, mode, cursor_column, cursor_type, watermark, target_oid, columns, run_id, "
                   "to_char(synced_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")  # as utc_now() writes it


def _state(row) -> SyncState:
    columns = row[7] if isinstance(row[7], list) else json.loads(row[7])
    return SyncState(row[0], row[1], row[2], row[3], row[4], row[5], int(row[6]), tuple(columns), row[8], row[9])


def read_state(cur, target: str, for_update: bool = False) -> SyncState | None:
    cur.execute(sql.SQL("SELECT {} FROM {} WHERE target = %s{}").format(
        _COLUMNS, SYNC_STATE, sql.SQL(" FOR UPDATE" if for_update else "")), (target,))
    row = cur.fetchone()
    return _state(row) if row else None


def all_states(cur) -> list[SyncState]:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (SYNC_STATE.as_string(cur),))
    if not cur.fetchone()[0]:
        return []
    cur.execute(sql.SQL("SELECT {} FROM {} ORDER BY target").format(_COLUMNS, SYNC_STATE))
    return [_state(row) for row in cur.fetchall()]


def write_state(cur, state: SyncState) -> None:
    """Inside the transaction that merged the rows the watermark covers."""
    cur.execute(sql.SQL(
        "INSERT INTO {} (target, source, mode, cursor_column, cursor_type, watermark, target_oid, columns, run_id, "
        "synced_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now()) ON CONFLICT (target) DO UPDATE SET "
        "source = EXCLUDED.source, mode = EXCLUDED.mode, cursor_column = EXCLUDED.cursor_column, "
        "cursor_type = EXCLUDED.cursor_type, watermark = EXCLUDED.watermark, target_oid = EXCLUDED.target_oid, "
        "columns = EXCLUDED.columns, run_id = EXCLUDED.run_id, synced_at = now()").format(SYNC_STATE),
        (state.target, state.source, state.mode, state.cursor_column, state.cursor_type, state.watermark,
         state.target_oid, json.dumps(list(state.columns)), state.run_id))
