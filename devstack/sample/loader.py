"""Load the sample database into the running Redshift emulator and count what is there afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

from devstack.sample import edge, tickit
from devstack.sample.expected import SCHEMA as EDGE_SCHEMA

SCHEMAS = (tickit.SCHEMA, EDGE_SCHEMA)


@dataclass
class SampleSummary:
    scale: int
    seed: int
    rows: dict[str, int] = field(default_factory=dict)  # "schema.table" → rows counted through the emulator
    views: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    procedures: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tables(self) -> list[str]:
        return sorted(self.rows)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        out = [f"sample database loaded in {self.seconds:.1f} s (scale {self.scale}, seed {self.seed})"]
        for schema in SCHEMAS:
            tables = {name: count for name, count in self.rows.items() if name.startswith(schema + ".")}
            out.append(f"  schema {schema}: {len(tables)} tables, {sum(tables.values()):,} rows")
            width = max((len(name) for name in tables), default=0)
            out += [f"    {name:<{width}} {count:>10,}" for name, count in sorted(tables.items())]
        out.append(f"  views {len(self.views)}, functions {len(self.functions)}, procedures {len(self.procedures)}, "
                   f"users {len(self.users)}, groups {len(self.groups)}")
        return out


def connect(env: dict):
    redshift = env["redshift"]
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable",
                            connect_timeout=20)
    conn.autocommit = True
    return conn


def load(env: dict, scale: int = 1, seed: int = 42,
         progress: Callable[[str], None] = lambda message: None) -> SampleSummary:
    """(Re)create the sample schemas in the emulator of a running devstack (`env` is its env.json)."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    started = time.monotonic()
    counts = tickit.TickitCounts.for_scale(scale)
    with connect(env) as conn, conn.cursor() as cursor:
        edge.drop(cursor)
        cursor.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(tickit.SCHEMA)))
        cursor.execute(sql.SQL("create schema {}").format(sql.Identifier(tickit.SCHEMA)))
        for ddl in tickit.DDL.values():
            cursor.execute(ddl)
        for table, statement in tickit.data_statements(counts, seed):
            cursor.execute(statement)
            progress(f"tickit.{table}: +{cursor.rowcount:,} rows ({time.monotonic() - started:.1f} s)")
        edge.create(cursor)
        progress(f"schema {EDGE_SCHEMA}: tables, rows and objects created ({time.monotonic() - started:.1f} s)")
        summary = _inventory(cursor, scale, seed)
    conn.close()
    summary.seconds = time.monotonic() - started
    return summary


def _inventory(cursor, scale: int, seed: int) -> SampleSummary:
    """What the emulator's catalog says exists now, with rows counted by SELECT count(*)."""
    summary = SampleSummary(scale=scale, seed=seed)
    cursor.execute("set enable_case_sensitive_identifier to true")  # else mixed-case names read folded
    cursor.execute("select schemaname, tablename from pg_tables where schemaname in %s order by 1, 2",
                   (SCHEMAS,))
    for schema, table in cursor.fetchall():
        cursor.execute(sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        summary.rows[f"{schema}.{table}"] = cursor.fetchone()[0]
    cursor.execute("select schemaname || '.' || viewname from pg_views where schemaname in %s order by 1",
                   (SCHEMAS,))
    summary.views = [name for (name,) in cursor.fetchall()]
    cursor.execute("select n.nspname || '.' || p.proname, p.prokind from pg_proc p "
                   "join pg_namespace n on n.oid = p.pronamespace where n.nspname in %s order by 1", (SCHEMAS,))
    for name, kind in cursor.fetchall():
        (summary.procedures if kind == "p" else summary.functions).append(name)
    cursor.execute("select usename from pg_user order by 1")
    summary.users = [name for (name,) in cursor.fetchall()]
    cursor.execute("select groname from pg_group order by 1")
    summary.groups = [name for (name,) in cursor.fetchall()]
    cursor.execute("reset enable_case_sensitive_identifier")
    return summary
