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
