"""Text from Redshift is data, never SQL: hostile comments, view literals, SQL UDF bodies and PL/pgSQL bodies go
through the real steps (dump_schema → rewrite_ddl → validate_restore → load_schema pre-data and post-data) on
devstack. Each text arrives byte-exact in AlloyDB or is reported as not migrated, and nothing else runs: no role
appears on the server (scratch and AlloyDB share devstack's PostgreSQL, and roles are cluster-wide), and AlloyDB
holds exactly the source's tables, views and functions (plus r2a_compat's).

Redshift accepts COMMENT ON TABLE, COLUMN, VIEW and SCHEMA with any text
(https://docs.aws.amazon.com/redshift/latest/dg/r_COMMENT.html); SQL UDF and stored procedure bodies are
dollar-quoted text (https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_FUNCTION.html,
https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_PROCEDURE.html). Comments on functions are not in
Redshift's COMMENT syntax; the emulator accepts them, and r2a must carry them safely either way.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg2
import pytest

from devstack import env as devstack_env
from tests.support.db import query
from workflows.local_env import process_environ

# The forged comment of issue 17: a marker line, then a statement, then `--` to swallow the closing quote.
FORGED = ('x\n-- r2a:object {"kind":"comment","name":"public.z"}\n'
          "CREATE ROLE evil LOGIN SUPERUSER PASSWORD $p$x$p$; --")
BREAKS = {"lf": "\n", "crlf": "\r\n", "vt": "\x0b", "ff": "\x0c", "nel": "\x85", "ls": "\u2028", "ps": "\u2029",
          "fs-gs-rs": "\x1c\x1d\x1e", "controls": "\x01\x07\x1b\x7f\x9f"}


def forged(tag: str, sep: str) -> str:
    """A marker line and a role-creating statement, separated by `sep` (a line break some reader may take)."""
    return (f"{tag}{sep}-- r2a:object {{\"kind\": \"table\", \"name\": \"public.{tag}\"}}{sep}"
            f"CREATE ROLE evil_{tag.replace('-', '_')}; --")


BREAKOUT = "it''s'; CREATE ROLE evil_quote; --"  # as written in Redshift SQL: the text is  it's'; CREATE …
DOLLARS = "$$ $r2a$ $_$ $r2a1$ $p$ end"


def _text(redshift_literal: str) -> str:
    return redshift_literal.replace("''", "'")


def _lit(text: str) -> str:
    """A Redshift literal of a backslash-free text (the emulator, like Redshift, reads backslash escapes)."""
    assert "\\" not in text
    return "'" + text.replace("'", "''") + "'"


class Source:
    """The hostile schema in the Redshift emulator, and what each object's text must arrive as."""

    def __init__(self, schema: str):
        self.schema = schema
        s = schema
        self.table_comment = FORGED
        self.column_comments = {f"c_{name.replace('-', '_')}": forged(name, sep) for name, sep in BREAKS.items()}
        self.column_comments["c_quote"] = _text(BREAKOUT)
        self.column_comments["c_dollars"] = DOLLARS
        self.schema_comment = forged("schema", "\u2028")
        self.view_comment = forged("viewc", "\n")
        self.view_literal = forged("viewlit", "\n")
        self.function_comment = forged("funcc", "\x85")
        self.function_literal = forged("funclit", "\x0c") + " " + "$r2a$ $_$"
        self.procedure_text = forged("proc", "\n")
        columns = ", ".join(f"{c} integer" for c in self.column_comments)
        self.ddl = [
            f"CREATE SCHEMA {s}",
            f"COMMENT ON SCHEMA {s} IS {_lit(self.schema_comment)}",
            f"CREATE TABLE {s}.t (id integer, {columns})",
            f"COMMENT ON TABLE {s}.t IS {_lit(self.table_comment)}",
            *(f"COMMENT ON COLUMN {s}.t.{c} IS {_lit(text)}" for c, text in self.column_comments.items()),
            f"CREATE VIEW {s}.v AS SELECT {_lit(self.view_literal)}::varchar(256) AS hostile",
            f"COMMENT ON VIEW {s}.v IS {_lit(self.view_comment)}",
            f"CREATE FUNCTION {s}.f_hostile() RETURNS varchar STABLE AS $$ SELECT "
            f"{_lit(self.function_literal)}::varchar $$ LANGUAGE sql",
            f"COMMENT ON FUNCTION {s}.f_hostile() IS {_lit(self.function_comment)}",
            # A PL/pgSQL comment line that looks like a marker, and a literal with tags and a breakout.
            f"CREATE PROCEDURE {s}.p_hostile() AS $$\nBEGIN\n  -- {self.procedure_text}\n"
            f"  RAISE INFO {_lit(DOLLARS.replace('$$ ', '') + ' ' + _text(BREAKOUT))};\nEND;\n$$ LANGUAGE plpgsql",
        ]


def _environ(devstack, database: str) -> dict[str, str]:
    return {**process_environ(), **devstack_env.product_environ(devstack), "PGDATABASE": database,
            "R2A_LOG_FORMAT": "json"}


def _step(step: str, run_id: str, args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"steps.{step}", "--run-id", run_id, *args], env=environ,
                          capture_output=True, text=True, timeout=300)


def _roles(devstack) -> set[str]:
    return {r[0] for r in query(devstack_env.postgres_dsn(devstack, "postgres"), "SELECT rolname FROM pg_roles")}


@pytest.fixture(scope="module")
def migrated(devstack, redshift):
    """The hostile schema migrated by the real steps into a fresh AlloyDB database; the roles before and after."""
    source = Source(f"hostile_{uuid.uuid4().hex[:8]}")
    rs = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                          user=redshift["user"], password=redshift["password"], sslmode="disable")
    rs.autocommit = True
    with rs.cursor() as cur:
        for statement in source.ddl:
            cur.execute(statement)
    database, run_id = f"hostile_{uuid.uuid4().hex[:8]}", f"hostile_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(devstack_env.postgres_dsn(devstack, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{database}"')
    roles_before = _roles(devstack)
    environ = _environ(devstack, database)
    steps = {}
    for step, args in (("dump_schema", [f"--schemas={source.schema}"]), ("rewrite_ddl", []),
                       ("validate_restore", []), ("load_schema", ["--section", "pre-data"]),
                       ("load_schema", ["--section", "post-data"])):
        done = _step(step, run_id, args, environ)
        steps[f"{step} {' '.join(args)}".strip()] = done
        assert done.returncode == 0, f"{step}: {done.stderr[-1500:]}"
        assert "Traceback" not in done.stderr
    yield source, devstack_env.postgres_dsn(devstack, database), roles_before, _roles(devstack), run_id, environ
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    admin.close()
    with rs.cursor() as cur:
        cur.execute(f"DROP SCHEMA {source.schema} CASCADE")
    rs.close()


def _report_statuses(devstack, run_id: str, environ: dict) -> dict[tuple[str, str], str]:
    """(kind, name) → status across validate_restore's and load_schema's reports (the last one wins)."""
    from shared.config import load_settings
    from shared.objectstore import ObjectStore, RunLayout

    settings = load_settings(environ)
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
    statuses: dict[tuple[str, str], str] = {}
    for url in (layout.rewrite_report_json, layout.validation_report_json, layout.load_report_json,
                layout.post_data_report_json):
        for entry in store.read_json(url)["objects"]:
            statuses[(entry["kind"], entry["name"])] = entry["status"]
    return statuses


def _arrived_or_reported(matrix, devstack, migrated, name: str, kind: str, obj: str, arrived, expected) -> None:
    source, dsn, _, _, run_id, environ = migrated
    outcome = matrix.bad_input(name, "dump → rewrite → validate → load", "byte-exact in AlloyDB, or reported")
    status = _report_statuses(devstack, run_id, environ).get((kind, obj))
    outcome.observed = f"{'arrived byte-exact' if arrived == expected else repr(arrived)[:60]}; report: {status}"
    assert arrived == expected or (arrived is None and status in ("failed", "unsupported", "skipped"))


def test_forged_comment_of_issue_17_arrives_byte_exact_and_no_role_evil(matrix, devstack, migrated):
    source, dsn, before, after, _, _ = migrated
    outcome = matrix.bad_input("forged r2a:object marker in a table comment (CREATE ROLE evil)",
                               "dump → rewrite → validate → load", "comment byte-exact; no role evil anywhere")
    comment = query(dsn, "SELECT obj_description(%s::regclass, 'pg_class')", (f"{source.schema}.t",))[0][0]
    outcome.observed = f"comment {'byte-exact' if comment == FORGED else 'changed'}; new roles: {sorted(after - before)}"
    assert comment == FORGED
    assert "evil" not in after  # scratch and AlloyDB are one devstack server: roles are cluster-wide


@pytest.mark.parametrize("column", ["c_lf", "c_crlf", "c_vt", "c_ff", "c_nel", "c_ls", "c_ps", "c_fs_gs_rs",
                                    "c_controls", "c_quote", "c_dollars"])
def test_column_comments(matrix, devstack, migrated, column):
    source, dsn = migrated[0], migrated[1]
    text = query(dsn, "SELECT col_description(%s::regclass, a.attnum) FROM pg_attribute a "
                      "WHERE a.attrelid = %s::regclass AND a.attname = %s",
                 (f"{source.schema}.t", f"{source.schema}.t", column))[0][0]
    _arrived_or_reported(matrix, devstack, migrated, f"column comment with {column[2:]}: marker line + CREATE ROLE",
                         "comment", f"{source.schema}.t", text, source.column_comments[column])


def test_schema_comment(matrix, devstack, migrated):
    source, dsn = migrated[0], migrated[1]
    rows = query(dsn, "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
                 (source.schema,))
    _arrived_or_reported(matrix, devstack, migrated, "schema comment: U+2028 + marker line + CREATE ROLE",
                         "schema", source.schema, rows[0][0] if rows else None, source.schema_comment)


def test_view_literal_and_comment(matrix, devstack, migrated):
    source, dsn = migrated[0], migrated[1]
    view = f"{source.schema}.v"
    exists = query(dsn, "SELECT to_regclass(%s) IS NOT NULL", (view,))[0][0]
    literal = query(dsn, f"SELECT hostile FROM {view}")[0][0] if exists else None
    _arrived_or_reported(matrix, devstack, migrated, "view string literal: marker line + CREATE ROLE", "view", view,
                         literal, source.view_literal)
    comment = query(dsn, "SELECT obj_description(%s::regclass, 'pg_class')", (view,))[0][0] if exists else None
    _arrived_or_reported(matrix, devstack, migrated, "view comment: marker line + CREATE ROLE", "view", view,
                         comment, source.view_comment)


def test_sql_udf_body_and_comment(matrix, devstack, migrated):
    source, dsn = migrated[0], migrated[1]
    function = f"{source.schema}.f_hostile"
    found = query(dsn, "SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                       "WHERE n.nspname = %s AND p.proname = 'f_hostile'", (source.schema,))
    value = query(dsn, f"SELECT {function}()")[0][0] if found else None
    _arrived_or_reported(matrix, devstack, migrated, "SQL UDF body literal: \\x0c + marker + $r2a$ $_$ tags",
                         "function", f"{function}()", value, source.function_literal)
    comment = query(dsn, "SELECT obj_description(%s, 'pg_proc')", (found[0][0],))[0][0] if found else None
    _arrived_or_reported(matrix, devstack, migrated, "function comment: \\x85 + marker line + CREATE ROLE",
                         "function", f"{function}()", comment, source.function_comment)


def test_plpgsql_procedure_body(matrix, devstack, migrated):
    source, dsn = migrated[0], migrated[1]
    rows = query(dsn, "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                      "WHERE n.nspname = %s AND p.proname = 'p_hostile'", (source.schema,))
    body = rows[0][0] if rows else None
    wanted = f"  -- {source.procedure_text}\n"
    _arrived_or_reported(matrix, devstack, migrated, "PL/pgSQL body: marker comment line, '; breakout, $ tags",
                         "procedure", f"{source.schema}.p_hostile()", wanted if body and wanted in body else body,
                         wanted)


def test_nothing_else_ran(matrix, devstack, migrated):
    source, dsn, before, after, _, _ = migrated
    outcome = matrix.bad_input("hostile text anywhere: nothing else runs", "validate_restore / load_schema",
                               "no new role; only the source's tables, views, functions")
    relations = query(dsn, "SELECT n.nspname || '.' || c.relname FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm', 'p') "
                           "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'r2a_meta')")
    functions = query(dsn, "SELECT n.nspname || '.' || p.proname FROM pg_proc p "
                           "JOIN pg_namespace n ON n.oid = p.pronamespace "
                           "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'r2a_compat')")
    schemas = query(dsn, "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
                         "AND nspname NOT IN ('information_schema', 'public', 'r2a_compat', 'r2a_meta')")
    new_roles = sorted(after - before)
    outcome.observed = f"new roles {new_roles}; {len(relations)} relations, {len(functions)} functions"
    assert new_roles == []
    assert {r[0] for r in relations} <= {f"{source.schema}.t", f"{source.schema}.v"}
    assert {f[0] for f in functions} <= {f"{source.schema}.f_hostile", f"{source.schema}.p_hostile"}
    assert {s[0] for s in schemas} == {source.schema}
