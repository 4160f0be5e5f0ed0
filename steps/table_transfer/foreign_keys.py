"""Foreign keys that point at a table being loaded again, taken off for the load transaction and put back in it.

A table is loaded again after post-data created the foreign keys that refer to it when a whole run is resubmitted
(every transfer runs again). Emptying it must not depend on the referencing rows: TRUNCATE refuses a referenced
table and a DELETE fails on the first row still referenced. So, inside the load transaction, the keys are dropped,
the table is TRUNCATEd and loaded, and each key is added back as it was, all before COMMIT: nobody sees the table or
the keys in between. A key that was validated is added NOT VALID and VALIDATEd again; when the reloaded rows no
longer hold a referenced key (the source changed) it stays NOT VALID, as post-data reports a violated foreign key,
and the load does not fail because of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from steps.table_transfer.plan import TableSpec

_REFERENCING = """
    SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid), k.convalidated
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE k.contype = 'f' AND k.confrelid = %s::regclass
    ORDER BY k.oid"""


@dataclass(frozen=True)
class ForeignKey:
    table: sql.Identifier  # the referencing table
    name: str
    definition: str  # pg_get_constraintdef: PostgreSQL's own quoted text of the key, never text from Redshift
    validated: bool


def detach(cur, spec: TableSpec) -> list[ForeignKey]:
    """Drop the foreign keys that refer to the target (in the caller's transaction) and return them."""
    cur.execute(_REFERENCING, (spec.target.sql().as_string(cur),))
    keys = [ForeignKey(sql.Identifier(schema, table), name, definition, validated)
            for schema, table, name, definition, validated in cur.fetchall()]
    for key in keys:
        cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(key.table, sql.Identifier(key.name)))
    return keys


def reattach(cur, keys: list[ForeignKey]) -> None:
    """Add the keys back, each as it was (validated or NOT VALID), before the load transaction commits."""
    for key in keys:
        definition = key.definition.removesuffix(" NOT VALID")
        cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
            key.table, sql.Identifier(key.name), sql.SQL(definition)))
        if not key.validated:
            continue
        cur.execute("SAVEPOINT r2a_foreign_key")
        try:
            cur.execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(key.table, sql.Identifier(key.name)))
        except psycopg2.errors.ForeignKeyViolation:
            cur.execute("ROLLBACK TO SAVEPOINT r2a_foreign_key")
        else:
            cur.execute("RELEASE SAVEPOINT r2a_foreign_key")
