"""Roles are cluster-wide: those validate_restore's scratch run creates (post-data written with --grants) must
not outlive it on a server that AlloyDB's roles may share (devstack's PostgreSQL is both)."""

import uuid

from psycopg2 import sql

from tests.conftest import admin_connection
from tests.support.steps import run_step
from tests.validate_restore.conftest import block

STEP = "steps.validate_restore"


def create_role_sql(name: str) -> str:
    # The statement rewrite_ddl writes for a Redshift user or group (steps/rewrite_ddl/roles.py).
    quoted = sql.Identifier(name).string.replace('"', '""')
    return (f'DO $r2a$ BEGIN CREATE ROLE "{quoted}" NOLOGIN; '
            f"EXCEPTION WHEN duplicate_object THEN NULL; END $r2a$;")


def existing_roles(devstack, names: list[str]) -> set[str]:
    conn = admin_connection(devstack)
    try:
        with conn.cursor() as cur:
            cur.execute("select rolname from pg_roles where rolname = any(%s)", (names,))
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def test_roles_created_by_the_validation_are_dropped_and_earlier_ones_kept(run_folder, devstack):
    tag = uuid.uuid4().hex[:8]
    user, group, kept = f"r2a_t_user_{tag}", f"R2A T Group {tag}", f"r2a_t_kept_{tag}"
    conn = admin_connection(devstack)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("create role {} nologin").format(sql.Identifier(kept)))  # e.g. made by IAM
    finally:
        conn.close()
    try:
        run_folder.put(run_folder.layout.pre_data_sql, block("schema", "a", 'CREATE SCHEMA "a";')
                       + block("table", "a.t", 'CREATE TABLE "a"."t" ("x" int);'))
        run_folder.put(run_folder.layout.views_sql, "")
        run_folder.put(run_folder.layout.post_data_sql, "\n".join([
            block("user", user, create_role_sql(user)),
            block("user", kept, create_role_sql(kept)),
            block("group", f'"{group}"', create_role_sql(group) + f'\nGRANT "{group}" TO "{user}";',
                  depends_on=[user]),
            block("grant", f"a.t to {user}", f'GRANT SELECT ON TABLE "a"."t" TO "{user}";',
                  depends_on=["a.t", user]),
        ]))
        done = run_step(STEP, ["--run-id", run_folder.run_id], run_folder.environ)
        assert done.returncode == 0, done.stderr
        report = run_folder.json(run_folder.layout.validation_report_json)
        assert {o["name"]: o["status"] for o in report["objects"]} == {
            "a": "applied", "a.t": "applied", user: "applied", kept: "applied", f'"{group}"': "applied",
            f"a.t to {user}": "applied"}
        assert existing_roles(devstack, [user, group, kept]) == {kept}
    finally:
        conn = admin_connection(devstack)
        try:
            with conn.cursor() as cur:
                for role in (user, group, kept):
                    cur.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))
        finally:
            conn.close()
