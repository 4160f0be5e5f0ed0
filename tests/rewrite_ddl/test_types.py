"""shared/redshift_types: every Redshift spelling maps to its canonical PostgreSQL type."""

from __future__ import annotations

import pytest

from shared.redshift_types import TYPES, UnknownTypeError, map_type, parse_type

CASES = [
    ("int", "integer"), ("INT4", "integer"), ("int8", "bigint"), ("int2", "smallint"),
    ("float", "double precision"), ("float4", "real"), ("bool", "boolean"),
    ("dec(18,2)", "numeric(18,2)"), ("decimal", "numeric(18,0)"), ("numeric(38)", "numeric(38,0)"),
    ("character varying(256)", "varchar(256)"), ("varchar", "varchar(256)"), ("text", "varchar(256)"),
    ("nvarchar(10)", "varchar(10)"), ("varchar(max)", "varchar(65535)"),
    ("char", "char(1)"), ("character(36)", "char(36)"), ("nchar(2)", "char(2)"), ("bpchar", "char(256)"),
    ("timestamp", "timestamp without time zone"), ("timestamptz", "timestamp with time zone"),
    ("timestamp without time zone", "timestamp without time zone"), ("time", "time without time zone"),
    ("timetz", "time with time zone"), ("date", "date"),
    ("super", "jsonb"), ("varbyte(64)", "bytea"), ("varbinary", "bytea"), ("binary varying(8)", "bytea"),
    ("geometry", "bytea"), ("geography", "bytea"), ("interval year to month", "interval year to month"),
]


@pytest.mark.parametrize("redshift, postgres", CASES)
def test_mapping(redshift, postgres):
    assert map_type(redshift).target == postgres


def test_postgis_and_unsupported():
    assert map_type("geometry", postgis=True).target == "geometry"
    assert map_type("geometry", postgis=True).changes == ()
    assert map_type("geometry").changes
    sketch = map_type("hllsketch")
    assert sketch.target is None and "HLLSKETCH" in sketch.unsupported


def test_changes():
    assert map_type("text").changes == ("TEXT -> varchar(256) (Redshift's TEXT is VARCHAR(256))",)
    assert map_type("integer").changes == ()


@pytest.mark.parametrize("text", ["blob", "varchar(x)", "int(", ""])
def test_unknown(text):
    with pytest.raises(UnknownTypeError):
        parse_type(text)


def test_every_alias_has_a_rule():
    from shared.redshift_types import ALIASES

    assert set(ALIASES.values()) <= set(TYPES)
