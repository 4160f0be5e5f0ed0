"""Redshift functions through the emulator, checked against the examples in AWS's SQL function reference."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import psycopg2
import psycopg2.errors
import pytest

from tests.redshift_emulator.conftest import one, rows

# (query, expected value) — the documented examples first, then boundary cases from the reference text
EXAMPLES = [
    ("select datediff(week, '2009-01-01', '2009-12-31') as numweeks", 52),
    ("select datediff(year, '2008-12-31 23:59:59', '2009-01-01 00:00:00')", 1),     # boundaries, not whole years
    ("select datediff(day, '2008-12-31 23:59:59'::timestamp, '2009-01-01 00:00:01'::timestamp)", 1),
    ("select datediff(hour, '2023-01-01 10:59:59', '2023-01-01 11:00:00')", 1),
    ("select datediff(month, '2024-01-31', '2024-02-01')", 1),
    ("select datediff(qtr, '2024-03-31', '2024-04-01')", 1),
    ("select datediff(minute, '2024-01-01 10:00:59', '2024-01-01 10:00:00')", 0),
    ("select datediff(d, '2024-03-01'::date, '2024-02-01'::date)", -29),
    ("select dateadd(month, 18, '2008-02-28')", dt.datetime(2009, 8, 28)),
    ("select dateadd(month, 1, '2008-01-31')", dt.datetime(2008, 2, 29)),
    ("select dateadd(day, 30, '2008-02-28'::date)", dt.datetime(2008, 3, 29)),
    ("select dateadd(hrs, -2, '2008-02-28 01:00:00')", dt.datetime(2008, 2, 27, 23, 0)),
    ("select date_part(minute, timestamp '2009-01-01 02:08:01')", 8.0),
    ("select date_part('dow', '2008-01-05 14:00:00'::timestamp)", 6.0),
    ("select extract(qtr from timestamp '2008-08-15 00:00:00')", 3.0),
    ("select date_trunc('week', timestamp '2024-05-09 13:00:00')", dt.datetime(2024, 5, 6)),
    ("select trunc(timestamp '2011-07-21 10:32:38.248109')", dt.date(2011, 7, 21)),
    ("select charindex('dog', 'fish')", 0),
    ("select charindex('fish', 'dogfish')", 4),
    ("select len('français')", 8),
    ("select len('cat'::char(10))", 3),
    ("select nvl(null, 'fallback')", "fallback"),
    ("select nvl2(null, 'not null', 'null')", "null"),
    ("select nvl2(5, 'not null', 'null')", "not null"),
    ("select decode(2, 1, 'one', 2, 'two', 'other')", "two"),
    ("select decode(9, 1, 'one', 2, 'two', 'other')", "other"),
    ("select decode(9, 1, 'one')", None),
    ("select convert_timezone('EST', 'PST', '20080305 12:25:29')", dt.datetime(2008, 3, 5, 9, 25, 29)),
    ("select convert_timezone('America/New_York', '2008-03-05 12:25:29'::timestamp)",
     dt.datetime(2008, 3, 5, 7, 25, 29)),
    ("""select json_extract_path_text('{"f2":{"f3":1},"f4":{"f5":99,"f6":"star"}}', 'f4', 'f6')""", "star"),
    ("""select json_extract_path_text('{"f2":{"f3":1},"f4":{"f5":99,"f6":"star"}}', 'f4', 'nope')""", None),
    ("""select json_extract_path_text('{"f2":{"f3":1},"f4":{"f5":99,"f6":"star"}', 'f4', 'f6', true)""", None),
    ("select strtol('0xf', 16)", 15),
    ("select strtol('abcd1234', 16)", 2882343476),
    ("select strtol('110101', 2)", 53),
    ("select add_months('2008-02-29', 1)", dt.datetime(2008, 3, 31)),
    ("select months_between('1969-03-18', '1969-01-18')", 2.0),
    ("select to_hex(from_hex('6162ff'))", "6162ff"),
    # AVG of an integer: BIGINT (r_AVG), truncated (r_WF_AVG's running average prints 16 for 50/3)
    ("select avg(g) from (select 10 g union all select 30 union all select 10)", 16),
    ("select avg(g) over (order by g rows unbounded preceding) from generate_series(1, 2) g order by g desc limit 1",
     1),
    ("select pg_typeof(avg(g::smallint))::text from generate_series(1, 2) g", "bigint"),
    ("select avg(g::bigint) from generate_series(-2, -1) g", -1),
    ("select avg(g) from generate_series(1, 0) g", None),
    # SHA2 (https://docs.aws.amazon.com/redshift/latest/dg/SHA2.html): the page's example input, SHA-256 in hex; 0 is
    # 256, an invalid bit count gives ''
    ("select sha2('Amazon Redshift', 256)", hashlib.sha256(b"Amazon Redshift").hexdigest()),
    ("select sha2('Amazon Redshift', 0)", hashlib.sha256(b"Amazon Redshift").hexdigest()),
    ("select sha2('Amazon Redshift', 512)", hashlib.sha512(b"Amazon Redshift").hexdigest()),
    ("select sha2('Amazon Redshift', 100)", ""),
    # RATIO_TO_REPORT: the row's value over the partition's sum, FLOAT8 (r_WF_RATIO_TO_REPORT)
    ("select ratio_to_report(g) over () from generate_series(1, 4) g order by g limit 1", 0.1),
    ("select ratio_to_report(g) over (partition by g % 2) from generate_series(1, 4) g order by g limit 1", 0.25),
    ("select top 2 g from generate_series(1, 9) g order by g desc", 9),
    ("select count(*) from (select distinct top 3 g % 5 from generate_series(1, 20) g)", 3),
]


@pytest.mark.parametrize(("query", "expected"), EXAMPLES, ids=[q for q, _ in EXAMPLES])
def test_documented_values(rs, query, expected):
    assert one(rs, query) == expected


def test_listagg_within_group(rs):
    data = "(values (1, 'c'), (1, 'a'), (2, 'b'), (1, 'a')) v(g, x)"
    assert rows(rs, f"select g, listagg(x, ', ') within group (order by x desc) from {data} group by g order by g") \
        == [(1, "c, a, a"), (2, "b")]
    assert one(rs, f"select listagg(x) within group (order by x) from {data}") == "aabc"
    assert one(rs, f"select listagg(distinct x, '|') within group (order by x) from {data}") == "a|b|c"


def test_listagg_skips_empty_strings_and_keeps_order_in_windows_and_distinct(rs):
    # AWS r_LISTAGG: NULLs and empty strings are ignored; WITHIN GROUP orders also under OVER; DISTINCT integers
    # sort as numbers, not as text
    text = "(values (1, 'b'), (1, ''), (1, null), (2, 'a'), (2, 'c')) v(g, x)"
    assert rows(rs, f"select g, listagg(x, ',') within group (order by x) from {text} group by g order by g") \
        == [(1, "b"), (2, "a,c")]
    numbers = "(values (1, 3), (1, 1), (2, 2), (2, 1), (1, 10)) v(g, n)"
    assert one(rs, f"select listagg(distinct n, ', ') within group (order by n) from {numbers}") == "1, 2, 3, 10"
    assert rows(rs, f"select distinct g, listagg(n, '') within group (order by n) over (partition by g) "
                    f"from {numbers} order by g") == [(1, "1310"), (2, "12")]
    assert one(rs, f"select distinct listagg(n) within group (order by n desc) over () from {numbers}") == "103211"


def test_median_is_an_aggregate_with_decimal_results(rs):
    # AWS's winsales example: seller 3 sold 10, 15, 20 and 30 -> 17.5; seller 1 sold 10, 10, 30 -> 10.0
    data = "(values (1, 10), (1, 10), (1, 30), (3, 10), (3, 15), (3, 20), (3, 30)) v(seller, qty)"
    assert rows(rs, f"select seller, median(qty) from {data} group by seller order by seller") \
        == [(1, Decimal("10.0")), (3, Decimal("17.5"))]
    assert rows(rs, f"select distinct seller, median(qty) over (partition by seller) from {data} order by 1") \
        == [(1, Decimal("10.0")), (3, Decimal("17.5"))]
    assert one(rs, "select median(x) from (values (1.5::float8), (2.5::float8)) v(x)") == 2.0


def test_getdate_and_sysdate(rs):
    with rs.cursor() as cur:
        cur.execute("select getdate(), sysdate, getdate()::text")
        getdate, sysdate, text = cur.fetchone()
    assert getdate.microsecond == 0 and "." not in text
    assert abs((sysdate - getdate).total_seconds()) < 5
    assert getdate.tzinfo is None


def test_functions_in_views_and_defaults(rs, schema):
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.ev (id int, at timestamp default sysdate, name varchar(10))")
        cur.execute(f"insert into {schema}.ev (id, name) values (1, null), (2, 'two')")
        cur.execute(f"create view {schema}.v_ev as select id, nvl(name, '-') as name, "
                    "datediff(day, at, dateadd(day, 3, at)) as days, decode(id, 1, 'first', 'later') as pos "
                    f"from {schema}.ev")
        cur.execute(f"select id, name, days, pos from {schema}.v_ev order by id")
        assert cur.fetchall() == [(1, "-", 3, "first"), (2, "two", 3, "later")]


def test_unknown_date_part_is_an_error(rs):
    with pytest.raises(psycopg2.Error) as failed:
        one(rs, "select datediff(fortnight, '2024-01-01', '2024-02-01')")
    assert "Invalid datepart" in str(failed.value)


POLYGON_EWKB = ("0103000020E61000000100000005000000000000000000000000000000000000000000000000000000000000000000F03F"
                "000000000000F03F000000000000F03F000000000000F03F000000000000000000000000000000000000000000000000")


def test_st_ashexewkb_is_upper_case_and_to_hex_takes_no_spatial_value(rs, schema):
    """ST_AsHexEWKB returns the EWKB of a GEOMETRY or GEOGRAPHY "using ASCII hexadecimal characters (0-9, A-F)"; the
    example is this polygon with SRID 4326 (https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html).
    TO_HEX takes "a number or binary value (VARBYTE)" (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_HEX.html)
    and prints lower case (`8002f2af`); a GEOMETRY is neither."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.shapes (g geometry, gg geography, v varbyte(8))")
        cur.execute(f"insert into {schema}.shapes values (from_hex(%s), from_hex(%s), from_hex('ABCD'))",
                    (POLYGON_EWKB.lower(), POLYGON_EWKB.lower()))
    assert rows(rs, f"select st_ashexewkb(g), ST_AsHexEWKB(gg), to_hex(v) from {schema}.shapes") == [
        (POLYGON_EWKB, POLYGON_EWKB, "abcd")]
    assert one(rs, "select to_hex(2147676847)") == "8002f2af"
    for column in ("g", "gg"):
        with pytest.raises(psycopg2.errors.UndefinedFunction):
            one(rs, f"select to_hex({column}) from {schema}.shapes")
