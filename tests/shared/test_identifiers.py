import pytest
from psycopg2 import sql

from shared.errors import BadInputError
from shared.identifiers import NameAllocator, TableRef, one_part, parse_table_ref, short_name


def test_short_names_fit_and_are_deterministic():
    long_name = "a" * 70 + "_events_with_a_very_long_name"
    first = short_name(long_name)
    assert len(first.encode()) <= 63
    assert first == short_name(long_name)
    assert short_name("short") == "short"


def test_names_sharing_a_63_byte_prefix_stay_distinct():
    prefix = "com_snowplowanalytics_snowplow_enriched_event_context_with_a_long"
    a, b = short_name(prefix + "_1"), short_name(prefix + "_2")
    assert a != b and len(a.encode()) <= 63 and len(b.encode()) <= 63


def test_multibyte_names_are_cut_on_character_boundaries():
    name = "é" * 40  # 80 bytes
    shortened = short_name(name)
    assert len(shortened.encode()) <= 63
    shortened.encode("utf-8").decode("utf-8")


def test_allocator_never_hands_out_a_name_twice():
    allocator = NameAllocator()
    long_name = "x" * 80
    taken = allocator.assign(short_name(long_name))  # a source name that looks like a shortened one
    other = allocator.assign(long_name)
    assert taken != other
    assert allocator.assign(long_name) == other


@pytest.mark.parametrize("schema,table,text", [
    ("public", "sales", "public.sales"),
    ("My.Schema", 'ta"ble', '"My.Schema"."ta""ble"'),
    ("public", "With Space", 'public."With Space"'),
    ("öffentlich", "t", '"öffentlich".t'),
])
def test_table_refs_round_trip(schema, table, text):
    ref = TableRef(schema, table)
    assert str(ref) == text
    assert parse_table_ref(text) == ref


@pytest.mark.parametrize("bad", ["sales", "a.b.c", '"unterminated.x', ".t", "s."])
def test_bad_table_refs_are_rejected(bad):
    with pytest.raises(BadInputError):
        parse_table_ref(bad)


def test_file_stems_are_unique_and_path_safe():
    a, b = TableRef("a.b", "c"), TableRef("a", "b.c")
    assert a.file_stem() != b.file_stem()
    assert "/" not in TableRef("x/y", "z").file_stem()


def test_sql_identifier_is_used():
    assert isinstance(TableRef("s", "t").sql(), sql.Identifier)


def test_one_part_names_unquote_the_sql_way():
    """Schema and role names of validate_restore and pre-data: the one parser, so a quoted name holding a dot or a
    quote reads back whole, and a dotted name is refused instead of read as one name."""
    assert one_part("sales") == "sales"
    assert one_part('"Sales.EU"') == "Sales.EU"
    assert one_part('"a""b"') == 'a"b'
    for bad in ("sales.t", '"Sales".t', '"open'):
        with pytest.raises(BadInputError):
            one_part(bad)
