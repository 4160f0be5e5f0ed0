"""Views of the shapes real warehouses use, rewritten and applied to PostgreSQL 16 with the data of AWS's examples:
each returns the rows (and column names) AWS documents (tests/rewrite_ddl/warehouse_views.py cites the pages).
Also: boolean DEFAULT 0/1, and late-binding views over missing relations reported with the missing names."""

from __future__ import annotations

import uuid

import psycopg2
import pytest

from devstack import env as envfile
from tests.conftest import admin_connection
from tests.rewrite_ddl import warehouse_views
from tests.rewrite_ddl.conftest import apply_all, catalog, column, report_entry, rewrite, table

SCHEMA = "wh"


def warehouse_catalog() -> dict:
    tables = [table(SCHEMA, name, *(column(c, t) for c, t in columns))
              for name, columns in warehouse_views.TABLES.items()]
    views = [{"schema": SCHEMA, "name": name, "kind": "view", "definition": f"CREATE VIEW {SCHEMA}.{name} AS {text}"}
             for name, text in warehouse_views.views(SCHEMA).items()]
    return catalog(tables=tables, views=views)


@pytest.fixture(scope="module")
def files():
    return rewrite(warehouse_catalog())


@pytest.fixture(scope="module")
def loaded(files, devstack):
    """One database for the module (fresh_db is per test): the rewrite applied, AWS's rows inserted."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = admin_connection(devstack)
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    dsn = envfile.postgres_dsn(devstack, name)
    try:
        assert apply_all(dsn, files) == []
        conn = psycopg2.connect(dsn)
        with conn.cursor() as cur:
            for table_name, rows in warehouse_views.ROWS.items():
                marks = ", ".join(["%s"] * len(rows[0]))
                cur.executemany(f'INSERT INTO "{SCHEMA}"."{table_name}" VALUES ({marks})', rows)
        conn.commit()
        yield conn
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.parametrize("view", sorted(warehouse_views.EXPECTED))
def test_view_returns_what_aws_documents(loaded, view):
    order, expected, names = warehouse_views.EXPECTED[view]
    selected = warehouse_views.TRUNCATED.get(view, "*")
    with loaded.cursor() as cur:
        cur.execute(f'SELECT {selected} FROM "{SCHEMA}"."{view}" ORDER BY {order}')
        assert cur.fetchall() == expected
        if names is not None and selected == "*":
            assert [d.name for d in cur.description] == names


def test_each_shape_is_named_in_the_report(files):
    changes = {name: report_entry(files, "view", f"{SCHEMA}.{name}")["changes"]
               for name in warehouse_views.EXPECTED}
    assert "QUALIFY -> a subquery filtered on the condition" in changes["v_qualify"]
    assert any(c.startswith("PIVOT ->") for c in changes["v_pivot_count"])
    assert any(c.startswith("UNPIVOT ->") for c in changes["v_unpivot"])
    assert "select-list alias reuse -> the aliased expression inlined" in changes["v_lateral_alias"]
    assert "select-list alias reuse -> the aliased expression inlined" not in changes["v_lateral_alias_column_wins"]
    assert any("SUPER navigation" in c for c in changes["v_super"])


def test_fnv_hash_is_reported_with_the_function_named():
    """r_FNV_HASH.html: 64-bit FNV-1a over each type's internal binary form (INTEGER 4 bytes, BIGINT 8, …), which
    PostgreSQL has no function for: the view is reported, not left to fail at validate_restore."""
    data = catalog(tables=[table(SCHEMA, "t", column("id", "integer"))],
                   views=[{"schema": SCHEMA, "name": "v_fnv", "kind": "view",
                           "definition": f"CREATE VIEW {SCHEMA}.v_fnv AS SELECT fnv_hash(id) AS h FROM {SCHEMA}.t"}])
    entry = report_entry(rewrite(data), "view", f"{SCHEMA}.v_fnv")
    assert entry["status"] == "unsupported" and entry["reason"].startswith("view definition: FNV_HASH (")


def test_boolean_defaults_of_0_and_1_become_false_and_true(fresh_db):
    # https://docs.aws.amazon.com/redshift/latest/dg/r_Boolean_type.html: '1' and '0' are true and false literals
    data = catalog(tables=[table(SCHEMA, "flags", column("id", "integer"), column("off", "boolean", default="0"),
                                 column("on_", "boolean", default="1"), column("plain", "boolean", default="true"))])
    files = rewrite(data)
    assert apply_all(fresh_db, files) == []
    conn = psycopg2.connect(fresh_db)
    with conn.cursor() as cur:
        cur.execute(f'INSERT INTO "{SCHEMA}"."flags" (id) VALUES (1)')
        cur.execute(f'SELECT "off", "on_", "plain" FROM "{SCHEMA}"."flags"')
        assert cur.fetchall() == [(False, True, True)]
    conn.close()
    assert "column off: DEFAULT 0 -> FALSE" in report_entry(files, "table", f"{SCHEMA}.flags")["changes"]


def test_views_over_missing_relations_are_reported_with_the_missing_names():
    data = catalog(
        tables=[table(SCHEMA, "present", column("id", "integer"))],
        views=[{"schema": SCHEMA, "name": "late", "kind": "view", "late_binding": True,
                "definition": f"CREATE VIEW {SCHEMA}.late AS SELECT p.id, g.x FROM {SCHEMA}.present p "
                              f"JOIN {SCHEMA}.gone g ON g.id = p.id JOIN other.absent a ON a.id = p.id "
                              "WITH NO SCHEMA BINDING"},
               {"schema": SCHEMA, "name": "admin", "kind": "view",
                "definition": f"CREATE VIEW {SCHEMA}.admin AS SELECT \"table\", size FROM svv_table_info "
                              "JOIN pg_table_def USING (tablename)"},
               {"schema": SCHEMA, "name": "fine", "kind": "view", "late_binding": True,
                "definition": f"CREATE VIEW {SCHEMA}.fine AS WITH gone AS (SELECT 1 AS x) SELECT x FROM gone, "
                              f"{SCHEMA}.present, pg_catalog.pg_class WITH NO SCHEMA BINDING"}])
    files = rewrite(data)
    late = report_entry(files, "view", f"{SCHEMA}.late")
    assert late["status"] == "unsupported"
    assert late["reason"] == ("late-binding view references other.absent, wh.gone, which the catalog does not "
                              "have")
    assert report_entry(files, "view", f"{SCHEMA}.admin")["reason"] == \
        "reads Redshift system view(s) pg_table_def, svv_table_info, which AlloyDB does not have"
    assert report_entry(files, "view", f"{SCHEMA}.fine")["status"] != "unsupported"


def test_select_star_of_a_late_binding_view_is_expanded_for_the_views_over_it(fresh_db):
    """A late-binding view keeps its text as written, `SELECT *` included, and binds it when queried
    (https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html, WITH NO SCHEMA BINDING); an ordinary view's
    `*` is expanded when it is created, as PostgreSQL does. The views over it need its columns: QUALIFY over
    `SELECT *` of it, and `t.*` of a join, convert (r_QUALIFY_clause's store_sales, the highest sale per day)."""
    columns = [c for c, _ in warehouse_views.TABLES["store_sales"]]
    late = {"schema": SCHEMA, "kind": "view", "late_binding": True}
    data = catalog(
        tables=[table(SCHEMA, "store_sales", *(column(c, t) for c, t in warehouse_views.TABLES["store_sales"]))],
        views=[{**late, "name": "v_star",
                "definition": f"CREATE VIEW {SCHEMA}.v_star AS SELECT * FROM {SCHEMA}.store_sales "
                              "WITH NO SCHEMA BINDING"},
               {**late, "name": "v_top_per_day",
                "definition": f"CREATE VIEW {SCHEMA}.v_top_per_day AS SELECT * FROM {SCHEMA}.v_star QUALIFY "
                              "ROW_NUMBER() OVER (PARTITION BY ss_sold_date ORDER BY ss_sales_price DESC) = 1 "
                              "WITH NO SCHEMA BINDING"},
               {**late, "name": "v_star_join",
                "definition": f"CREATE VIEW {SCHEMA}.v_star_join AS SELECT s.*, t.ss_item AS same_day_item FROM "
                              f"{SCHEMA}.v_star s JOIN {SCHEMA}.store_sales t ON t.ss_sold_date = s.ss_sold_date "
                              "AND t.ss_sales_price > 1000 QUALIFY ROW_NUMBER() OVER (PARTITION BY s.ss_item "
                              "ORDER BY t.ss_item) = 1 WITH NO SCHEMA BINDING"}])
    files = rewrite(data)
    for name in ("v_star", "v_top_per_day", "v_star_join"):
        assert report_entry(files, "view", f"{SCHEMA}.{name}")["status"] != "unsupported", name
    assert apply_all(fresh_db, files) == []
    conn = psycopg2.connect(fresh_db)
    try:
        with conn.cursor() as cur:
            cur.executemany(f'INSERT INTO "{SCHEMA}"."store_sales" VALUES (%s, %s, %s, %s)',
                            warehouse_views.STORE_SALES)
            cur.execute(f'SELECT * FROM "{SCHEMA}"."v_top_per_day" ORDER BY 1')
            assert cur.fetchall() == [warehouse_views.STORE_SALES[3], warehouse_views.STORE_SALES[5]]
            assert [d.name for d in cur.description] == columns
            cur.execute(f'SELECT ss_item, same_day_item FROM "{SCHEMA}"."v_star_join" ORDER BY 1')
            assert cur.fetchall() == [("Product 6", "Product 6"), ("Product 7", "Product 6")]
    finally:
        conn.close()
