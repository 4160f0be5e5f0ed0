"""The edge-case sample catalog rewritten and applied to a fresh PostgreSQL 16: every supported object applies,
and the translated views return the values AWS documents for the Redshift functions."""

from __future__ import annotations

import datetime
import decimal

import psycopg2
import pytest

from tests.rewrite_ddl.conftest import apply_all, rewrite
from tests.rewrite_ddl.sample import LONG_TABLE, sample_catalog


@pytest.fixture(scope="module")
def sample_files():
    return rewrite(sample_catalog(), grants=True, sortkey_indexes=True)


@pytest.fixture
def applied(sample_files, fresh_db):
    assert apply_all(fresh_db, sample_files) == []
    conn = psycopg2.connect(fresh_db)
    yield conn
    conn.close()


def one_row(conn, query: str) -> dict:
    with conn.cursor() as cur:
        cur.execute(query)
        names = [d.name for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def test_functions_view_returns_the_documented_values(applied):
    row = one_row(applied, 'SELECT * FROM "sales"."v_functions"')
    assert row == {
        "nvl_value": 7,
        "nvl2_value": "none",
        "decode_value": "two",
        "dateadd_value": datetime.datetime(2008, 2, 29),   # AWS: DATEADD(month, 1, '2008-01-31')
        "datediff_week": 52,                                # AWS: DATEDIFF(week, '2009-01-01', '2009-12-31')
        "datediff_year": 1,                                 # one year boundary crossed, one second apart
        "charindex_found": 4,                               # AWS: CHARINDEX('fish', 'dogfish')
        "charindex_missing": 0,                             # AWS: CHARINDEX('dog', 'fish')
        "tz_three_args": datetime.datetime(2008, 3, 5, 9, 25, 29),   # AWS: EST -> PST
        "tz_two_args": datetime.datetime(2008, 8, 21, 3, 23, 51),    # UTC -> America/New_York (EDT)
        "len_value": 3,
        "strtol_hex": 2882343476,                           # AWS: STRTOL('abcd1234', 16)
        "strtol_binary": -6,                                # AWS: STRTOL('-110', 2)
        "json_value": "star",                               # AWS: JSON_EXTRACT_PATH_TEXT example
        "trunc_value": datetime.date(2011, 7, 21),          # AWS: TRUNC(timestamp) is a date
    }


def test_aggregates_view_listagg_and_median(applied):
    with applied.cursor() as cur:
        cur.execute("INSERT INTO sales.customers (id, name) VALUES (1, 'ann'), (2, 'bob'), (3, 'cy'), (4, 'bob')")
    row = one_row(applied, 'SELECT * FROM "sales"."v_aggregates"')
    assert row == {"names": "cy, bob, bob, ann", "glued": "annbobbobcy", "median_id": 2.5, "distinct_names": 3}
    assert one_row(applied, 'SELECT * FROM "sales"."v_on_view"') == {"names": "cy, bob, bob, ann"}


def test_identity_default_and_getdate_default(applied):
    with applied.cursor() as cur:
        cur.execute("INSERT INTO sales.orders (amount) VALUES (1), (2) RETURNING id, note, created")
        rows = cur.fetchall()
        cur.execute("SELECT now() AT TIME ZONE 'UTC'")
        utc_now = cur.fetchone()[0]
    assert [r[0] for r in rows] == [5, 15]
    assert {r[1] for r in rows} == {"none"}
    created = rows[0][2]
    assert created.microsecond == 0 and abs((utc_now - created).total_seconds()) < 60


def test_types_and_long_names(applied):
    with applied.cursor() as cur:
        cur.execute("""SELECT column_name, data_type FROM information_schema.columns
                       WHERE table_schema = 'sales' AND table_name = 'kinds' ORDER BY ordinal_position""")
        kinds = dict(cur.fetchall())
        cur.execute("SELECT relname FROM pg_class WHERE relname LIKE 'a_table_name_that_is_much_longer%' "
                    "ORDER BY relname")
        long_tables = [r[0] for r in cur.fetchall()]
        cur.execute(f'INSERT INTO sales."{long_tables[0]}" VALUES (1, 2, 3)')
    assert kinds["payload"] == "jsonb" and kinds["raw"] == "bytea" and kinds["shape"] == "bytea"
    assert "sketch" not in kinds
    assert len(long_tables) == 2 and all(len(t) <= 63 for t in long_tables)
    assert long_tables[0] != LONG_TABLE[:63]
    assert one_row(applied, 'SELECT * FROM "sales"."v_long"')["select"] == 2


def test_materialized_view_waits_for_refresh_and_procedure_runs(applied):
    with applied.cursor() as cur:
        cur.execute("SELECT relispopulated FROM pg_class WHERE relname = 'mv_totals'")
        assert cur.fetchone()[0] is False
        cur.execute("INSERT INTO sales.customers (id) VALUES (1)")
        cur.execute("INSERT INTO sales.orders (customer_id, amount) VALUES (1, 2.50), (1, 1.25)")
        cur.execute("REFRESH MATERIALIZED VIEW sales.mv_totals")
        cur.execute("SELECT customer_id, total FROM sales.mv_totals")
        assert cur.fetchall() == [(1, decimal.Decimal("3.75"))]
        cur.execute("CALL sales.p_touch(3)")
        cur.execute("SELECT sales.f_add(2, 3)")
        assert cur.fetchone()[0] == 5


def test_grants_and_roles_apply(applied):
    with applied.cursor() as cur:
        cur.execute("SELECT has_table_privilege('readers', 'sales.orders', 'SELECT'), "
                    "has_table_privilege('readers', 'sales.orders', 'DELETE'), "
                    "pg_has_role('analyst', 'readers', 'MEMBER')")
        assert cur.fetchone() == (True, False, True)
