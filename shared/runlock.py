"""One process at a time per piece of a run: a session-level advisory lock in AlloyDB.

Two processes loading the same table of the same run (a second `argo submit` with the same run id, a retry
started while the first attempt still runs) must not interleave: the second refuses with exit 6. The lock
belongs to a database session, so a crashed or killed process releases it at once and a re-run never waits for
an expiry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from shared.errors import BadStateError, R2AError


def lock_key(run_id: str, scope: str) -> int:
    digest = hashlib.sha256(f"r2a\0{run_id}\0{scope}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def hold_exclusive(conn, run_id: str, scope: str) -> None:
    """Take the lock on this session (kept until it closes), or refuse in one line."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(run_id, scope),))
        taken = cursor.fetchone()[0]
    if not conn.autocommit:
        conn.commit()
    if not taken:
        raise BadStateError(f"run {run_id}: {scope} is already running in another process; not starting a second "
                            "one", "Wait for it to finish (or stop it), then run again")


def is_held(cursor, run_id: str, scope: str) -> bool:
    """Whether some session of this database holds the lock now. pg_locks shows a bigint advisory key as its
    high-order half in classid, its low-order half in objid, and objsubid 1
    (https://www.postgresql.org/docs/16/view-pg-locks.html)."""
    key = lock_key(run_id, scope) & 0xFFFFFFFFFFFFFFFF
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                   "AND classid::bigint = %s AND objid::bigint = %s "
                   "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
                   (key >> 32, key & 0xFFFFFFFF))
    return bool(cursor.fetchone()[0])


@contextmanager
def exclusive(connect: Callable[[], object], run_id: str, scope: str) -> Iterator[None]:
    """Hold the lock for the block on a session of its own, opened by `connect` (autocommit). When AlloyDB cannot
    be reached the block runs unlocked: its own work fails the same way, so nothing can interleave. (The caller
    connects, so that modules needing only `lock_key` do not import the SSH/connection stack.)"""
    try:
        conn = connect()
    except R2AError:
        conn = None
    try:
        if conn is not None:
            hold_exclusive(conn, run_id, scope)
        yield
    finally:
        if conn is not None:
            conn.close()
