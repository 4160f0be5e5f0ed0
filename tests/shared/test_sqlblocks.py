import pytest

from shared.errors import BadInputError
from shared.sqlblocks import SqlObject, parse, render

# Characters str.splitlines() takes as line breaks (and so would change inside data), with NUL-free controls.
SPLITLINES_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\r"
FORGED = '\n-- r2a:object {"kind": "comment", "name": "public.z", "depends_on": []}\nCREATE ROLE evil; --'


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
    first = text.split("\n")[0]
    assert first.startswith('-- r2a:object {"depends_on": [], "kind": "schema", "lines": 1, "name": "\\"Odd ')
    assert first.isascii()


def test_a_forged_marker_inside_a_body_stays_in_its_block():
    body = f"COMMENT ON TABLE s.t IS 'x{FORGED}';"
    objects = [SqlObject("comment", "s.t", body, "s.t"), SqlObject("table", "s.u", "CREATE TABLE s.u (a int);")]
    parsed = parse(render(objects))
    assert [(o.kind, o.name) for o in parsed] == [("comment", "s.t"), ("table", "s.u")]
    assert parsed[0].sql == body


def test_splitlines_characters_are_data_in_bodies_and_headers():
    body = f"COMMENT ON TABLE s.t IS 'a{SPLITLINES_BREAKS}b';"
    obj = SqlObject("comment", "s.t", body, "s.t", (), (("changes", [f"default {SPLITLINES_BREAKS} dropped"]),))
    text = render([obj])
    assert text.split("\n")[0].isascii()  # the marker stays one line for any reader
    assert parse(text) == [obj]


def test_a_changed_body_or_a_short_file_is_refused():
    text = render([SqlObject("comment", "s.t", "COMMENT ON TABLE s.t IS 'x';", "s.t")])
    with pytest.raises(BadInputError, match="f.sql line 1: the block's SHA-256 does not match its marker"):
        parse(text.replace("'x'", "'x'; CREATE ROLE evil"), "f.sql")
    with pytest.raises(BadInputError, match="f.sql line 1: the block ends early"):
        parse(text.replace('"lines": 1', '"lines": 3'), "f.sql")
    with pytest.raises(BadInputError, match="f.sql line 3: text outside any r2a:object block"):
        parse(text + "CREATE ROLE evil;\n", "f.sql")


def test_preamble_is_ignored_and_bad_marker_names_the_line():
    assert parse("-- SET client_encoding = 'UTF8';\n\n") == []
    with pytest.raises(BadInputError, match="line 1: text outside any r2a:object block"):
        parse("SET client_encoding = 'UTF8';\n")
    with pytest.raises(BadInputError, match="pre_data.sql line 2: the r2a:object marker is not valid JSON"):
        parse("-- hello\n-- r2a:object {oops\nSELECT 1;\n", "pre_data.sql")
    with pytest.raises(BadInputError, match="needs string keys kind and name"):
        parse('-- r2a:object {"kind": "table"}\nSELECT 1;\n')
    with pytest.raises(BadInputError, match="needs the body's line count and sha256"):
        parse('-- r2a:object {"kind": "table", "name": "s.t"}\nSELECT 1;\n')
