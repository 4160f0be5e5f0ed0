"""What the source is doing besides our UNLOAD, asked from a session of its own: the table's count after the load
(other sessions may have written to it meanwhile) and, when the UNLOAD ran out of time, what it was waiting for.
Neither can fail a table: an answer that cannot be had is logged and left out."""

from __future__ import annotations

import psycopg2
from psycopg2 import sql

from shared import stepnames
from shared.config import Settings
from shared.connections import redshift_connection
from shared.errors import R2AError
from shared.log import event, one_line
from steps.table_transfer.plan import TableSpec

STEP = stepnames.TABLE_TRANSFER
# https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TRANSACTIONS.html: locks held (granted) or awaited (not
# granted) by each session (pid); relation is the table's id.
_AWAITED_LOCK = "SELECT relation, lock_mode FROM svv_transactions WHERE pid = %s AND NOT granted AND relation IS NOT NULL"
_LOCK_HOLDERS = ("SELECT DISTINCT pid FROM svv_transactions WHERE relation = %s AND granted AND pid <> %s "
                 "ORDER BY pid")
# https://docs.aws.amazon.com/redshift/latest/dg/SYS_QUERY_HISTORY.html: status 'queued' while WLM holds the query
_QUEUED = "SELECT COUNT(*) FROM sys_query_history WHERE session_id = %s AND TRIM(status) = 'queued'"
_FAILURES = (psycopg2.Error, R2AError, OSError)


def _brief(exc: BaseException) -> str:
    return one_line(exc, 200)


def count_now(settings: Settings, spec: TableSpec) -> int | None:
    """The source's row count now, or None when it cannot be counted (dropped meanwhile, connection refused)."""
    try:
        with redshift_connection(settings, STEP) as conn:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(spec.source.sql()))
                count = int(cur.fetchone()[0])
            conn.rollback()
            return count
    except _FAILURES as exc:
        event("source.recount_failed", table=str(spec.source), error=_brief(exc))
        return None


def waiting_for(settings: Settings, pid: int) -> str | None:
    """Why session `pid` is not getting on: a lock another session holds, or a WLM queue; None when neither shows."""
    try:
        with redshift_connection(settings, STEP) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(_AWAITED_LOCK, (pid,))
                awaited = cur.fetchall()
                if awaited:
                    relation, mode = awaited[0]
                    cur.execute(_LOCK_HOLDERS, (relation, pid))
                    holders = ", ".join(str(row[0]) for row in cur.fetchall()) or "unknown"
                    return f"it was waiting for a lock ({mode}) on the table, held by session {holders}"
                try:
                    cur.execute(_QUEUED, (pid,))
                    if cur.fetchone()[0]:
                        return "it was waiting in a WLM queue"
                except psycopg2.Error as exc:  # a Redshift (or emulator) without SYS_QUERY_HISTORY
                    event("unload.queue_unknown", pid=pid, error=_brief(exc))
    except _FAILURES as exc:
        event("unload.wait_unknown", pid=pid, error=_brief(exc))
    return None
