"""Backend side of UNLOAD: a psycopg2 connection that returns every value as PostgreSQL's text output.

The core may use these for its backend sessions; the UNLOAD tests and benchmark use them as the core would.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import psycopg2.extensions

# Redshift's text forms need UTC timestamps with '+00', ISO dates, and Redshift's float digits.
SESSION_SETTINGS = "set timezone = 'UTC'; set datestyle = 'ISO, MDY'; set extra_float_digits = 0"
_names = itertools.count()


def use_text_values(conn) -> None:
    """Every type, arrays included, comes back as the server's text (no Python conversions)."""
    with conn.cursor() as cur:
        cur.execute(SESSION_SETTINGS)
        cur.execute("select oid from pg_type")
        oids = tuple(row[0] for row in cur.fetchall())
    conn.commit()
    text = psycopg2.extensions.new_type(oids, "REDSHIFT_TEXT", lambda value, _cursor: value)
    psycopg2.extensions.register_type(text, conn)


def named_cursor_opener(conn) -> Callable[[str], object]:
    """open_cursor for run_unload: each query gets its own server-side cursor in conn's transaction."""
    def open_cursor(query: str):
        cursor = conn.cursor(name=f"r2a_unload_{next(_names)}")
        cursor.execute(query)
        return cursor
    return open_cursor
