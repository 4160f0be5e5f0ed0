"""Statement kinds of AWS's SQL command reference that a warehouse's DDL and maintenance scripts hold, run over the
wire: each is accepted and, where Redshift remembers something, remembered where a dump reads it. Pages cited are
under https://docs.aws.amazon.com/redshift/latest/dg/."""

from __future__ import annotations

import uuid

import psycopg2
import pytest

from tests.redshift_emulator.conftest import one, rows


def run(conn, *statements: str) -> None:
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def test_alter_distribution_and_sort_key_forms(rs, schema):
    """r_ALTER_TABLE.html: ALTER DISTKEY col, ALTER DISTSTYLE KEY DISTKEY col, ALTER SORTKEY AUTO | NONE; SHOW TABLE
    and pg_class.reldiststyle (r_PG_CLASS_INFO.html: 1 KEY, 8 ALL, 9 AUTO) say what the table now has."""
    run(rs, f"create table {schema}.t (a int, b int) diststyle even sortkey (a)",
        f"alter table {schema}.t alter diststyle key distkey b")
    assert "b integer ENCODE az64 distkey" in " ".join(one(rs, f"show table {schema}.t").split())
    run(rs, f"alter table {schema}.t alter distkey a", f"alter table {schema}.t alter sortkey none")
    shown = " ".join(one(rs, f"show table {schema}.t").split())
    assert "a integer ENCODE az64 distkey" in shown and "SORTKEY" not in shown
    run(rs, f"alter table {schema}.t alter diststyle all", f"alter table {schema}.t alter sortkey auto")
    assert one(rs, "select c.reldiststyle from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                   "where n.nspname = %s and c.relname = 't'", (schema,)) == 8
    with pytest.raises(psycopg2.Error, match="syntax error"):
        run(rs, f"alter table {schema}.t alter sortkey none extra")


def test_create_schema_authorization_names_the_schema_after_the_user(rs):
    """r_CREATE_SCHEMA.html: CREATE SCHEMA AUTHORIZATION username creates a schema named username, owned by it."""
    user = f"gr_{uuid.uuid4().hex[:8]}"
    run(rs, f"create user {user} password 'Abcdefg1'", f"create schema authorization {user}")
    try:
        assert rows(rs, "select u.usename from pg_namespace n join pg_user u on u.usesysid = n.nspowner "
                        "where n.nspname = %s", (user,)) == [(user,)]
    finally:
        run(rs, f"drop schema {user} cascade", f"drop user {user}")


def test_alter_table_append_moves_the_rows(rs, schema):
    """r_ALTER_TABLE_APPEND.html: rows move from the source to the target, matched by column name; the source is
    left empty; extra source columns need IGNOREEXTRA, extra target columns FILLTARGET (they get their default)."""
    run(rs, f"create table {schema}.target (id int, note varchar(10) default 'new')",
        f"create table {schema}.stage (note varchar(10), id int)",
        f"insert into {schema}.stage values ('x', 1), ('y', 2)",
        f"alter table {schema}.target append from {schema}.stage")
    assert rows(rs, f"select id, note from {schema}.target order by id") == [(1, "x"), (2, "y")]
    assert one(rs, f"select count(*) from {schema}.stage") == 0
    run(rs, f"create table {schema}.narrow (id int)", f"insert into {schema}.narrow values (3)")
    with pytest.raises(psycopg2.Error, match="FILLTARGET"):
        run(rs, f"alter table {schema}.target append from {schema}.narrow")
    run(rs, f"alter table {schema}.target append from {schema}.narrow filltarget")
    assert rows(rs, f"select note from {schema}.target where id = 3") == [("new",)]
    run(rs, f"create table {schema}.wide (id int, note varchar(10), extra int)",
        f"insert into {schema}.wide values (4, 'w', 9)")
    with pytest.raises(psycopg2.Error, match="IGNOREEXTRA"):
        run(rs, f"alter table {schema}.target append from {schema}.wide")
    run(rs, f"alter table {schema}.target append from {schema}.wide ignoreextra")
    assert one(rs, f"select count(*) from {schema}.target") == 4


def test_grants_postgresql_has_no_privilege_for_are_remembered(rs, schema):
    """r_GRANT.html / r_REVOKE.html: ASSUMEROLE ON 'arn' | ALL … FOR …, ALTER and DROP on tables, USAGE ON LANGUAGE;
    the privileges PostgreSQL also has (SELECT here) still reach the table's ACL."""
    user = f"gr_{uuid.uuid4().hex[:8]}"
    arn = "arn:aws:iam::123456789012:role/Redshift-S3"
    run(rs, f"create user {user} password 'Abcdefg1'", f"create table {schema}.t (a int)",
        f"grant assumerole on '{arn}' to {user} for copy, unload",
        f"grant select, alter, drop on {schema}.t to {user}",
        f"grant usage on language plpythonu to {user}")
    try:
        found = rows(rs, "select kind, name, detail->>'grantee', coalesce(detail->>'privilege', detail->>'for') "
                         "from r2a_emulator.features where detail->>'grantee' = %s order by 1, 4", (user,))
        assert found == [("assumerole", arn, user, "COPY, UNLOAD"), ("language_privilege", "plpythonu", user, None),
                         ("table_privilege", "t", user, "ALTER"), ("table_privilege", "t", user, "DROP")]
        acl = one(rs, "select array_to_string(c.relacl, ',') from pg_class c join pg_namespace n "
                      "on n.oid = c.relnamespace where n.nspname = %s and c.relname = 't'", (schema,))
        assert f"{user}=r/" in acl
        run(rs, f"revoke assumerole on '{arn}' from {user} for copy, unload", f"revoke drop on {schema}.t from {user}",
            f"revoke usage on language plpythonu from {user}")
        assert rows(rs, "select kind, detail->>'privilege' from r2a_emulator.features where detail->>'grantee' = %s",
                    (user,)) == [("table_privilege", "ALTER")]
    finally:
        run(rs, f"revoke all on {schema}.t from {user}",
            f"delete from r2a_emulator.features where detail->>'grantee' = '{user}'", f"drop user {user}")


# Accepted as written (each line's page is r_<COMMAND>.html); none changes what a dump reads beyond what the
# tests above check.
ACCEPTED = [
    "alter default privileges in schema {s} grant execute on procedures to public",   # r_ALTER_DEFAULT_PRIVILEGES
    "alter default privileges in schema {s} grant select on tables to public",
    "alter default privileges in schema {s} revoke select on tables from public",
    "analyze {s}.t predicate columns",                                                # r_ANALYZE
    "analyze {s}.t (a) all columns",
    "analyze compression {s}.t",                                                       # r_ANALYZE_COMPRESSION
    "vacuum full {s}.t to 75 percent",                                                 # r_VACUUM_command
    "vacuum sort only {s}.t",
    "alter materialized view {s}.mv auto refresh no",                                  # r_ALTER_MATERIALIZED_VIEW
    "alter schema {s} quota 50 gb",                                                    # r_ALTER_SCHEMA
    "alter schema {s} quota unlimited",
    "comment on schema {s} is 'c'",                                                    # r_COMMENT
    "comment on materialized view {s}.mv is 'c'",
    "create table {s}.lk (like {s}.t including defaults)",                             # r_CREATE_TABLE_NEW
    "create table {s}.ctas backup no diststyle key distkey (a) sortkey (a) as select * from {s}.t",  # r_CREATE_TABLE_AS
    "create temp table tmp_grammar (a int)",
    "create or replace function {s}.f (int) returns int stable as $$ select $1 + 1 $$ language sql",  # r_CREATE_FUNCTION
    "create or replace procedure {s}.p () as $$ begin null; end; $$ language plpgsql security definer",  # r_CREATE_PROCEDURE
    "create or replace procedure {s}.p2 () as $$ begin null; end; $$ language plpgsql set search_path to {s}",
    "create or replace view {s}.lbv as select * from {s}.t with no schema binding",   # r_CREATE_VIEW
    "set query_group to 'etl'",                                                         # r_SET
    "reset query_group",
]


def test_statement_kinds_of_the_command_reference_are_accepted(rs, schema):
    run(rs, f"create table {schema}.t (a int, b varchar(5))",
        f"create materialized view {schema}.mv auto refresh yes as select a from {schema}.t")
    refused = []
    for statement in ACCEPTED:
        try:
            run(rs, statement.format(s=schema))
        except psycopg2.Error as exc:
            refused.append((statement, str(exc).strip().splitlines()[0]))
    run(rs, "drop table if exists tmp_grammar")
    assert refused == []
    assert one(rs, "select v.auto_refresh from r2a_emulator.views v join pg_class c on c.oid = v.relid "
                   "where c.relname = 'mv'") is False


def test_create_database_with_collation_and_unlimited_connections(rs):
    """r_CREATE_DATABASE.html: COLLATE CASE_SENSITIVE | CASE_INSENSITIVE and CONNECTION LIMIT UNLIMITED."""
    name = f"gr_{uuid.uuid4().hex[:8]}"
    run(rs, f"create database {name} with connection limit unlimited collate case_insensitive")
    run(rs, f"drop database {name}")


def test_view_with_top(rs, schema):
    """r_SELECT_list.html: TOP n in a view's query, as in a SELECT."""
    run(rs, f"create table {schema}.t (a int)", f"insert into {schema}.t values (3), (1), (2)",
        f"create view {schema}.v as select top 2 a from {schema}.t order by a")
    assert rows(rs, f"select a from {schema}.v order by a") == [(1,), (2,)]


def test_external_table_partitions_and_grants(rs):
    """r_ALTER_TABLE.html (ADD [IF NOT EXISTS] PARTITION … LOCATION, DROP PARTITION on an external table), listed
    by https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_EXTERNAL_PARTITIONS.html (its columns in page order);
    r_GRANT.html: USAGE ON an external schema and SELECT ON ALL TABLES IN it are granted like on any schema."""
    ext, user = f"ext_{uuid.uuid4().hex[:8]}", f"gr_{uuid.uuid4().hex[:8]}"
    run(rs, f"create external schema {ext} from data catalog database 'db' "
            "iam_role 'arn:aws:iam::123456789012:role/r' create external database if not exists",
        f"create external table {ext}.sales (id int) partitioned by (d date) stored as parquet "
        "location 's3://bucket/sales/'",
        f"alter table {ext}.sales add if not exists partition (d='2020-01-01') location 's3://bucket/sales/d=1/' "
        "partition (d='2020-01-02') location 's3://bucket/sales/d=2/'",
        f"alter table {ext}.sales add if not exists partition (d='2020-01-01') location 's3://bucket/sales/d=1/'",
        f"create user {user} password 'Abcdefg1'", f"grant usage on schema {ext} to {user}",
        f"grant select on all tables in schema {ext} to {user}")
    try:
        with rs.cursor() as cur:
            cur.execute("select * from svv_external_partitions where schemaname = %s order by location", (ext,))
            assert [d.name for d in cur.description] == [
                "schemaname", "tablename", "values", "location", "input_format", "output_format", "serialization_lib",
                "serde_parameters", "compressed", "parameters"]
            assert [(r[1], r[2], r[3]) for r in cur.fetchall()] == [
                ("sales", '["2020-01-01"]', "s3://bucket/sales/d=1/"), ("sales", '["2020-01-02"]', "s3://bucket/sales/d=2/")]
        with pytest.raises(psycopg2.Error, match="already exists"):
            run(rs, f"alter table {ext}.sales add partition (d='2020-01-01') location 's3://bucket/sales/d=1/'")
        run(rs, f"alter table {ext}.sales drop partition (d='2020-01-01')")
        assert one(rs, "select count(*) from svv_external_partitions where schemaname = %s", (ext,)) == 1
        assert one(rs, "select count(*) from r2a_emulator.features where kind = 'external_grant' "
                       "and detail->>'grantee' = %s", (user,)) == 2
    finally:
        run(rs, f"revoke usage on schema {ext} from {user}", f"revoke select on all tables in schema {ext} from {user}",
            f"drop schema {ext}", f"drop user {user}")
    assert one(rs, "select count(*) from svv_external_partitions where schemaname = %s", (ext,)) == 0


def test_system_permissions_are_granted_to_roles(rs):
    """r_GRANT.html (role-based access control): GRANT CREATE USER, DROP USER … TO ROLE r; only roles take them."""
    role = f"gr_{uuid.uuid4().hex[:8]}"
    run(rs, f"create role {role}", f"grant create user, drop user to role {role}")
    try:
        assert rows(rs, "select name from r2a_emulator.features where kind = 'system_privilege' "
                        "and detail->>'grantee' = %s order by 1", (f"role {role}",)) == [("CREATE USER",),
                                                                                      ("DROP USER",)]
        run(rs, f"revoke drop user from role {role}")
        assert one(rs, "select count(*) from r2a_emulator.features where kind = 'system_privilege' "
                       "and detail->>'grantee' = %s", (f"role {role}",)) == 1
        with pytest.raises(psycopg2.Error, match="roles only"):
            run(rs, "grant create user to public")
    finally:
        run(rs, f"revoke create user from role {role}", f"drop role {role}")
