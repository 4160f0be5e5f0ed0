"""A hand-written catalog.json with the edge cases rewrite_ddl must handle (what dump_schema reads from the
devstack sample database, written down so rewrite_ddl's tests need no Redshift)."""

import copy

from tests.rewrite_ddl.conftest import catalog, column, table

LONG_TABLE = "a_table_name_that_is_much_longer_than_sixty_three_bytes_which_redshift_allows_up_to_127_x"
LONG_TWIN = "a_table_name_that_is_much_longer_than_sixty_three_bytes_which_redshift_allows_up_to_127_y"
LONG_COLUMN = "a_column_name_that_is_also_longer_than_sixty_three_bytes_in_redshift_1"

TABLES = [
    table("sales", "orders",
          column("id", "bigint", nullable=False, identity={"seed": 5, "step": 10}, encoding="az64"),
          column("customer_id", "integer", distkey=True, encoding="az64"),
          column("note", "character varying(256)", default="'none'::character varying", encoding="lzo",
                 comment="free text"),
          column("created", "timestamp without time zone", default="getdate()", sortkey_position=1),
          column("amount", "numeric(12,2)"),
          diststyle="KEY", sortkey_style="compound", estimated_rows=4, size_mb=12.5, comment="orders, 100% of them",
          constraints=[{"name": "orders_pkey", "kind": "primary_key", "columns": ["id"]},
                       {"name": "orders_customer_fkey", "kind": "foreign_key", "columns": ["customer_id"],
                        "references": {"schema": "sales", "table": "customers", "columns": ["id"]}}]),
    table("sales", "customers",
          column("id", "integer", nullable=False),
          column("name", "text"),
          column("code", "bpchar"),
          column("balance", "decimal"),
          constraints=[{"name": "customers_pkey", "kind": "primary_key", "columns": ["id"]}],
          estimated_rows=2, size_mb=1),
    table("sales", "legacy_ids",  # identity as pg_attrdef shows it, not yet split by dump_schema
          column("id", "integer", default="\"identity\"(106512, 0, '1,1'::text)"),
          column("label", "character varying(10)")),
    table("sales", "kinds",
          column("payload", "super"), column("raw", "varbyte(64)"), column("shape", "geometry"),
          column("sketch", "hllsketch"), column("span", "interval year to month"),
          column("at", "timestamp with time zone"), column("t", "time with time zone"),
          column("flag", "boolean"), column("ratio", "double precision"), column("small", "smallint"),
          column("r", "real"), column("d", "date")),
    table("sales", "only_sketch", column("sketch", "hllsketch")),
    table("sales", LONG_TABLE, column(LONG_COLUMN, "integer"), column("select", "integer"),
          column("MixedCase", "integer")),
    table("sales", LONG_TWIN, column("id", "integer")),
    table("Odd Schema", "Odd.Table", column("Col \"q\"", "integer")),
]

VIEWS = [
    {"schema": "sales", "name": "v_functions", "kind": "view",
     "definition": """CREATE VIEW sales.v_functions AS
SELECT nvl(NULL::integer, 7) AS nvl_value,
       nvl2(NULL::integer, 'has', 'none') AS nvl2_value,
       decode(2, 1, 'one', 2, 'two', 'other') AS decode_value,
       dateadd(month, 1, '2008-01-31') AS dateadd_value,
       datediff(week, '2009-01-01', '2009-12-31') AS datediff_week,
       datediff(year, '2009-12-31 23:59:59', '2010-01-01') AS datediff_year,
       charindex('fish', 'dogfish') AS charindex_found,
       charindex('dog', 'fish') AS charindex_missing,
       convert_timezone('EST', 'PST', '2008-03-05 12:25:29') AS tz_three_args,
       convert_timezone('America/New_York', '2008-08-21 07:23:51') AS tz_two_args,
       len('abc') AS len_value,
       strtol('abcd1234', 16) AS strtol_hex,
       strtol('-110', 2) AS strtol_binary,
       json_extract_path_text('{"f2":{"f3":1},"f4":{"f5":99,"f6":"star"}}', 'f4', 'f6') AS json_value,
       trunc('2011-07-21 10:32:38'::timestamp) AS trunc_value"""},
    {"schema": "sales", "name": "v_aggregates", "kind": "view",
     "definition": """SELECT listagg(name, ', ') WITHIN GROUP (ORDER BY name DESC) AS names,
       listagg(name) WITHIN GROUP (ORDER BY name) AS glued,
       median(id) AS median_id,
       approximate count(DISTINCT name) AS distinct_names
FROM sales.customers"""},
    {"schema": "sales", "name": "v_late", "kind": "view", "late_binding": True,
     "definition": "create view sales.v_late as select id, note from sales.orders with no schema binding;"},
    {"schema": "sales", "name": "v_on_view", "kind": "view",  # depends on a view defined after it by name
     "definition": "select names from sales.v_aggregates"},
    {"schema": "sales", "name": "v_long", "kind": "view",
     "definition": f"select {LONG_COLUMN}, \"select\" from sales.{LONG_TABLE}"},
    {"schema": "sales", "name": "mv_totals", "kind": "materialized_view",
     "definition": """CREATE MATERIALIZED VIEW sales.mv_totals BACKUP NO DISTSTYLE KEY DISTKEY(customer_id)
SORTKEY(customer_id) AUTO REFRESH YES AS
SELECT customer_id, sum(amount) AS total FROM sales.orders GROUP BY customer_id"""},
    {"schema": "sales", "name": "v_broken", "kind": "view", "definition": "select from where ((("},
]

FUNCTIONS = [
    {"schema": "sales", "name": "f_add", "language": "sql", "returns": "integer", "volatility": "immutable",
     "arguments": [{"type": "integer"}, {"type": "integer"}], "body": "select $1 + $2"},
    {"schema": "sales", "name": "f_py", "language": "plpythonu", "returns": "double precision",
     "volatility": "immutable", "arguments": [{"type": "double precision"}], "body": "return args[0] * 2"},
]

PROCEDURES = [
    {"schema": "sales", "name": "p_touch", "language": "plpgsql",
     "arguments": [{"name": "amount", "type": "integer"}],
     "definition": "CREATE OR REPLACE PROCEDURE sales.p_touch(amount integer)\n LANGUAGE plpgsql\nAS $$\n"
                   "BEGIN\n  RAISE INFO 'touched %', amount;\nEND;\n$$"},
]

USERS = [{"name": "awsuser", "superuser": True}, {"name": "analyst"}]
GROUPS = [{"name": "readers", "members": ["analyst"]}]
GRANTS = [
    {"object_kind": "table", "schema": "sales", "name": "orders", "grantee": "readers", "grantee_kind": "group",
     "privileges": ["SELECT", "DROP"]},
    {"object_kind": "schema", "schema": "sales", "name": "sales", "grantee": "readers", "grantee_kind": "group",
     "privileges": ["USAGE"]},
    {"object_kind": "view", "schema": "sales", "name": "v_late", "grantee": "public", "grantee_kind": "public",
     "privileges": ["SELECT"]},
]


def sample_catalog(run_id: str = "sample_20260101_000000") -> dict:
    """A fresh copy every time: tests may change it."""
    return copy.deepcopy(catalog(run_id, schemas=[{"name": "sales", "comment": "the shop"}, {"name": "empty_schema"}],
                   tables=TABLES, views=VIEWS, functions=FUNCTIONS, procedures=PROCEDURES, users=USERS,
                   groups=GROUPS, grants=GRANTS))
