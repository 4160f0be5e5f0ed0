"""The staging tables of a staged load (`table_transfer --load-sessions N`), in one place.

table_transfer creates one UNLOGGED table per attempt in schema r2a_staging, commented with its target's name, and
drops it however the attempt ends, except when the process itself is killed. Those leftovers are found by their
comment: table_transfer drops its target's before a new attempt, and load_schema's post-data, which runs once every
transfer of the run has ended, drops those of every planned target (a killed terabyte load must not stay behind).
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg2 import sql

STAGING_SCHEMA = "r2a_staging"

_OF_TARGETS = ("SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c "
               "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
               "WHERE n.nspname = %s AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') = ANY(%s) "
               "ORDER BY 2, 1")


def comment_staging_table(cur, staging: sql.Identifier, target: str) -> None:
    cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(staging, sql.Literal(target)))


def drop_staging_tables(cur, targets: Sequence[str]) -> list[tuple[str, str]]:
    """Drop every staging table whose comment names one of `targets`; returns (staging table, target) dropped."""
    cur.execute(_OF_TARGETS, (STAGING_SCHEMA, list(targets)))
    found = [(name, target) for name, target in cur.fetchall()]
    for name, _ in found:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, name)))
    return found
