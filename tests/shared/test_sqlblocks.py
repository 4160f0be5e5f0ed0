import pytest

from shared.errors import BadInputError
from shared.sqlblocks import SqlObject, parse, render


def test_render_parse_round_trip_is_byte_identical():
    objects = [
        SqlObject("schema", '"Odd ""Schema"""', 'CREATE SCHEMA "Odd ""Schema""";', '"Odd ""Schema"""'),
        SqlObject("table", "s.t", "CREATE TABLE s.t (\n  a int -- r2a:object inside a comment is not a marker\n);",
                  "s.t", ("s.other",), (("estimated_rows", 12),)),
        SqlObject("view", "s.v", "CREATE VIEW s.v AS SELECT 'é; -- x' AS c;", "s.v", ("s.t",)),
    ]
    text = render(objects)
    assert parse(text) == objects
    assert render(parse(text)) == text
    assert text.splitlines()[0] == ('-- r2a:object {"depends_on": [], "kind": "schema", "name": "\\"Odd '
                                    '\\"\\"Schema\\"\\"\\"", "target_name": "\\"Odd \\"\\"Schema\\"\\"\\""}')


def test_preamble_is_ignored_and_bad_marker_names_the_line():
    assert parse("SET client_encoding = 'UTF8';\n") == []
    with pytest.raises(BadInputError, match="pre_data.sql line 2: the r2a:object marker is not valid JSON"):
        parse("-- hello\n-- r2a:object {oops\nSELECT 1;\n", "pre_data.sql")
    with pytest.raises(BadInputError, match="needs string keys kind and name"):
        parse('-- r2a:object {"kind": "table"}\nSELECT 1;\n')
