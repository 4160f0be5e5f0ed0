"""Views of the shapes real warehouses use (QUALIFY, PIVOT/UNPIVOT, select-list alias reuse, SUPER navigation,
JSON_PARSE, CONVERT_TIMEZONE), on the tables and data of AWS's documented examples, with the values AWS prints:
- QUALIFY: https://docs.aws.amazon.com/redshift/latest/dg/r_QUALIFY_clause.html (store_sales)
- PIVOT/UNPIVOT: https://docs.aws.amazon.com/redshift/latest/dg/r_FROM_clause-pivot-unpivot-examples.html
  (part, bookings, count_by_color)
- lateral column alias: https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html (raw_data; AWS gives
  the rule and the query, not values: the expected values follow the rule)
- SUPER navigation: https://docs.aws.amazon.com/redshift/latest/dg/query-super.html (customer_orders_lineitem;
  the values are ours, AWS shows the paths)
- JSON_PARSE: https://docs.aws.amazon.com/redshift/latest/dg/JSON_PARSE.html
- CONVERT_TIMEZONE: https://docs.aws.amazon.com/redshift/latest/dg/CONVERT_TIMEZONE.html (listing)
- SHA1 / FUNC_SHA1: https://docs.aws.amazon.com/redshift/latest/dg/SHA1.html (no digest printed: FIPS 180's);
  CRC32: https://docs.aws.amazon.com/redshift/latest/dg/crc32-function.html (f2726906)
"""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal

D = datetime.date
T = datetime.time
TS = datetime.datetime

STORE_SALES = [(D(2022, 1, 1), T(9), "Product 1", 100.0), (D(2022, 1, 1), T(11), "Product 2", 500.0),
               (D(2022, 1, 1), T(15), "Product 3", 20.0), (D(2022, 1, 1), T(17), "Product 4", 1000.0),
               (D(2022, 1, 1), T(18), "Product 5", 30.0), (D(2022, 1, 2), T(10), "Product 6", 5000.0),
               (D(2022, 1, 2), T(16), "Product 7", 5.0)]
PART = [("prop", "local parts co", 2, Decimal("10.00")), ("prop", "big parts co", None, Decimal("9.00")),
        ("prop", "small parts co", 1, Decimal("12.00")), ("rudder", "local parts co", 1, Decimal("2.50")),
        ("rudder", "big parts co", 2, Decimal("3.75")), ("rudder", "small parts co", None, Decimal("1.90")),
        ("wing", "local parts co", None, Decimal("7.50")), ("wing", "big parts co", 1, Decimal("15.20")),
        ("wing", "small parts co", None, Decimal("11.80"))]
_BOOKED = {"FOREST_L": (1, 2, 4, 8, 11, 14, 21, 22, 27), "DESERT_S": (1, 2, 4, 5, 6, 9, 12, 13, 14),
           "OCEAN_WV": (1, 2, 4, 6, 9, 12, 13, 14, 16), "CITY_BLD": (1, 2, 4, 12, 13, 17, 22, 23, 24)}
BOOKINGS = [(i + 1, hotel, D(2023, 2, day), Decimal("75.00"))
            for i, (hotel, day) in enumerate((h, d) for h, days in _BOOKED.items() for d in days)]
COUNT_BY_COLOR = [("high", 15, 20, 7), ("normal", 35, None, 40), ("low", 10, 23, None)]
RAW_DATA = [(30.0, 200.0), (1.0, 3.0)]
ORDERS = [(1, "Customer#000008251", '[{"o_orderkey": 3020007, "o_orderstatus": "O", "o_lineitems": [{"l_qty": 5}]}]'),
          (2, "Customer#000009452", '[{"o_orderkey": 4043971, "o_orderstatus": "F"}]'),
          (3, "Customer#000000000", "[]")]
LISTING = [(16, TS(2008, 8, 24, 9, 36, 12))]

TABLES: dict[str, list[tuple[str, str]]] = {
    "store_sales": [("ss_sold_date", "date"), ("ss_sold_time", "time without time zone"),
                    ("ss_item", "character varying(256)"), ("ss_sales_price", "double precision")],
    "part": [("partname", "character varying(256)"), ("manufacturer", "character varying(256)"),
             ("quality", "integer"), ("price", "numeric(12,2)")],
    "bookings": [("booking_id", "integer"), ("hotel_code", "character(8)"), ("booking_date", "date"),
                 ("price", "numeric(12,2)")],
    "count_by_color": [("quality", "character varying(256)"), ("red", "integer"), ("green", "integer"),
                       ("blue", "integer")],
    "raw_data": [("clicks", "double precision"), ("impressions", "double precision")],
    "raw_data_with_probability": [("clicks", "double precision"), ("impressions", "double precision"),
                                  ("probability", "double precision")],
    "customer_orders_lineitem": [("c_custkey", "integer"), ("c_name", "character varying(256)"),
                                 ("c_orders", "super")],
    "listing": [("listid", "integer"), ("listtime", "timestamp without time zone")],
}
ROWS = {"store_sales": STORE_SALES, "part": PART, "bookings": BOOKINGS, "count_by_color": COUNT_BY_COLOR,
        "raw_data": RAW_DATA, "raw_data_with_probability": [(30.0, 200.0, 0.5), (1.0, 3.0, 0.25)],
        "customer_orders_lineitem": ORDERS, "listing": LISTING}


def views(s: str) -> dict[str, str]:
    """View name -> the Redshift SELECT (AWS's query, with the tables in schema `s`)."""
    return {
        "v_qualify": f"SELECT * FROM {s}.store_sales ss WHERE ss_sold_time > time '12:00:00' "
                     "QUALIFY row_number() OVER (PARTITION BY ss_sold_date ORDER BY ss_sales_price DESC) <= 2",
        "v_qualify_alias_distinct": f"SELECT DISTINCT ss_sold_date AS day, max(ss_sales_price) OVER "
                                    f"(PARTITION BY ss_sold_date) AS top FROM {s}.store_sales "
                                    "QUALIFY top > 1000",
        "v_pivot_avg": f"SELECT * FROM (SELECT partname, price FROM {s}.part) PIVOT ("
                       "AVG(price) FOR partname IN ('prop', 'rudder', 'wing'))",
        "v_pivot_count": f"SELECT * FROM (SELECT quality, manufacturer FROM {s}.part) PIVOT ("
                         "count(*) FOR quality IN (1, 2, NULL))",
        "v_pivot_aliases": f"SELECT * FROM (SELECT quality, manufacturer FROM {s}.part) PIVOT ("
                           "count(*) AS count FOR quality IN (1 AS high, 2 AS low, NULL AS na))",
        "v_pivot_weeks": "SELECT * FROM (SELECT booking_id, (date_trunc('week', booking_date::date) + "
                         "'5 days'::interval)::date as enddate, hotel_code AS \"hotel code\" "
                         f"FROM {s}.bookings) PIVOT (count(booking_id) FOR enddate IN "
                         "('2023-02-04','2023-02-11','2023-02-18'))",
        "v_unpivot": f"SELECT * FROM (SELECT red, green, blue FROM {s}.count_by_color) UNPIVOT ("
                     "cnt FOR color IN (red, green, blue))",
        "v_unpivot_nulls": f"SELECT * FROM (SELECT red, green, blue FROM {s}.count_by_color) UNPIVOT "
                           "INCLUDE NULLS (cnt FOR color IN (red, green, blue))",
        "v_unpivot_implicit": f"SELECT * FROM {s}.count_by_color UNPIVOT (cnt FOR color IN (red, green, blue))",
        "v_unpivot_aliases": f"SELECT * FROM {s}.count_by_color UNPIVOT ("
                             "cnt FOR color IN (red AS r, green AS g, blue AS b))",
        "v_lateral_alias": "select clicks / impressions as probability, round(100 * probability, 1) as percentage "
                           f"from {s}.raw_data",
        "v_lateral_alias_column_wins": "select clicks / impressions as probability, "
                                       f"round(100 * probability, 1) as percentage from {s}.raw_data_with_probability",
        "v_super": "SELECT c_custkey, c_orders[0].o_orderkey AS orderkey, cust.c_orders[0].o_orderstatus::varchar "
                   "AS status, c_orders[0].o_lineitems[0].l_qty AS qty "
                   f"FROM {s}.customer_orders_lineitem AS cust",
        "v_json_parse": "SELECT JSON_PARSE('[10001,10002,\"abc\"]') AS json_parse",
        "v_convert_timezone": "select listtime, convert_timezone('PST', listtime) AS pst, "
                              f"convert_timezone('US/Pacific', listtime) AS pacific from {s}.listing "
                              "where listid = 16",
        # SHA1.html (SHA and FUNC_SHA1 are synonyms), crc32-function.html: each page's example input
        "v_hashes": "SELECT sha1('Amazon Redshift') AS sha1, func_sha1('Amazon Redshift') AS func_sha1, "
                    f"crc32('Amazon Redshift') AS crc32, ss_item FROM {s}.store_sales WHERE ss_item = 'Product 1'",
        "v_convert_timezone_names": "select convert_timezone('EST', 'PST', '20080305 12:25:29') AS est_pst, "
                                    "convert_timezone('America/New_York', '2013-02-01 08:00:00') AS winter, "
                                    "convert_timezone('America/New_York', '2013-06-01 08:00:00') AS summer, "
                                    "CONVERT_TIMEZONE('GMT','GMT+2','2014-05-17 12:00:00') as gmt_plus_2",
    }


# View name -> (ORDER BY for a stable read, the rows AWS documents, the column names or None)
EXPECTED: dict[str, tuple[str, list[tuple], list[str] | None]] = {
    "v_qualify": ("1, 2", [(D(2022, 1, 1), T(17), "Product 4", 1000.0), (D(2022, 1, 1), T(18), "Product 5", 30.0),
                           (D(2022, 1, 2), T(16), "Product 7", 5.0)],
                  ["ss_sold_date", "ss_sold_time", "ss_item", "ss_sales_price"]),
    "v_qualify_alias_distinct": ("1", [(D(2022, 1, 2), 5000.0)], ["day", "top"]),
    # AWS prints 10.33 | 2.71 | 11.50: Redshift's AVG keeps the argument's scale (2); PostgreSQL's has more digits,
    # so the test reads these truncated to 2 places.
    "v_pivot_avg": ("1", [(Decimal("10.33"), Decimal("2.71"), Decimal("11.50"))], ["prop", "rudder", "wing"]),
    "v_pivot_count": ("1", [("big parts co", 1, 1, 1), ("local parts co", 1, 1, 1), ("small parts co", 1, 0, 2)],
                      ["manufacturer", "1", "2", "null"]),
    "v_pivot_aliases": ("1", [("big parts co", 1, 1, 1), ("local parts co", 1, 1, 1), ("small parts co", 1, 0, 2)],
                        ["manufacturer", "high_count", "low_count", "na_count"]),
    "v_pivot_weeks": ("1", [("CITY_BLD", 3, 1, 2), ("DESERT_S", 4, 3, 2), ("FOREST_L", 3, 2, 1),
                            ("OCEAN_WV", 3, 3, 3)], ["hotel code", "2023-02-04", "2023-02-11", "2023-02-18"]),
    "v_unpivot": ("1, 2", [("blue", 7), ("blue", 40), ("green", 20), ("green", 23), ("red", 10), ("red", 15),
                           ("red", 35)], ["color", "cnt"]),
    "v_unpivot_nulls": ("1, 2", [("blue", 7), ("blue", 40), ("blue", None), ("green", 20), ("green", 23),
                                 ("green", None), ("red", 10), ("red", 15), ("red", 35)], ["color", "cnt"]),
    "v_unpivot_implicit": ("2, 1", [("high", "blue", 7), ("normal", "blue", 40), ("high", "green", 20),
                                    ("low", "green", 23), ("high", "red", 15), ("low", "red", 10),
                                    ("normal", "red", 35)], ["quality", "color", "cnt"]),
    "v_unpivot_aliases": ("2, 1", [("high", "b", 7), ("normal", "b", 40), ("high", "g", 20), ("low", "g", 23),
                                   ("high", "r", 15), ("low", "r", 10), ("normal", "r", 35)],
                          ["quality", "color", "cnt"]),
    # the alias is inlined: round(100 * (clicks / impressions), 1)
    "v_lateral_alias": ("1", [(0.15, 15.0), (1 / 3, 33.3)], ["probability", "percentage"]),
    # "the column in the FROM clause takes priority": probability in round() is raw_data's column
    "v_lateral_alias_column_wins": ("1", [(0.15, 50.0), (1 / 3, 25.0)], ["probability", "percentage"]),
    "v_super": ("1", [(1, 3020007, "O", 5), (2, 4043971, "F", None), (3, None, None, None)],
                ["c_custkey", "orderkey", "status", "qty"]),
    "v_json_parse": ("1", [([10001, 10002, "abc"],)], ["json_parse"]),
    "v_convert_timezone": ("1", [(TS(2008, 8, 24, 9, 36, 12), TS(2008, 8, 24, 1, 36, 12),
                                  TS(2008, 8, 24, 2, 36, 12))], ["listtime", "pst", "pacific"]),
    "v_convert_timezone_names": ("1", [(TS(2008, 3, 5, 9, 25, 29), TS(2013, 2, 1, 3), TS(2013, 6, 1, 4),
                                        TS(2014, 5, 17, 10))], ["est_pst", "winter", "summer", "gmt_plus_2"]),
}
# SHA1.html prints no digest for its example: FIPS 180's, as Python computes it
_SHA1 = hashlib.sha1(b"Amazon Redshift").hexdigest()
EXPECTED["v_hashes"] = ("1", [(_SHA1, _SHA1, "f2726906", "Product 1")], ["sha1", "func_sha1", "crc32", "ss_item"])
TRUNCATED = {"v_pivot_avg": "trunc(prop, 2), trunc(rudder, 2), trunc(wing, 2)"}
