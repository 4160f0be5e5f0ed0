"""Sessions that run rewrite_ddl's object blocks (scratch PostgreSQL, AlloyDB): what they resolve unqualified
names against, and r2a's own schemas.

rewrite_ddl qualifies every relation and r2a function; what stays unqualified (built-in functions and types
that sqlglot writes, `varchar`, `coalesce`, …) must come from pg_catalog, never from a schema another role can
create objects in (the CVE-2018-1058 pattern: a better-matching overload planted in `public` binds into a
view at CREATE time). So the search_path is pg_catalog, PostGIS's schema when the extension is installed (its
types and functions are written unqualified), and pg_temp last. standard_conforming_strings is pinned on:
plain '…' literals assume it.
"""

from __future__ import annotations

import psycopg2.extensions

from shared.errors import TargetError
from shared.identifiers import quote_ident
from shared.staging import STAGING_SCHEMA

COMPAT_SCHEMA = "r2a_compat"  # rewrite_ddl's functions for Redshift built-ins
META_SCHEMA = "r2a_meta"  # what r2a created in this database (load_schema's ledger)
R2A_SCHEMAS = (COMPAT_SCHEMA, STAGING_SCHEMA, META_SCHEMA)


def pin_ddl_session(conn: psycopg2.extensions.connection) -> str:
    """Set the session's search_path and standard_conforming_strings as above; returns the search_path."""
    with conn.cursor() as cur:
        cur.execute("SELECT n.nspname FROM pg_catalog.pg_extension e "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'postgis'")
        postgis = [quote_ident(row[0]) for row in cur.fetchall() if row[0] != "pg_catalog"]
        path = ", ".join(["pg_catalog", *postgis, "pg_temp"])
        cur.execute("SELECT pg_catalog.set_config('search_path', %s, false)", (path,))
        cur.execute("SELECT pg_catalog.set_config('standard_conforming_strings', 'on', false)")
    conn.commit()
    return path


def foreign_owner(conn: psycopg2.extensions.connection, schema: str) -> str | None:
    """The owner of `schema` when it exists and is not the session's user (r2a keeps and uses its own schemas
    only when it owns them: another owner could have planted functions or tables there); else None."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_catalog.pg_get_userbyid(nspowner) FROM pg_catalog.pg_namespace "
                    "WHERE nspname = %s AND nspowner <> (SELECT oid FROM pg_catalog.pg_roles "
                    "WHERE rolname = current_user)", (schema,))
        row = cur.fetchone()
    return row[0] if row else None


def require_own_schema(conn: psycopg2.extensions.connection, schema: str, system: str = "AlloyDB") -> None:
    owner = foreign_owner(conn, schema)
    if owner is not None:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user")
            user = cur.fetchone()[0]
        raise TargetError(f"schema {schema} already exists in {system} and is owned by {owner!r}, not by r2a's "
                          f"user {user!r}", f"Drop it or change its owner to {user!r} (ALTER SCHEMA … OWNER TO)")
