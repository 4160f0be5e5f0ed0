"""AWS's documented examples for the Redshift functions views use, with the data they run on and the values the
documentation prints (r_LISTAGG, r_WF_LISTAGG, r_WF_MEDIAN, r_DECODE_expression, r_DATEADD_function,
r_DATEDIFF_function, r_CHARINDEX, CONVERT_TIMEZONE, r_AVG and r_WF_AVG). Shared by the rewrite test on PostgreSQL and the migration
test that starts on the Redshift emulator."""

from __future__ import annotations

import datetime
from decimal import Decimal

# The sample table of AWS's window function examples (WINSALES), as the documentation lists it.
WINSALES = [
    (30001, "2003-08-02", 3, "b", 10, 10), (10001, "2003-12-24", 1, "c", 10, 10), (10005, "2003-12-24", 1, "a", 30, None),
    (40001, "2004-01-09", 4, "a", 40, None), (10006, "2004-01-18", 1, "c", 10, None),
    (20001, "2004-02-12", 2, "b", 20, 20), (40005, "2004-02-12", 4, "a", 10, 10), (20002, "2004-02-16", 2, "c", 20, 20),
    (30003, "2004-04-18", 3, "b", 15, None), (30004, "2004-04-18", 3, "b", 20, None),
    (30007, "2004-09-07", 3, "c", 30, None),
]
# The sellers of TICKIT's event 4337 that AWS's LISTAGG example aggregates (shuffled: the view must sort them).
EVENT_4337_SELLERS = [32043, 380, 47188, 1178, 32432, 2731, 48294, 8117, 1178, 12905, 32043, 380, 32432, 38669,
                      38750, 1178, 41498, 45676, 46324, 47188, 32043]
# TICKIT's CATEGORY abbreviations, for AWS's DECODE example; 8 and 9 hold what LISTAGG ignores ('' and NULL).
CATEGORIES = [(1, "MLB"), (2, "NHL"), (3, "NFL"), (4, "NBA"), (5, "MLS"), (6, "Musicals"), (7, "Plays"), (8, ""),
              (9, None), (10, "Plays")]


def tables_ddl(s: str) -> list[str]:
    """Redshift DDL (and PostgreSQL: IDENTITY aside, the same text)."""
    return [
        f"CREATE TABLE {s}.winsales (salesid integer, dateid date, sellerid integer, buyerid char(10), "
        "qty integer, qty_shipped integer)",
        f"CREATE TABLE {s}.sales (salesid integer IDENTITY(1, 1), sellerid integer, eventid integer)",
        f"CREATE TABLE {s}.category (catid smallint, catname varchar(10))",
        f"CREATE TABLE {s}.instants (ts timestamptz)",
    ]


def rows(s: str) -> list[tuple[str, list[tuple]]]:
    """What table_transfer would have copied: (INSERT with %s placeholders, rows)."""
    return [
        (f"INSERT INTO {s}.winsales VALUES (%s, %s, %s, %s, %s, %s)", WINSALES),
        (f"INSERT INTO {s}.sales (sellerid, eventid) VALUES (%s, %s)",
         [(seller, 4337) for seller in EVENT_4337_SELLERS] + [(1, 4338), (99999, 4338)]),
        (f"INSERT INTO {s}.category VALUES (%s, %s)", CATEGORIES),
        (f"INSERT INTO {s}.instants VALUES (%s)", [("2013-06-01 08:00:00+00",), ("2013-02-01 08:00:00+00",)]),
    ]


def views(s: str) -> dict[str, str]:
    """View name → Redshift SELECT."""
    return {
        "v_listagg": "SELECT LISTAGG(sellerid, ', ') WITHIN GROUP (ORDER BY sellerid) AS sellers "
                     f"FROM {s}.sales WHERE eventid = 4337",
        "v_listagg_distinct": "SELECT LISTAGG(DISTINCT sellerid, ', ') WITHIN GROUP (ORDER BY sellerid) AS sellers "
                              f"FROM {s}.sales WHERE eventid = 4337",
        # r_LISTAGG: "NULL values and empty strings are ignored."
        "v_listagg_ignores": f"SELECT LISTAGG(catname, ',') WITHIN GROUP (ORDER BY catid) AS names FROM {s}.category "
                             "WHERE catid >= 6",
        "v_listagg_distinct_ignores": "SELECT LISTAGG(DISTINCT catname, ',') WITHIN GROUP (ORDER BY catname) AS names "
                                      f"FROM {s}.category WHERE catid >= 6",
        "v_listagg_window": "SELECT LISTAGG(sellerid) WITHIN GROUP (ORDER BY sellerid) OVER () AS sellers "
                            f"FROM {s}.winsales",
        "v_listagg_buyer_b": "SELECT LISTAGG(dateid, ',') WITHIN GROUP (ORDER BY sellerid DESC, salesid ASC) OVER () "
                             f"AS dates FROM {s}.winsales WHERE buyerid = 'b'",
        "v_median": f"SELECT sellerid, qty, MEDIAN(qty) OVER (PARTITION BY sellerid) AS median FROM {s}.winsales",
        "v_median_all": f"SELECT MEDIAN(qty) AS median FROM {s}.winsales",
        "v_decode": "SELECT catid, DECODE(catname, 'NHL', 'National Hockey League', 'MLB', 'Major League Baseball', "
                    "'MLS', 'Major League Soccer', 'NFL', 'National Football League', "
                    f"'NBA', 'National Basketball Association', 'Unknown') AS name FROM {s}.category",
        "v_scalars": "SELECT "
                     "DECODE(NULL::integer, NULL, 'both null', 'other') AS decode_nulls, "  # DECODE's usage note
                     "NVL(NULL::varchar, 'N/A') AS nvl_null, NVL('ann', 'N/A') AS nvl_value, "
                     "NVL2(NULL::integer, 'has', 'none') AS nvl2_null, NVL2(5, 'has', 'none') AS nvl2_value, "
                     "DATEADD(month, 18, '2008-02-28') AS dateadd_18_months, "
                     "DATEADD(month, 1, '2008-01-31') AS dateadd_month_end, "
                     "DATEDIFF(week, '2009-01-01', '2009-12-31') AS datediff_weeks, "
                     "CHARINDEX('fish', 'dogfish') AS charindex_found, "
                     "CHARINDEX('dog', 'fish') AS charindex_missing, "
                     "CONVERT_TIMEZONE('EST', 'PST', '20080305 12:25:29') AS est_to_pst",
        # CONVERT_TIMEZONE's examples: a POSIX offset counts hours west of UTC ('GMT+2' is UTC-2), named zones
        # follow daylight saving time. 'UTC+3' is the same POSIX form ("STDoffset").
        "v_convert_timezone": "SELECT "
                              "CONVERT_TIMEZONE('GMT','NEWZONE +2','2014-05-17 12:00:00') AS newzone_plus_2, "
                              "CONVERT_TIMEZONE('GMT','NEWZONE-2:15','2014-05-17 12:00:00') AS newzone_minus_2_15, "
                              "CONVERT_TIMEZONE('GMT','America/Los_Angeles+2','2014-05-17 12:00:00') AS la_plus_2, "
                              "CONVERT_TIMEZONE('GMT','GMT+2','2014-05-17 12:00:00') AS gmt_plus_2, "
                              "CONVERT_TIMEZONE('America/New_York', '2013-02-01 08:00:00') AS ny_standard, "
                              "CONVERT_TIMEZONE('America/New_York', '2013-06-01 08:00:00') AS ny_daylight, "
                              "CONVERT_TIMEZONE('UTC', 'UTC+3', '2014-05-17 12:00:00') AS utc_plus_3",
        # A TIMESTAMPTZ argument: the page's timestamp is "an expression that implicitly converts to a timestamp",
        # which happens in the session's time zone, UTC by default (r_timezone_config); read in a UTC session.
        "v_convert_timezone_tstz": f"SELECT ts, CONVERT_TIMEZONE('America/New_York', ts) AS ny FROM {s}.instants",
        # r_WF_AVG's example: the running average of an INTEGER column is a BIGINT, truncated (50/3 -> 16).
        "v_avg_window": "SELECT salesid, dateid, sellerid, qty, AVG(qty) OVER (ORDER BY dateid, salesid ROWS "
                        f"UNBOUNDED PRECEDING) AS avg FROM {s}.winsales",
        # r_WF_RATIO_TO_REPORT's first example: each row's qty over the sum of all (215), FLOAT8.
        "v_ratio_to_report": f"SELECT salesid, qty, RATIO_TO_REPORT(qty) OVER () AS ratio FROM {s}.winsales",
        # r_AVG: "BIGINT for any integer type argument" (the same truncation as above); NULLs ignored.
        "v_avg": f"SELECT sellerid, AVG(qty) AS avg_qty, AVG(qty_shipped) AS avg_shipped FROM {s}.winsales "
                 "GROUP BY sellerid",
    }


# View name → (ORDER BY for a stable read, the rows AWS documents).
EXPECTED: dict[str, tuple[str, list[tuple]]] = {
    "v_listagg": ("1", [("380, 380, 1178, 1178, 1178, 2731, 8117, 12905, 32043, 32043, 32043, 32432, 32432, 38669, "
                         "38750, 41498, 45676, 46324, 47188, 47188, 48294",)]),
    "v_listagg_distinct": ("1", [("380, 1178, 2731, 8117, 12905, 32043, 32432, 38669, 38750, 41498, 45676, 46324, "
                                  "47188, 48294",)]),
    "v_listagg_ignores": ("1", [("Musicals,Plays,Plays",)]),
    "v_listagg_distinct_ignores": ("1", [("Musicals,Plays",)]),
    "v_listagg_window": ("1", [("11122333344",)] * 11),
    "v_listagg_buyer_b": ("1", [("2003-08-02,2004-04-18,2004-04-18,2004-02-12",)] * 4),
    "v_median": ("1, 2", [(1, 10, 10), (1, 10, 10), (1, 30, 10), (2, 20, 20), (2, 20, 20), (3, 10, Decimal("17.5")),
                          (3, 15, Decimal("17.5")), (3, 20, Decimal("17.5")), (3, 30, Decimal("17.5")), (4, 10, 25),
                          (4, 40, 25)]),
    "v_median_all": ("1", [(20,)]),  # 10 10 10 10 15 [20] 20 20 30 30 40
    "v_decode": ("1", [(1, "Major League Baseball"), (2, "National Hockey League"), (3, "National Football League"),
                       (4, "National Basketball Association"), (5, "Major League Soccer"), (6, "Unknown"),
                       (7, "Unknown"), (8, "Unknown"), (9, "Unknown"), (10, "Unknown")]),
    "v_convert_timezone": ("1", [(datetime.datetime(2014, 5, 17, 10, 0), datetime.datetime(2014, 5, 17, 14, 15),
                                  datetime.datetime(2014, 5, 17, 10, 0), datetime.datetime(2014, 5, 17, 10, 0),
                                  datetime.datetime(2013, 2, 1, 3, 0), datetime.datetime(2013, 6, 1, 4, 0),
                                  datetime.datetime(2014, 5, 17, 9, 0))]),
    "v_convert_timezone_tstz": ("1", [
        (datetime.datetime(2013, 2, 1, 8, 0, tzinfo=datetime.UTC), datetime.datetime(2013, 2, 1, 3, 0)),
        (datetime.datetime(2013, 6, 1, 8, 0, tzinfo=datetime.UTC), datetime.datetime(2013, 6, 1, 4, 0))]),
    "v_avg_window": ("2, 1", [
        (30001, datetime.date(2003, 8, 2), 3, 10, 10), (10001, datetime.date(2003, 12, 24), 1, 10, 10),
        (10005, datetime.date(2003, 12, 24), 1, 30, 16), (40001, datetime.date(2004, 1, 9), 4, 40, 22),
        (10006, datetime.date(2004, 1, 18), 1, 10, 20), (20001, datetime.date(2004, 2, 12), 2, 20, 20),
        (40005, datetime.date(2004, 2, 12), 4, 10, 18), (20002, datetime.date(2004, 2, 16), 2, 20, 18),
        (30003, datetime.date(2004, 4, 18), 3, 15, 18), (30004, datetime.date(2004, 4, 18), 3, 20, 18),
        (30007, datetime.date(2004, 9, 7), 3, 30, 19)]),
    "v_ratio_to_report": ("1", [(salesid, qty, qty / 215) for salesid, _, _, _, qty, _ in sorted(WINSALES)]),
    # seller 1: (10 + 30 + 10) / 3, seller 3: (10 + 15 + 20 + 30) / 4 = 18.75 -> 18
    "v_avg": ("1", [(1, 16, 10), (2, 20, 20), (3, 18, 10), (4, 25, 10)]),
    "v_scalars": ("1", [("both null", "N/A", "ann", "none", "has", datetime.datetime(2009, 8, 28),
                         datetime.datetime(2008, 2, 29), 52, 4, 0, datetime.datetime(2008, 3, 5, 9, 25, 29))]),
}


# Result columns whose type AWS documents and PostgreSQL would give differently (view -> {column: type OID}):
# AVG of an INTEGER is BIGINT (20), where PostgreSQL's avg returns numeric (1700).
EXPECTED_TYPES: dict[str, dict[str, int]] = {
    "v_avg_window": {"avg": 20},
    "v_avg": {"avg_qty": 20, "avg_shipped": 20},
}
