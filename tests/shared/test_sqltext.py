"""Literals, dollar quotes and comment lines for SQL written without a connection, read back by PostgreSQL's own
parser (pglast: libpg_query), so the test sees what the server would."""

import pytest
from pglast import parse_sql

from shared.sqltext import comment_line, dollar_quoted, pg_literal

HOSTILE = ["plain", "it's", "back\\slash'", "a\nb", "a\r\nb", "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
           "\x01\x07\x1b\x7f\x9f", "tab\there", "é\u00a0ß 😀", "x';\nCREATE ROLE evil; --", "$$ $r2a$ $_$"]


def _comment_value(sql_text: str) -> str:
    statements = parse_sql(sql_text)
    assert len(statements) == 1
    return statements[0].stmt.comment


@pytest.mark.parametrize("value", HOSTILE)
def test_literal_reads_back_byte_exact_in_one_statement(value):
    text = pg_literal(value)
    assert "\n" not in text and "\r" not in text
    assert _comment_value(f"COMMENT ON TABLE t IS {text}") == value


def test_literal_is_plain_without_control_characters_and_refuses_nul():
    assert pg_literal("it's \\ fine") == "'it''s \\ fine'"
    assert pg_literal("a\nb") == "E'a\\nb'"
    assert pg_literal("a\u2028\\") == "E'a\\u2028\\\\'"
    with pytest.raises(ValueError, match="NUL"):
        pg_literal("a\x00b")


@pytest.mark.parametrize("tag", ["r2a", ""])
@pytest.mark.parametrize("body", ["SELECT 1", "$r2a$", "x $r2a", "$r2a1$ and $r2a", "ends in $r2a", "$$", "$_$",
                                  "SELECT $1 + 1", "ends in $", "/* $$ */ /* $r2a$ ; GRANT x TO y; -- */"])
def test_dollar_quote_tag_never_occurs_in_the_body(body, tag):
    quoted = dollar_quoted(body, tag)
    statements = parse_sql(f"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS {quoted}")
    assert len(statements) == 1
    as_option = next(o for o in statements[0].stmt.options if o.defname == "as")
    assert as_option.arg[0].sval == body


def test_dollar_quote_prefers_the_plain_tag():
    assert dollar_quoted("SELECT $1", "") == "$$SELECT $1$$"
    assert dollar_quoted("SELECT '$$'", "") == "$r2a$SELECT '$$'$r2a$"
    assert dollar_quoted("x $r2a$ y", "") == "$$x $r2a$ y$$"


def test_comment_line_has_no_line_break_of_any_kind():
    line = comment_line("x\ny\u2028z\x85w\x0bv")
    assert line == "x\\ny\\u2028z\\u0085w\\u000bv"
    assert line.splitlines() == [line]
