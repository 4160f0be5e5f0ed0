"""Catalog views and SHOW answers that AWS documents, one test per fact, each naming the page it follows."""

from __future__ import annotations

import uuid

import psycopg2
import pytest

from tests.redshift_emulator.conftest import connect, one, rows


def test_interleaved_sort_key_positions_alternate_starting_negative(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_PG_TABLE_DEF.html: for an interleaved sort key "each column
    that is part of the sort key has a value that is alternately positive or negative", shown as -1, 2, -3."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.il (a int, b int, c int, d int) interleaved sortkey (c, a, b)")
        cur.execute(f"set search_path to {schema}")
        cur.execute('select "column", sortkey from pg_table_def where tablename = \'il\' order by "column"')
        table_def = dict(cur.fetchall())
        cur.execute("reset search_path")
    assert table_def == {"a": 2, "b": -3, "c": -1, "d": 0}
    attributes = dict(rows(rs, "select a.attname, a.attsortkeyord from pg_attribute a join pg_class c "
                               "on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
                               "where n.nspname = %s and c.relname = 'il' and a.attnum > 0", (schema,)))
    assert attributes == table_def


def test_pg_class_reldiststyle_of_an_auto_table_is_9(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_PG_CLASS_INFO.html: reldiststyle 0 EVEN, 1 KEY, 8 ALL,
    9 AUTO (releffectivediststyle 10-12 says which AUTO chose)."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.auto_one (x int)")
        cur.execute(f"create table {schema}.auto_two (x int) diststyle auto")
        cur.execute(f"create table {schema}.even_one (x int) diststyle even")
    styles = dict(rows(rs, "select c.relname, c.reldiststyle from pg_class c join pg_namespace n "
                           "on n.oid = c.relnamespace where n.nspname = %s", (schema,)))
    assert styles == {"auto_one": 9, "auto_two": 9, "even_one": 0}


def test_attencodingtype_is_an_integer_code_zero_for_raw(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/diagnostic-queries-for-query-tuning.html reads
    `decode(max(attencodingtype), 0, 'n', 'y')`: an integer, 0 when no column is compressed; DDL generators turn it
    back into a name with format_encoding(attencodingtype::integer)."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.enc (r int encode raw, z varchar(5) encode zstd, d date, "
                    "s int sortkey)")
    found = rows(rs, "select a.attname, a.attencodingtype, format_encoding(a.attencodingtype::integer), "
                     "pg_typeof(a.attencodingtype)::text from pg_attribute a join pg_class c on c.oid = a.attrelid "
                     "join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s and c.relname = 'enc' "
                     "and a.attnum > 0 order by a.attnum", (schema,))
    assert [(name, code == 0, text, kind) for name, code, text, kind in found] == [
        ("r", True, "none", "smallint"), ("z", False, "zstd", "smallint"), ("d", False, "az64", "smallint"),
        ("s", True, "none", "smallint")]


SVV_TABLE_INFO_COLUMNS = ["database", "schema", "table_id", "table", "encoded", "diststyle", "sortkey1", "max_varchar",
                          "sortkey1_enc", "sortkey_num", "size", "pct_used", "empty", "unsorted", "stats_off",
                          "tbl_rows", "skew_sortkey1", "skew_rows", "estimated_visible_rows", "risk_event",
                          "vacuum_sort_benefit", "create_time"]


def test_svv_table_info_has_the_documented_columns_and_auto_values(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html: 22 columns in this order; encoded says
    `Y, AUTO(ENCODE)` for an ENCODE AUTO table, sortkey1 `AUTO(SORTKEY)` for a table with an automatic sort key
    (the default: https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html)."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.plain (x int, v varchar(30))")
        cur.execute(f"create table {schema}.chosen (x int encode zstd, v varchar(12) sortkey)")
        cur.execute(f"insert into {schema}.plain values (1, 'a')")
        cur.execute(f"insert into {schema}.chosen values (1, 'a')")
        cur.execute("select * from svv_table_info where schema = %s order by \"table\"", (schema,))
        names = [d.name for d in cur.description]
        found = {row[3]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
    assert names == SVV_TABLE_INFO_COLUMNS
    assert (found["plain"]["encoded"], found["plain"]["sortkey1"], found["plain"]["max_varchar"]) == (
        "Y, AUTO(ENCODE)", "AUTO(SORTKEY)", 30)
    assert (found["chosen"]["encoded"], found["chosen"]["sortkey1"], found["chosen"]["sortkey1_enc"].strip()) == (
        "Y", "v", "raw")


def test_svv_table_info_lists_a_large_table_just_loaded(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html leaves out only empty tables; size is in
    1 MB blocks and tbl_rows is the table's rows. A table the emulator's backend has not analyzed yet (a plan made
    right after a load) is listed with its rows and size, not taken for an empty one. 300 MB of rows just under
    PostgreSQL's TOAST threshold (not compressed), inserted in one statement so no analysis can come between."""
    rows_inserted = 160_000
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.loaded (id bigint, filler varchar(1900))")
        cur.execute(f"insert into {schema}.loaded select g, repeat('x', 1900) from generate_series(1, {rows_inserted}) g")
    listed = rows(rs, 'select "table", tbl_rows, size from svv_table_info where schema = %s', (schema,))
    assert len(listed) == 1 and listed[0][0] == "loaded", listed
    (_, tbl_rows, size), = listed
    assert size >= 300 and abs(tbl_rows - rows_inserted) <= rows_inserted // 100, listed


def test_svv_table_info_size_holds_a_block_per_column_slice_and_segment(rs, schema):
    """https://repost.aws/knowledge-center/redshift-cluster-storage-space: a table takes at least 1 MB ×
    (user columns + 3 hidden) × populated slices (an ALL table: nodes) × segments (2 with a sort key). The emulator
    has 4 slices on 2 nodes (stv_slices); each table here holds well under 1 MB of data (1 block on top)."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.sorted (a int, b int, c int, d int, e int) sortkey (a)")
        cur.execute(f"insert into {schema}.sorted values (1, 2, 3, 4, 5)")
        cur.execute(f"create table {schema}.spread (a int, b varchar(10)) diststyle even")
        cur.execute(f"insert into {schema}.spread select g, 'x' from generate_series(1, 10) g")
        cur.execute(f"create table {schema}.everywhere (a int) diststyle all")
        cur.execute(f"insert into {schema}.everywhere values (1), (2), (3)")
    sizes = dict(rows(rs, 'select "table", size from svv_table_info where schema = %s', (schema,)))
    assert rows(rs, "select count(*), count(distinct node) from stv_slices") == [(4, 2)]
    # "sorted" is DISTSTYLE AUTO, which SVV_TABLE_INFO shows as AUTO(ALL) while a table is small: a copy per node
    assert sizes == {"sorted": 1 + 8 * 2 * 2, "spread": 1 + 5 * 4 * 1, "everywhere": 1 + 4 * 2 * 1}


def test_svv_table_info_lists_a_materialized_view_under_its_name(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html says "user-defined tables" and nothing of
    materialized views; dbt-redshift reads a materialized view's diststyle and sortkey1 from SVV_TABLE_INFO by the
    view's name, in tests run against real clusters
    (https://github.com/dbt-labs/dbt-redshift/blob/main/tests/functional/adapter/materialized_view_tests/utils.py).
    A plain view has no storage and no row there; pg_class still says `v` for both."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.base (x int)")
        cur.execute(f"insert into {schema}.base values (1), (2), (2)")
        cur.execute(f"create materialized view {schema}.mv_sum as select x, count(*) as n from {schema}.base group by x")
        cur.execute(f"create view {schema}.v_plain as select x from {schema}.base")
    listed = rows(rs, 'select "table", tbl_rows from svv_table_info where schema = %s order by 1', (schema,))
    assert listed == [("base", 3), ("mv_sum", 2)]
    kinds = dict(rows(rs, "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                          "where n.nspname = %s", (schema,)))
    assert kinds == {"base": "r", "mv_sum": "v", "v_plain": "v"}


def test_show_table_prints_a_declared_collation(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_SHOW_TABLE.html shows COLLATE on every character column;
    https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html: COLLATE CASE_SENSITIVE | CS |
    CASE_INSENSITIVE | CI."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.coll (a varchar(5) collate case_insensitive, b char(2) collate cs, c int)")
    text = one(rs, f"show table {schema}.coll")
    assert "    a character varying(5) ENCODE lzo COLLATE case_insensitive,\n" in text
    assert "    b character(2) ENCODE lzo COLLATE case_sensitive,\n" in text
    assert "    c integer ENCODE az64\n" in text


@pytest.mark.parametrize("setting", ["server_version_num", "standard_conforming_strings"])
def test_show_of_a_setting_redshift_does_not_have_is_an_error(rs, setting):
    """Neither is in Redshift's configuration reference (https://docs.aws.amazon.com/redshift/latest/dg/
    cm_chap_ConfigurationRef.html); clients report `unrecognized configuration parameter` for them
    (graphile/crystal#913, sqlalchemy/sqlalchemy#9494)."""
    with pytest.raises(psycopg2.Error, match=f'unrecognized configuration parameter "{setting}"') as error:
        one(rs, f"show {setting}")
    assert error.value.pgcode == "42704"


def test_quoted_user_names_keep_their_case(redshift, rs):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_enable_case_sensitive_identifier.html: "The case of a
    username enclosed in double quotation marks is always preserved regardless of the setting"."""
    name = f"Mixed_{uuid.uuid4().hex[:6]}"
    with rs.cursor() as cur:
        cur.execute(f'create user "{name}" password \'Secret123\'')
    try:
        assert one(rs, "select count(*) from pg_user where usename = %s", (name,)) == 1
        assert one(rs, "select count(*) from pg_user where usename = %s", (name.lower(),)) == 0
        conn = connect(redshift, user=name, password="Secret123")
        try:
            assert one(conn, "select 1") == 1
        finally:
            conn.close()
    finally:
        with rs.cursor() as cur:
            cur.execute(f'drop user "{name}"')


def test_server_version_is_shown_to_superusers_only(redshift, rs):
    """Redshift answers `must be superuser to examine "server_version"` to other users (node-db-migrate#577 quotes
    it); the master user gets 8.0.2, as in https://docs.aws.amazon.com/redshift/latest/dg/r_VERSION.html."""
    name = f"plain_{uuid.uuid4().hex[:6]}"
    with rs.cursor() as cur:
        cur.execute(f"create user {name} password 'Secret123'")
    try:
        assert one(rs, "show server_version") == "8.0.2"
        conn = connect(redshift, user=name, password="Secret123")
        try:
            with pytest.raises(psycopg2.Error, match='must be superuser to examine "server_version"'):
                one(conn, "show server_version")
        finally:
            conn.close()
    finally:
        with rs.cursor() as cur:
            cur.execute(f"drop user {name}")


def test_only_ascii_letters_are_folded(rs, schema):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_names.html: "ASCII letters in standard and delimited
    identifiers are case-insensitive and are folded to lowercase"; other letters keep their case."""
    with rs.cursor() as cur:
        cur.execute(f'create table {schema}."ÄRGER_Tab" ("ÉTÉ" int, Ölpreis int)')
    assert one(rs, "select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                   "where n.nspname = %s", (schema,)) == "Ärger_tab"
    assert [name for (name,) in rows(rs, "select column_name from svv_columns where table_schema = %s "
                                         "order by ordinal_position", (schema,))] == ["ÉtÉ", "Ölpreis"]


# Column names in page order, from each view's "Table columns" at https://docs.aws.amazon.com/redshift/latest/dg/r_<VIEW>.html
DOCUMENTED_COLUMNS = {
    "stv_slices": ["node", "slice", "localslice", "type"],
    "stv_tbl_perm": ["slice", "id", "name", "rows", "sorted_rows", "temp", "db_id", "insert_pristine",
                     "delete_pristine", "backup", "dist_style", "block_count"],
    "stv_tbl_trans": ["slice", "id", "rows", "size", "query_id", "ref_cnt", "from_suspended", "prep_swap"],
    "stl_query": ["userid", "query", "label", "xid", "pid", "database", "querytxt", "starttime", "endtime", "aborted",
                  "insert_pristine", "concurrency_scaling_status"],
    "svl_qlog": ["userid", "query", "xid", "pid", "starttime", "endtime", "elapsed", "aborted", "label", "substring",
                 "source_query", "concurrency_scaling_status_txt", "from_sp_call"],
    "stl_load_errors": ["userid", "slice", "tbl", "starttime", "session", "query", "filename", "line_number", "colname",
                        "type", "col_length", "position", "raw_line", "raw_field_value", "err_code", "err_reason"],
    "stl_ddltext": ["userid", "xid", "pid", "label", "starttime", "endtime", "sequence", "text"],
    "stl_querytext": ["userid", "xid", "pid", "query", "sequence", "text"],
    "svl_statementtext": ["userid", "xid", "pid", "label", "starttime", "endtime", "sequence", "type", "text"],
    "svv_tables": ["table_catalog", "table_schema", "table_name", "table_type", "remarks"],
}


@pytest.mark.parametrize("view", sorted(DOCUMENTED_COLUMNS))
def test_system_views_have_the_documented_columns(rs, view):
    with rs.cursor() as cur:
        cur.execute(f"select * from {view} limit 0")
        assert [d.name for d in cur.description] == DOCUMENTED_COLUMNS[view]


def test_svv_columns_interval_precision_is_text(rs):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_COLUMNS.html types interval_precision as text."""
    with rs.cursor() as cur:
        cur.execute("select interval_precision from svv_columns limit 0")
        assert cur.description[0].type_code == 25
