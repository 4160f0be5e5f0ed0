"""shared/redshift_types is the one type table: every type the emulator knows has a row, and table_transfer's UNLOAD
select and checksums come from the row of the column's Redshift type (not from its PostgreSQL target text)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared.redshift_types import (
    CHECKSUMS,
    INTERVAL_QUALIFIERS,
    TYPES,
    UNLOAD_TEMPLATES,
    checksum_kinds,
    identity_allowed,
    parse_type,
    unload_select,
)

EMULATOR_DDL = Path(__file__).resolve().parents[2] / "devstack" / "redshift" / "ddl.py"
# Words the emulator reads only together with the next one (ddl.column_type): DOUBLE PRECISION, BINARY VARYING,
# CHARACTER VARYING, TIME/TIMESTAMP WITH TIME ZONE, INTERVAL and its fields.
_COMPOUND = {"DOUBLE": "double precision", "BINARY": "binary varying"}


def _emulator_words() -> tuple[set[str], set[str]]:
    """The type words devstack/redshift/ddl.py's column_type compares `word` with, and the interval field words."""
    function = next(node for node in ast.walk(ast.parse(EMULATOR_DDL.read_text()))
                    if isinstance(node, ast.FunctionDef) and node.name == "column_type")
    words: set[str] = set()
    fields: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "word":
            for comparator in node.comparators:
                items = comparator.elts if isinstance(comparator, ast.Tuple) else [comparator]
                words |= {item.value for item in items if isinstance(item, ast.Constant)}
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "at" and len(node.args) > 2:
            fields |= {arg.value for arg in node.args if isinstance(arg, ast.Constant)}
    return words, fields


def test_every_type_the_emulator_knows_has_a_row():
    words, fields = _emulator_words()
    assert {"SMALLINT", "SUPER", "VARBYTE", "HLLSKETCH", "TIMETZ"} <= words  # the scan still reads the emulator
    spellings = {_COMPOUND.get(word, word.lower()) for word in words} | {
        "character varying", "time with time zone", "timestamp with time zone", "varchar(max)", "varbyte(max)"}
    missing = []
    for spelling in sorted(spellings):
        try:
            parse_type(spelling)
        except ValueError:
            missing.append(spelling)
    assert missing == []
    assert fields - {"TO"} == {"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"}
    for qualifier in INTERVAL_QUALIFIERS:
        assert parse_type(f"interval {qualifier}").canonical == f"interval {qualifier}"


def test_every_row_cites_aws_and_names_known_checksums_and_selects():
    for key, rule in TYPES.items():
        assert rule.docs.startswith("https://docs.aws.amazon.com/redshift/"), key
        assert rule.copy_reads, key
        assert set(rule.checksums) <= set(CHECKSUMS), key
        assert rule.unload.select in UNLOAD_TEMPLATES, key
        assert key in rule.spellings, key


@pytest.mark.parametrize("source, target, select", [
    ("integer", "integer", "{column}"),
    ("super", "jsonb", "JSON_SERIALIZE({column})"),
    # SUPER leaves UNLOAD as JSON untouched by ESCAPE and NULL AS whatever the column becomes
    # (https://docs.aws.amazon.com/redshift/latest/dg/unload-super.html): a type forced by the overrides file
    # still goes through JSON_SERIALIZE
    ("super", "varchar(65535)", "JSON_SERIALIZE({column})"),
    # a VARCHAR forced to jsonb holds JSON text COPY reads as it is; JSON_SERIALIZE takes SUPER
    # (https://docs.aws.amazon.com/redshift/latest/dg/JSON_SERIALIZE.html)
    ("character varying(100)", "jsonb", "{column}"),
    ("varbyte(64)", "bytea", "'\\\\x' || TO_HEX({column})"),
    ("varbyte(64)", "varchar(128)", "{column}"),
    ("geometry", "bytea", "'\\\\x' || ST_AsHexEWKB({column})"),
    ("geography", "geography", "{column}"),
    # a plan entry without a readable source type reads as the type its target stands for
    (None, "jsonb", "JSON_SERIALIZE({column})"),
    (None, "bytea", "'\\\\x' || TO_HEX({column})"),
    ("not a type", "integer", "{column}"),
])
def test_unload_select_follows_the_redshift_type(source, target, select):
    assert unload_select(source, target) == select


@pytest.mark.parametrize("source, target, kinds", [
    ("smallint", "smallint", ("min", "max", "sum")), ("int8", "bigint", ("min", "max")),
    ("integer", "bigint", ("min", "max")),  # forced wider: what both compute alike
    ("numeric(18,2)", "numeric(18,2)", ("min", "max")), ("bool", "boolean", ("true",)),
    ("character varying(10)", "varchar(10)", ("length", "md5")), ("char(3)", "char(3)", ("length",)),
    ("timestamptz", "timestamp with time zone", ("min", "max")), ("timetz", "time with time zone", ()),
    ("time", "time without time zone", ("min", "max")), ("float", "double precision", ()),
    ("super", "jsonb", ()), ("varbyte", "bytea", ()), ("interval day to second", "interval day to second", ()),
    # SUPER forced to text: Redshift has no LENGTH or MD5 of a SUPER, so nothing beyond the count
    ("super", "varchar(65535)", ()),
    (None, "varchar(10)", ("length", "md5")), (None, "jsonb", ()), (None, None, ()),
])
def test_checksum_kinds_are_those_both_sides_compute_alike(source, target, kinds):
    assert checksum_kinds(source, target) == kinds


def test_identity_columns_need_an_integer_target():
    assert all(identity_allowed(t) for t in ("smallint", "integer", "bigint", "int8"))
    assert not any(identity_allowed(t) for t in ("numeric(18,0)", "varchar(10)", None, "jsonb"))
