"""shared.sqlcheck: a block runs only when PostgreSQL's parser finds exactly one statement of its kind (plus the
COMMENTs or membership GRANTs that kind carries)."""

import pytest

from shared.sqlblocks import SqlObject
from shared.sqlcheck import refusal

ACCEPTED = [
    ("schema", 'CREATE SCHEMA IF NOT EXISTS "s";\nCOMMENT ON SCHEMA "s" IS E\'x\\ny\';'),
    ("table", 'CREATE TABLE "s"."t" (\n    "a" integer\n);'),
    ("comment", 'COMMENT ON TABLE "s"."t" IS \'a\';\nCOMMENT ON COLUMN "s"."t"."a" IS \'b\';'),
    ("view", 'CREATE VIEW "s"."v" AS SELECT 1 AS "x";\nCOMMENT ON VIEW "s"."v" IS \'v\';'),
    ("materialized_view", 'CREATE MATERIALIZED VIEW "s"."m" AS SELECT 1 AS "x";'),
    ("function", 'CREATE FUNCTION "s"."f"() RETURNS integer LANGUAGE sql AS $r2a$ SELECT 1 $r2a$;'),
    ("procedure", 'CREATE PROCEDURE "s"."p"() LANGUAGE plpgsql AS $r2a$ BEGIN NULL; END $r2a$;'),
    ("user", 'DO $r2a$ BEGIN CREATE ROLE "u" NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $r2a$;'),
    ("group", 'DO $r2a$ BEGIN CREATE ROLE "g" NOLOGIN; END $r2a$;\nGRANT "g" TO "u";'),
    ("grant", 'GRANT SELECT ON TABLE "s"."t" TO PUBLIC;'),
    ("constraint", 'ALTER TABLE "s"."t" ADD CONSTRAINT "k" PRIMARY KEY ("a");'),
    ("index", 'CREATE INDEX "i" ON "s"."t" ("a");'),
]


@pytest.mark.parametrize(("kind", "sql"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_each_kind_accepts_what_rewrite_ddl_writes(kind, sql):
    assert refusal(SqlObject(kind, "s.x", sql)) is None


REFUSED = [
    ("comment", "COMMENT ON TABLE t IS 'x';\nCREATE ROLE evil LOGIN SUPERUSER PASSWORD $p$x$p$; --';",
     "statement 2 is CreateRoleStmt"),
    ("table", "CREATE TABLE t (a int); COPY (SELECT 1) TO PROGRAM 'id'", "statement 2 is CopyStmt"),
    ("table", "COMMIT; CREATE TABLE t (a int)", "must start with CREATE TABLE, not TransactionStmt"),
    ("index", "CREATE TABLE touched (x int);", "must start with CREATE INDEX, not CreateStmt"),
    ("constraint", "ALTER TABLE t OWNER TO evil;", "must start with ALTER TABLE … ADD CONSTRAINT"),
    ("grant", "GRANT pg_execute_server_program TO r2a;", "must start with GRANT, not GrantRoleStmt"),
    ("function", "CREATE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$;", "must start with CREATE FUNCTION"),
    ("view", "CREATE VIEW v AS SELECT 1; COMMENT ON TABLE t IS 'x'", "statement 2 is CommentStmt"),
    ("table", "CREATE TABLE t (a int", "PostgreSQL's parser cannot read the block"),
    ("table", "-- only a comment", "holds no SQL statement"),
    ("role", "CREATE ROLE evil", "does not apply blocks of kind 'role'"),
]


@pytest.mark.parametrize(("kind", "sql", "why"), REFUSED, ids=[f"{r[0]}: {r[2]}" for r in REFUSED])
def test_anything_more_or_else_is_refused(kind, sql, why):
    reason = refusal(SqlObject(kind, "s.x", sql))
    assert reason is not None and why in reason
