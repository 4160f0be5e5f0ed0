"""Statements of AWS's SQL reference whose objects hold no data here: accepted as Redshift's grammar has them,
recorded, and listed by the system view AWS documents for each (https://docs.aws.amazon.com/redshift/latest/dg/…
pages named per test). Also three-part names, QUALIFY-free admin views over stv_tbl_perm, IDENTITY(0, 1), DEC,
the "identity"(…) default form and unqualified CREATE after SET search_path."""

from __future__ import annotations

import psycopg2
import pytest

from tests.redshift_emulator.conftest import one, rows

ROLE = "arn:aws:iam::123456789012:role/r2a-test"


def run(conn, *statements: str) -> None:
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def test_external_schema_and_table(rs):
    """r_CREATE_EXTERNAL_SCHEMA.html, r_CREATE_EXTERNAL_TABLE.html; listed by r_SVV_EXTERNAL_SCHEMAS.html (eskind 1
    = data catalog) and r_SVV_EXTERNAL_TABLES.html."""
    run(rs, f"create external schema if not exists spectrum_t from data catalog database 'spectrumdb' "
            f"iam_role '{ROLE}' create external database if not exists",
        "create external table spectrum_t.sales(salesid integer, pricepaid decimal(8,2), saletime timestamp) "
        "row format delimited fields terminated by '\\t' stored as textfile "
        "location 's3://amzn-s3-demo-bucket/tickit/spectrum/sales/' table properties ('numRows'='172000')")
    assert rows(rs, "select eskind, databasename from svv_external_schemas where schemaname = 'spectrum_t'") == [
        (1, "spectrumdb")]
    assert rows(rs, "select location from svv_external_tables where schemaname = 'spectrum_t'") == [
        ("s3://amzn-s3-demo-bucket/tickit/spectrum/sales/",)]
    with pytest.raises(psycopg2.Error, match="external schema"):
        run(rs, "create external table nowhere.t (a int) stored as parquet location 's3://b/p/'")
    with pytest.raises(psycopg2.Error, match="DATABASE"):
        run(rs, f"create external schema other_t from data catalog iam_role '{ROLE}'")
    run(rs, "drop schema spectrum_t")       # r_DROP_SCHEMA.html: external schemas are dropped like any other
    assert one(rs, "select count(*) from svv_external_tables where schemaname = 'spectrum_t'") == 0


def test_library_and_model(rs, schema):
    """r_CREATE_LIBRARY.html (LANGUAGE plpythonu FROM 's3://…'), listed by r_PG_LIBRARY.html;
    r_CREATE_MODEL.html, listed by r_SVV_ML_MODEL_INFO.html."""
    run(rs, f"create or replace library f_urlparse_t language plpythonu from 's3://bucket/urlparse3-1.0.3.zip' "
            f"iam_role '{ROLE}'",
        f"create table {schema}.churn (state varchar(2), calls int, churn boolean)",
        f"create model {schema}.customer_churn from (select state, calls, churn from {schema}.churn) "
        f"target churn function ml_fn_customer_churn iam_role default settings (s3_bucket 'bucket')")
    assert one(rs, "select count(*) from pg_library where name = 'f_urlparse_t'") == 1
    run(rs, "drop library f_urlparse_t")
    assert one(rs, "select count(*) from pg_library where name = 'f_urlparse_t'") == 0
    assert rows(rs, "select trim(model_name) from svv_ml_model_info where trim(schema_name) = %s", (schema,)) == [
        ("customer_churn",)]
    with pytest.raises(psycopg2.Error, match="plpythonu"):
        run(rs, "create library f_other_t language sql from 's3://bucket/x.zip'")


def test_rls_policy_attach_and_table_switch(rs, schema):
    """r_CREATE_RLS_POLICY.html, r_ATTACH_RLS_POLICY.html, r_ALTER_TABLE.html (ROW LEVEL SECURITY ON); listed by
    r_SVV_RLS_POLICY.html and r_SVV_RLS_ATTACHED_POLICY.html."""
    run(rs, "create role analyst", f"create table {schema}.category (catid int, catgroup varchar(10))",
        "create rls policy policy_concerts_t with (catgroup varchar(10)) as c using (c.catgroup = 'Concerts')",
        f"attach rls policy policy_concerts_t on {schema}.category to role analyst, public",
        f"alter table {schema}.category row level security on conjunction type and")
    try:
        assert rows(rs, "select polalias, polatts, polqual from svv_rls_policy where polname = 'policy_concerts_t'") \
            == [("c", '[{"colname" : "catgroup", "type" : "varchar(10)"}]', "c.catgroup = 'Concerts'")]
        assert rows(rs, "select grantee, granteekind, is_rls_on from svv_rls_attached_policy "
                        "where polname = 'policy_concerts_t' order by 1") == [
            ("analyst", "role", True), ("public", "public", True)]
        with pytest.raises(psycopg2.Error, match="attached"):
            run(rs, "drop rls policy policy_concerts_t")
    finally:
        run(rs, "drop rls policy if exists policy_concerts_t cascade", "drop role analyst force")
    assert one(rs, "select count(*) from svv_rls_attached_policy where polname = 'policy_concerts_t'") == 0


def test_datashare(rs, schema):
    """r_CREATE_DATASHARE.html, r_ALTER_DATASHARE.html, r_GRANT.html (USAGE ON DATASHARE … TO NAMESPACE); listed
    by r_SVV_DATASHARES.html and r_SVV_DATASHARE_OBJECTS.html."""
    run(rs, f"create table {schema}.sales (id int)",
        "create datashare salesshare_t set publicaccessible true",
        f"alter datashare salesshare_t add schema {schema}",
        f"alter datashare salesshare_t add table {schema}.sales",
        "grant usage on datashare salesshare_t to namespace '13b8833d-17c6-4f16-8fe4-1a018f5ed00d'")
    try:
        assert rows(rs, "select is_publicaccessible from svv_datashares where share_name = 'salesshare_t'") == [(True,)]
        assert rows(rs, "select object_type, object_name from svv_datashare_objects "
                        "where share_name = 'salesshare_t' order by 1") == [
            ("schema", schema), ("table", f"{schema}.sales")]
    finally:
        run(rs, "drop datashare salesshare_t")
    assert one(rs, "select count(*) from svv_datashare_objects where share_name = 'salesshare_t'") == 0


def test_three_part_names_name_this_database(rs, schema, redshift):
    """https://docs.aws.amazon.com/redshift/latest/dg/cross-database_usage.html: database.schema.object."""
    run(rs, f"create table {redshift['database']}.{schema}.t (a int)",
        f"insert into {redshift['database']}.{schema}.t values (1)")
    assert one(rs, f"select count(*) from {redshift['database']}.{schema}.t") == 1
    with pytest.raises(psycopg2.Error, match="cross-database"):
        run(rs, f"create table otherdb.{schema}.t2 (a int)")


def test_admin_view_over_system_tables(rs, schema):
    """r_STV_TBL_PERM.html, r_STL_QUERY.html, r_SVL_QLOG.html, r_STL_LOAD_ERRORS.html, r_STV_BLOCKLIST.html,
    r_SVV_DISKUSAGE.html, r_STL_DDLTEXT.html, r_STL_QUERYTEXT.html, r_SVL_STATEMENTTEXT.html: admin views join
    them."""
    run(rs, f"create table {schema}.counted (a int) backup no",
        f"create view {schema}.v_admin as select trim(p.name) as name, p.backup, q.querytxt "
        "from stv_tbl_perm p left join stl_query q on q.query = p.id "
        "left join stl_load_errors e on e.tbl = p.id left join svl_qlog l on l.query = q.query")
    assert rows(rs, f"select name, backup from {schema}.v_admin where name = 'counted'") == [("counted", 0)]
    for view, columns in {"stv_blocklist": 20, "svv_diskusage": 19, "stl_ddltext": 8, "stl_querytext": 6,
                          "svl_statementtext": 9, "stv_tbl_perm": 12, "stl_query": 12, "svl_qlog": 13,
                          "stl_load_errors": 16}.items():
        with rs.cursor() as cur:
            cur.execute(f"select * from {view} limit 0")
            assert len(cur.description) == columns, view     # as many columns as the view's AWS page lists


def test_types_and_identity_forms_of_real_ddl(rs, schema):
    """DEC is DECIMAL (PostgreSQL 8.0 grammar, used by Snowplow's atomic.events); IDENTITY(0, 1)
    (r_CREATE_TABLE_NEW.html: seed and step are any integers, step not 0); the `"identity"(oid, index,
    'seed,step')` form Redshift's own catalog (pg_attrdef.adsrc) prints; VARCHAR(MAX) (r_Character_types.html)."""
    run(rs, f"create table {schema}.forms (id bigint identity(0, 1), d dec(18,2), v varchar(max), "
            "k int default \"identity\"(123, 3, '5,10'::text))",
        f"insert into {schema}.forms (d, v) values (1.5, 'x'), (2.5, 'y')")
    assert rows(rs, f"select id, d, k from {schema}.forms order by id") == [(0, 1.5, 5), (1, 2.5, 15)]
    text = one(rs, f"show table {schema}.forms")
    assert "id bigint NOT NULL identity(0, 1)" in text and "d numeric(18,2)" in text
    assert "v character varying(65535)" in text and "k integer NOT NULL identity(5, 10)" in text


def test_unqualified_create_goes_to_the_first_schema_of_the_search_path(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_search_path.html: "the first schema in the search path
    that exists is the default location for new objects"."""
    run(rs, f"set search_path to {schema}, public",
        "create table placed (a int)", "create view placed_v as select a from placed",
        "create function placed_f(int) returns int stable as $$ select $1 $$ language sql",
        "create procedure placed_p() as $$ begin null; end; $$ language plpgsql",
        "create table placed_ctas as select 1 as a")
    run(rs, "reset search_path")
    found = rows(rs, "select tablename from pg_tables where schemaname = %s order by 1", (schema,))
    assert found == [("placed",), ("placed_ctas",)]
    assert one(rs, "select count(*) from pg_views where schemaname = %s", (schema,)) == 1
    assert one(rs, "select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                   "where n.nspname = %s", (schema,)) == 2
    run(rs, "set search_path to nonexistent_schema_t")
    with pytest.raises(psycopg2.Error, match="no schema has been selected"):
        run(rs, "create table lost (a int)")
    run(rs, "reset search_path")


def test_qualify_filters_on_window_functions(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_QUALIFY_clause.html: QUALIFY filters after window
    functions are computed, on a window expression or on an alias of the SELECT list; a view keeps exactly the
    SELECT list's columns."""
    run(rs, f"create table {schema}.store_sales (ss_sold_date date, ss_sold_time time, ss_item varchar(10), "
            "ss_sales_price float)",
        f"insert into {schema}.store_sales values ('2022-01-01', '09:00:00', 'Product 1', 100.0), "
        "('2022-01-01', '11:00:00', 'Product 2', 500.0), ('2022-01-01', '15:00:00', 'Product 2', 20.0), "
        "('2022-01-02', '10:00:00', 'Product 3', 99.0), ('2022-01-02', '12:00:00', 'Product 1', 34.0)")
    assert rows(rs, f"select ss_sold_date, ss_item from {schema}.store_sales ss where ss_sold_time > '10:00:00' "
                    "qualify row_number() over (partition by ss_sold_date order by ss_sales_price desc) <= 1 "
                    "order by ss_sold_date") == [(_date("2022-01-01"), "Product 2"), (_date("2022-01-02"), "Product 1")]
    assert rows(rs, f"select ss_item, row_number() over (order by ss_sales_price desc) as row_num "
                    f"from {schema}.store_sales qualify row_num <= 2 order by row_num") == [
        ("Product 2", 1), ("Product 1", 2)]
    run(rs, f"create view {schema}.top_item as select ss_item, ss_sales_price from {schema}.store_sales "
            "qualify rank() over (order by ss_sales_price desc) = 1")
    assert rows(rs, f"select * from {schema}.top_item") == [("Product 2", 500.0)]
    assert [c for (c,) in rows(rs, "select column_name from svv_columns where table_schema = %s "
                                   "and table_name = 'top_item' order by ordinal_position", (schema,))] == [
        "ss_item", "ss_sales_price"]
    assert one(rs, "select qualify from (select 7 as qualify) x") == 7     # QUALIFY is not a reserved word


def _date(text: str):
    import datetime
    return datetime.date.fromisoformat(text)


def test_schema_quota_and_current_schema(rs, schema):
    """r_ALTER_SCHEMA.html: QUOTA n MB|GB|TB | UNLIMITED; r_CURRENT_SCHEMA.html: the first schema of the path."""
    run(rs, f"alter schema {schema} quota 50 gb", f"alter schema {schema} quota unlimited",
        f"set search_path to {schema}, public")
    try:
        assert one(rs, "select current_schema()") == schema
    finally:
        run(rs, "reset search_path")
    with pytest.raises(psycopg2.Error, match="does not exist"):
        run(rs, "alter schema no_such_schema_t quota 10 gb")


def test_hash_prefixed_names_are_temporary_tables(rs):
    """r_CREATE_TABLE_NEW.html: "a table name beginning with '#' … is created as a temporary table"; `#` between
    operands stays bitwise XOR (r_OPERATOR_SYMBOLS.html)."""
    run(rs, "create table #stage_t (a int)", "insert into #stage_t values (5), (6)")
    try:
        assert rows(rs, "select a # 3 from #stage_t order by 1") == [(5,), (6,)]
        assert one(rs, "select relpersistence from pg_catalog.pg_class where relname = 'stage_t'") == "t"
    finally:
        run(rs, "drop table #stage_t")


def test_external_function_is_listed_in_pg_proc(rs, schema):
    """r_CREATE_EXTERNAL_FUNCTION.html: a Lambda (or SageMaker) scalar UDF; it cannot run here, its catalog entry
    is a function like any other."""
    run(rs, f"create external function {schema}.exfunc_sum(int, int) returns int volatile lambda 'lambda_sum' "
            f"iam_role '{ROLE}' retry_timeout 0")
    assert rows(rs, "select p.proname, l.lanname, p.prosrc from pg_proc p join pg_language l on l.oid = p.prolang "
                    "join pg_namespace n on n.oid = p.pronamespace where n.nspname = %s", (schema,)) == [
        ("exfunc_sum", "exfunc", "lambda_sum")]
    with pytest.raises(psycopg2.Error, match="LAMBDA"):
        run(rs, f"create external function {schema}.f(int) returns int volatile iam_role default")


def test_roles_granted_to_users_roles_and_objects(rs, schema):
    """r_CREATE_ROLE.html, r_GRANT.html (GRANT ROLE … TO user | ROLE; GRANT … TO ROLE), r_REVOKE.html,
    r_DROP_ROLE.html (RESTRICT refuses a granted role, FORCE drops it); listed by r_SVV_ROLES.html,
    r_SVV_USER_GRANTS.html and r_SVV_ROLE_GRANTS.html."""
    run(rs, f"create table {schema}.t (a int)", "create user role_user_t password 'Abcdefg1'",
        "create role sales_t", "create role analyst_t externalid 'ext-1'", "grant role sales_t to role_user_t",
        "grant role sales_t to role analyst_t", f"grant select on {schema}.t to role analyst_t")
    try:
        assert rows(rs, "select role_name, external_id from svv_roles where role_name in ('sales_t', 'analyst_t') "
                        "order by 1") == [("analyst_t", "ext-1"), ("sales_t", None)]
        assert rows(rs, "select user_name, role_name from svv_user_grants where role_name = 'sales_t'") == [
            ("role_user_t", "sales_t")]
        assert rows(rs, "select role_name from svv_role_grants where granted_role_name = 'sales_t'") == [
            ("analyst_t",)]
        with pytest.raises(psycopg2.Error, match="FORCE"):
            run(rs, "drop role sales_t")
        with pytest.raises(psycopg2.Error, match='role "nobody_t" does not exist'):
            run(rs, f"grant select on {schema}.t to role nobody_t")
    finally:
        run(rs, "drop role sales_t force", "drop role analyst_t force", "drop user role_user_t")
    assert one(rs, "select count(*) from svv_roles where role_name in ('sales_t', 'analyst_t')") == 0
