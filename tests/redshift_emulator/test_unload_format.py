"""Line formatting of UNLOAD (pure): type conversions, fast path vs general path, JSON compaction."""

from __future__ import annotations

import pytest

from devstack.redshift.unload_errors import UnloadError
from devstack.redshift.unload_format import (
    BOOL,
    BYTEA,
    EWKB,
    JSONB,
    TEXT,
    VARCHAR,
    LineFormatter,
    compact_json,
)
from devstack.redshift.unload_grammar import parse_unload

KEYS = "ACCESS_KEY_ID 'a' SECRET_ACCESS_KEY 'b'"


def formatter(options: str, oids: list[int], names: list[str] | None = None) -> LineFormatter:
    command = parse_unload(f"UNLOAD ('select 1') TO 's3://b/p' {KEYS} {options}")
    return LineFormatter(command, names or [f"c{i}" for i in range(len(oids))], oids)


def test_plain_rows_of_text_values():
    assert formatter("", [TEXT, VARCHAR]).format_row(("a b", None)) == "a b|\n"
    assert formatter("NULL AS 'NULL'", [TEXT, VARCHAR]).format_row((None, "")) == "NULL|\n"


def test_values_that_are_not_text_take_the_general_path():
    line = formatter("", [23, BOOL, BYTEA, TEXT]).format_row((7, True, b"\x01\xab", None))
    assert line == "7|t|01ab|\n"


def test_bytea_text_output_loses_its_prefix_and_super_is_compact_and_not_null_as():
    fmt = formatter("NULL AS 'N'", [BYTEA, JSONB, JSONB])
    assert fmt.format_row(("\\xdeadbeef", '{"a": "b: c, d", "e": [1, {"f": "\\" x"}]}', None)) == \
        'deadbeef|{"a":"b: c, d","e":[1,{"f":"\\" x"}]}|null\n'


def test_geometry_hex_is_upper_case_varbyte_lower_case_on_both_paths():
    """EWKB hex in upper case (AWS's ST_AsHexEWKB: "0-9, A-F",
    https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html), VARBYTE in lower case
    (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_VARBYTE.html: `4d`); row by row and column-wise alike."""
    fmt = formatter("ESCAPE", [BYTEA, EWKB])
    rows = [("\\xab01", "\\x0101000020e6"), (None, None)]
    assert [fmt.format_row(row) for row in rows] == ["ab01|0101000020E6\n", "|\n"]
    assert fmt.format_batch(rows) == (["ab01|0101000020E6", "|"], None)


def test_geometry_cannot_be_unloaded_fixed_width():
    """https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html#unload-usage-geometry: "You can't unload
    GEOMETRY data with the FIXEDWIDTH option"."""
    with pytest.raises(UnloadError, match="FIXEDWIDTH"):
        formatter("FIXEDWIDTH '0:10'", [EWKB])


def test_compact_json_keeps_blanks_inside_strings():
    assert compact_json('["a b", "c\\\\", "d"]') == '["a b","c\\\\","d"]'
    assert compact_json("12.50") == "12.50"


def test_header_follows_the_text_options():
    assert formatter("ESCAPE ADDQUOTES", [TEXT, TEXT], ["a|b", 'q"']).header() == '"a\\|b"|"q\\""\n'
    assert formatter("CSV", [TEXT, TEXT], ["a,b", "plain"]).header() == '"a,b",plain\n'


def test_timetz_is_shown_in_utc():
    fmt = formatter("", [1266, 1266, 1266, 1266])
    assert fmt.format_row(("13:24:55.25-08", "04:00:00+05:30", "05:58:00+00", "23:00:00-02")) == \
        "21:24:55.25+00|22:30:00+00|05:58:00+00|01:00:00+00\n"


def test_null_as_is_written_as_is_by_default_and_escaped_like_data_with_the_switch():
    """AWS's r_UNLOAD page is silent on ESCAPE applied to the NULL AS string; the one field report
    (https://github.com/hellonarrativ/spectrify/issues/6) says Redshift escapes it like data (`\\N` -> `\\\\N`).
    The switch (r2a_emulator_fault 'unload_escape_null_as') reproduces that, for every column but SUPER."""
    command = parse_unload(f"UNLOAD ('select 1') TO 's3://b/p' {KEYS} ESCAPE NULL AS '\\\\N|x'")
    rows = [(None, None, None, "\\N|x")]
    oids = [VARCHAR, 23, JSONB, VARCHAR]
    plain = LineFormatter(command, ["a", "b", "c", "d"], oids)
    switched = LineFormatter(command, ["a", "b", "c", "d"], oids, escape_null_as=True)
    assert plain.format_row(rows[0]) == "\\N|x|\\N|x|null|\\\\N\\|x\n"
    assert switched.format_row(rows[0]) == "\\\\N\\|x|\\\\N\\|x|null|\\\\N\\|x\n"
    # the batch path writes the same lines: a NULL and the text equal to NULL AS are now the same bytes
    assert switched.format_batch(rows) == ([switched.format_row(rows[0])[:-1]], None)
    csv = parse_unload(f"UNLOAD ('select 1') TO 's3://b/p' {KEYS} CSV NULL AS 'a,b'")
    assert LineFormatter(csv, ["a"], [VARCHAR]).format_row((None,)) == "a,b\n"
    assert LineFormatter(csv, ["a"], [VARCHAR], escape_null_as=True).format_row((None,)) == '"a,b"\n'
    marker = parse_unload(f"UNLOAD ('select 1') TO 's3://b/p' {KEYS} ESCAPE NULL AS 'R2A_N_0f'")
    assert LineFormatter(marker, ["a"], [VARCHAR], escape_null_as=True).format_row((None,)) == "R2A_N_0f\n"
