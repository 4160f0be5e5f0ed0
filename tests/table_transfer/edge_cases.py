"""An edge-case table built through the Redshift emulator: every type the transfer must carry and the values that
break naive pipelines (until devstack/sample provides the sample database's edge-case schema)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

COLUMNS: list[tuple[str, str]] = [
    ("id", "integer"),
    ("v", "varchar(200)"),
    ("c", "char(10)"),
    ("n", "numeric(38,10)"),
    ("n0", "numeric(38,0)"),
    ("f8", "double precision"),
    ("f4", "real"),
    ("i2", "smallint"),
    ("i8", "bigint"),
    ("d", "date"),
    ("ts", "timestamp"),
    ("tstz", "timestamptz"),
    ("tm", "time"),
    ("ttz", "timetz"),
    ("b", "boolean"),
    ("j", "super"),
    ("vb", "varbyte(64)"),
]

TEXTS = ["", "\\N", "NULL", "null", "a|b|", "say \"hi\" it's", "back\\slash\\", "\\\\", "line1\nline2", "cr\rhere",
         "crlf\r\nend", "tab\there", "héllo wörld 😀 ü 漢字", "  leading and trailing  ", "\\.", "|", "\n", "\\|",
         "E'x'", "%s %(x)s {}"]
CHARS = ["", "ab", "ab  ", "\\N", "NULL", "x|y", "é😀"]
NUMERICS = [Decimal("9999999999999999999999999999.9999999999"), Decimal("-9999999999999999999999999999.9999999999"),
            Decimal("0.0000000001"), Decimal("0"), Decimal("-0.5")]
NUMERIC0 = [Decimal("99999999999999999999999999999999999999"), Decimal("-99999999999999999999999999999999999999")]
# Exact in 15 significant digits: the emulator prints floats as Redshift does (extra_float_digits 0).
FLOATS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.1, 1e308, -2.5, 4.94065645841247e-324, 123456.789]
REALS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.5, 3.25]
JSONS = ['{"a":"x|y\\\\z\\n","b":[1,2,null],"c":null}', '"just a string with \\\\N"', "null", "[]", '{"emoji":"😀"}',
         "12.5", '{"q":"it\'s \\"quoted\\""}']
BYTES = ["00ff7c5c0a0d", "", "5c4e", "7c"]
DATES = [date(1, 1, 1), date(1969, 12, 31), date(1970, 1, 1), date(9999, 12, 31)]
TIMESTAMPS = [datetime(1900, 1, 1), datetime(1969, 12, 31, 23, 59, 59, 999999), datetime(2024, 2, 29, 12, 0, 0, 1)]
TIMESTAMPTZS = ["1965-06-15 12:30:00.123456+05:30", "1970-01-01 00:00:00+00", "2038-01-19 03:14:08-08"]
TIMES = [time(0, 0), time(23, 59, 59, 999999), time(12, 30, 0, 500000)]
TIMETZS = ["10:00:00+02", "23:30:00-05", "00:00:00.25+00"]


def rows() -> list[tuple]:
    """Row tuples of SQL-parameter values (None = NULL); each column cycles through its nasty values."""
    count = max(len(TEXTS), 24)
    out = [tuple([1] + [None] * (len(COLUMNS) - 1))]  # all NULL but the id
    for i in range(count):
        out.append((
            i + 2, TEXTS[i % len(TEXTS)], CHARS[i % len(CHARS)], NUMERICS[i % len(NUMERICS)],
            NUMERIC0[i % len(NUMERIC0)], repr(FLOATS[i % len(FLOATS)]), repr(REALS[i % len(REALS)]), [-32768, 32767, 0][i % 3],
            [-9223372036854775808, 9223372036854775807, 0][i % 3], DATES[i % len(DATES)],
            TIMESTAMPS[i % len(TIMESTAMPS)], TIMESTAMPTZS[i % len(TIMESTAMPTZS)], TIMES[i % len(TIMES)],
            TIMETZS[i % len(TIMETZS)], [True, False, None][i % 3], JSONS[i % len(JSONS)], BYTES[i % len(BYTES)]))
    return out


def insert_sql(schema_table: str) -> str:
    placeholders = ", ".join(
        "JSON_PARSE(%s)" if name == "j" else "TO_VARBYTE(%s, 'hex')" if name == "vb" else
        "CAST(%s AS DOUBLE PRECISION)" if name == "f8" else "CAST(%s AS REAL)" if name == "f4" else "%s"
        for name, _ in COLUMNS)
    return f"INSERT INTO {schema_table} VALUES ({placeholders})"


def normalized(value):
    """A comparable form: bytes for bytea, NaN as a marker, -0.0 kept apart from 0.0, aware times in UTC."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return ("float", value, math.copysign(1, value))
    if isinstance(value, time) and value.tzinfo is not None:
        offset = value.utcoffset() or timedelta()
        moment = datetime.combine(date(2000, 1, 1), value.replace(tzinfo=None)) - offset
        return ("timetz", moment.time(), UTC)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value
