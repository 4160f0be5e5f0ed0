"""The rename switch: the shadow table becomes the target by renames, in one short transaction, without moving a row.

Used for a target that holds rows and is at least `--rename-switch-mb` big (the truncate-insert switch writes the
rows a second time and keeps readers waiting for all of it). The shadow was created `LIKE target INCLUDING ALL`
(columns, defaults, identity, CHECK and NOT NULL constraints, indexes, column comments, storage, statistics), so
what the switch carries over is what LIKE does not copy and what is bound to the old table's OID:
- views that read the target: `CREATE OR REPLACE VIEW` with the definition PostgreSQL printed for them (names
  qualified), so each keeps its OID, owner, grants and comments, and views built on it stay as they are;
- foreign keys to and from the target: added back `NOT VALID` in the switch and VALIDATEd after it (that scan takes a
  lock that does not block readers or writers: https://www.postgresql.org/docs/16/sql-altertable.html);
- grants and the table's comment; index and identity-sequence names (LIKE names them after the shadow) and the
  sequences' positions; serial sequences change owner to the new column.
A target with anything else bound to it (triggers, row security, rules, inheritance or partitions, publications,
materialized views or functions that read it, views r2a's user does not own, column grants, storage options, a
replica identity, another owner) is switched by truncate-insert instead: `unsupported` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg2 import sql

from shared.identifiers import TableRef, short_name
from shared.staging import reset_shadow_options

_UNSUPPORTED = """
SELECT reason FROM (
  SELECT 'not a plain table' AS reason FROM pg_class WHERE oid = %(t)s AND relkind <> 'r'
  UNION ALL SELECT 'another owner' FROM pg_class WHERE oid = %(t)s AND relowner <> (
    SELECT oid FROM pg_roles WHERE rolname = current_user)
  UNION ALL SELECT 'storage options' FROM pg_class WHERE oid = %(t)s AND reloptions IS NOT NULL
  UNION ALL SELECT 'row security' FROM pg_class WHERE oid = %(t)s AND (relrowsecurity OR relforcerowsecurity)
  UNION ALL SELECT 'replica identity' FROM pg_class WHERE oid = %(t)s AND relreplident NOT IN ('d', 'n')
  UNION ALL SELECT 'triggers' FROM pg_trigger WHERE tgrelid = %(t)s AND NOT tgisinternal
  UNION ALL SELECT 'policies' FROM pg_policy WHERE polrelid = %(t)s
  UNION ALL SELECT 'rules' FROM pg_rewrite WHERE ev_class = %(t)s
  UNION ALL SELECT 'inheritance' FROM pg_inherits WHERE inhrelid = %(t)s OR inhparent = %(t)s
  UNION ALL SELECT 'publications' FROM pg_publication_rel WHERE prrelid = %(t)s
  UNION ALL SELECT 'column grants' FROM pg_attribute WHERE attrelid = %(t)s AND attacl IS NOT NULL
  UNION ALL SELECT 'functions that read it' FROM pg_depend WHERE refobjid = %(t)s
    AND refclassid = 'pg_class'::regclass AND classid = 'pg_proc'::regclass
  UNION ALL SELECT CASE WHEN v.relkind <> 'v' THEN 'materialized views that read it'
                        ELSE 'views owned by another role' END
    FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
    JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %(t)s AND r.ev_class <> %(t)s
      AND (v.relkind <> 'v' OR v.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user))
) found"""

_VIEWS = """
SELECT DISTINCT v.oid, n.nspname, v.relname, pg_get_viewdef(v.oid), v.reloptions
FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %s AND r.ev_class <> %s ORDER BY v.oid"""

_FOREIGN_KEYS = """
SELECT k.conname, n.nspname, c.relname, pg_get_constraintdef(k.oid), k.convalidated
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND (k.confrelid = %s OR k.conrelid = %s) ORDER BY k.oid"""

_GRANTS = """
SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable
FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = %s AND c.relacl IS NOT NULL ORDER BY 1, 2"""

_INDEXES = "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid " \
           "WHERE i.indrelid = %s ORDER BY c.relname"

_SEQUENCES = """
SELECT s.relname, a.attname, d.deptype FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = %s
  AND d.deptype IN ('a', 'i') ORDER BY a.attnum"""


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: sql.Identifier
    definition: str  # pg_get_constraintdef: PostgreSQL's own text
    validated: bool


@dataclass
class Switched:
    """What must be VALIDATEd after the switch's COMMIT."""

    to_validate: list[ForeignKey] = field(default_factory=list)


def unsupported(cur, target: TableRef) -> list[str]:
    oid = _oid(cur, target)
    cur.execute(_UNSUPPORTED, {"t": oid})
    return sorted({row[0] for row in cur.fetchall()})


def _oid(cur, table: TableRef | sql.Composable) -> int:
    composed = table.sql() if isinstance(table, TableRef) else table
    cur.execute("SELECT %s::regclass::oid", (composed.as_string(cur),))
    return int(cur.fetchone()[0])


def _index_shape(definition: str) -> str:
    """pg_get_indexdef without the index's and the table's names: what the index is."""
    head, _, rest = definition.partition(" USING ")
    return ("UNIQUE " if head.startswith("CREATE UNIQUE") else "") + rest


def rename_switch(cur, target: TableRef, shadow: sql.Identifier) -> Switched:
    """Make `shadow` the target, in the caller's transaction (which it leaves to COMMIT)."""
    cur.execute("SET LOCAL search_path = pg_catalog")  # view definitions come out with every name qualified
    cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(target.sql()))
    old, new = _oid(cur, target), _oid(cur, shadow)
    cur.execute(_VIEWS, (old, old))
    views = cur.fetchall()
    cur.execute(_FOREIGN_KEYS, (old, old))
    keys = [ForeignKey(name, sql.Identifier(schema, table), definition, validated)
            for name, schema, table, definition, validated in cur.fetchall()]
    cur.execute(_GRANTS, (old,))
    grants = cur.fetchall()
    cur.execute("SELECT obj_description(%s, 'pg_class')", (old,))
    comment = cur.fetchone()[0]
    cur.execute(_INDEXES, (old,))
    old_indexes = cur.fetchall()
    cur.execute(_SEQUENCES, (old,))
    old_sequences = cur.fetchall()
    positions = {}
    for name, _, _ in old_sequences:
        cur.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(target.schema, name)))
        positions[name] = cur.fetchone()

    reset_shadow_options(cur, shadow)
    for key in keys:  # bound to the old table's OID from either side
        cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(key.table, sql.Identifier(key.name)))
    old_name = short_name(f"{target.table}.r2a_replaced")
    cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(target.sql(), sql.Identifier(old_name)))
    cur.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(shadow, sql.Identifier(target.schema)))
    cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(target.schema, shadow.strings[-1]),
                                                                sql.Identifier(target.table)))
    for _, schema, name, definition, options in views:
        with_options = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(sql.SQL(o) for o in options)) \
            if options else sql.SQL("")
        cur.execute(sql.SQL("CREATE OR REPLACE VIEW {}{} AS {}").format(
            sql.Identifier(schema, name), with_options, sql.SQL(definition.rstrip().rstrip(";"))))
    renamed = sql.Identifier(target.schema, old_name)
    for name, column, deptype in old_sequences:
        if deptype == "a":  # a serial's sequence: the new column's default already uses it
            cur.execute(sql.SQL("ALTER SEQUENCE {} OWNED BY {}.{}").format(
                sql.Identifier(target.schema, name), target.sql(), sql.Identifier(column)))
    cur.execute(_INDEXES, (new,))
    new_indexes = cur.fetchall()
    cur.execute(_SEQUENCES, (new,))
    new_sequences = {column: name for name, column, deptype in cur.fetchall() if deptype == "i"}
    cur.execute(sql.SQL("DROP TABLE {}").format(renamed))  # RESTRICT: anything still bound to it fails the switch
    _rename_indexes(cur, target.schema, old_indexes, new_indexes)
    for name, column, deptype in old_sequences:
        if deptype == "i" and column in new_sequences:
            cur.execute(sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(
                sql.Identifier(target.schema, new_sequences[column]), sql.Identifier(name)))
            last_value, is_called = positions[name]
            cur.execute("SELECT setval(%s, %s, %s)", (sql.Identifier(target.schema, name).as_string(cur),
                                                      last_value, is_called))
    for grantee, privilege, grantable in grants:
        cur.execute(sql.SQL("GRANT {} ON {} TO {}{}").format(
            sql.SQL(privilege), target.sql(), sql.Identifier(grantee) if grantee else sql.SQL("PUBLIC"),
            sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL("")))
    cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target.sql(), sql.Literal(comment)))
    switched = Switched()
    for key in keys:
        cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
            key.table, sql.Identifier(key.name), sql.SQL(key.definition.removesuffix(" NOT VALID"))))
        if key.validated:
            switched.to_validate.append(key)
    return switched


def _rename_indexes(cur, schema: str, old: list[tuple[str, str]], new: list[tuple[str, str]]) -> None:
    """Each new index (named after the shadow) takes the name of the old index it equals (a constraint's too)."""
    free = list(new)
    for name, definition in old:
        match = next((n for n in free if _index_shape(n[1]) == _index_shape(definition)), None)
        if match is None:
            continue
        free.remove(match)
        if match[0] != name:
            cur.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(schema, match[0]),
                                                                       sql.Identifier(name)))


def validate(cur, keys: list[ForeignKey]) -> list[str]:
    """VALIDATE the keys that were valid before the switch; returns those the new rows violate (left NOT VALID,
    as post-data reports a violated key)."""
    import psycopg2.errors

    violated = []
    for key in keys:
        cur.execute("SAVEPOINT r2a_validate")
        try:
            cur.execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(key.table, sql.Identifier(key.name)))
        except psycopg2.errors.ForeignKeyViolation:
            cur.execute("ROLLBACK TO SAVEPOINT r2a_validate")
            violated.append(key.name)
        else:
            cur.execute("RELEASE SAVEPOINT r2a_validate")
    return violated
