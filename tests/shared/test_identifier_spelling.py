"""The public spelling helpers of shared.identifiers that dump_schema, rewrite_ddl and TableRef share."""

import pytest

from shared.errors import BadInputError
from shared.identifiers import (
    TableRef,
    canonical_name,
    canonical_part,
    parse_table_ref,
    quote_ident,
    read_quoted,
)


def test_quote_ident_always_quotes_and_doubles_quotes():
    assert quote_ident("t") == '"t"'
    assert quote_ident('say "hi"') == '"say ""hi"""'
    assert quote_ident("Mixed.Case") == '"Mixed.Case"'


@pytest.mark.parametrize("parts, expected", [
    (("sales",), "sales"),
    (("sales", "orders"), "sales.orders"),
    (("Sales", "order lines", "pk"), '"Sales"."order lines".pk'),
    (("s", 'a"b'), 's."a""b"'),
    (("s", "select"), "s.select"),  # plain lower case stays bare even when a keyword: it is a name, not SQL
])
def test_canonical_name(parts, expected):
    assert canonical_name(*parts) == expected


def test_table_ref_spelling_is_canonical_name_and_parses_back():
    for schema, table in [("s", "t"), ("My.Schema", 'a"b'), ("é", "T 1")]:
        ref = TableRef(schema, table)
        assert str(ref) == canonical_name(schema, table) == f"{canonical_part(schema)}.{canonical_part(table)}"
        assert parse_table_ref(str(ref)) == ref


def test_read_quoted():
    assert read_quoted('x "a""b".c', 2) == ('a"b', 8)
    with pytest.raises(BadInputError, match="unterminated quote"):
        read_quoted('"abc', 0)
