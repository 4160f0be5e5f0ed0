"""table_transfer against devstack: the Redshift emulator (over the SSH bastion), moto S3, the GCS emulator and a
fresh PostgreSQL database per test as AlloyDB. Each test gets its own Redshift schema and run id, and leaves no
objects behind in S3/GCS."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions
import psycopg2.sql
import pytest
from typer.testing import CliRunner

from shared.config import load_settings
from shared.identifiers import TableRef, short_name
from shared.objectstore import ObjectStore, RunLayout
from shared.redshift_types import map_type
from steps.table_transfer.__main__ import app
from tests.support.db import query


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def plan_entry(source: TableRef, target: TableRef, columns: list[tuple[str, str]]) -> dict:
    """A tables.json entry as load_schema writes it; columns are (name, Redshift type)."""
    return {"table": str(source), "target": str(target),
            "source": {"schema": source.schema, "name": source.table},
            "target_ref": {"schema": target.schema, "name": target.table},
            "estimated_rows": 0, "size_mb": 0,
            "columns": [{"source": name, "target": short_name(name), "unload_expression": quoted(name),
                         "target_type": map_type(rs_type).target, "source_type": rs_type}
                        for name, rs_type in columns]}


def target_ddl(target: TableRef, columns: list[tuple[str, str]]) -> str:
    body = ", ".join(f"{quoted(short_name(name))} {map_type(rs_type).target}" for name, rs_type in columns)
    return f"CREATE TABLE {quoted(target.schema)}.{quoted(target.table)} ({body})"


@dataclass
class Transfer:
    run_id: str
    environ: dict[str, str]
    alloydb_dsn: str
    redshift: dict
    schema: str  # this test's Redshift schema (also created in AlloyDB)
    store: ObjectStore
    layout: RunLayout
    entries: list[dict] = field(default_factory=list)

    def rs(self):
        conn = psycopg2.connect(host=self.redshift["host"], port=self.redshift["port"],
                                dbname=self.redshift["database"], user=self.redshift["user"],
                                password=self.redshift["password"], sslmode="disable")
        conn.autocommit = True
        with conn.cursor() as cur:  # names exactly as written, as the product's sessions see them
            cur.execute("SET enable_case_sensitive_identifier TO true")
        return conn

    def rs_execute(self, statement: str, params=None) -> None:
        query(self.rs, statement, params)

    def rs_rows(self, statement: str, params=None) -> list[tuple]:
        return query(self.rs, statement, params)

    def pg_execute(self, statement: str, params=None) -> None:
        query(self.alloydb_dsn, statement, params)

    def pg_rows(self, statement: str, params=None) -> list[tuple]:
        return query(self.alloydb_dsn, statement, params)

    def table(self, name: str, columns: list[tuple[str, str]], *, target_name: str | None = None,
              rows_sql: str | psycopg2.sql.Composable | None = None) -> tuple[TableRef, TableRef]:
        """Create the table in Redshift (optionally filled by `rows_sql`) and in AlloyDB, and plan it."""
        source = TableRef(self.schema, name)
        target = TableRef(self.schema, target_name or short_name(name))
        body = ", ".join(f"{quoted(c)} {t}" for c, t in columns)
        self.rs_execute(f"CREATE TABLE {quoted(self.schema)}.{quoted(name)} ({body})")
        if rows_sql:
            self.rs_execute(rows_sql)
        self.pg_execute(target_ddl(target, columns))
        self.entries.append(plan_entry(source, target, columns))
        self.write_plan()
        return source, target

    def write_plan(self) -> None:
        self.store.write_json(self.layout.tables_json,
                              {"format_version": 1, "run_id": self.run_id, "tables": self.entries})

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--run-id", self.run_id, *args], env=self.environ,
                                    catch_exceptions=False)
        return result.exit_code, result.stdout + result.stderr

    def result(self, source: TableRef) -> dict:
        return self.store.read_json(self.layout.result(source))


@pytest.fixture
def transfer(devstack, redshift, devstack_environ, fresh_db):
    dbname = psycopg2.extensions.parse_dsn(fresh_db)["dbname"]
    environ = dict(devstack_environ, PGDATABASE=dbname, R2A_LOG_FORMAT="text")
    run_id = f"tt_{uuid.uuid4().hex[:12]}"
    settings = load_settings(environ)
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
    schema = f"tt_{uuid.uuid4().hex[:10]}"
    helper = Transfer(run_id, environ, fresh_db, redshift, schema, store, layout)
    helper.rs_execute(f"CREATE SCHEMA {schema}")
    helper.pg_execute(f"CREATE SCHEMA {schema}")
    yield helper
    helper.rs_execute(f"DROP SCHEMA {schema} CASCADE")
    store.delete_prefix(layout.unload_prefix(TableRef("x", "y"), 1).split(run_id)[0] + run_id + "/")
    store.delete_prefix(layout.root)


def dumps(value) -> str:
    return json.dumps(value, default=str)
