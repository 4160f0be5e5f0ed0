"""dump_schema's pure parts: catalog rows (as Redshift returns them) → catalog.json, and the backup file."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import sqlglot

from shared.documents.catalog import SCHEMA_PATH
from steps.dump_schema import queries
from steps.dump_schema import rows as rows_module
from steps.dump_schema.assemble import (
    CatalogRows,
    Filters,
    Shows,
    build_catalog,
    parse_acl,
    parse_constraint,
    redshift_only,
    split_identifiers,
)
from steps.dump_schema.backup import render_backup
from steps.dump_schema.core import check_catalog, make_filters, view_dependencies

ORDERS_SHOW = """CREATE TABLE sales.orders (
    id bigint NOT NULL identity(5, 10) ENCODE az64,
    customer_id integer ENCODE az64 distkey,
    note character varying(256) DEFAULT 'none'::character varying ENCODE lzo
)
BACKUP NO
DISTSTYLE KEY
SORTKEY ( id );"""


def rows() -> CatalogRows:
    return CatalogRows(
        version="PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2, Redshift 1.0.77467",
        database="dev",
        schemas=[(2200, "public", "rdsdb", None, None), (11, "pg_catalog", "rdsdb", None, None),
                 (100, "sales", "awsuser", "the shop", '{awsuser=UC/awsuser,"group readers"=U/awsuser}'),
                 (101, "information_schema", "rdsdb", None, None)],
        relations=[(1001, "sales", "orders", "r", "awsuser", 1, "orders table", "{awsuser=arwdRxt/awsuser,=r/awsuser}"),
                   (1002, "sales", "customers", "r", "awsuser", 8, None, None),
                   (1003, "sales", "v_orders", "v", "awsuser", None, None, None),
                   (1004, "sales", "mv_totals", "v", "awsuser", None, None, None),
                   (5, "pg_catalog", "pg_class", "r", "rdsdb", 0, None, None)],
        columns=[(1001, 1, "id", "bigint", True, "\"identity\"(1001, 0, '5,10'::text)", None),
                 (1001, 2, "customer_id", "integer", False, None, None),
                 (1001, 3, "note", "character varying(256)", False, "'none'::character varying", "free text"),
                 (1002, 1, "id", "integer", True, None, None),
                 (1003, 1, "id", "bigint", False, None, None)],
        table_def=[("sales", "orders", "id", "az64", False, 1), ("sales", "orders", "customer_id", "az64", True, 0),
                   ("sales", "orders", "note", "lzo", False, 0), ("sales", "customers", "id", "none", False, -1)],
        table_info=[("sales", "orders", "KEY(customer_id)", 12, 4, 4)],
        constraints=[(1001, "orders_pkey", "p", None, None, "PRIMARY KEY (id)"),
                     (1001, "orders_customer_fkey", "f", "sales", "customers",
                      'FOREIGN KEY (customer_id) REFERENCES sales.customers(id)'),
                     (1002, "customers_pkey", "p", None, None, "PRIMARY KEY (id)")],
        functions=[(2001, "sales", "f_add", "sql", 23, "23 23", "i", " select $1 + $2 ", "awsuser", None, None),
                   (2002, "sales", "f_py", "plpythonu", 701, "701", "i", "return args[0]", "awsuser", None, "{x}"),
                   (2003, "sales", "p_touch", "plpgsql", 2278, "23", "v", "BEGIN END;", "awsuser", None, ["amount"]),
                   (2004, "pg_catalog", "f_sys", "sql", 23, "", "i", "select 1", "rdsdb", None, None)],
        types=[(23, "int4"), (701, "float8"), (2278, "void")],
        users=[(1, "rdsdb", True, True), (100, "awsuser", True, True), (101, "analyst", False, False)],
        groups=[("readers", "{101}")],
        views=[("sales", "v_orders", "SELECT id FROM sales.orders;")],
    )


def shows() -> Shows:
    return Shows(
        tables={("sales", "orders"): ORDERS_SHOW,
                ("sales", "customers"): "CREATE TABLE sales.customers (\n    id integer NOT NULL ENCODE raw\n)\n"
                                        "DISTSTYLE ALL\nINTERLEAVED SORTKEY ( id );"},
        views={("sales", "v_orders"): "CREATE VIEW sales.v_orders AS SELECT id FROM sales.orders "
                                      "WITH NO SCHEMA BINDING;",
               ("sales", "mv_totals"): "CREATE MATERIALIZED VIEW sales.mv_totals AS SELECT customer_id, "
                                       "count(*) FROM sales.orders GROUP BY customer_id;"},
        procedures={("sales", "p_touch", ("int4",)): "CREATE OR REPLACE PROCEDURE sales.p_touch(integer)\n"
                                                      " LANGUAGE plpgsql\nAS $$\nBEGIN\n  RAISE INFO 'got %', amount;\nEND;\n$$"})


def test_catalog_from_rows_is_complete_and_valid():
    catalog = build_catalog(rows(), shows(), Filters(), "dev_20260101_000000", "2026-01-01T00:00:00Z")
    jsonschema.Draft7Validator(json.loads(SCHEMA_PATH.read_text())).validate(catalog)
    check_catalog(catalog)
    assert [s["name"] for s in catalog["schemas"]] == ["public", "sales"]
    orders = next(t for t in catalog["tables"] if t["name"] == "orders")
    assert orders["diststyle"] == "KEY" and orders["backup"] is False and orders["sortkey_style"] == "compound"
    assert (orders["estimated_rows"], orders["size_mb"], orders["comment"]) == (4, 12.0, "orders table")
    first, second, third = orders["columns"]
    assert first["identity"] == {"seed": 5, "step": 10} and first["default"] is None and not first["nullable"]
    assert (first["encoding"], first["sortkey_position"]) == ("az64", 1)
    assert second["distkey"] is True and second["sortkey_position"] is None
    assert third["default"] == "'none'::character varying" and third["comment"] == "free text"
    assert orders["constraints"] == [
        {"name": "orders_pkey", "kind": "primary_key", "columns": ["id"]},
        {"name": "orders_customer_fkey", "kind": "foreign_key", "columns": ["customer_id"],
         "references": {"schema": "sales", "table": "customers", "columns": ["id"]}}]
    customers = next(t for t in catalog["tables"] if t["name"] == "customers")
    assert customers["diststyle"] == "ALL" and customers["sortkey_style"] == "interleaved"
    assert customers["estimated_rows"] == 0 and customers["columns"][0]["encoding"] == "none"
    views = {v["name"]: v for v in catalog["views"]}
    assert views["v_orders"]["late_binding"] is True and views["v_orders"]["kind"] == "view"
    assert views["mv_totals"]["kind"] == "materialized_view"
    functions = {f["name"]: f for f in catalog["functions"]}
    assert functions["f_add"]["arguments"] == [{"type": "int4"}, {"type": "int4"}]
    assert functions["f_add"]["returns"] == "int4" and functions["f_add"]["volatility"] == "immutable"
    assert functions["f_py"]["language"] == "plpythonu"
    assert [p["name"] for p in catalog["procedures"]] == ["p_touch"]
    assert catalog["procedures"][0]["arguments"] == [{"type": "int4", "name": "amount"}]
    assert functions["f_py"]["arguments"] == [{"type": "float8", "name": "x"}]
    assert catalog["procedures"][0]["definition"].startswith("CREATE OR REPLACE PROCEDURE sales.p_touch")
    assert catalog["groups"] == [{"name": "readers", "members": ["analyst"]}]
    assert {(g["object_kind"], g["name"], g["grantee_kind"], g["grantee"], tuple(g["privileges"]))
            for g in catalog["grants"]} == {
        ("table", "orders", "public", "public", ("SELECT",)),
        ("schema", "sales", "group", "readers", ("USAGE",)),
    }


def test_system_schemas_and_filters():
    catalog = build_catalog(rows(), shows(), Filters(), "r", "t")
    assert all(not t["schema"].startswith("pg_") for t in catalog["tables"])
    assert all(f["schema"] != "pg_catalog" for f in catalog["functions"])
    only_views = build_catalog(rows(), shows(), make_filters(None, None, r"\.v_"), "r", "t")
    assert [v["name"] for v in only_views["views"]] == ["v_orders"] and only_views["tables"] == []
    none = build_catalog(rows(), shows(), make_filters(None, "sales", None), "r", "t")
    assert none["tables"] == [] and [s["name"] for s in none["schemas"]] == ["public"]


def test_view_dependencies_and_backup_order():
    catalog = build_catalog(rows(), shows(), Filters(), "dev_20260101_000000", "2026-01-01T00:00:00Z")
    known = {("sales", "orders"), ("sales", "customers"), ("sales", "v_orders")}
    assert view_dependencies("select * from sales.orders o join v_x on true", known) == ["sales.orders"]
    backup = render_backup(catalog, shows(), [("table", "sales.broken", "permission denied")])
    assert backup.index("CREATE TABLE sales.customers") < backup.index("CREATE TABLE sales.orders")
    assert "BACKUP NO" in backup and "SORTKEY ( id );" in backup
    assert "-- SHOW TABLE sales.broken failed: permission denied" in backup
    assert 'CREATE OR REPLACE FUNCTION "sales"."f_add"(int4, int4) RETURNS int4 IMMUTABLE AS $$' in backup
    assert 'GRANT USAGE ON SCHEMA "sales" TO GROUP "readers";' in backup
    assert "COMMENT ON COLUMN \"sales\".\"orders\".\"note\" IS 'free text';" in backup


@pytest.mark.parametrize("text, expected", [
    ('a, b', ["a", "b"]), ('"Mixed Case", "q""uote"', ["Mixed Case", 'q"uote']), ("ID", ["id"]),
])
def test_split_identifiers(text, expected):
    assert split_identifiers(text) == expected


def test_constraint_and_acl_parsing():
    fk = parse_constraint("fk", "f", 'FOREIGN KEY ("A b", c) REFERENCES "S"."T"(x, y)', "S", "T")
    assert fk["columns"] == ["A b", "c"] and fk["references"] == {"schema": "S", "table": "T", "columns": ["x", "y"]}
    assert parse_constraint("u", "u", "UNIQUE (a)", None, None) == {"name": "u", "kind": "unique", "columns": ["a"]}
    assert parse_acl('{=r/o,bob=r*w/o,"group g x"=X/o,"q""uoted"=U/o}') == [
        ("public", "public", ["SELECT"]), ("user", "bob", ["SELECT", "UPDATE"]), ("group", "g x", ["EXECUTE"]),
        ("user", 'q"uoted', ["USAGE"])]


def test_bad_tables_regex_is_bad_input():
    from shared.errors import BadInputError

    with pytest.raises(BadInputError, match="not a valid regular expression"):
        make_filters(None, None, "([")
    assert make_filters("a, b", "c", None).schemas == ("a", "b")
    assert isinstance(make_filters(None, None, "x").tables, re.Pattern)


def test_backup_bodies_and_comment_lines_cannot_break_out():
    """The review's UDF body (it closed both `$$` and `$r2a$`) and a failure text with line breaks: read back
    by PostgreSQL's parser (pglast), the backup holds one CREATE FUNCTION with the body intact and no GRANT.
    Redshift SQL UDF bodies are dollar-quoted like PostgreSQL's:
    https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_FUNCTION.html"""
    from pglast import parse_sql

    body = " SELECT 1 /* $$ */ /* $r2a$ ; GRANT ALL ON SCHEMA s TO PUBLIC ; -- */ "
    catalog = {"run_id": "r", "schemas": [], "tables": [], "views": [], "procedures": [], "grants": [],
               "functions": [{"schema": "s", "name": "f", "arguments": [], "returns": "int4",
                              "volatility": "immutable", "body": body, "language": "sql"}]}
    failure = ("table", "s.t", "boom\nGRANT ALL ON SCHEMA s TO PUBLIC;\u2028GRANT ALL ON SCHEMA s TO PUBLIC;")
    backup = render_backup(catalog, Shows(tables={}, views={}, procedures={}), [failure])
    statements = [raw.stmt for raw in parse_sql(backup)]
    assert [type(s).__name__ for s in statements] == ["CreateFunctionStmt"]
    as_option = next(o for o in statements[0].options if o.defname == "as")
    assert as_option.arg[0].sval == body
    assert "-- SHOW TABLE s.t failed: boom\\nGRANT ALL ON SCHEMA s TO PUBLIC;\\u2028GRANT" in backup


def test_redshift_only_rows_of_the_grant_and_refresh_views():
    """SVV_MV_INFO.autorefresh is char(1) 't' by r_SVV_MV_INFO.html's column table and 1 in its example: both
    read as set. One entry per grantee and object lists its privileges; names are hostile text, written in
    canonical_name's spelling; PUBLIC's USAGE on SQL is PostgreSQL's default too, so it is no loss. A table's
    grant, RLS switch or policy attachment in a schema the filters leave out is left out with the table.
    SVV_RLS_RELATION.rls_conjunction_type is character(3): 'or ' is blank-padded."""
    rows = [("auto_refresh", "s", "mv_t", "t"), ("auto_refresh", "s", "mv_one", 1), ("auto_refresh", "s", "mv_f", "f"),
            ("auto_refresh", "s", "mv_zero", "0"), ("auto_refresh", "other", "mv_x", "t"),
            ("assumerole", "arn:aws:iam::1:role/r", "COPY", "user", 'Bob "x"'),
            ("assumerole", "arn:aws:iam::1:role/r", "UNLOAD", "user", 'Bob "x"'),
            ("system_privilege", "CREATE USER", "role", "admins"),
            ("table_privilege", "S", "t.1", "DROP", "group", "etl"),
            ("table_privilege", "S", "t.1", "ALTER", "group", "etl"),
            ("table_privilege", "other", "t", "DROP", "group", "etl"),
            ("rls_table", "S", "t.1", "or "), ("rls_table", "other", "t", "and"),
            ("rls_attachment", "S", "t.1", "Pol", "role", "analyst"),
            ("rls_attachment", "other", "t", "pol", "public", "public"),
            ("language_privilege", "sql", "USAGE", "public", "public"),
            ("language_privilege", "plpythonu", "USAGE", "public", "public")]
    entries = redshift_only(rows, Filters(exclude_schemas=("other",)))
    assert [(e["kind"], e["name"], e["detail"]) for e in entries] == [
        ("assumerole", 'arn:aws:iam::1:role/r to user "Bob ""x"""', "COPY, UNLOAD"),
        ("auto_refresh", "s.mv_one", None), ("auto_refresh", "s.mv_t", None),
        ("language_privilege", "plpythonu to public", "USAGE"),
        ("rls_attachment", '"Pol" on "S"."t.1" to role analyst', None),
        ("rls_table", '"S"."t.1"', "policies combined with OR"),
        ("system_privilege", "CREATE USER to role admins", None),
        ("table_privilege", '"S"."t.1" to group etl', "ALTER, DROP")]


@pytest.mark.parametrize(("query", "row_type"), [
    (queries.SCHEMAS, rows_module.SchemaRow), (queries.RELATIONS, rows_module.RelationRow),
    (queries.COLUMNS, rows_module.ColumnRow), (queries.TABLE_DEF, rows_module.TableDefRow),
    (queries.TABLE_INFO, rows_module.TableInfoRow), (queries.CONSTRAINTS, rows_module.ConstraintRow),
    (queries.FUNCTIONS, rows_module.FunctionRow), (queries.VIEWS, rows_module.ViewTextRow),
    (queries.TYPES, rows_module.TypeRow), (queries.USERS, rows_module.UserRow), (queries.GROUPS, rows_module.GroupRow),
])
def test_each_catalog_query_has_a_row_type_of_its_select_lists_width(query, row_type):
    """assemble reads catalog rows by field name; the names are right only while each row type lists as many fields
    as its query selects (a column added to a query without its row type fails here, and when a row is named)."""
    selected = sqlglot.parse_one(query, read="redshift").expressions
    assert len(row_type._fields) == len(selected)
    with pytest.raises(ValueError, match=f"{row_type.__name__} has {len(selected)} fields, a row has 1"):
        rows_module.named(row_type, [("x",)])
