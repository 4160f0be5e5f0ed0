"""How tests run one statement on a devstack database: a connection of its own (from a DSN or a function that opens
one), committed and closed, its rows returned ([] for a statement that returns none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg2


def query(connect: str | Callable[[], Any], statement: Any, params: Any = None,
          connect_timeout: int | None = None) -> list[tuple]:
    if isinstance(connect, str):
        conn = psycopg2.connect(connect, **({"connect_timeout": connect_timeout} if connect_timeout else {}))
    else:
        conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
        if not conn.autocommit:
            conn.commit()
        return rows
    finally:
        conn.close()


def redshift_session(redshift: dict):
    """An autocommit session on the devstack Redshift emulator, from devstack's `redshift` entry."""
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    conn.autocommit = True
    return conn


def on_redshift(devstack: dict, statement: Any, params: Any = None) -> list[tuple]:
    """One statement on the devstack Redshift emulator, in a session of its own."""
    return query(lambda: redshift_session(devstack["redshift"]), statement, params)
