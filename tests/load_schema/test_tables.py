"""name_map.json → tables.json entries, and the constraint statements load_schema can read."""

import pytest

from shared.constraints import ConstraintSpec, parse_constraint
from shared.errors import BadInputError
from shared.identifiers import TableRef
from steps.load_schema.tables import largest_first, name_map_tables, planned_tables


def test_entries_carry_quoted_names_and_only_known_column_keys():
    name_map = {"tables": [
        {"source": {"schema": "S", "name": "a.b"}, "target": {"schema": "s", "name": "a_b"}, "size_mb": 3,
         "estimated_rows": 9, "columns": [{"source": "C", "target": "c", "unload_expression": '"C"',
                                           "target_type": "bytea", "source_type": "varbyte(8)", "extra": 1}]},
        {"source": {"schema": "s", "name": "v"}, "target": {"schema": "s", "name": "v"}, "kind": "view",
         "columns": []}]}
    [table] = name_map_tables(name_map, "gs://b/name_map.json")
    entry = table.to_json()
    assert entry["table"] == '"S"."a.b"' and entry["target"] == "s.a_b"
    assert entry["columns"] == [{"source": "C", "target": "c", "unload_expression": '"C"', "target_type": "bytea",
                                 "source_type": "varbyte(8)"}]


def test_order_is_size_then_rows_then_name():
    entries = [{"table": n, "size_mb": s, "estimated_rows": r} for n, s, r in
               [("s.b", 1, 5), ("s.a", 1, 5), ("s.c", 1, 9), ("s.d", 7, 0)]]
    assert [e["table"] for e in largest_first(entries)] == ["s.d", "s.c", "s.a", "s.b"]


@pytest.mark.parametrize("name_map, message", [
    ([], "expected an object with a 'tables' list"),
    ({"tables": [{"source": {"schema": "s", "name": "t"}, "target": {"schema": "s", "name": "t"}}]},
     "tables[0].columns must be a list of objects"),
    ({"tables": [{"source": {"schema": "s", "name": "t"}, "target": {"schema": "s", "name": "t"}, "size_mb": "big",
                  "columns": []}]}, "tables[0].size_mb must be a non-negative number"),
    ({"tables": [{"source": {"schema": "s", "name": "t"}, "target": {"schema": "s", "name": "t"},
                  "columns": [{"source": "a"}]}]}, "tables[0].columns[0].target must be a non-empty string"),
])
def test_malformed_name_map_names_the_place(name_map, message):
    with pytest.raises(BadInputError) as caught:
        name_map_tables(name_map, "gs://b/name_map.json")
    assert caught.value.one_line() == f"gs://b/name_map.json: {message}"


def test_tables_json_sources_and_targets():
    document = {"tables": [{"table": "s.t", "target_ref": {"schema": "s", "name": "T"},
                            "source": {"schema": "s", "name": "t"}, "columns": []}]}
    assert planned_tables(document, "u") == [("s.t", TableRef("s", "T"))]
    with pytest.raises(BadInputError, match="u: tables\\[0\\].target_ref must be an object"):
        planned_tables({"tables": [{"table": "s.t"}]}, "u")
    with pytest.raises(BadInputError, match="u: tables\\[0\\].table must be a non-empty string"):
        planned_tables({"tables": [{"target_ref": {"schema": "s", "name": "T"}}]}, "u")


@pytest.mark.parametrize("statement, spec", [
    ('ALTER TABLE "s"."T" ADD CONSTRAINT "T_pk" PRIMARY KEY ("Id", b);',
     ConstraintSpec("primary_key", TableRef("s", "T"), "T_pk", ("Id", "b"))),
    ("ALTER TABLE ONLY s.t ADD CONSTRAINT U1 UNIQUE (A);", ConstraintSpec("unique", TableRef("s", "t"), "u1", ("a",))),
    ("ALTER TABLE s.t ADD PRIMARY KEY (a);", ConstraintSpec("primary_key", TableRef("s", "t"), None, ("a",))),
    ('ALTER TABLE s.t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES "o"."p" (x);',
     ConstraintSpec("foreign_key", TableRef("s", "t"), "f", ())),
    ("ALTER TABLE s.t ADD CONSTRAINT c CHECK (a > 0);", None),
    ("ALTER TABLE s.t ADD CONSTRAINT u UNIQUE (a); SELECT 1;", None),
    ("CREATE INDEX i ON s.t (a);", None),
    ("this is not SQL at all (", None),
])
def test_constraint_statements(statement, spec):
    assert parse_constraint(statement) == spec
