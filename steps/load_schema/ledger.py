"""What r2a created in AlloyDB, and how an existing r2a table differs from the source's definition now.

pre-data records every table it creates in `r2a_meta.created_tables` (in the same savepoint as the CREATE, so the
record and the table exist together). A later run (the nightly CronWorkflow) refreshes those tables instead of
stopping at them, while a table no r2a run created still stops `--on-existing refresh` as it stops `fail`.
post-data records the views, materialized views, functions and procedures it creates or keeps for the source in
`r2a_meta.created_objects` (a routine with its argument types: each overload is its own object), so a later
refresh can tell which of them the source no longer has.

The column comparison uses the validated CREATE TABLE itself: inside a savepoint the existing table is renamed
away, the CREATE runs, the new table's columns are read, and everything is rolled back (locks included), so the
comparison is PostgreSQL's own and never a re-parse of rewrite_ddl's SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from shared.ddlsession import META_SCHEMA
from shared.identifiers import TableRef
from shared.sqlapply import StatementError, pg_error_line

LEDGER_SCHEMA = META_SCHEMA
LEDGER = TableRef(LEDGER_SCHEMA, "created_tables")
OBJECT_LEDGER = TableRef(LEDGER_SCHEMA, "created_objects")
RELATION_KINDS = {"view": "v", "materialized_view": "m"}  # pg_class.relkind
ROUTINE_KINDS = {"function": "f", "procedure": "p"}  # pg_proc.prokind
_PROBE_NAME = "r2a_drift_probe"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(): PostgreSQL's own spelling, safe to write back into ALTER TABLE
    not_null: bool
    default: str | None = field(default=None, compare=False)  # pg_get_expr(): PostgreSQL's own spelling

    def describe(self) -> str:
        return f"{self.name} {self.type}{' not null' if self.not_null else ''}"


@dataclass
class Drift:
    added: list[Column]  # at the end of the source's column list, absent in AlloyDB
    problems: list[str]  # any other difference, spelled out; non-empty means the table must not be loaded


def ensure_ledger(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(LEDGER_SCHEMA)))
        cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (schema_name text NOT NULL, table_name text NOT NULL, "
                            "table_oid oid NOT NULL, source_name text NOT NULL, run_id text NOT NULL, "
                            "created_at timestamptz NOT NULL DEFAULT now(), "
                            "PRIMARY KEY (schema_name, table_name))").format(LEDGER.sql()))
        cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (kind text NOT NULL, schema_name text NOT NULL, "
                            "object_name text NOT NULL, arguments text NOT NULL, source_name text NOT NULL, "
                            "run_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), "
                            "PRIMARY KEY (kind, schema_name, object_name, arguments))").format(OBJECT_LEDGER.sql()))
    conn.commit()


@dataclass(frozen=True, order=True)
class ManagedObject:
    """A view, materialized view, function or procedure r2a made; `arguments` (routines only) as
    pg_get_function_identity_arguments prints them."""
    kind: str
    ref: TableRef
    arguments: str = ""

    def __str__(self) -> str:
        return f"{self.ref}({self.arguments})" if self.kind in ROUTINE_KINDS else str(self.ref)

    def drop_statement(self) -> sql.Composable:
        """Without CASCADE: what still depends on it (another view, a user's object) keeps it."""
        if self.kind in ROUTINE_KINDS:
            return sql.SQL("DROP {} {}({})").format(sql.SQL(self.kind.upper()), self.ref.sql(),
                                                    sql.SQL(self.arguments))  # PostgreSQL's own spelling
        what = "MATERIALIZED VIEW" if self.kind == "materialized_view" else "VIEW"
        return sql.SQL("DROP {} {}").format(sql.SQL(what), self.ref.sql())


_MANAGED_OBJECTS = """
    SELECT l.kind, l.schema_name, l.object_name, l.arguments, l.source_name, l.run_id FROM {} l
    WHERE CASE WHEN l.kind IN ('view', 'materialized_view') THEN EXISTS (
              SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = l.schema_name AND c.relname = l.object_name
              AND c.relkind = CASE l.kind WHEN 'view' THEN 'v' ELSE 'm' END)
          ELSE EXISTS (
              SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = l.schema_name AND p.proname = l.object_name
              AND p.prokind = CASE l.kind WHEN 'function' THEN 'f' ELSE 'p' END
              AND pg_catalog.pg_get_function_identity_arguments(p.oid) = l.arguments) END"""


def managed_objects(conn: psycopg2.extensions.connection) -> dict[ManagedObject, tuple[str, str]]:
    """Objects an r2a run made that are still there: object -> (Redshift name, run id that made it). A routine's
    `arguments` match pg_get_function_identity_arguments of a routine that exists, so what drop_statement writes
    back is PostgreSQL's own text, never the ledger's."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL(_MANAGED_OBJECTS).format(OBJECT_LEDGER.sql()))
        return {ManagedObject(kind, TableRef(schema, name), arguments): (source, run)
                for kind, schema, name, arguments, source, run in cur.fetchall()}


def record_object_statement(obj: ManagedObject, source_name: str, run_id: str) -> tuple[sql.Composable, tuple]:
    return (sql.SQL("INSERT INTO {} (kind, schema_name, object_name, arguments, source_name, run_id) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kind, schema_name, object_name, arguments) "
                    "DO UPDATE SET source_name = EXCLUDED.source_name").format(OBJECT_LEDGER.sql()),
            (obj.kind, obj.ref.schema, obj.ref.table, obj.arguments, source_name, run_id))


def forget_object_statement(obj: ManagedObject) -> tuple[sql.Composable, tuple]:
    return (sql.SQL("DELETE FROM {} WHERE kind = %s AND schema_name = %s AND object_name = %s AND arguments = %s")
            .format(OBJECT_LEDGER.sql()), (obj.kind, obj.ref.schema, obj.ref.table, obj.arguments))


def managed_tables(conn: psycopg2.extensions.connection) -> dict[TableRef, tuple[str, str]]:
    """Tables an r2a run created that still exist: AlloyDB table -> (Redshift name, run id that created it).
    The same table, not only the same name: one someone dropped and created again by hand is not r2a's."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT l.schema_name, l.table_name, l.source_name, l.run_id FROM {} l "
                            "JOIN pg_catalog.pg_namespace n ON n.nspname = l.schema_name "
                            "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = l.table_name "
                            "AND c.oid = l.table_oid AND c.relkind IN ('r', 'p')").format(LEDGER.sql()))
        return {TableRef(s, t): (source, run) for s, t, source, run in cur.fetchall()}


def record_statement(conn: psycopg2.extensions.connection, table: TableRef, source_name: str, run_id: str) -> tuple[sql.Composable, tuple]:
    """Run with the CREATE TABLE: a replaced table keeps its row, with the run that created it this time."""
    return (sql.SQL("INSERT INTO {} (schema_name, table_name, table_oid, source_name, run_id) "
                    "VALUES (%s, %s, %s::regclass, %s, %s) ON CONFLICT (schema_name, table_name) DO UPDATE SET "
                    "table_oid = EXCLUDED.table_oid, source_name = EXCLUDED.source_name, run_id = EXCLUDED.run_id, "
                    "created_at = now()").format(LEDGER.sql()),
            (table.schema, table.table, table.sql().as_string(conn), source_name, run_id))


def forget_statement(table: TableRef) -> tuple[sql.Composable, tuple]:
    return (sql.SQL("DELETE FROM {} WHERE schema_name = %s AND table_name = %s").format(LEDGER.sql()),
            (table.schema, table.table))


_COLUMNS = """SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                     pg_catalog.pg_get_expr(d.adbin, d.adrelid)
              FROM pg_catalog.pg_attribute a
              LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = %s::regclass AND a.attnum > 0
              AND NOT a.attisdropped ORDER BY a.attnum"""


def _columns(cur, table: TableRef, conn) -> list[Column]:
    cur.execute(_COLUMNS, (table.sql().as_string(conn),))
    return [Column(*row) for row in cur.fetchall()]


def compare(conn: psycopg2.extensions.connection, table: TableRef, create_sql: str) -> Drift | StatementError:
    """The existing `table` against what `create_sql` would make of it now; nothing is changed."""
    with conn.cursor() as cur:
        cur.execute("SAVEPOINT r2a_drift")
        try:
            existing = _columns(cur, table, conn)
            cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table.sql(), sql.Identifier(_PROBE_NAME)))
            cur.execute(create_sql)
            wanted = _columns(cur, table, conn)
        except psycopg2.Error as exc:
            if exc.pgcode is None or conn.closed:
                raise
            cur.execute("ROLLBACK TO SAVEPOINT r2a_drift")
            return StatementError(pg_error_line(exc), exc.pgcode)
        cur.execute("ROLLBACK TO SAVEPOINT r2a_drift")
    return drift(existing, wanted)


def drift(existing: list[Column], wanted: list[Column]) -> Drift:
    """Columns added at the end of the source are added; any other difference is a problem, spelled out."""
    problems = []
    for position, (have, want) in enumerate(zip(existing, wanted, strict=False), start=1):
        if have != want:
            problems.append(f"column {position} is {have.describe()} in AlloyDB but {want.describe()} in the source")
    if len(existing) > len(wanted):
        gone = ", ".join(c.name for c in existing[len(wanted):])
        problems.append(f"column(s) {gone} are in AlloyDB but no longer in the source")
    added = wanted[len(existing):]
    return Drift(added, problems)


def add_columns_statement(table: TableRef, added: list[Column]) -> sql.Composable:
    """With the source's default and NOT NULL: a NOT NULL column without a default cannot be added to a table
    that has rows, and then the table fails with PostgreSQL's reason rather than drifting silently."""
    def column(c: Column) -> sql.Composable:
        default = sql.SQL(" DEFAULT {}").format(sql.SQL(c.default)) if c.default is not None else sql.SQL("")
        return sql.SQL("ADD COLUMN {} {}{}{}").format(sql.Identifier(c.name), sql.SQL(c.type), default,
                                                      sql.SQL(" NOT NULL" if c.not_null else ""))
    return sql.SQL("ALTER TABLE {} {}").format(table.sql(), sql.SQL(", ").join(column(c) for c in added))
