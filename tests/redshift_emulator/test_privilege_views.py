"""Grants PostgreSQL has no privilege for, and materialized views' AUTO REFRESH, are listed by the system views AWS
documents for them, with the columns of each page (https://docs.aws.amazon.com/redshift/latest/dg/…):
r_SVV_IAM_PRIVILEGES.html (GRANT ASSUMEROLE), r_SVV_SYSTEM_PRIVILEGES.html (system permissions granted to a role),
r_SVV_RELATION_PRIVILEGES.html (ALTER / DROP on a table, next to the ACL's privileges),
r_SVV_LANUGAGE_PRIVILEGES.html (AWS's page name; USAGE ON LANGUAGE) and r_SVV_MV_INFO.html (autorefresh)."""

from __future__ import annotations

import uuid

from tests.redshift_emulator.conftest import rows

ARN = "arn:aws:iam::123456789012:role/Redshift-S3"

# Column names in the order of each page's column table.
DOCUMENTED = {
    "svv_iam_privileges": ["iam_arn", "command_type", "identity_id", "identity_name", "identity_type"],
    "svv_system_privileges": ["system_privilege", "identity_id", "identity_name", "identity_type"],
    "svv_relation_privileges": ["namespace_name", "relation_name", "privilege_type", "identity_id", "identity_name",
                                "identity_type", "admin_option"],
    "svv_language_privileges": ["language_name", "privilege_type", "identity_id", "identity_name", "identity_type",
                                "admin_option"],
    "svv_mv_info": ["database_name", "schema_name", "user_name", "name", "is_stale", "state", "autorewrite",
                    "autorefresh"],
}


def run(conn, *statements: str) -> None:
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def columns(conn, view: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(f"select * from {view} limit 0")
        return [d.name for d in cur.description]


def test_each_view_has_the_documented_columns(rs):
    assert {view: columns(rs, view) for view in DOCUMENTED} == DOCUMENTED


def test_grants_without_a_postgresql_privilege_are_listed(rs, schema):
    tag = uuid.uuid4().hex[:8]
    user, role = f"pv_{tag}", f"pr_{tag}"
    run(rs, f"create user {user} password 'Abcdefg1'", f"create role {role}", f"create table {schema}.t (a int)",
        f"grant assumerole on '{ARN}' to {user} for copy, unload",
        f"grant assumerole on all to role {role} for all",
        f"grant create user, drop user to role {role}",
        f"grant select, alter, drop on {schema}.t to {user}",
        f"grant usage on language plpythonu to {user}")
    try:
        assert rows(rs, "select iam_arn, command_type, identity_name, identity_type from svv_iam_privileges "
                        "where identity_name in (%s, %s) order by 2, 3", (user, role)) == [
            ("ALL", "COPY", role, "role"), (ARN, "COPY", user, "user"), ("ALL", "CREATE MODEL", role, "role"),
            ("ALL", "EXFUNC", role, "role"), ("ALL", "UNLOAD", role, "role"), (ARN, "UNLOAD", user, "user")]
        assert rows(rs, "select system_privilege, identity_name, identity_type from svv_system_privileges "
                        "where identity_name = %s order by 1", (role,)) == [
            ("CREATE USER", role, "role"), ("DROP USER", role, "role")]
        assert rows(rs, "select privilege_type, identity_name, identity_type from svv_relation_privileges "
                        "where namespace_name = %s and relation_name = 't' order by 1", (schema,)) == [
            ("ALTER", user, "user"), ("DROP", user, "user"), ("SELECT", user, "user")]
        assert rows(rs, "select language_name, privilege_type, identity_type from svv_language_privileges "
                        "where identity_name = %s", (user,)) == [("plpythonu", "USAGE", "user")]
        ids = rows(rs, "select count(*) from svv_iam_privileges where identity_name in (%s, %s) "
                       "and identity_id is null", (user, role))
        assert ids == [(0,)]
    finally:
        run(rs, f"revoke assumerole on '{ARN}' from {user} for copy, unload",
            f"revoke assumerole on all from role {role} for all", f"revoke create user, drop user from role {role}",
            f"revoke select, alter, drop on {schema}.t from {user}",
            f"revoke usage on language plpythonu from {user}", f"drop role {role} force", f"drop user {user}")
    assert rows(rs, "select count(*) from svv_iam_privileges where identity_name in (%s, %s)", (user, role)) == [(0,)]


def test_materialized_view_auto_refresh(rs, schema):
    """r_CREATE_MATERIALIZED_VIEW.html: AUTO REFRESH defaults to NO; r_ALTER_MATERIALIZED_VIEW.html changes it."""
    run(rs, f"create table {schema}.t (a int)",
        f"create materialized view {schema}.mv_auto backup no auto refresh yes as select a from {schema}.t",
        f"create materialized view {schema}.mv_plain as select a from {schema}.t")
    query = "select trim(name), autorefresh from svv_mv_info where trim(schema_name) = %s order by 1"
    assert rows(rs, query, (schema,)) == [("mv_auto", "t"), ("mv_plain", "f")]
    run(rs, f"alter materialized view {schema}.mv_auto auto refresh no",
        f"alter materialized view {schema}.mv_plain auto refresh yes")
    assert rows(rs, query, (schema,)) == [("mv_auto", "f"), ("mv_plain", "t")]
