"""The edge-case schema as data: every table's columns, its rows as PostgreSQL should hold them after migration,
and every other object with the outcome r2a is meant to give it.

Tests compare AlloyDB (devstack PostgreSQL) cell by cell with EDGE_TABLES[*].rows, as psycopg2 returns values:
numeric → Decimal, real/double → float (NaN, ±inf, -0.0 kept), char(n) → blank-padded str, timestamptz → aware
datetime, SUPER → the JSON value (jsonb), VARBYTE → bytes (bytea). `None` is SQL NULL everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

SCHEMA = "edge"



@dataclass(frozen=True)
class Column:
    name: str
    redshift_type: str  # as written in the Redshift DDL
    attributes: str = ""  # ENCODE/DISTKEY/IDENTITY/DEFAULT... appended to the column definition


@dataclass(frozen=True)
class EdgeTable:
    name: str  # the Redshift name (before any truncation to 63 bytes)
    columns: tuple[Column, ...]
    rows: tuple[tuple, ...]
    table_attributes: str = ""  # DISTSTYLE/SORTKEY/BACKUP after the column list
    constraints: tuple[str, ...] = ()  # table constraints, Redshift DDL text
    case_sensitive: bool = False  # created with enable_case_sensitive_identifier on
    insert_columns: tuple[str, ...] | None = None  # None: all columns (identity columns excluded otherwise)
    purpose: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def _padded(text: str | None, width: int) -> str | None:
    return None if text is None else text.ljust(width)


ALL_TYPES = EdgeTable(
    name="all_types",
    purpose="every Redshift type at its extremes, zero/empty values and an all-NULL row",
    columns=(
        Column("id", "integer", "not null"),
        Column("c_smallint", "smallint", "encode az64"),
        Column("c_integer", "integer"),
        Column("c_bigint", "bigint"),
        Column("c_decimal", "decimal(38,10)"),
        Column("c_decimal_bare", "decimal"),
        Column("c_numeric_int", "numeric(38,0)"),
        Column("c_real", "real"),
        Column("c_double", "double precision"),
        Column("c_boolean", "boolean"),
        Column("c_char", "char(10)"),
        Column("c_varchar", "varchar(100)", "encode lzo"),
        Column("c_text", "text"),
        Column("c_bpchar", "bpchar"),
        Column("c_date", "date"),
        Column("c_timestamp", "timestamp"),
        Column("c_timestamptz", "timestamptz"),
        Column("c_time", "time"),
        Column("c_timetz", "timetz"),
        Column("c_super", "super"),
        Column("c_varbyte", "varbyte(64)"),
    ),
    table_attributes="diststyle even compound sortkey (id)",
    rows=(
        (1, 32767, 2147483647, 9223372036854775807, Decimal("9999999999999999999999999999.9999999999"),
         Decimal("999999999999999999"), Decimal("9" * 38), 1e30, 1e308, True, _padded("max", 10),
         "maximum ✓", "text is varchar(256)", _padded("b", 256), date(9999, 12, 31),
         datetime(2262, 4, 11, 23, 47, 16, 854775), datetime(2200, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
         time(23, 59, 59, 999999), time(23, 59, 59, tzinfo=timezone(timedelta(hours=14))),
         {"a": [1, 2, {"b": None}], "s": "quote \" backslash \\ pipe |", "u": "ñ🦆"}, bytes.fromhex("00ff7f80")),
        (2, -32768, -2147483648, -9223372036854775808, Decimal("-9999999999999999999999999999.9999999999"),
         Decimal("-999999999999999999"), Decimal("-" + "9" * 38), -2.25, -1e-307, False, _padded("min", 10),
         "minimum", "x", _padded("", 256), date(1, 1, 1), datetime(1900, 1, 1, 0, 0, 0),
         datetime(1960, 6, 15, 10, 0, 0, tzinfo=UTC), time(0, 0, 0),
         time(12, 34, 56, tzinfo=timezone(timedelta(hours=5, minutes=30))), [1, "two", 3.5, False],
         bytes.fromhex("5c4e")),
        (3, 0, 0, 0, Decimal("0.0000000000"), Decimal("0"), Decimal("0"), 0.0, -0.0, False, _padded("", 10),
         "", "", _padded(" ", 256), date(1969, 12, 31), datetime(1969, 12, 31, 23, 59, 59, 999999),
         datetime(1970, 1, 1, 0, 0, 0, tzinfo=UTC), time(12, 0, 0, 500000),
         time(0, 0, 0, tzinfo=timezone(timedelta(hours=-12))), {}, b""),
        (4, 1, 1, 1, Decimal("0.0000000001"), Decimal("1"), Decimal("1"), float("nan"), float("nan"), True,
         _padded("  pad", 10), "  pad  ", "trailing   ", _padded("x", 256), date(2024, 2, 29),
         datetime(2024, 2, 29, 12, 0, 0, 123456), datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
         time(1, 2, 3, 4), time(1, 2, 3, tzinfo=UTC), "just a JSON string", bytes(range(0, 256, 17))),
        (5, -1, -1, -1, Decimal("-0.5000000000"), Decimal("-1"), Decimal("-1"), float("inf"), float("-inf"),
         None, None, None, None, None, None, None, None, None, None, 42, None),
        (6, 2, 2, 2, Decimal("123.4560000000"), Decimal("2"), Decimal("2"), float("-inf"), float("inf"),
         None, None, None, None, None, None, None, None, None, None, None, None),
        (7,) + (None,) * 20,
    ),
)

NASTY_VALUES: tuple[tuple[str | None, str], ...] = (
    (None, "SQL NULL"),
    ("", "empty string"),
    (" ", "one blank"),
    ("\\N", "the text \\N (COPY's NULL marker)"),
    ("NULL", "the word NULL"),
    ("null", "the word null"),
    ("N", "a lone N"),
    ("\\\\N", "escaped marker"),
    ("\\", "one backslash"),
    ("\\\\", "two backslashes"),
    ("ends with backslash\\", "trailing backslash"),
    ("\\t is not a tab", "backslash-t as text"),
    ("|", "the UNLOAD delimiter"),
    ("||", "two delimiters"),
    ("\t", "a tab"),
    (",", "a comma"),
    ('"', "a double quote"),
    ("'", "a single quote"),
    ('""', "two double quotes"),
    ("a'b\"c", "mixed quotes"),
    ("\n", "LF"),
    ("\r", "CR"),
    ("\r\n", "CRLF"),
    ("line1\nline2\n", "multi-line with trailing LF"),
    ("a|b\tc,d\"e'f\\g\nh\ri", "every separator at once"),
    ("ñandú año", "Latin-1 range"),
    ("Ελληνικά кириллица", "Greek and Cyrillic"),
    ("漢字テスト", "CJK"),
    ("🦆👍🏽🏳️‍🌈", "emoji with modifiers and ZWJ"),
    ("zero\u200bwidth", "zero-width space"),
    ("trailing  ", "trailing blanks"),
    ("  leading", "leading blanks"),
    ("\x01ctrl\x1f", "control characters"),
    ("\x7f", "DEL"),
    ("x" * 300, "at the column's length"),
    ("€" * 100, "300 bytes of 3-byte characters"),
)

NASTY_TEXT = EdgeTable(
    name="nasty_text",
    purpose="NULL vs '' vs the NULL marker text, separators, escapes, line breaks, unicode",
    columns=(Column("id", "integer", "not null"), Column("val", "varchar(300)"), Column("note", "varchar(60)")),
    table_attributes="diststyle all",
    rows=tuple((index + 1, value, note) for index, (value, note) in enumerate(NASTY_VALUES)),
)

CHAR_BLANKS = EdgeTable(
    name="char_blanks",
    purpose="CHAR keeps its trailing blanks, VARCHAR keeps exactly what was stored",
    columns=(Column("id", "integer"), Column("c", "char(8)"), Column("v", "varchar(8)")),
    rows=((1, _padded("ab", 8), "ab  "), (2, _padded(" ", 8), " "), (3, _padded("", 8), ""),
          (4, None, None), (5, "12345678", "12345678")),
)

INTERVALS = EdgeTable(
    name="intervals",
    purpose="INTERVAL DAY TO SECOND and YEAR TO MONTH columns",
    columns=(Column("id", "integer"), Column("ds", "interval day to second"),
             Column("ym", "interval year to month")),
    rows=((1, timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000), None),
          (2, timedelta(days=-3), None), (3, None, None)),
)

EMPTY_TABLE = EdgeTable(
    name="empty_table", purpose="zero rows",
    columns=(Column("id", "integer"), Column("note", "varchar(20)")), rows=())

EMPTY_WIDE = EdgeTable(
    name="empty_wide", purpose="zero rows, every type",
    columns=ALL_TYPES.columns, rows=())

LONG_NAME = ("customer_lifetime_value_by_marketing_channel_and_region_with_daily_granularity_and_currency_"
             "conversion_2023")
COLLIDING_PREFIX = "quarterly_revenue_by_product_family_and_sales_territory_snapshot_"
COLLIDING_A = COLLIDING_PREFIX + "version_a"
COLLIDING_B = COLLIDING_PREFIX + "version_b"

LONG_NAMES = EdgeTable(
    name=LONG_NAME, purpose="a 100+-byte table name with a 70+-byte column name",
    columns=(Column("id", "integer"),
             Column("a_column_name_that_is_also_longer_than_sixty_three_bytes_for_good_measure", "varchar(10)")),
    rows=((1, "long"), (2, None)),
)
COLLIDING_TABLE_A = EdgeTable(
    name=COLLIDING_A, purpose="same first 63 bytes as its twin",
    columns=(Column("id", "integer"), Column("which", "char(1)")), rows=((1, "a"),))
COLLIDING_TABLE_B = EdgeTable(
    name=COLLIDING_B, purpose="same first 63 bytes as its twin",
    columns=(Column("id", "integer"), Column("which", "char(1)")), rows=((1, "b"), (2, "b")))

MIXED_CASE = EdgeTable(
    name="MixedCase Table", case_sensitive=True, purpose="mixed case and a blank in names",
    columns=(Column("Id", "integer"), Column("CamelColumn", "varchar(20)"), Column("lower_col", "integer")),
    rows=((1, "Upper", 10), (2, "lower", 20)),
)

UNICODE_NAMES = EdgeTable(
    name="precios_año", purpose="multibyte identifiers",
    columns=(Column("id", "integer"), Column("señal", "varchar(10)")), rows=((1, "sí"),))

RESERVED_WORDS = EdgeTable(
    name="reserved_words", purpose="reserved words as column names",
    columns=(Column("select", "integer"), Column("from", "varchar(10)"), Column("user", "varchar(10)"),
             Column("order", "integer"), Column("group", "varchar(10)"), Column("table", "date")),
    rows=((1, "a", "u", 2, "g", date(2020, 1, 1)), (2, None, "", None, None, None)),
)

PARENT = EdgeTable(
    name="parent", purpose="declared PRIMARY KEY and UNIQUE that the data violates",
    columns=(Column("id", "integer", "not null"), Column("code", "varchar(10)")),
    constraints=("primary key (id)", "unique (code)"),
    rows=((1, "a"), (1, "b"), (2, "c"), (3, "c")),
)
CHILD = EdgeTable(
    name="child", purpose="declared FOREIGN KEY that the data violates",
    columns=(Column("id", "integer", "not null"), Column("parent_id", "integer")),
    constraints=("primary key (id)", "foreign key (parent_id) references edge.parent (id)"),
    rows=((1, 1), (2, 2), (3, 99)),
)
CLEAN_PARENT = EdgeTable(
    name="clean_parent", purpose="declared keys the data respects (kept)",
    columns=(Column("id", "integer", "not null"), Column("code", "varchar(10)")),
    constraints=("primary key (id)", "unique (code)"),
    rows=((1, "a"), (2, "b")),
)
CLEAN_CHILD = EdgeTable(
    name="clean_child", purpose="declared foreign key the data respects (kept)",
    columns=(Column("id", "integer", "not null"), Column("parent_id", "integer")),
    constraints=("primary key (id)", "foreign key (parent_id) references edge.clean_parent (id)"),
    rows=((1, 1), (2, 2), (3, None)),
)

IDENTITY = EdgeTable(
    name="identity_cols", purpose="IDENTITY(5,10) and DEFAULT GETDATE()",
    columns=(Column("id", "bigint", "identity(5,10)"), Column("label", "varchar(20)"),
             Column("created", "timestamp", "default getdate()")),
    insert_columns=("label", "created"),
    rows=((5, "first", datetime(2020, 1, 1)), (15, "second", datetime(2020, 1, 2)),
          (25, "third", datetime(2020, 1, 3))),
)

SPATIAL = EdgeTable(
    name="spatial", purpose="GEOMETRY: PostGIS when present, else bytea and reported",
    columns=(Column("id", "integer"), Column("shape", "geometry")), rows=((1, None),))

SKETCHES = EdgeTable(
    name="sketches", purpose="HLLSKETCH has no PostgreSQL equivalent: reported, never dropped quietly",
    columns=(Column("id", "integer"), Column("sketch", "hllsketch")), rows=((1, None),))

EDGE_TABLES: tuple[EdgeTable, ...] = (
    ALL_TYPES, NASTY_TEXT, CHAR_BLANKS, INTERVALS, EMPTY_TABLE, EMPTY_WIDE, LONG_NAMES, COLLIDING_TABLE_A,
    COLLIDING_TABLE_B, MIXED_CASE, UNICODE_NAMES, RESERVED_WORDS, PARENT, CHILD, CLEAN_PARENT, CLEAN_CHILD,
    IDENTITY, SPATIAL, SKETCHES,
)


@dataclass(frozen=True)
class EdgeObject:
    kind: str  # view, late_binding_view, materialized_view, function, procedure, comment, user, group, grant
    name: str
    ddl: str  # Redshift DDL as sent through the emulator
    outcome: str  # what the migration is meant to do with it
    expected_rows: tuple[tuple, ...] | None = None  # for views with deterministic results (AWS doc values)
    depends_on: tuple[str, ...] = field(default_factory=tuple)


EDGE_OBJECTS: tuple[EdgeObject, ...] = (
    EdgeObject(
        "view", "v_functions",
        "create view edge.v_functions as select id, nvl(code, 'none') as code_or_none, "
        "decode(id, 1, 'one', 2, 'two', 'other') as id_word, nvl2(code, 1, 0) as has_code, "
        "dateadd(month, 1, '2008-02-28'::date)::date as month_after, "
        "datediff(week, '2009-01-01'::date, '2009-12-31'::date) as weeks_2009, "
        "charindex('fish', 'dogfish') as fish_at, len('hello') as hello_len, "
        "to_char(convert_timezone('UTC', 'America/New_York', '2008-03-05 14:25:29'::timestamp), "
        "'YYYY-MM-DD HH24:MI:SS') as new_york "
        "from edge.clean_parent where id = 1",
        "view", depends_on=("clean_parent",),
        expected_rows=((1, "a", "one", 1, date(2008, 3, 28), 52, 4, 5, "2008-03-05 09:25:29"),)),
    EdgeObject(
        "view", "v_aggregates",
        "create view edge.v_aggregates as select listagg(code, ',') within group (order by code) as codes, "
        "median(id) as median_id from edge.parent",
        "view", depends_on=("parent",), expected_rows=(("a,b,c,c", Decimal("1.5")),)),
    EdgeObject(
        "view", "v_getdate",
        "create view edge.v_getdate as select getdate() as now_at, sysdate as tx_start",
        "view"),
    EdgeObject(
        "view", "v_on_view",
        "create view edge.v_on_view as select id_word, has_code from edge.v_functions",
        "view (created after the view it reads)", depends_on=("v_functions",),
        expected_rows=(("one", 1),)),
    EdgeObject(
        "late_binding_view", "v_late",
        "create view edge.v_late as select id, which from edge." + COLLIDING_A + " with no schema binding",  # nosec B608  # a fixture's DDL text built from this module's constants
        "view", depends_on=(COLLIDING_A,), expected_rows=((1, "a"),)),
    EdgeObject(
        "materialized_view", "mv_child_counts",
        "create materialized view edge.mv_child_counts as select parent_id, count(*) as children "
        "from edge.child group by parent_id",
        "materialized view, refreshed after the data load", depends_on=("child",)),
    EdgeObject(
        "function", "f_add_one",
        "create or replace function edge.f_add_one(integer) returns integer stable as $$ select $1 + 1 $$ "
        "language sql",
        "function (SQL UDF carried over)"),
    EdgeObject(
        "function", "f_py_double",
        "create or replace function edge.f_py_double(a float) returns float stable as $$ return a * 2 $$ "
        "language plpythonu",
        "unsupported: Python UDF (plpythonu) has no AlloyDB equivalent; reported"),
    EdgeObject(
        "procedure", "sp_log_parent",
        "create or replace procedure edge.sp_log_parent(p_id integer) as $$ begin "
        "raise info 'parent %', p_id; end; $$ language plpgsql",
        "procedure"),
    EdgeObject("comment", "all_types", "comment on table edge.all_types is 'every type, extremes and NULLs'",
               "comment"),
    EdgeObject("comment", "nasty_text.val",
               "comment on column edge.nasty_text.val is 'values that break naive CSV/COPY handling'", "comment"),
    EdgeObject("user", "sample_reader", "create user sample_reader password 'Sample-Reader-1'",
               "role (no password carried)"),
    EdgeObject("group", "sample_readers", "create group sample_readers with user sample_reader",
               "role with member sample_reader"),
    EdgeObject("grant", "usage on schema edge", "grant usage on schema edge to group sample_readers", "grant"),
    EdgeObject("grant", "select on all tables in edge",
               "grant select on all tables in schema edge to group sample_readers", "grant"),
)


def same_cell(actual, expected) -> bool:
    """Equality for one cell that tells NaN, -0.0 and 0.0 apart and treats NaN as equal to NaN."""
    if isinstance(expected, float) and isinstance(actual, float):
        if math.isnan(expected) or math.isnan(actual):
            return math.isnan(expected) and math.isnan(actual)
        return actual == expected and math.copysign(1.0, actual) == math.copysign(1.0, expected)
    if isinstance(expected, bytes) and isinstance(actual, memoryview):
        return actual.tobytes() == expected
    return type(actual) is type(expected) and actual == expected if expected is not None else actual is None


def row_differences(table: EdgeTable, actual_rows: list[tuple]) -> list[str]:
    """Every cell of `actual_rows` (ordered like table.rows) that differs from the expected value, described."""
    problems: list[str] = []
    if len(actual_rows) != len(table.rows):
        problems.append(f"{table.name}: {len(actual_rows)} rows, expected {len(table.rows)}")
    for expected_row, actual_row in zip(table.rows, actual_rows, strict=False):
        for column, expected, actual in zip(table.column_names, expected_row, actual_row, strict=True):
            if not same_cell(actual, expected):
                problems.append(f"{table.name} row {expected_row[0]!r} column {column}: "
                                f"{actual!r} instead of {expected!r}")
    return problems
